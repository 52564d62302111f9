"""The purgatory kexec-tools embeds, and what ``elf_rel_build_load()`` makes of it.

kexec-tools links its purgatory as a relocatable ELF and embeds it in the
kexec binary.  ``elf_rel_build_load()`` (kexec/kexec-elf-rel.c) packs the
SHF_ALLOC PROGBITS sections in section order, each aligned to its own
alignment (bufsz), pads to the largest NOBITS alignment and adds the NOBITS
sections (memsz); the buffer is aligned to the largest alignment, and the
entry point is ``e_entry`` inside the first (.text) section.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from earlymem.lib.errors import InputError

__all__ = ["PurgatoryFacts", "purgatory_facts"]

#: a kexec binary is a few hundred KiB, a vmlinux tens of MiB; refuse anything absurd
MAX_BINARY = 1 << 30


@dataclass(frozen=True)
class PurgatoryFacts:
    offset: int  # where the embedded ELF starts in the binary
    bufsz: int
    memsz: int
    align: int
    entry: int
    #: bufsz padded to the bss alignment: what the kernel's
    #: kexec_purgatory_setup_kbuf() calls bufsz
    padded: int = 0


def purgatory_facts(data: bytes, source: str) -> PurgatoryFacts:
    """Find the embedded x86_64 ET_REL purgatory in a kexec binary and size it."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    if len(data) > MAX_BINARY:
        raise InputError(f"{len(data)} bytes is not a kexec binary", source=source)
    at = 0
    while True:
        at = data.find(b"\x7fELF\x02\x01\x01", at + 1)
        if at < 0 or at + 20 > len(data):  # (an ELF ident cut short by the end of the file is none)
            raise InputError("no embedded x86_64 relocatable ELF (purgatory) found", source=source)
        e_type, e_machine = struct.unpack_from("<HH", data, at + 16)
        if e_type == 1 and e_machine == 62:
            break
    try:
        elf = ELFFile(io.BytesIO(data[at:]))
        secs = [(s["sh_type"], s["sh_size"], max(1, s["sh_addralign"])) for s in elf.iter_sections() if s["sh_flags"] & 2]
        entry = elf.header.e_entry
    except (ELFError, struct.error, ValueError, OverflowError) as exc:  # (an offset past 2^63: seek's OverflowError)
        raise InputError(f"the embedded purgatory ELF is malformed: {exc}", source=source) from None
    buf_align = bss_align = 1
    bufsz = bsssz = 0
    for typ, size, align in secs:
        if typ == "SHT_NOBITS":
            bss_align = max(bss_align, align)
            bsssz = -(-bsssz // align) * align + size
        else:
            buf_align = max(buf_align, align)
            bufsz = -(-bufsz // align) * align + size
    buf_align = max(buf_align, bss_align)
    pad = (bss_align - bufsz % bss_align) % bss_align
    return PurgatoryFacts(at, bufsz, bufsz + pad + bsssz, buf_align, entry, bufsz + pad)
