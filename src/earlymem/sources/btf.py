"""Struct sizes from a vmlinux's BTF (.BTF section; Documentation/bpf/btf.rst).

Debian builds with CONFIG_DEBUG_INFO_BTF, and the vmlinux inside the bzImage
keeps its ``.BTF`` section, so the sizes that decide early allocations
(``struct pglist_data`` for NODE_DATA, ``struct printk_info`` and ``struct
prb_desc`` for the printk ring buffer a ``log_buf_len=`` allocates) can be read
from the very kernel being predicted instead of being assumed.

Only what is needed is decoded: the header, then each type record's fixed part
and kind-specific tail, keeping ``name -> size`` of structs and unions.
"""

from __future__ import annotations

import struct

from earlymem.lib.errors import InputError

__all__ = ["struct_sizes", "BTF_MAGIC"]

BTF_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
#: Bytes after the 12-byte btf_type, per kind: fixed part, and per vlen entry.
_FIXED = {1: 4, 2: 0, 3: 12, 7: 0, 8: 0, 9: 0, 10: 0, 11: 0, 12: 0, 14: 4, 16: 0, 17: 4, 18: 0}
_PER_VLEN = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
BTF_KIND_STRUCT, BTF_KIND_UNION = 4, 5


def struct_sizes(btf: bytes, source: str = "<btf>") -> dict[str, int]:
    """``{name: size}`` of every named struct and union in a raw BTF blob.

    :raises InputError: for a blob that is not BTF or is cut short.
    """
    if len(btf) < _HEADER.size:
        raise InputError("BTF section is shorter than its header", source=source, field=".BTF")
    magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(btf, 0)
    if magic != BTF_MAGIC:
        raise InputError(f"not BTF (magic {magic:#x})", source=source, field=".BTF")
    types_start, strs_start = hdr_len + type_off, hdr_len + str_off
    if types_start + type_len > len(btf) or strs_start + str_len > len(btf):
        raise InputError("BTF type or string section lies outside the blob", source=source, field=".BTF")
    types = btf[types_start : types_start + type_len]
    strings = btf[strs_start : strs_start + str_len]
    sizes: dict[str, int] = {}
    pos = 0
    while pos + _TYPE.size <= len(types):
        name_off, info, size = _TYPE.unpack_from(types, pos)
        pos += _TYPE.size
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind not in _FIXED and kind not in _PER_VLEN:
            raise InputError(f"unknown BTF kind {kind}", source=source, field=".BTF")
        if kind in (BTF_KIND_STRUCT, BTF_KIND_UNION) and name_off:
            end = strings.find(b"\0", name_off)
            if end < 0:
                raise InputError("BTF name runs past the string section", source=source, field=".BTF")
            sizes.setdefault(strings[name_off:end].decode("ascii", "replace"), size)
        pos += _FIXED.get(kind, 0) + _PER_VLEN.get(kind, 0) * vlen
    return sizes
