"""Real-kernel ground truth: boot Debian kernels under QEMU and capture what they decided.

* :mod:`.kernels` fetches Debian kernel packages into a private cache (a private
  apt state directory; the system's apt sources are never touched) and unpacks
  them without installing;
* :mod:`.tools` locates or installs the host tools (qemu, kexec-tools,
  busybox-static, cpio);
* :mod:`.initramfs` builds the guest's initramfs: busybox, ``init.sh``, kexec and
  the same kernel as kdump kernel;
* :mod:`.config` describes a boot (memory, machine, NUMA, command line, kexec,
  crash) and reads matrices of them from TOML;
* :mod:`.qemu` boots one configuration and writes a capture directory;
* captures are read by :mod:`earlymem.sources.capture`.

The recipe is the one in shared/oracle/README.md (TCG, ``nokaslr`` always).
"""
