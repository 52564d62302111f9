"""The .BTF reader on hand-built blobs (Documentation/bpf/btf.rst layout)."""

import struct

import pytest

from earlymem.lib.errors import InputError
from earlymem.sources.btf import BTF_MAGIC, struct_sizes


def _blob(types: bytes, strings: bytes, *, magic: int = BTF_MAGIC) -> bytes:
    hdr_len = 24
    header = struct.pack("<HBBIIIII", magic, 1, 0, hdr_len, 0, len(types), len(types), len(strings))
    return header + types + strings


def _type(name_off: int, kind: int, vlen: int, size: int) -> bytes:
    return struct.pack("<III", name_off, (kind << 24) | vlen, size)


STRINGS = b"\0int\0pglist_data\0u\0zone\0a\0b\0"
INT = _type(1, 1, 0, 4) + struct.pack("<I", 32)  # INT carries one extra u32
PG = _type(5, 4, 2, 0x2A880) + struct.pack("<III", 17, 1, 0) * 2  # struct, two members
UNION = _type(17, 5, 1, 8) + struct.pack("<III", 19, 1, 0)
ENUM = _type(0, 6, 3, 4) + struct.pack("<Ii", 21, 0) * 3  # anonymous enum, three values
ZONE = _type(19, 4, 0, 0x680)


def test_sizes_of_named_structs_and_unions_after_variable_length_records():
    sizes = struct_sizes(_blob(INT + PG + ENUM + UNION + ZONE, STRINGS))
    assert sizes == {"pglist_data": 0x2A880, "u": 8, "zone": 0x680}


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x9f\xeb", "shorter than its header"),
        (_blob(INT, STRINGS, magic=0x1234), "not BTF"),
        (_blob(INT, STRINGS)[:-4], "outside the blob"),
        (_blob(_type(1, 31, 0, 0), STRINGS), "unknown BTF kind 31"),
        (_blob(_type(len(STRINGS) + 3, 4, 0, 8), STRINGS + b"xyz"), "past the string section"),
    ],
)
def test_malformed_btf_is_a_one_line_error(blob, message):
    with pytest.raises(InputError) as exc:
        struct_sizes(blob, "vmlinuz")
    assert message in str(exc.value) and "vmlinuz" in str(exc.value) and "\n" not in str(exc.value)
