"""paging_init() to init_cpu_to_node(): sparse_init()'s memblock allocations and
5.10's late NODE_DATA for a CPU's memoryless node (earlymem.phases.paging_init).

The sparse_init() expectations are worked by hand from the rules in Debian's
5.10.223 mm/sparse.c and arch/x86/mm/init_64.c (see the module docstring);
the captures are the real 5.10 kdump kernels booted on a CPU whose node has
no memory in the crash region.
"""

from pathlib import Path

import pytest
from generated import generated_machine, machine_args
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earlymem.allocators.memblock import (
    MEMBLOCK_ALLOC_ACCESSIBLE,
    NUMA_NO_NODE,
    Memblock,
)
from earlymem.phases.paging_init import (
    late_node_data,
    logical_cpu_apic,
    possible_cpus,
    sparse_init,
)
from earlymem.kernels.builds import pinned_build
from earlymem.kernels import profile_for
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.version import parse_version
from earlymem.machine import CpuAffinity, Machine
from earlymem.sources.dmesg import crash_cpu, machine_from_boot_log, parse_boot_logs
from earlymem.verification import verify_path

FIX = Path(__file__).parent / "fixtures"
G, M = 1 << 30, 1 << 20
SIZES = dict(pinned_build(parse_version("5.10")).struct_sizes)
ND = 0x2A000  # roundup(sizeof(pg_data_t), PAGE_SIZE) of Debian's 5.10


def _two_nodes() -> tuple[Memblock, dict[int, int]]:
    mb = Memblock()
    mb.add_node(0x1000, 0x9E000, 0)
    mb.add_node(16 * M, G - 16 * M, 0)
    mb.add_node(G, G, 1)
    mb.set_current_limit(2 * G)
    node_data = {0: G - ND, 1: 2 * G - ND}
    for addr in node_data.values():
        mb.reserve(addr, ND)
    return mb, node_data


def test_sparse_init_allocations_follow_the_5_10_rules():
    mb, node_data = _two_nodes()
    allocs: list = []
    sparse_init(mb, node_data, SIZES, allocs, [])
    assert [(w, hex(a), hex(s)) for w, a, s in allocs] == [
        # memblock_alloc(8 * NR_SECTION_ROOTS = 8 * 2^19 / 128, 64): anywhere, top down
        ("mem_section roots", "0x7ffce000", "0x8000"),
        # one page of struct mem_section for root 0, on the node that first touches it
        ("mem_section[0]", "0x3ffd5000", "0x1000"),
        # 8 sections * (sizeof(mem_section_usage) 24 + usemap 32), in pg_data_t's 128 MiB section
        ("usemaps node 0", "0x3ffd4e40", "0x1c0"),
        # 8 * 2 MiB, 2 MiB aligned, node 0 only
        ("memmap buffer node 0", "0x3ee00000", "0x1000000"),
        # the vmemmap PGD entry and PUD entry are empty: a page each, the PUD
        # table at 0x3ffd3000, then the PMD table right below it
        ("vmemmap page tables (2)", "0x3ffd2000", "0x2000"),
        # node 1: its sections' vmemmap shares those tables
        ("usemaps node 1", "0x7ffcde40", "0x1c0"),
        ("memmap buffer node 1", "0x7ee00000", "0x1000000"),
    ]
    mb.check_invariants()


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(1, 64)), min_size=1, max_size=8),
       st.integers(1, 40), st.sampled_from([0, 2, 0x40]), st.sampled_from([NUMA_NO_NODE, 0, 1]), st.sampled_from([4096, 64 * 4096]))
def test_repeated_allocations_at_once_are_the_calls_one_by_one(holes, count, min_pages, nid, size):
    # two nodes of 1 MiB with reservations scattered in them; count calls of
    # memblock_alloc_try_nid() against alloc_try_nid_repeat()
    def build():
        mb = Memblock()
        mb.add_node(0x100000, 0x100000, 0)
        mb.add_node(0x200000, 0x100000, 1)
        for page, n in holes:
            mb.reserve(0x100000 + page * 0x2000, n * 0x1000)
        return mb
    one, many = build(), build()
    want = [one.alloc_try_nid(size, 4096, 0x100000 + min_pages * 0x1000 * 64, MEMBLOCK_ALLOC_ACCESSIBLE, nid) for _ in range(count)]
    got = []
    for addr, n in many.alloc_try_nid_repeat(count, size, 4096, 0x100000 + min_pages * 0x1000 * 64, MEMBLOCK_ALLOC_ACCESSIBLE, nid):
        got += [addr - i * size if addr else 0 for i in range(n)]
    assert got == want
    assert [(r.base, r.size) for r in many.reserved] == [(r.base, r.size) for r in one.reserved]


def test_memoryless_cpu_node_gets_its_node_data_last():
    mb, node_data = _two_nodes()
    machine = Machine([], CommandLine(""), cpus=[CpuAffinity(0, 0, 0), CpuAffinity(1, 1, 1), CpuAffinity(2, 2, 2)], boot_apic=0)
    late = late_node_data(machine, profile_for(parse_version("5.10")), mb, node_data, ND, SIZES, True)
    # after sparse_init(), acpi_parse_hpet()'s 73 bytes (HPET assumed: tables unknown)
    assert late.allocations[-2] == ("hpet_res", 0x7FFCDDC0, 0x49)
    assert late.lines == [
        ("numa", "NODE_DATA(2) allocated [mem 0x7ffa3dc0-0x7ffcddbf]"),
        ("numa", "    NODE_DATA(2) on node 1"),
        ("initmem", "Initmem setup node 2 [mem 0x0000000000000000-0x0000000000000000]"),
    ]
    assert any("HPET" in n for n in late.notes)


def test_nothing_is_printed_when_every_cpu_node_is_online_or_the_era_is_later():
    # sparse_init() and the HPET resource are replayed all the same (the hand-off needs them)
    for machine, version, srat in (
        (Machine([], CommandLine(""), cpus=[CpuAffinity(0, 0, 0), CpuAffinity(1, 1, 1)], boot_apic=0), "5.10", True),
        (Machine([], CommandLine(""), cpus=[CpuAffinity(0, 0, 0), CpuAffinity(1, 2, 2)], boot_apic=0), "6.1", True),
        (Machine([], CommandLine(""), cpus=[CpuAffinity(0, 0, 0), CpuAffinity(1, 2, 2)], boot_apic=0), "5.10", False),
    ):
        mb, node_data = _two_nodes()
        late = late_node_data(machine, profile_for(parse_version(version)), mb, node_data, ND, SIZES, srat)
        assert late.lines == [] and [w for w, _, _ in late.allocations][-1] == "hpet_res"
        assert not any(w.startswith("NODE_DATA") for w, _, _ in late.allocations)


def test_unknown_boot_cpu_predicts_nothing_and_says_so():
    mb, node_data = _two_nodes()
    machine = Machine([], CommandLine(""), cpus=[CpuAffinity(0, 0, 0), CpuAffinity(1, 2, 2)], boot_apic=None)
    late = late_node_data(machine, profile_for(parse_version("5.10")), mb, node_data, ND, SIZES, True)
    assert late.lines == [] and any("crashed" in n for n in late.notes)


def test_possible_cpus_keep_a_slot_for_the_boot_cpu():
    cpus = [CpuAffinity(a, a // 2, a // 2) for a in range(6)]
    # generic_processor_info(): CPU 0 is the boot CPU, the rest in MADT order
    assert [c.apic for c in possible_cpus(Machine([], CommandLine(""), cpus=cpus, boot_apic=4))] == [4, 0, 1, 2, 3, 5]
    # nr_cpus=3: two others, and the boot CPU even when it comes late in the MADT
    assert [c.apic for c in possible_cpus(Machine([], CommandLine("nr_cpus=3"), cpus=cpus, boot_apic=4))] == [4, 0, 1]
    assert [c.apic for c in possible_cpus(Machine([], CommandLine("nr_cpus=1"), cpus=cpus, boot_apic=5))] == [5]
    # get_option() reads a leading number; nr_cpus=0 or garbage changes nothing
    assert len(possible_cpus(Machine([], CommandLine("nr_cpus=2abc"), cpus=cpus, boot_apic=0))) == 2
    assert len(possible_cpus(Machine([], CommandLine("nr_cpus=0 nr_cpus=x"), cpus=cpus, boot_apic=0))) == 6
    first = Machine([], CommandLine(""), cpus=cpus, boot_apic=0)
    assert logical_cpu_apic(first, 3) == 3 and logical_cpu_apic(first, 6) is None


def test_boot_log_gives_cpu_affinities_tables_and_the_crashing_cpu():
    lines = [
        "[    0.000000] Linux version 5.10.0-32-amd64 (x) #1 SMP",
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "[    0.000000] ACPI: RSDP 0x00000000000F59B0 000014 (v00 BOCHS )",
        "[    0.000000] ACPI: HPET 0x00000000BFFE1ADF 000038 (v01 BOCHS  BXPC     00000001 BXPC 00000001)",
        "[    0.000000] SRAT: PXM 0 -> APIC 0x00 -> Node 0",
        "[    0.000000] SRAT: PXM 1 -> APIC 0x0101 -> Node 1",
        "[    0.036757] CPU: 1 PID: 0 Comm: swapper/1 Not tainted 5.10.0-32-amd64 #1 Debian 5.10.223-1",
        "[    8.951950] CPU: 1 PID: 1 Comm: init Kdump: loaded Tainted: G        W         5.10.0-32-amd64 #1",
        "[    9.000000] CPU: 0 UID: 0 PID: 1 Comm: init Kdump: loaded Not tainted 6.12.117+deb13-amd64 #1",
    ]
    log = parse_boot_logs(lines, "x.log")[0]
    assert log.rsdp == 0xF59B0 and log.acpi_tables == ["RSDP", "HPET"]
    assert [(c.apic, c.node) for c in log.srat_cpus] == [(0, 0), (0x101, 1)]
    assert log.crash_cpu == 0 and crash_cpu(lines) == 0 and crash_cpu(lines[:-1]) == 1 and crash_cpu(lines[:6]) is None
    m = machine_from_boot_log(log)
    assert m.boot_apic == 0 and m.acpi_tables == ("RSDP", "HPET") and m.cpus[1] == CpuAffinity(0x101, 1, 1)


@pytest.mark.parametrize("cap,node,at", [
    ("oracle/numa2x4g-ck256-load-crash--5.10", 1, "0xbe97f000-0xbe9a8fff"),
    ("oracle/numa4x16g-ck1g-load-crash--5.10", 1, "0xbe97f000-0xbe9a8fff"),
    ("holdout3/numa3-2g2g4g-ck512-load-crash--5.10", 2, "0xbe97f000-0xbe9a8fff"),
])
def test_kdump_kernel_on_a_memoryless_node_prints_what_5_10_printed(cap, node, at):
    fam = {f.name: f for f in verify_path(FIX / cap).families}["kdump-nodes"]
    assert f"NODE_DATA({node}) allocated [mem {at}]" in fam.predicted
    assert f"Initmem setup node {node} [mem 0x0000000000000000-0x0000000000000000]" in fam.predicted
    assert fam.ok, "\n".join(fam.diff())


def test_crash_on_a_cpu_whose_node_kept_memory_prints_nothing_late():
    # holdout3: CPU 1 crashed, and node 1 holds the crash region
    fam = {f.name: f for f in verify_path(FIX / "holdout3" / "numa2-2g4g-ck256-both-crash--5.10").families}["kdump-nodes"]
    assert not any("[mem 0x0000000000000000-0x0000000000000000]" in t for t in fam.predicted) and fam.ok


@pytest.mark.parametrize("cap,lines", [
    # first kernels: a CPU-only node 1 / 0, NODE_DATA below sparse_init()'s allocations
    ("numa2-4g0-ck256-load-crash--5.10", ["NODE_DATA(1) allocated [mem 0x13ed9d000-0x13edc6fff]", "    NODE_DATA(1) on node 0"]),
    ("numa2-0-5g-ck192-load-crash--5.10", ["NODE_DATA(0) allocated", "    NODE_DATA(0) on node 1"]),
])
def test_first_kernel_memoryless_cpu_nodes_on_5_10(cap, lines):
    fam = {f.name: f for f in verify_path(FIX / "holdout4" / cap).families}
    for want in lines:
        assert any(t.startswith(want) for t in fam["numa"].predicted), want
    assert fam["numa"].ok and fam["initmem"].ok and fam["kdump-nodes"].ok


@pytest.mark.parametrize("kernel", ["6.1", "6.12", "7.2"])
def test_cpu_only_nodes_are_memoryless_in_node_order_from_6_1(kernel):
    # node 0 has CPUs only: it is printed first; 6.12+ logs lack SRAT's CPU
    # lines, so verify reads the guest's -numa CPUs from the capture's note
    fam = {f.name: f for f in verify_path(FIX / "holdout4" / f"numa2-0-5g-ck192-load-crash--{kernel}").families}
    assert fam["initmem"].predicted[0] == "Initmem setup node 0 as memoryless" and fam["initmem"].ok
    assert fam["kdump-nodes"].ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**machine_args(3000, 3_000_000, 4096, ["", "crashkernel=256M", "crashkernel=1G,high"]))
def test_vmemmap_shortcut_places_what_step_by_step_does(low_mb, high_gb, holes, nodes, crash):
    # 7.2's vmemmap is taken 2 MiB block by block with table pages between;
    # late_setup._vmemmap_stack() places long stretches at once: the reserved
    # regions must come out the same either way
    import earlymem.phases.paging_init as ls
    from earlymem.pipeline import boot

    profile = profile_for(parse_version("7.2"))
    machine = generated_machine(low_mb, high_gb, holes, nodes, crash, "7.2")
    got = []
    try:
        for shortcut in (True, False):
            ls.VMEMMAP_STACK_SHORTCUT = shortcut
            got.append(boot(machine, profile).reserved)
    except InputError:
        return  # a machine the kernel refuses
    finally:
        ls.VMEMMAP_STACK_SHORTCUT = True
    assert got[0] == got[1]
