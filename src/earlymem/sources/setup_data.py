"""The loader's setup_data chain as the oracle's ``setup-data-chain`` helper prints it
(src/earlymem/oracle/setup_data_chain.c): one ``setup_data <address> <type> <len>``
line per node, in chain order.

Each node is ``struct setup_data { u64 next; u32 type; u32 len; u8 data[]; }``
(arch/x86/include/uapi/asm/setup_data.h), so it covers ``[address, address + 16 +
len)``: the range memblock_x86_reserve_range_setup_data() (arch/x86/kernel/setup.c)
reserves.  From 7.0 on no log line shows these nodes (E820_TYPE_RESERVED_KERN and its
"reserve setup_data" e820 update are gone, and the reservation comes before
memblock=debug is parsed), so a capture's chain is the only place they are written.
"""

from __future__ import annotations

import re

from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range

__all__ = ["SETUP_DATA_HEADER", "parse_setup_data_chain"]

#: sizeof(struct setup_data) before its payload: next (8), type (4), len (4)
SETUP_DATA_HEADER = 16

_LINE = re.compile(r"setup_data (0x[0-9a-f]+|0) (\d+) (\d+)")
#: the widest MAXPHYADDR (52 bits)
_PHYS_END = 1 << 52


def parse_setup_data_chain(lines: list[str], source: str, first_line: int = 1) -> tuple[Range, ...]:
    """The nodes' ranges, in chain order.

    :param first_line: the line number of ``lines[0]`` in ``source``.
    :raises InputError: for a line of another shape, a node at address 0 or past
        the physical address space, or a node met twice.
    """
    out: list[Range] = []
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        m = _LINE.fullmatch(line)
        if not m:
            raise InputError("not a 'setup_data <address> <type> <len>' line", source=source, line=first_line + i)
        addr, length = int(m.group(1), 16), int(m.group(3))
        if addr == 0 or length >= 1 << 32 or addr + SETUP_DATA_HEADER + length > _PHYS_END:
            raise InputError(f"impossible setup_data node at {m.group(1)} of {length} bytes", source=source, line=first_line + i)
        r = Range(addr, addr + SETUP_DATA_HEADER + length)
        if r in out:
            raise InputError(f"setup_data node {m.group(1)} met twice: the chain loops", source=source, line=first_line + i)
        out.append(r)
    return tuple(out)
