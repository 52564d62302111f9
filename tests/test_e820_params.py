"""mem= and memmap= per era, against the parse_memopt()/parse_memmap_one() of each.

Modern behaviour is also covered byte for byte by the QEMU captures in
test_bootlogs.py; these tests pin the era differences the profiles encode.
"""

import pytest

from earlymem.phases.e820 import apply_mem_params
from earlymem.kernels import profile_for
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.machine.e820 import E820Entry, E820Table
from earlymem.phases.e820_print_table import format_table

FW = [
    E820Entry(0, 0x9FC00, 1),
    E820Entry(0x9FC00, 0x400, 2),
    E820Entry(0xF0000, 0x10000, 2),
    E820Entry(0x100000, 0xBFEE0000, 1),
    E820Entry(0x100000000, 0x40000000, 1),
]


def user(cmd, version):
    p = profile_for(version)
    return apply_mem_params(E820Table(list(FW), p.e820.capacity), CommandLine(cmd), p)


def test_mem_on_2_6_16_caps_end_pfn_without_a_user_map():
    # arch/x86_64/kernel/e820.c (2.6.16-2.6.26) parse_memopt: end_user_pfn only.
    r = user("mem=2G", "2.6.23")
    assert not r.userdef and r.end_user_pfn == (2 << 30) >> 12
    assert r.table.entries == FW


def test_mem_on_2_6_27_removes_ram_and_prints_a_user_map():
    r = user("mem=2G", "2.6.30")
    assert r.userdef and r.end_user_pfn is None
    assert r.table.entries[-1] == E820Entry(0x100000, (2 << 30) - 0x100000, 1)


def test_mem_is_an_address_limit_not_an_amount():
    # e820__range_remove(mem_size, ULLONG_MAX - mem_size, RAM): RAM above 4G goes too.
    r = user("mem=0xa0000000", "6.1")
    assert [e for e in r.table.entries if e.type == 1][-1] == E820Entry(0x100000, 0xA0000000 - 0x100000, 1)


def test_unsanitized_user_map_before_2_6_25_keeps_command_line_order():
    r = user("memmap=exactmap memmap=640K@0 memmap=16M@64M memmap=8M@16M", "2.6.16")
    assert [e.addr for e in r.table.entries] == [0, 64 << 20, 16 << 20]


def test_sanitized_user_map_from_2_6_25_is_sorted():
    r = user("memmap=exactmap memmap=640K@0 memmap=16M@64M memmap=8M@16M", "2.6.25")
    assert [e.addr for e in r.table.entries] == [0, 16 << 20, 64 << 20]


def test_pram_form_unknown_before_4_1_acts_like_a_bare_size():
    # Before v4.1 parse_memmap_opt has no '!' branch: falls to the mem=-like else.
    r = user("memmap=64M!0x120000000", "3.10")
    assert r.userdef and any("not known" in x for x in r.ignored)
    assert max(e.addr + e.size for e in r.table.entries if e.type == 1) == 64 << 20
    r = user("memmap=64M!0x120000000", "4.1")
    assert E820Entry(0x120000000, 64 << 20, 12) in r.table.entries


def test_comma_lists_only_where_the_era_splits_them():
    r = user("memmap=1M$0x200000,1M$0x400000", "6.1")
    assert E820Entry(0x400000, 1 << 20, 2) in r.table.entries
    r = user("memmap=1M$0x200000,1M$0x400000", "2.6.30")
    assert E820Entry(0x200000, 1 << 20, 2) in r.table.entries
    assert E820Entry(0x400000, 1 << 20, 2) not in r.table.entries
    assert any("trailing" in x for x in r.ignored)


def test_percent_operator_forms():
    # memmap=nn%ss-old+new (v4.16, commit ef61f8a340fd)
    r = user("memmap=1M%0x200000-1+2", "6.1")
    assert E820Entry(0x200000, 1 << 20, 2) in r.table.entries
    r = user("memmap=1M%0x200000+12", "6.1")
    assert E820Entry(0x200000, 1 << 20, 12) in r.table.entries
    r = user("memmap=1M%0x200000", "6.1")
    assert all(not (e.addr <= 0x200000 < e.addr + e.size) for e in r.table.entries)


def test_percent_same_type_is_a_kernel_bug():
    r = user("memmap=1M%0x200000-1+1", "6.1")
    assert r.panic.function == "__e820__range_update" and r.panic.message is None and "BUG_ON" in r.panic.why


def test_exactmap_alone_panics():
    r = user("memmap=exactmap", "6.1")
    assert (r.panic.message, r.panic.function, r.panic.why) == ("Invalid user supplied memory map", "e820__finish_early_params",
                                                                "fewer than two e820 entries are left after mem=/memmap= (0)")


def test_mem_zero_is_refused_from_4_1():
    r = user("mem=0", "6.1")
    assert r.table.entries == FW and r.ignored


def test_legacy_format_prints_exclusive_ends():
    lines = format_table("BIOS-e820", FW[:2], profile_for("2.6.22"))
    assert lines == [
        " BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)",
        " BIOS-e820: 000000000009fc00 - 00000000000a0000 (reserved)",
    ]


def test_gap_style_prints_gaps_and_a_leading_gap_from_zero():
    # commit 4d8e5a682be4: the previous end starts at 0.
    p = profile_for("7.2")
    lines = format_table("BIOS-e820", [E820Entry(0x1000, 0x1000, 1), E820Entry(0x3000, 0x1000, 2)], p)
    assert lines == [
        "BIOS-e820: [gap 0x0000000000000000-0x0000000000000fff]",
        "BIOS-e820: [mem 0x0000000000001000-0x0000000000001fff]  System RAM",
        "BIOS-e820: [gap 0x0000000000002000-0x0000000000002fff]",
        "BIOS-e820: [mem 0x0000000000003000-0x0000000000003fff]  device reserved",
    ]


def test_unknown_types_print_their_number():
    assert profile_for("6.1").label(20) == "type 20"
    assert profile_for("7.2").label(20) == " type 20"
    assert profile_for("2.6.22").label(20) == "type 20"
    assert profile_for("6.1").label(12) == "persistent (type 12)"
