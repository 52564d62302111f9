"""Where the kernel image lies when setup_arch() starts.

The first phase of a boot: the boot loader (or kexec) put a bzImage in memory
and the decompressor (arch/x86/boot/compressed/misc.c ``extract_kernel()``)
ran the kernel somewhere.  With ``nokaslr`` it runs at ``LOAD_PHYSICAL_ADDR``
(CONFIG_PHYSICAL_START, the vmlinux's PT_LOAD address) -- or, for a relocatable
kernel loaded higher (kexec's capture kernel), where it was loaded
(``choose_random_location()`` is skipped and ``output = input`` rounded to
``kernel_alignment``).  With KASLR on it picks a random slot, which this era of
earlymem does not model: the place is then unknown.

The result, :class:`PlacedKernel`, gives the image's extent, the span
``early_reserve_memory()`` reserves (``[_text, __end_of_kernel_reserve)``), the
``.brk`` size and the iomem Kernel resources; the build's other facts (struct
sizes, frees) travel with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.kernels.builds import KernelBuild
from earlymem.lib.ranges import Range
from earlymem.machine import Machine
from earlymem.phases.kaslr import handover_output, stub_allocation

__all__ = ["PlacedKernel", "place_kernel", "GHOST_AT", "efi_kernel_place"]

#: where a ghost image lies: above the widest physical address (MAXPHYADDR 52)
GHOST_AT = 1 << 53


@dataclass(frozen=True)
class PlacedKernel:
    """The running kernel's image in physical memory.

    :param extent: ``[_text, _end)``, physical addresses.
    :param reserve: ``[_text, __end_of_kernel_reserve)``, what early_reserve_memory() reserves.
    :param brk_size: size of ``.brk`` at the end of ``reserve`` (None: not known, the whole span is reserved).
    :param resources: ``(name, start, end)`` of Kernel code/rodata/data/bss as /proc/iomem shows them.
    :param given: the extent came from the machine description, not from a build.
    :param ghost: the image takes no memory: nothing is reserved for it, e820 is not
        extended for it and nothing of it is freed (earlymem.kaslr's reference boot,
        which sees where every allocation goes when the image is in nobody's way).
    """

    extent: Range
    reserve: Range
    brk_size: int | None = None
    resources: tuple[tuple[str, int, int], ...] = ()
    given: bool = False
    ghost: bool = False


def place_kernel(machine: Machine, build: KernelBuild | None, *, ghost: bool = False) -> tuple[PlacedKernel | None, str | None]:
    """``(placed, None)``, or ``(None, why)`` when the kernel's place is unknown.

    A machine that gives ``kernel_image`` (a TOML file) fixes the extent, which
    is then also what is reserved.  Else the build's facts are placed at
    ``machine.kernel_load_addr`` (a kexec'd kernel, or a KASLR place given as a
    fact) or, with ``nokaslr``, at the build's own load address.
    """
    if machine.kernel_image is not None:
        return PlacedKernel(machine.kernel_image, machine.kernel_image, given=True), None
    if build is None:
        return None, None  # the caller knows why (no facts for the build)
    if ghost:
        # past every physical address (2^52): its brk buffer meets no range the direct mapping maps
        at = GHOST_AT
        return PlacedKernel(Range(at, at + build.image_span), Range(at, at + (build.reserve_span or build.image_span)),
                            build.brk_size, ghost=True), None
    if machine.efi_boot is not None and machine.efi_map is None:
        # arch/x86/platform/efi/quirks.c efi_reserve_boot_services(): EFI boot-services code and
        # data stay reserved in memblock until after reserve_crashkernel(); the stub's own
        # allocations (drivers/firmware/efi/libstub) lie in the map too: none of it is in e820
        src, line, what = machine.efi_boot
        where = f"{src}:{line}" if line else src
        return None, (f"a UEFI boot ({where}: {what}) without its EFI memory map: EFI boot-services memory stays reserved "
                      "while NODE_DATA and the crash region are placed, and the EFI stub chose the kernel's place; boot "
                      "with efi=debug to have the map in the log")
    if machine.efi_boot is not None and machine.kernel_load_addr is None:
        src, line, what = machine.efi_boot
        where = f"{src}:{line}" if line else src
        if not machine.command_line.flag("nokaslr"):
            return None, f"a UEFI boot with KASLR ({where}): the EFI stub's random placement is not modelled yet"
        at = efi_kernel_place(machine, build)
        if at is None:
            return None, f"a UEFI boot ({where}): no Loader Code range in the EFI map holds the kernel"
        shift = at - build.load_addr
        return PlacedKernel(Range(at, at + build.image_span), Range(at, at + (build.reserve_span or build.image_span)),
                            build.brk_size, tuple((n, s_ + shift, e + shift) for n, s_, e in build.resources)), None
    if machine.kernel_load_addr is not None:
        at = machine.kernel_load_addr
    elif machine.command_line.flag("nokaslr"):
        at = build.load_addr
    else:
        return None, "KASLR is on (no nokaslr): the kernel's physical place varies from boot to boot"
    shift = at - build.load_addr
    extent = Range(at, at + build.image_span)
    reserve = Range(at, at + (build.reserve_span or build.image_span))
    resources = tuple((n, s + shift, e + shift) for n, s, e in build.resources)
    return PlacedKernel(extent, reserve, build.brk_size, resources), None


def efi_kernel_place(machine: Machine, build: KernelBuild) -> int | None:
    """Where a UEFI boot with nokaslr runs the kernel, read from its EFI map.

    * The EFI stub places the kernel itself (drivers/firmware/efi/libstub/x86-stub.c,
      efi_random_alloc() with seed 0; in Debian's 6.1.176, 6.12 and 7.2): a Loader Code
      range exactly the allocation's size, ``ALIGN(max(output_len, _end - _text), 2M)``,
      at a ``kernel_alignment`` boundary.
    * Else the handover protocol runs the decompressor where the firmware loaded the PE
      image (5.10): head_64.S's ``output = ALIGN(startup_32, kernel_alignment)``, startup_32
      being the image's base plus its real-mode setup (``(setup_sects + 1) * 512``); the
      image is the largest Loader Code range.
    """
    h = build.header
    if h is None or machine.efi_map is None:
        return None
    placed = stub_allocation(machine, build)
    return placed.start if placed is not None else handover_output(machine, build)
