"""The x86 bzImage: boot-protocol setup header, compressed payload, vmlinux ELF.

The setup header is described by one declarative table (:data:`FIELDS`:
name, file offset, size, and the boot-protocol version that introduced the
field; Documentation/arch/x86/boot.rst).  Parsing, validation and printing
read that table.  The protected-mode part starts after ``(setup_sects + 1) *
512`` bytes (``setup_sects`` 0 means 4); from protocol 2.08 the compressed
kernel lies at ``payload_offset`` within it.  The payload is decompressed
(gzip, xz, lzma, bzip2, lz4 legacy, zstd -- what CONFIG_KERNEL_* can choose)
into the vmlinux ELF, whose PT_LOAD segments give the image's physical extent
``[_text, _end)`` at the default load address.

Hostile input: every offset is checked against the file, the decompressed size
is capped (:data:`MAX_VMLINUX`), and any problem is one
:class:`~earlymem.lib.errors.InputError` naming the file and the field.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from earlymem.kernels.builds import IMAGE_FACTS, KernelBuild, KernelHeader, KernelPurgatory
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range

__all__ = ["Field", "FIELDS", "BzImage", "read_bzimage", "parse_bzimage", "kernel_build", "kernel_header", "MAX_VMLINUX", "MAX_BZIMAGE"]

#: Largest bzImage file accepted, and largest decompressed vmlinux.
MAX_BZIMAGE = 64 << 20
MAX_VMLINUX = 128 << 20  # at the peak the decompressor holds about twice this (blocks joined)


@dataclass(frozen=True)
class Field:
    """A setup-header field: ``size`` bytes at file offset ``offset``, from protocol ``since``."""

    name: str
    offset: int
    size: int
    since: int  # protocol version as (major << 8) | minor; 0 = every version


#: Documentation/arch/x86/boot.rst, "The real-mode kernel header".
FIELDS: tuple[Field, ...] = (
    Field("setup_sects", 0x1F1, 1, 0),
    Field("root_flags", 0x1F2, 2, 0),
    Field("syssize", 0x1F4, 4, 0x0204),
    Field("ram_size", 0x1F8, 2, 0),
    Field("vid_mode", 0x1FA, 2, 0),
    Field("root_dev", 0x1FC, 2, 0),
    Field("boot_flag", 0x1FE, 2, 0),
    Field("jump", 0x200, 2, 0x0200),
    Field("header", 0x202, 4, 0x0200),
    Field("version", 0x206, 2, 0x0200),
    Field("realmode_swtch", 0x208, 4, 0x0200),
    Field("start_sys_seg", 0x20C, 2, 0x0200),
    Field("kernel_version", 0x20E, 2, 0x0200),
    Field("type_of_loader", 0x210, 1, 0x0200),
    Field("loadflags", 0x211, 1, 0x0200),
    Field("setup_move_size", 0x212, 2, 0x0200),
    Field("code32_start", 0x214, 4, 0x0200),
    Field("ramdisk_image", 0x218, 4, 0x0200),
    Field("ramdisk_size", 0x21C, 4, 0x0200),
    Field("bootsect_kludge", 0x220, 4, 0x0200),
    Field("heap_end_ptr", 0x224, 2, 0x0201),
    Field("ext_loader_ver", 0x226, 1, 0x0202),
    Field("ext_loader_type", 0x227, 1, 0x0202),
    Field("cmd_line_ptr", 0x228, 4, 0x0202),
    Field("initrd_addr_max", 0x22C, 4, 0x0203),
    Field("kernel_alignment", 0x230, 4, 0x0205),
    Field("relocatable_kernel", 0x234, 1, 0x0205),
    Field("min_alignment", 0x235, 1, 0x020A),
    Field("xloadflags", 0x236, 2, 0x020C),
    Field("cmdline_size", 0x238, 4, 0x0206),
    Field("hardware_subarch", 0x23C, 4, 0x0207),
    Field("hardware_subarch_data", 0x240, 8, 0x0207),
    Field("payload_offset", 0x248, 4, 0x0208),
    Field("payload_length", 0x24C, 4, 0x0208),
    Field("setup_data", 0x250, 8, 0x0209),
    Field("pref_address", 0x258, 8, 0x020A),
    Field("init_size", 0x260, 4, 0x020A),
    Field("handover_offset", 0x264, 4, 0x020B),
    Field("kernel_info_offset", 0x268, 4, 0x020F),
)

HDRS = 0x53726448  # "HdrS"
#: Before protocol 2.03 a loader must assume this initrd limit (kexec-tools DEFAULT_INITRD_ADDR_MAX).
DEFAULT_INITRD_ADDR_MAX = 0x37FFFFFF
XLF_KERNEL_64 = 1 << 0
XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1


@dataclass
class BzImage:
    """A parsed bzImage.

    :param fields: every header field the image's protocol defines.
    :param compression: payload format, or None before protocol 2.08.
    :param load_segments: PT_LOAD ``(paddr, memsz)`` of the vmlinux, if decompressed.
    """

    source: str
    size: int
    protocol: int
    fields: dict[str, int]
    kernel_version: str | None
    setup_size: int
    compression: str | None = None
    load_segments: list[tuple[int, int]] = field(default_factory=list)
    #: Struct sizes from the vmlinux's .BTF (empty if it has none).
    struct_sizes: dict[str, int] = field(default_factory=dict)
    #: ``(name, start, end)`` physical, as /proc/iomem shows the kernel
    #: (``Kernel code``/``rodata``/``data``/``bss``), from the section headers.
    kernel_resources: list[tuple[str, int, int]] = field(default_factory=list)
    #: physical ``__end_of_kernel_reserve`` (see _load_segments), if known.
    reserve_end: int | None = None
    #: size of the .brk section (the end of the reserved span; reserve_brk() keeps its used part)
    brk_size: int | None = None
    #: size of the static per-CPU area (.data..percpu)
    percpu_static: int | None = None
    #: what the kernel frees of its image after boot (see _image_frees()), bytes
    image_frees: dict[str, int] = field(default_factory=dict)
    #: the kexec_file purgatory the vmlinux embeds, if any (earlymem.sources.purgatory)
    purgatory: object = None
    #: z_output_len: what the payload decompresses to (the vmlinux ELF and its relocations),
    #: as the 4 little-endian bytes the build appends to the compressed data say
    #: (scripts/Makefile.lib size_append; arch/x86/boot/compressed/mkpiggy.c)
    output_len: int | None = None

    @property
    def protocol_text(self) -> str:
        return f"{self.protocol >> 8}.{self.protocol & 0xFF:02d}"

    @property
    def initrd_addr_max(self) -> int:
        """kexec-tools: the header's value from 2.03, else DEFAULT_INITRD_ADDR_MAX."""
        return self.fields["initrd_addr_max"] if self.protocol >= 0x0203 else DEFAULT_INITRD_ADDR_MAX

    @property
    def image_extent(self) -> Range | None:
        """``[_text, _end)`` at the default load address, from the PT_LOAD segments."""
        if not self.load_segments:
            return None
        return Range(min(p for p, _ in self.load_segments), max(p + m for p, m in self.load_segments))

    def kernel_probe_error(self) -> str | None:
        """What the kernel's kexec_file ``bzImage64_probe()`` says (kexec-bzImage64: pr_err), or None."""
        f = self.fields
        if self.size < 1024:
            return "File is too short to be a bzImage"
        if f.get("header") != HDRS:
            return "Not a bzImage"
        if f.get("boot_flag") != 0xAA55:
            return "No x86 boot sector present"
        if self.protocol < 0x020C:
            return "Must be at least protocol version 2.12"
        if not f.get("loadflags", 0) & 1:
            return "zImage not a bzImage"
        if not f.get("xloadflags", 0) & XLF_KERNEL_64:
            return "Not a bzImage64. XLF_KERNEL_64 is not set."
        if not f.get("xloadflags", 0) & XLF_CAN_BE_LOADED_ABOVE_4G:
            return "XLF_CAN_BE_LOADED_ABOVE_4G is not set."
        return None


def _u(data: bytes, off: int, size: int) -> int:
    return int.from_bytes(data[off : off + size], "little")


def read_bzimage(path: str | Path, *, decompress: bool = True, limit: int = MAX_VMLINUX) -> BzImage:
    """Read and parse a bzImage file.  :raises InputError: naming the file and field."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BZIMAGE:
            raise InputError(f"{p.stat().st_size} bytes is larger than any bzImage ({MAX_BZIMAGE} accepted)", source=str(p))
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(p)) from None
    return parse_bzimage(data, str(p), decompress=decompress, limit=limit)


def parse_bzimage(data: bytes, source: str, *, decompress: bool = True, limit: int = MAX_VMLINUX) -> BzImage:
    """Parse bzImage bytes.  :raises InputError: for anything that is not a usable image."""
    if len(data) < 1024:
        raise InputError(f"file is too short to be a bzImage ({len(data)} bytes)", source=source)
    if _u(data, 0x1FE, 2) != 0xAA55:
        raise InputError("no x86 boot sector (boot_flag is not 0xAA55)", source=source, field="boot_flag")
    header = _u(data, 0x202, 4)
    protocol = _u(data, 0x206, 2) if header == HDRS else 0x0100
    fields = {f.name: _u(data, f.offset, f.size) for f in FIELDS if f.since <= protocol}
    if protocol < 0x0204:
        fields["syssize"] = _u(data, 0x1F4, 2)
    setup_sects = fields["setup_sects"] or 4
    setup_size = (setup_sects + 1) * 512
    if setup_size >= len(data):
        raise InputError(f"setup_sects {fields['setup_sects']} puts the kernel past the end of the file", source=source, field="setup_sects")
    version_text = None
    kv = fields.get("kernel_version", 0)
    if kv:
        off = kv + 0x200
        if off >= len(data):
            raise InputError(f"kernel_version points past the end of the file ({off:#x})", source=source, field="kernel_version")
        end = data.find(b"\0", off, off + 256)
        version_text = data[off : end if end >= 0 else off + 256].decode("ascii", errors="replace")
    image = BzImage(source, len(data), protocol, fields, version_text, setup_size)
    if protocol >= 0x0208 and decompress:
        poff, plen = fields["payload_offset"], fields["payload_length"]
        start = setup_size + poff
        if plen == 0 or start + plen > len(data):
            raise InputError(f"payload [{start:#x}, +{plen:#x}) lies outside the file ({len(data):#x} bytes)", source=source, field="payload_offset")
        payload = data[start : start + plen]
        image.output_len = _u(payload, plen - 4, 4) if plen >= 4 else None
        image.compression, vmlinux = _decompress(payload, source, limit)
        image.load_segments, btf, image.kernel_resources, image.reserve_end, rm, facts = _load_segments(vmlinux, source)
        image.brk_size = facts.get("brk")
        image.percpu_static = facts.get("percpu_static")
        image.image_frees = {k: v for k, v in facts.items() if k in ("text_gap", "rodata_gap", "initmem", "smp_locks")}
        from earlymem.sources.purgatory import purgatory_facts

        try:
            image.purgatory = purgatory_facts(vmlinux, source)
        except InputError:
            image.purgatory = None  # a kernel without CONFIG_KEXEC_FILE
        if btf is not None:
            from earlymem.sources.btf import struct_sizes

            image.struct_sizes = struct_sizes(btf, source)
        if rm:
            image.struct_sizes["real_mode_blob"] = rm
    return image


def _decompress(payload: bytes, source: str, limit: int) -> tuple[str, bytes]:
    """Decompress with a hard cap on the output (a hostile payload cannot exhaust memory)."""

    def too_big():
        return InputError(f"payload decompresses to more than {limit} bytes", source=source, field="payload")

    try:
        if payload[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = d.decompress(payload, limit + 1)
            name = "gzip"
        elif payload[:6] == b"\xfd7zXZ\x00":
            d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            out = d.decompress(payload, max_length=limit + 1)
            name = "xz"
        elif payload[:3] == b"\x5d\x00\x00":
            d = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
            out = d.decompress(payload, max_length=limit + 1)
            name = "lzma"
        elif payload[:3] == b"BZh":
            d = bz2.BZ2Decompressor()
            out = d.decompress(payload, max_length=limit + 1)
            name = "bzip2"
        elif payload[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload))
            out = reader.read(limit + 1)
            name = "zstd"
        elif payload[:4] == b"\x02\x21\x4c\x18":
            out = _lz4_legacy(payload, limit, source)
            name = "lz4"
        else:
            raise InputError(f"unknown payload compression (magic {payload[:4].hex()})", source=source, field="payload")
    except InputError:
        raise
    except Exception as exc:  # zlib.error, lzma.LZMAError, OSError, zstd errors ...
        raise InputError(f"payload does not decompress: {exc}", source=source, field="payload") from None
    if len(out) > limit:
        raise too_big()
    return name, out


def _lz4_legacy(payload: bytes, limit: int, source: str) -> bytes:
    """The lz4 "legacy" frame the kernel uses: magic, then (u32 length, block) pairs of <= 8 MiB."""
    import lz4.block

    out = bytearray()
    pos = 4
    while pos + 4 <= len(payload):
        n = _u(payload, pos, 4)
        if n == 0x184C2102:  # a concatenated legacy frame
            pos += 4
            continue
        pos += 4
        if n == 0 or pos + n > len(payload):
            break  # trailing size word, or the end
        out += lz4.block.decompress(payload[pos : pos + n], uncompressed_size=8 << 20)
        pos += n
        if len(out) > limit:
            raise InputError(f"payload decompresses to more than {limit} bytes", source=source, field="payload")
    return bytes(out)


#: arch/x86/include/asm/page_64_types.h: __START_KERNEL_map (virtual = physical + this).
START_KERNEL_MAP = 0xFFFFFFFF80000000


def _kernel_resources(sections: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """arch/x86/kernel/setup.c code_resource etc.: [_text, _etext), [__start_rodata,
    __end_rodata), [_sdata, _edata), [__bss_start, __bss_stop).

    The vmlinux in a bzImage has no symbols (objcopy -S), so the bounds come
    from sections: .text, .data and .bss exactly; rodata from .rodata to the
    page-aligned end of the read-only sections RO_DATA() places after it
    (include/asm-generic/vmlinux.lds.h), i.e. those below .data.
    """
    by = {n: (a, a + z) for n, a, z in sections}
    if not all(k in by for k in (".text", ".rodata", ".data", ".bss")):
        return []
    ro_start, data_start = by[".rodata"][0], by[".data"][0]
    ro_end = max(e for _n, a, e in ((n, a, a + z) for n, a, z in sections) if ro_start <= a < data_start)
    ro_end = -(-ro_end // 4096) * 4096
    out = []
    for name, (a, e) in (("Kernel code", by[".text"]), ("Kernel rodata", (ro_start, ro_end)), ("Kernel data", by[".data"]), ("Kernel bss", by[".bss"])):
        if a < START_KERNEL_MAP or e <= a:
            return []
        out.append((name, a - START_KERNEL_MAP, e - START_KERNEL_MAP))
    return out


def _image_frees(sections: list[tuple[str, int, int]], percpu) -> dict[str, int]:
    """What the kernel frees of its own image after boot, in bytes, from the
    section headers (arch/x86/mm/init_64.c mark_rodata_ro(), init/main.c
    free_initmem(), arch/x86/kernel/alternative.c; vmlinux.lds.S):

    * ``text_gap``: [PFN_ALIGN(_etext), __start_rodata);
    * ``rodata_gap``: [PFN_ALIGN(__end_rodata), _sdata) -- the end of the
      last section between .rodata and .data;
    * ``initmem``: [__init_begin, __init_end): from .init.text (less a
      zero-based .data..percpu placed in front of it, as x86_64 linked it
      before 6.15-ish) up to .smp_locks, which starts at __init_end;
    * ``smp_locks``: .smp_locks, freed by alternative_instructions().
    """
    by = {n: (a, z) for n, a, z in sections}
    out: dict[str, int] = {}
    page = lambda x: -(-x // 4096) * 4096  # noqa: E731
    if ".text" in by and ".rodata" in by:
        out["text_gap"] = max(0, by[".rodata"][0] - page(by[".text"][0] + by[".text"][1]))
    if ".rodata" in by and ".data" in by:
        ro, data = by[".rodata"][0], by[".data"][0]
        end = max(a + z for _n, a, z in sections if ro <= a < data)
        out["rodata_gap"] = max(0, data - page(end))
    if ".init.text" in by and ".smp_locks" in by:
        begin = by[".init.text"][0]
        if percpu is not None and not percpu["sh_addr"]:
            begin -= percpu["sh_size"]
        out["initmem"] = by[".smp_locks"][0] - begin
        out["smp_locks"] = by[".smp_locks"][1]
    return out


#: ELF section flag: the section's bytes are compressed (Elf64_Chdr in front)
SHF_COMPRESSED = 0x800


def _section_bytes(sec, vmlinux: bytes, source: str) -> bytes | None:
    """A section's bytes, read from the file -- never through pyelftools' ``data()``,
    which makes ``sh_size`` zero bytes of a NOBITS section and inflates a compressed one,
    whatever their size.  None for no section or a NOBITS one.

    :raises InputError: for a section that is compressed or lies outside the file.
    """
    if sec is None or sec["sh_type"] == "SHT_NOBITS":
        return None
    if sec["sh_flags"] & SHF_COMPRESSED:
        raise InputError(f"section {sec.name} is compressed (SHF_COMPRESSED): not a vmlinux", source=source, field="payload")
    off, size = sec["sh_offset"], sec["sh_size"]
    if off + size > len(vmlinux):
        raise InputError(f"section {sec.name} [{off:#x}, +{size:#x}) lies outside the {len(vmlinux):#x}-byte vmlinux",
                         source=source, field="payload")
    return vmlinux[off : off + size]


def _load_segments(vmlinux: bytes, source: str) -> tuple[list[tuple[int, int]], bytes | None, list[tuple[str, int, int]], int | None, int | None, dict[str, int]]:
    """PT_LOAD ``(p_paddr, p_memsz)`` of the vmlinux ELF (pyelftools), its .BTF bytes,
    the kernel's /proc/iomem resources and the physical end of what
    early_reserve_memory() reserves: ``__end_of_kernel_reserve`` =
    PAGE_ALIGN(end of .brk) (arch/x86/kernel/vmlinux.lds.S; ``.init.scratch``
    lies above it, up to ``_end``) and the real-mode trampoline's reserved size
    (earlymem.sources.realmode), if found, and section sizes early allocations
    depend on: ``brk`` (.brk) and ``percpu_static`` (.data..percpu, linked at 0)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    if vmlinux[:4] != b"\x7fELF":
        raise InputError("the decompressed payload is not an ELF file", source=source, field="payload")
    try:
        elf = ELFFile(io.BytesIO(vmlinux))
        segs = [(s["p_paddr"], s["p_memsz"]) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        btf_section = elf.get_section_by_name(".BTF") if elf.num_sections() else None
        btf = _section_bytes(btf_section, vmlinux, source)
        sections = [(sec.name, sec["sh_addr"], sec["sh_size"]) for sec in elf.iter_sections() if sec["sh_flags"] & 2 and sec["sh_addr"]]
        init_data = elf.get_section_by_name(".init.data") if elf.num_sections() else None
        percpu = elf.get_section_by_name(".data..percpu") if elf.num_sections() else None
        facts = {"percpu_static": percpu["sh_size"]} if percpu is not None else {}
        facts.update(_image_frees(sections, percpu))
        from earlymem.sources.realmode import realmode_size

        init_bytes = _section_bytes(init_data, vmlinux, source)
        rm = realmode_size(init_bytes, init_data["sh_addr"]) if init_bytes is not None else None
    except (ELFError, struct.error, ValueError, OverflowError) as exc:  # (an offset past 2^63: seek's OverflowError)
        raise InputError(f"the vmlinux ELF is malformed: {exc}", source=source, field="payload") from None
    if not segs:
        raise InputError("the vmlinux ELF has no PT_LOAD segment", source=source, field="payload")
    by = {n: a + z for n, a, z in sections}
    top = by.get(".brk", by.get(".bss"))
    reserve_end = -(-(top - START_KERNEL_MAP) // 4096) * 4096 if top is not None and top > START_KERNEL_MAP else None
    brk = next((z for n, _a, z in sections if n == ".brk"), None)
    if brk is not None:
        facts["brk"] = brk
    return segs, btf, _kernel_resources(sections), reserve_end, rm, facts


def kernel_header(img: BzImage) -> KernelHeader:
    """The setup-header facts the kexec loaders read, from a parsed image."""
    f = img.fields
    return KernelHeader(img.size, f.get("setup_sects", 0), img.protocol, f.get("loadflags", 0), f.get("xloadflags", 0),
                        bool(f.get("relocatable_kernel", 0)), f.get("kernel_alignment", 0), f.get("init_size", 0),
                        f.get("cmdline_size", 255), f.get("payload_length"), img.output_len)


def kernel_build(img: BzImage) -> KernelBuild | None:
    """What earlymem needs of a kernel build, from its image (None when the
    vmlinux could not be read: a protocol before 2.08).

    The pinned build of the same release completes what the image does not
    show (the unused .bss..decrypted size): see KernelBuild.completed_by().
    """
    extent = img.image_extent
    if extent is None:
        return None
    # only the sizes early boot depends on (the BTF holds thousands of structs)
    sizes = {k: v for k, v in img.struct_sizes.items() if k in IMAGE_FACTS or k == "real_mode_blob"}
    if img.percpu_static is not None:
        sizes["percpu_static"] = img.percpu_static
    p = img.purgatory
    return KernelBuild(
        # (a version string of blanks names no release)
        name=img.source, release=(img.kernel_version or "").split()[0] if (img.kernel_version or "").split() else None,
        load_addr=extent.start, image_span=extent.size,
        reserve_span=(img.reserve_end - extent.start) if img.reserve_end else None, brk_size=img.brk_size,
        struct_sizes=sizes, image_frees=dict(img.image_frees), resources=tuple(img.kernel_resources),
        header=kernel_header(img), purgatory=KernelPurgatory(p.padded, p.memsz, p.align) if p is not None else None,
    )
