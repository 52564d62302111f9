"""The real-mode trampoline blob a vmlinux carries, and its size.

arch/x86/realmode/rmpiggy.S ``.incbin``s realmode.bin (page-aligned, in
.init.data) and right after it realmode.relocs; reserve_real_mode()
(arch/x86/realmode/init.c) reserves ``PAGE_ALIGN(real_mode_blob_end -
real_mode_blob)`` below 1 MiB, top-down.  The vmlinux in a bzImage has no
symbols, so the blob is found by its header (rm/header.S real_mode_header:
``pa_text_start`` = 0x1000 first, ``__KERNEL32_CS`` = 8 last) and its end by
the relocation list that must follow it (a count and sorted offsets of
16-bit segment relocations, then of 32-bit ones, all inside the blob).
"""

from __future__ import annotations

import struct

from earlymem.lib.x86_64 import PAGE

__all__ = ["realmode_size"]



def _relocs_at(d: bytes, r: int, size: int) -> bool:
    try:
        n1 = struct.unpack_from("<I", d, r)[0]
        if not 0 < n1 < 4096:
            return False
        v1 = struct.unpack_from(f"<{n1}I", d, r + 4)
        n2 = struct.unpack_from("<I", d, r + 4 + 4 * n1)[0]
        if not 0 < n2 < 4096:
            return False
        v2 = struct.unpack_from(f"<{n2}I", d, r + 8 + 4 * n1)
    except struct.error:
        return False
    return all(x < size for x in v1 + v2) and list(v1) == sorted(v1) and list(v2) == sorted(v2)


def realmode_size(init_data: bytes, vaddr: int) -> int | None:
    """PAGE_ALIGN of the blob's size, or None if no single blob is found.

    :param init_data: the vmlinux's .init.data section; ``vaddr`` its address.
    """
    found = []
    for off in range((-vaddr) % PAGE, len(init_data) - 64, PAGE):
        w = struct.unpack_from("<10I", init_data, off)
        for n in (10, 9):  # with / without CONFIG_AMD_MEM_ENCRYPT's sev_es_trampoline_start
            f = w[:n]
            if f[0] == 0x1000 and f[-1] == 8 and all(x < 0x20000 for x in f[:-1]):
                top = max(f[:-1])
                sizes = [r - off for r in range(off + top, min(len(init_data), off + top + 4 * PAGE), 4) if _relocs_at(init_data, r, r - off)]
                if len(sizes) == 1:
                    found.append(sizes[0])
                break
    if len(found) != 1:
        return None
    return -(-found[0] // PAGE) * PAGE
