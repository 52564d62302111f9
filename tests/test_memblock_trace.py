"""earlymem's memblock against real boots' memblock=debug traces.

tests/fixtures/mbdebug holds boots of the four kernels made with
``memblock=debug`` (matrix.toml there), so each capture's log lists every
reservation, allocation and free memblock made.  The bytes memblock held
reserved when it handed memory to the page allocator must be, byte for
byte, the ones earlymem's replay of the same boot holds -- every small
allocation of setup_arch() and start_kernel() in its place.
"""

import sys
from pathlib import Path

import pytest

from earlymem.lib.ranges import Range, RangeSet
from earlymem.sources.capture import read_capture
from earlymem.sources.memblock_trace import (
    dumped_reserved,
    kernel_calls,
    reserved_at_handoff,
)

FIX = Path(__file__).parent / "fixtures" / "mbdebug"
CAPTURES = sorted(p for p in FIX.iterdir() if (p / "serial.log").is_file())
sys.path.insert(0, str(Path(__file__).parent.parent / "tools"))


def test_every_kernel_and_shape_is_here():
    assert {p.name.rsplit("--", 1)[1] for p in CAPTURES} == {"5.10", "6.1", "6.12", "7.2"}
    assert len(CAPTURES) == 24


@pytest.mark.parametrize("cap", CAPTURES, ids=lambda p: p.name)
def test_reserved_bytes_at_the_handoff_match(cap):
    from memblock_trace import predicted_memblock

    lines = read_capture(cap).sections["first/dmesg"]
    kernel = reserved_at_handoff(lines)
    assert kernel is not None, "no memblock=debug dump"
    mb = predicted_memblock(cap)
    memory = RangeSet(Range(r.start, r.end) for r in mb.memory)
    ours = RangeSet(Range(r.start, r.end) for r in mb.reserved).intersect(memory)
    theirs = kernel.intersect(memory)
    assert theirs.subtract(ours).total == 0, f"reserved only by the kernel: {theirs.subtract(ours)}"
    assert ours.subtract(theirs).total == 0, f"reserved only by earlymem: {ours.subtract(theirs)}"


def test_trace_reader_on_both_formats():
    lines = [
        "[    0.000000] MEMBLOCK configuration:",
        "[    0.000000]  memory size = 0x000000007ff7ec00 reserved size = 0x0000000003b43000",
        "[    0.000000]  reserved.cnt  = 0x2",
        "[    0.000000]  reserved[0x0]\t[0x0000000000000000-0x000000000000ffff], 0x0000000000010000 bytes flags: 0x0",
        "[    0.000000]  reserved[0x1]\t[0x0000000001000000-0x0000000003c10fff], 0x0000000002c11000 bytes flags: 0x0",
        "[    0.000000] memblock_alloc_try_nid: 73 bytes align=0x40 nid=-1 from=0x0000000000000000 max_addr=0x0000000000000000 acpi_parse_hpet+0xc3/0x140",
        "[    0.000000] memblock_reserve: [0x000000007deeb280-0x000000007deeb2c8] memblock_alloc_range_nid+0xe1/0x180",
        "[    0.000000] __memblock_reserve: [0x0000000000098000-0x000000000009efff] nid=-1 flags=20 memblock_alloc_range_nid+0xe9/0x190",
        "[    0.000000] memblock_phys_free: [0x0000000001000000-0x0000000001000fff] pcpu_embed_first_chunk+0x301/0x760",
        "[    0.000000] memblock_free: [0x0000000001001000-0x0000000001001fff] pcpu_embed_first_chunk+0x1dd/0x2d6",
        "[    0.100000] SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=1, Nodes=1",
        "[    0.200000] memblock_reserve: [0x0000000010000000-0x0000000010000fff] too_late+0x0/0x1",
    ]
    assert dumped_reserved(lines) == [Range(0, 0x10000), Range(0x1000000, 0x3C11000)]
    calls = kernel_calls(lines)
    assert [(c.kind, c.base, c.size, c.caller) for c in calls] == [
        ("reserve", 0x7DEEB280, 0x49, "acpi_parse_hpet(73)"),
        ("reserve", 0x98000, 0x7000, "acpi_parse_hpet(73)"),
        ("free", 0x1000000, 0x1000, "pcpu_embed_first_chunk"),
        ("free", 0x1001000, 0x1000, "pcpu_embed_first_chunk"),
    ]
    got = reserved_at_handoff(lines)
    assert got == RangeSet([Range(0, 0x10000), Range(0x98000, 0x9F000), Range(0x1002000, 0x3C11000), Range(0x7DEEB280, 0x7DEEB2C9)])
    assert reserved_at_handoff(lines[5:]) is None


UEFI = Path(__file__).parent / "fixtures" / "uefi-mbdebug"


@pytest.mark.parametrize("cap", sorted(p for p in UEFI.iterdir() if p.is_dir()), ids=lambda p: p.name)
def test_uefi_reserved_bytes_at_the_handoff(cap):
    """OVMF boots with efi=debug memblock=debug: page-exact on 6.1, 6.12 and 7.2 (whose
    setup_data nodes no line shows: the capture's chain gives them)."""
    from memblock_trace import predicted_memblock

    from earlymem.verification import setup_data_chain

    lines = read_capture(cap).sections["first/dmesg"]
    mb = predicted_memblock(cap)
    memory = RangeSet(Range(r.start, r.end) for r in mb.memory)
    # pages with a reserved byte (what the hand-off keeps): efi_mem_reserve()'s bytes are
    # known from the log only as the pages efi_arch_mem_reserve() updates in e820

    def pages(rs):
        return RangeSet(Range(r.start >> 12, -(-r.end >> 12)) for r in rs)

    ours = pages(RangeSet(Range(r.start, r.end) for r in mb.reserved).intersect(memory))
    theirs = pages(reserved_at_handoff(lines).intersect(memory))
    assert ours.subtract(theirs).total == 0, f"pages reserved only by earlymem: {ours.subtract(theirs)}"
    only_kernel = theirs.subtract(ours)
    assert only_kernel.total == 0, f"reserved only by the kernel: {only_kernel}"
    if cap.name.endswith("--7.2"):
        # the capture's setup_data chain (setup-data-chain, through /proc/kcore) names the
        # nodes memblock_x86_reserve_range_setup_data() reserved: each is whole in the dump
        chain = setup_data_chain(read_capture(cap))
        assert chain and all(any(d.start <= r.start and r.end <= d.end for d in dumped_reserved(lines)) for r in chain)
