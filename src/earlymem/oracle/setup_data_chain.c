/*
 * setup-data-chain: print where the boot loader's setup_data nodes lie.
 *
 * Part of earlymem's oracle initramfs (src/earlymem/oracle/), and usable as
 * root on any x86_64 system with /proc/kcore.  The kernel reserves every node
 * (memblock_x86_reserve_range_setup_data(), arch/x86/kernel/setup.c) before
 * memblock=debug can print it, and from 7.0 on no e820 update shows it either
 * (E820_TYPE_RESERVED_KERN is gone), yet its pages are not free: earlymem
 * needs their places to count managed pages.  /sys/kernel/boot_params/data is
 * the kernel's copy of boot_params, whose hdr.setup_data (offset 0x250) holds
 * the first node's physical address; each node starts with
 * struct setup_data { u64 next; u32 type; u32 len; } (arch/x86/include/uapi/
 * asm/setup_data.h), read here through /proc/kcore, whose PT_LOAD headers give
 * the physical address of each RAM segment in p_paddr (fs/proc/kcore.c).
 *
 * Before 7.0 each node is an E820_TYPE_RESERVED_KERN range, a System RAM
 * resource of its own starting inside a page; /proc/kcore lists only whole
 * pages of System RAM (walk_system_ram_range()), so the node's header is not
 * readable and the walk stops with exit code 1.  Those kernels show the nodes
 * in dmesg ("e820: update [mem ...] usable ==> usable"), which earlymem reads.
 *
 * Output, one line per node, in chain order:
 *   setup_data <address, hex> <type, decimal> <len, decimal>
 * (a node covers [address, address + 16 + len)).  At most 256 nodes are
 * followed (a loop in the chain ends the walk with exit code 1).
 *
 * Usage: setup-data-chain [BOOT_PARAMS [KCORE]]
 */
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR_SETUP_DATA 0x250
#define MAX_NODES 256
#define MAX_PHDRS 4096

struct node_head {
	uint64_t next;
	uint32_t type;
	uint32_t len;
};

static Elf64_Phdr phdrs[MAX_PHDRS];
static int nphdrs;

static int read_phys(int kcore, uint64_t pa, void *buf, size_t len)
{
	for (int i = 0; i < nphdrs; i++) {
		Elf64_Phdr *p = &phdrs[i];
		if (p->p_type != PT_LOAD || p->p_paddr == (Elf64_Addr)-1)
			continue;
		if (pa < p->p_paddr || pa + len > p->p_paddr + p->p_filesz)
			continue;
		ssize_t n = pread(kcore, buf, len, (off_t)(p->p_offset + (pa - p->p_paddr)));
		return n == (ssize_t)len ? 0 : -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *bp_path = argc > 1 ? argv[1] : "/sys/kernel/boot_params/data";
	const char *kcore_path = argc > 2 ? argv[2] : "/proc/kcore";
	int bp = open(bp_path, O_RDONLY);
	uint64_t pa = 0;
	if (bp < 0 || pread(bp, &pa, sizeof(pa), HDR_SETUP_DATA) != sizeof(pa)) {
		fprintf(stderr, "%s: cannot read hdr.setup_data\n", bp_path);
		return 1;
	}
	close(bp);
	if (!pa)
		return 0;
	int kcore = open(kcore_path, O_RDONLY);
	Elf64_Ehdr eh;
	if (kcore < 0 || pread(kcore, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		fprintf(stderr, "%s: not a 64-bit ELF core\n", kcore_path);
		return 1;
	}
	nphdrs = eh.e_phnum < MAX_PHDRS ? eh.e_phnum : MAX_PHDRS;
	if (pread(kcore, phdrs, nphdrs * sizeof(Elf64_Phdr), (off_t)eh.e_phoff) != (ssize_t)(nphdrs * sizeof(Elf64_Phdr))) {
		fprintf(stderr, "%s: cannot read the program headers\n", kcore_path);
		return 1;
	}
	for (int i = 0; pa; i++) {
		struct node_head h;
		if (i == MAX_NODES) {
			fprintf(stderr, "more than %d nodes: a loop?\n", MAX_NODES);
			return 1;
		}
		if (read_phys(kcore, pa, &h, sizeof(h))) {
			fprintf(stderr, "%#" PRIx64 ": not readable through %s (before 7.0: the log's usable ==> usable lines show the nodes)\n",
				pa, kcore_path);
			return 1;
		}
		printf("setup_data %#" PRIx64 " %" PRIu32 " %" PRIu32 "\n", pa, h.type, h.len);
		pa = h.next;
	}
	return 0;
}
