/*
 * kexec-file-load: load a crash kernel with the kexec_file_load(2) syscall,
 * asking the kernel to print its placement decisions.
 *
 * Part of earlymem's oracle initramfs (src/earlymem/oracle/).  kexec-tools
 * 2.0.25 (Debian bookworm) does not pass KEXEC_FILE_DEBUG, which kernels from
 * 6.9 on need before kexec_file prints "Loaded ... at" and "Loading segment"
 * lines; older kernels reject the flag with EINVAL and print those lines
 * through dynamic debug instead, so the load is retried without it.
 *
 * Usage: kexec-file-load KERNEL INITRD CMDLINE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EM_KEXEC_FILE_ON_CRASH 0x2UL
#define EM_KEXEC_FILE_DEBUG 0x8UL

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s KERNEL INITRD CMDLINE\n", argv[0]);
		return 2;
	}
	int kernel_fd = open(argv[1], O_RDONLY);
	int initrd_fd = open(argv[2], O_RDONLY);
	if (kernel_fd < 0 || initrd_fd < 0) {
		perror("open");
		return 1;
	}
	unsigned long len = strlen(argv[3]) + 1;
	unsigned long flags = EM_KEXEC_FILE_ON_CRASH | EM_KEXEC_FILE_DEBUG;
	long rc = syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, len, argv[3], flags);
	if (rc != 0 && errno == EINVAL) {
		flags = EM_KEXEC_FILE_ON_CRASH;
		rc = syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, len, argv[3], flags);
	}
	if (rc != 0) {
		fprintf(stderr, "kexec_file_load(flags=%#lx) failed: %s\n", flags, strerror(errno));
		return 1;
	}
	printf("kexec_file_load(flags=%#lx) succeeded\n", flags);
	return 0;
}
