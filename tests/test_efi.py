"""The UEFI model's rules (earlymem.phases.efi) and the log lines they read."""

from __future__ import annotations

import pytest

from earlymem.allocators.memblock import Memblock
from earlymem.kernels import profile_for
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.lib.version import parse_version
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Table, E820Type
from earlymem.phases.e820 import reserve_setup_data
from earlymem.phases.efi import efi_debug_keeps_boot_services, efi_early_reservations, efi_late_reserves, remove_efi_mmio
from earlymem.sources.dmesg import machine_from_boot_log, read_boot_logs

HEAD = ("[    0.000000] Linux version 6.12.0-1-amd64 (x) #1 SMP Debian 6.12.117-1\n"
        "[    0.000000] Command line: nokaslr efi=debug\n"
        "[    0.000000] BIOS-provided physical RAM map:\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000003fffffff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x00000000ffc00000-0x00000000ffffffff] reserved\n"
        "[    0.000000] efi: EFI v2.70 by EDK II\n"
        "[    0.000000] efi: SMBIOS=0x3f520000 ACPI=0x3f77d000 MEMATTR=0x3d20c518 INITRD=0x3d201f18 \n"
        "[    0.000000] efi: Remove mem02: MMIO range=[0xffc00000-0xffffffff] (4MB) from e820 map\n"
        "[    0.000000] efi: mem00: [Boot Data   |   |WB] range=[0x000000003d203000-0x000000003d24cfff] (0MB)\n"
        "[    0.000000] efi: mem01: [Conventional|   |WB] range=[0x000000003d24d000-0x000000003fffffff] (0MB)\n"
        "[    0.000000] efi: mem02: [MMIO        |RUN|UC] range=[0x00000000ffc00000-0x00000000ffffffff] (4MB)\n"
        "[    0.000000] e820: update [mem 0x00000000-0x00000fff] usable ==> reserved\n"
        "[    0.100000] e820: update [mem 0x3d203000-0x3d20bfff] usable ==> reserved\n"
        "[    0.100000] e820: update [mem 0x3e000000-0x3e000fff] usable ==> reserved\n"
        "[    0.400000] efi: EFI runtime memory map:\n"
        "[    0.400000] efi: mem00: [Boot Data   |RUN|WB] range=[0x000000003d203000-0x000000003d24cfff] (0MB)\n"
        "[    0.400000] efi: mem01: [MMIO        |RUN|UC] range=[0x00000000ffc00000-0x00000000ffffffff] (4MB)\n"
        "[    0.500000] efi: memattr: Processing EFI Memory Attributes table:\n"
        "[    0.500000] efi: memattr:  0x00007eaa0000-0x00007eba1fff [Runtime Data|RUN|XP]\n"
        "[    0.500000] efi: memattr:  0x00007f4ec000-0x00007f5ebfff [Runtime Data|RUN|XP]\n")


def _machine(tmp_path, text=HEAD) -> Machine:
    log = tmp_path / "boot.log"
    log.write_text(text)
    return machine_from_boot_log(read_boot_logs(log)[0])


def test_the_efi_lines_are_read(tmp_path):
    m = _machine(tmp_path)
    assert m.efi_memattr == (0x3D20C518, 2)
    # only the update inside Boot Data is efi_arch_mem_reserve()'s (page 0 is trim_bios_range()'s)
    assert m.efi_mem_reserves == (Range(0x3D203000, 0x3D20C000),)
    assert m.efi_mmio_removed == (Range(0xFFC00000, 0x100000000),)
    # the boot map is the first listing; the runtime map's entries only counted (kexec-tools passes them)
    assert len(m.efi_map) == 3 and m.efi_runtime_map == 2
    assert efi_debug_keeps_boot_services(m)
    assert not efi_debug_keeps_boot_services(Machine(m.e820, CommandLine("efi=nosoftreserve"), efi_boot=m.efi_boot))
    bad = HEAD.replace("MMIO range=[0xffc00000-0xffffffff]", "MMIO range=[0xffc00000-0xfc00000]")
    with pytest.raises(InputError, match="EFI MMIO range ends before it starts") as exc:
        _machine(tmp_path, bad)
    assert exc.value.line == 8


def test_boot_services_overlapped_by_a_reservation_stay_unreserved(tmp_path):
    """efi_reserve_boot_services(): a Boot range something already overlaps (here the memory
    attributes table) is not reserved, so it is free for allocations and never given back."""
    m = _machine(tmp_path)
    prof = profile_for(parse_version("6.12.117"))
    mb = Memblock()
    mb.add(0, 0x40000000)
    notes, allocs = [], []
    efi_early_reservations(mb, m, prof, notes, allocs)
    # the MEMATTR table: 16 + 2 * 48 bytes; the Boot Data around it is left as it is
    assert [(r.base, r.size) for r in mb.reserved] == [(0x3D20C518, 16 + 2 * 48)]
    m2 = Machine(m.e820, m.command_line, efi_boot=m.efi_boot, efi_map=m.efi_map)
    mb2 = Memblock()
    mb2.add(0, 0x40000000)
    efi_early_reservations(mb2, m2, prof, [], [])
    assert [(r.base, r.end) for r in mb2.reserved] == [(0x3D203000, 0x3D24D000)]


def test_a_late_efi_mem_reserve_splits_the_map_and_reserves_its_pages(tmp_path):
    m = _machine(tmp_path)
    prof = profile_for(parse_version("6.12.117"))
    mb = Memblock()
    mb.add(0, 0x40000000)
    allocs = []
    e820 = [E820Entry(0, 0x40000000, E820Type.RAM)]
    out = efi_late_reserves(mb, m, prof, e820, allocs, [])
    # efi_memmap_alloc(): 3 descriptors + 1 for the tail left over, 48 bytes each, top-down
    assert ("EFI memory map (efi_memmap_alloc())", 0x40000000 - 4 * 48, 4 * 48) in allocs
    assert mb.is_region_reserved(0x3D203000, 0x9000)
    assert [(e.addr, e.end, e.type) for e in out] == [(0, 0x3D203000, E820Type.RAM), (0x3D203000, 0x3D20C000, E820Type.RESERVED),
                                                     (0x3D20C000, 0x40000000, E820Type.RAM)]


def test_setup_data_splits_the_table_until_7_0_and_mmio_leaves_it(tmp_path):
    m = Machine([E820Entry(0, 0x40000000, E820Type.RAM), E820Entry(0xFFC00000, 0x400000, E820Type.RESERVED)],
                setup_data=(Range(0x3D0FA018, 0x3D137058),), efi_mmio_removed=(Range(0xFFC00000, 0x100000000),))
    for release, pieces in (("6.12.117", 3), ("7.2.13", 1)):
        prof = profile_for(parse_version(release))
        t = remove_efi_mmio(reserve_setup_data(E820Table(list(m.e820), 128), m, prof), m, prof)
        assert len(t.entries) == pieces, release
        assert all(e.type != E820Type.RESERVED for e in t.entries)


# -- the setup_data chain (the oracle's setup-data-chain helper; predict --setup-data) ----------

def test_setup_data_chain_lines_are_read_and_bad_ones_named():
    from earlymem.sources.setup_data import parse_setup_data_chain

    assert parse_setup_data_chain(["setup_data 0x7c5c6018 3 39984", "", "setup_data 0x7c4ca018 3 249904"], "f") == (
        Range(0x7C5C6018, 0x7C5C6018 + 16 + 39984), Range(0x7C4CA018, 0x7C4CA018 + 16 + 249904))
    assert parse_setup_data_chain([], "f") == ()
    for lines, why, line in ((["setup_data 0x1000 3 16", "setup_data 0x2000 x 3"], "not a 'setup_data", 12),
                             (["setup_data 0 3 16"], "impossible setup_data node", 11),
                             (["setup_data 0xfffffffffffff0 3 4096"], "impossible setup_data node", 11),
                             (["setup_data 0x1000 3 16", "setup_data 0x1000 3 16"], "the chain loops", 12)):
        with pytest.raises(InputError, match=why) as exc:
            parse_setup_data_chain(lines, "chain.txt", 11)
        assert exc.value.source == "chain.txt" and exc.value.line == line


def _setup_data_log(tmp_path):
    """A 6.12 boot log whose e820 updates show one setup_data node at 0x3c000018 (40000 bytes)."""
    log = tmp_path / "boot.log"
    log.write_text(HEAD + "[    0.000000] e820: update [mem 0x3c000018-0x3c009c57] usable ==> usable\n")
    return log


def test_predict_setup_data_file(tmp_path):
    import subprocess
    import sys

    log = _setup_data_log(tmp_path)
    assert machine_from_boot_log(read_boot_logs(log)[0]).setup_data == (Range(0x3C000018, 0x3C009C58),)

    def run(text):
        f = tmp_path / "chain"
        f.write_text(text)
        return subprocess.run([sys.executable, "-m", "earlymem", "predict", "--dmesg", str(log), "--setup-data", str(f)],
                              capture_output=True, text=True)

    assert run("setup_data 0x3c000018 3 39984\n").returncode == 0
    for text, why in (("setup_data 0x3d000018 3 39984\n", "not the ones the log shows ([mem 0x3c000018-0x3c009c57])"),
                      ("setup_data 0x3c000018 3\n", ":1: not a 'setup_data")):
        p = run(text)
        assert p.returncode == 2 and why in p.stderr and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    # an empty file: the helper found no node; the log's own nodes disagree with that
    p = run("")
    assert p.returncode == 2 and "not the ones the log shows" in p.stderr

