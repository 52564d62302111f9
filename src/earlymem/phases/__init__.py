"""The kernel's early boot, one module per phase in kernel order.

DESIGN.md calls this package boot/; it is phases/ here so that it does not
shadow the function :func:`earlymem.boot` (``import earlymem.boot.x`` would
find the function).  The phases, in kernel order: e820, image, numa_init,
setup_arch, crashkernel, paging_init, free_area_init, start_kernel,
kernel_init; the bootmem_era and memblock_2_6_37 eras beside them.
"""
