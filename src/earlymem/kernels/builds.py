"""Facts about one kernel *build* (an image), as opposed to its era.

A profile (:mod:`earlymem.kernels.eras`) says what every kernel of an era does;
where the kernel lies and how big its structures are depend on the build:
``_end - _text``, ``__end_of_kernel_reserve``, the ``.brk`` section, sizeof()
of the structs early allocations are made of, the static per-CPU area, what the
kernel frees of its image after boot, the bzImage setup header kexec reads and
the purgatory kexec_file embeds.  A :class:`KernelBuild` holds them.

They come from one of two places, never from a neighbouring build:

* the image itself (``--kernel VMLINUZ``: :func:`earlymem.sources.bzimage.kernel_build`);
* :data:`PINNED`, the four Debian builds the oracle boots, read once from
  their vmlinuz files (``earlymem bzimage``) and their own boot lines.

:func:`pinned_build` matches a kernel release (and, from a boot log, the
banner) against :data:`PINNED`.  A banner naming any other build has no facts
here: :func:`earlymem.boot` then reports every family that depends on the
image as not predicted, with the reason.  A bare series (``6.1`` in a machine
TOML or ``--kernel-version 6.1``) names no build; it stands for the pinned
build of that series, and the result says so in its assumptions.

The ``Memory: ...K/...K available (...K kernel code, ...K rwdata, ...K
rodata, ...K init, ...K bss, ...)`` line of a boot log does *not* stand in for
an image: it gives five section sizes, but not ``_end`` (the image's
alignment padding and ``.brk`` lie past ``__bss_stop``), the reserved span,
the struct sizes or the per-CPU area that NODE_DATA, the crash region and the
managed pages depend on.  (docs/api.md, "Builds".)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from earlymem.lib.errors import InputError
from earlymem.lib.version import KernelVersion, parse_version

__all__ = ["KernelBuild", "KernelHeader", "KernelPurgatory", "PINNED", "pinned_build", "build_for", "PHYSICAL_START",
           "IMAGE_FACTS", "LOG_BUF_SHIFT", "is_series"]

#: CONFIG_PHYSICAL_START (arch/x86/Kconfig default, Debian's amd64 configs):
#: where the decompressor runs the kernel with nokaslr.
PHYSICAL_START = 0x1000000
#: CONFIG_LOG_BUF_SHIFT=17 in Debian's amd64 configs (config-6.1.0-50-amd64): a
#: log_buf_len= not above 128 KiB keeps the static buffer.  An image's own
#: config is not read (IKCONFIG is rarely built in); 17 is the Kconfig default.
LOG_BUF_SHIFT = 17

#: sizeof() the early allocations depend on (each pinned build has all of them;
#: an image gives them from its .BTF).
IMAGE_FACTS = ("pglist_data", "prb_desc", "printk_info", "page", "mem_section", "mem_section_usage", "resource",
               "pcpu_chunk", "cpu_entry_area", "percpu_static")


@dataclass(frozen=True)
class KernelHeader:
    """The bzImage setup-header facts the bzImage64 loaders use
    (Documentation/arch/x86/boot.rst; kexec-tools kexec/arch/x86_64/kexec-bzImage64.c)."""

    file_len: int
    setup_sects: int
    protocol: int
    loadflags: int
    xloadflags: int
    relocatable: bool
    kernel_alignment: int
    init_size: int
    cmdline_size: int
    #: the compressed payload's length (input_len of extract_kernel()), None: unknown
    payload_length: int | None = None
    #: z_output_len, what the payload decompresses to (vmlinux and its relocations), None: unknown
    output_len: int | None = None

    @property
    def kern16_size(self) -> int:
        return ((self.setup_sects or 4) + 1) * 512


@dataclass(frozen=True)
class KernelPurgatory:
    """The purgatory the running kernel embeds (kexec_purgatory), as
    kexec_purgatory_setup_kbuf() sizes it: bufsz padded to the bss alignment."""

    bufsz: int
    memsz: int
    align: int


@dataclass(frozen=True)
class KernelBuild:
    """What earlymem knows of one kernel image.

    :param name: what it is, for people ("Debian 6.1.176-1 (6.1.0-50-amd64)" or the vmlinuz path).
    :param release: ``uname -r`` of the build, if known.
    :param load_addr: physical address of ``_text`` with nokaslr (the PT_LOAD paddr).
    :param image_span: ``_end - _text``, bytes.
    :param reserve_span: ``__end_of_kernel_reserve - _text`` (what early_reserve_memory()
        reserves), bytes; None: the whole image.
    :param brk_size: size of ``.brk``, the end of the reserved span (reserve_brk() keeps its used part).
    :param struct_sizes: sizeof() by struct name (:data:`IMAGE_FACTS`), bytes; and
        ``real_mode_blob`` where the era reserves the trampoline by its size.
    :param image_frees: what the kernel gives back of its image after boot, bytes
        (``text_gap``, ``rodata_gap``, ``initmem``, ``smp_locks``, ``decrypted``).
    :param resources: ``(name, start, end)`` of Kernel code/rodata/data/bss at ``load_addr``.
    :param header: the bzImage setup header (for kexec), if known.
    :param purgatory: the kexec_file purgatory it embeds, if known.
    :param banner_tag: for pinned builds, the distribution version its banner names.
    """

    name: str
    release: str | None
    load_addr: int
    image_span: int
    reserve_span: int | None = None
    brk_size: int | None = None
    struct_sizes: Mapping[str, int] = field(default_factory=dict)
    image_frees: Mapping[str, int] = field(default_factory=dict)
    resources: tuple[tuple[str, int, int], ...] = ()
    header: KernelHeader | None = None
    purgatory: KernelPurgatory | None = None
    banner_tag: str | None = None
    log_buf_shift: int = LOG_BUF_SHIFT

    def __post_init__(self) -> None:
        object.__setattr__(self, "struct_sizes", MappingProxyType(dict(self.struct_sizes)))
        object.__setattr__(self, "image_frees", MappingProxyType(dict(self.image_frees)))

    @property
    def version(self) -> KernelVersion | None:
        """The release as a version (None when unknown or not a kernel release)."""
        try:
            return parse_version(self.release) if self.release else None
        except InputError:
            return None

    def missing_facts(self) -> list[str]:
        """The struct sizes the early allocations need that this build lacks."""
        return [k for k in IMAGE_FACTS if k not in self.struct_sizes]

    def completed_by(self, other: "KernelBuild | None") -> "KernelBuild":
        """This build with facts it lacks taken from ``other`` -- only when ``other``
        is the same build (same release), e.g. the decrypted-bss size an image's
        section headers do not show, from the pinned build's own boot lines."""
        if other is None or other.release != self.release:
            return self
        return replace(
            self,
            struct_sizes={**other.struct_sizes, **self.struct_sizes},
            image_frees={**other.image_frees, **self.image_frees},
            header=self.header or other.header,
            purgatory=self.purgatory or other.purgatory,
            banner_tag=self.banner_tag or other.banner_tag,
        )


#: page, mem_section, mem_section_usage (an rcu_head and the subsection map) and
#: resource are the same in all four pinned builds' BTF.
_SPARSE = {"page": 0x40, "mem_section": 0x20, "mem_section_usage": 0x18, "resource": 0x40}


def _debian(release: str, tag: str, *, image_span: int, reserve_span: int, brk: int, structs: dict, percpu_static: int,
            pcpu_chunk: int, frees: dict, header: KernelHeader, purgatory: KernelPurgatory, extra: dict | None = None) -> KernelBuild:
    return KernelBuild(
        name=f"{tag} ({release})", release=release, load_addr=PHYSICAL_START, image_span=image_span, reserve_span=reserve_span,
        brk_size=brk, struct_sizes={**structs, **_SPARSE, "percpu_static": percpu_static, "pcpu_chunk": pcpu_chunk,
                                     "cpu_entry_area": 0x3B000, **(extra or {})},
        image_frees=frees, header=header, purgatory=purgatory, banner_tag=tag,
    )


#: The oracle's kernels (src/earlymem/oracle/kernels.py), each fact read from the
#: build itself:
#:
#: * image_span: ``_end - _text`` from the vmlinux PT_LOAD segments (readelf -l,
#:   tests/fixtures/oracle notes); reserve_span: PAGE_ALIGN of the end of .brk
#:   (.init.scratch above it is not reserved); brk: the .brk section's size;
#: * structs: sizeof() from each vmlinux's .BTF (``earlymem bzimage``;
#:   tests/test_oracle_real_boot.py checks 6.1 against the real image);
#: * percpu_static: .data..percpu's size (also in "percpu: Embedded ... s<size>");
#:   pcpu_chunk, cpu_entry_area (0x3B000 in all four): BTF;
#: * frees: section-header gaps text/rodata and rodata/data, initmem, .smp_locks, and
#:   the unused .bss..decrypted (an input section merged into .bss, so taken from
#:   the kernels' own "Freeing unused decrypted memory" lines);
#: * header: the setup header of the vmlinuz (file length, setup_sects, protocol,
#:   loadflags, xloadflags, relocatable, kernel_alignment, init_size, cmdline_size,
#:   payload_length) and z_output_len, the 4 bytes after the compressed payload;
#: * purgatory: kexec_purgatory as kexec_purgatory_setup_kbuf() sizes it
#:   (tools/purgatory_facts.py on the decompressed vmlinux);
#: * real_mode_blob (5.10 only: 5.13 and later reserve the whole first MiB):
#:   PAGE_ALIGN(real_mode_blob_end - real_mode_blob) = 0x5244 -> 0x6000
#:   (earlymem.sources.realmode).
PINNED: tuple[KernelBuild, ...] = (
    _debian("5.10.0-32-amd64", "Debian 5.10.223-1", image_span=0x3600000, reserve_span=0x302C000, brk=0x2C000,
            structs={"pglist_data": 0x29FC0, "prb_desc": 0x18, "printk_info": 0x58}, percpu_static=221184, pcpu_chunk=136,
            frees={"text_gap": 2040 << 10, "rodata_gap": 560 << 10, "initmem": 2676 << 10, "smp_locks": 32 << 10, "decrypted": 2036 << 10},
            header=KernelHeader(7071904, 30, 0x020F, 1, 0x3F, True, 0x200000, 62365696, 2047, 6978112, 61635184),
            purgatory=KernelPurgatory(0x5000, 0x6000, 0x1000), extra={"real_mode_blob": 0x6000}),
    _debian("6.1.0-50-amd64", "Debian 6.1.176-1", image_span=0x3A00000, reserve_span=0x3430000, brk=0x30000,
            structs={"pglist_data": 0x2A880, "prb_desc": 0x18, "printk_info": 0x58}, percpu_static=217088, pcpu_chunk=136,
            frees={"text_gap": 2040 << 10, "rodata_gap": 1124 << 10, "initmem": 2820 << 10, "smp_locks": 36 << 10, "decrypted": 2036 << 10},
            header=KernelHeader(8221184, 39, 0x020F, 1, 0x7F, True, 0x200000, 66678784, 2047, 8098996, 65905060),
            purgatory=KernelPurgatory(0x4000, 0x5000, 0x1000)),
    _debian("6.12.117+deb13-amd64", "Debian 6.12.117-1", image_span=0x3200000, reserve_span=0x2C30000, brk=0x30000,
            structs={"pglist_data": 0x2A980, "prb_desc": 0x18, "printk_info": 0x58}, percpu_static=233472, pcpu_chunk=192,
            frees={"text_gap": 0, "rodata_gap": 456 << 10, "initmem": 4180 << 10, "smp_locks": 40 << 10, "decrypted": 2028 << 10},
            header=KernelHeader(12169728, 39, 0x020F, 1, 0x7F, True, 0x200000, 58650624, 2047, 11922360, 57646496),
            purgatory=KernelPurgatory(0x4000, 0x5000, 0x1000)),
    _debian("7.2.13+deb14-amd64", "Debian 7.2.13-1", image_span=0x3800000, reserve_span=0x3230000, brk=0x30000,
            structs={"pglist_data": 0x2B080, "prb_desc": 0x18, "printk_info": 0x70}, percpu_static=221184, pcpu_chunk=128,
            frees={"text_gap": 1236 << 10, "rodata_gap": 628 << 10, "initmem": 4648 << 10, "smp_locks": 48 << 10, "decrypted": 2028 << 10},
            header=KernelHeader(14546880, 39, 0x020F, 1, 0x7F, True, 0x200000, 63234048, 2047, 14282428, 62173500),
            purgatory=KernelPurgatory(0x4000, 0x5000, 0x1000)),
)

_SERIES = re.compile(r"^\d+\.\d+$")


def is_series(version: KernelVersion | None) -> bool:
    """``6.1``: a series, naming no build (its pinned one stands for it)."""
    return version is not None and bool(_SERIES.match((version.text or "").strip()))


def pinned_build(version: KernelVersion | None, banner: str | None = None) -> KernelBuild | None:
    """The pinned build ``version`` (and the boot log's ``banner``) names, or None.

    A full release must be a pinned one and, with a banner, the banner must name
    the same distribution version (Debian reuses an ABI name across uploads).
    A bare series (``6.1``) stands for the pinned build of the series.
    """
    if version is None:
        return None
    text = (version.text or "").strip()
    for b in PINNED:
        if text == b.release:
            if banner is not None and b.banner_tag is not None and b.banner_tag not in banner:
                return None
            return b
    if not text or is_series(version):
        return next((b for b in PINNED if b.release and b.release.startswith(f"{version.major}.{version.minor}.")), None)
    return None


def build_for(version: KernelVersion | None, banner: str | None = None) -> tuple[KernelBuild | None, str | None]:
    """``(build, why)``: the pinned build, or None and the reason no facts are known."""
    b = pinned_build(version, banner)
    if b is not None:
        return b, None
    if version is None:
        return None, "the kernel release is unknown (no banner, no kernel_version)"
    names = ", ".join(p.name for p in PINNED)
    return None, (f"earlymem has no facts for the build {version.text or version} (it knows {names}); "
                  "give its image with --kernel VMLINUZ")
