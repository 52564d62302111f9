"""The boot-log reader: which lines are input facts, in every format seen."""

from earlymem.lib.ranges import Range
from earlymem.sources.dmesg import (
    label_to_type,
    machine_from_boot_log,
    message_text,
    parse_boot_logs,
)


def parse(text):
    return parse_boot_logs(text.splitlines(), "t.log")


def test_message_text_keeps_legacy_leading_space():
    assert message_text("[    0.000000]  BIOS-e820: 0000000000000000 - 000000000009f800 (usable)") == " BIOS-e820: 0000000000000000 - 000000000009f800 (usable)"
    assert message_text("Aug 31 17:57:30 homesv kernel:  BIOS-e820: 00 - 01 (usable)") == " BIOS-e820: 00 - 01 (usable)"


def test_console_noise_before_the_first_timestamp():
    raw = "Probing EDD (edd=off to disable)... o\x1bc\x1b[?7l\x1b[2J[    0.000000] Linux version 7.2.13+deb14-amd64 (x)"
    assert message_text(raw) == "Linux version 7.2.13+deb14-amd64 (x)"


def test_input_facts_modern():
    log = parse(
        "[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP\n"
        "[    0.000000] Command line: console=ttyS0 crashkernel=256M\n"
        "[    0.000000] BIOS-provided physical RAM map:\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable\n"
        "[    0.000000] RAMDISK: [mem 0x7f8bc000-0x7fffefff]\n"
        "[    0.000000] ACPI: RSDP 0x00000000000F59B0 000014 (v00 BOCHS )\n"
        "[    0.000000] ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x0009ffff]\n"
        "[    0.000000] ACPI: SRAT: Node 1 PXM 1 [mem 0x140000000-0x23fffffff] hotplug\n"
        "[    0.012345] Kernel command line: console=ttyS0 crashkernel=256M extra\n"
    )[0]
    assert log.version == "6.1.0-50-amd64"
    assert log.command_line == "console=ttyS0 crashkernel=256M"  # 'Command line:' wins
    assert log.ramdisk == Range(0x7F8BC000, 0x7FFFF000)
    assert log.rsdp == 0xF59B0
    assert [(s.node, s.pxm, s.range, s.hotplug) for s in log.srat] == [
        (0, 0, Range(0, 0xA0000), False),
        (1, 1, Range(0x140000000, 0x240000000), True),
    ]
    assert [e.addr for e in log.firmware.entries] == [0, 0x100000]


def test_input_facts_2_6_era():
    log = parse(
        "Bootdata ok (command line is ro memmap=exactmap memmap=640K@0K)\n"
        "Linux version 2.6.16-rc2 (root@x) #1 SMP\n"
        "BIOS-provided physical RAM map:\n"
        " BIOS-e820: 0000000000000100 - 000000000009d400 (usable)\n"
        " BIOS-e820: 0000000000100000 - 000000007ff60000 (usable)\n"
        "ACPI: RSDP (v002 PTLTD                                 ) @ 0x00000000000f6d90\n"
        "SRAT: Node 1 PXM 1 100000000-180000000\n"
    )[0]
    assert log.command_line == "ro memmap=exactmap memmap=640K@0K"
    assert log.rsdp == 0xF6D90
    assert log.srat[0].range == Range(0x100000000, 0x180000000)
    assert log.firmware.style == "legacy"


def test_first_kernel_and_kdump_kernel_are_two_boots():
    one = "[    0.000000] Linux version 6.1.0 (x)\n[    0.000000] BIOS-provided physical RAM map:\n" + (
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable\n"
    )
    boots = parse(one + "[   20.0] random noise\n" + one)
    assert len(boots) == 2 and boots[1].first_lineno == 6


def test_labels_of_every_era():
    assert label_to_type("(usable)") == 1
    assert label_to_type(" System RAM") == 1
    assert label_to_type(" device reserved") == 2
    assert label_to_type("persistent (type 12)") == 12
    assert label_to_type(" persistent RAM (type 7)") == 7
    assert label_to_type("type 20") == 20
    assert label_to_type("(wobbly)") is None
    assert label_to_type("type 99999999999") is None


from hypothesis import given
from hypothesis import strategies as st

from earlymem.lib.errors import InputError

_pieces = st.sampled_from([
    "BIOS-e820: ", " BIOS-e820: ", "user: ", "[mem ", "[gap ", "0x", "0000000000100000", "ffffffffffffffff",
    "1ffffffffffffffff", "-", " - ", "] ", "]", "usable", "(usable)", " System RAM", "type ", "99", "(", ")",
    "BIOS-provided physical RAM map:", "Linux version 6.1", "Command line: mem=", "memmap=", "$", "@", "\x1b[2J",
    "[    0.000000] ", "\t", " ", "é", "SRAT: Node 0 PXM 0 [mem 0x0-0x1]", "RAMDISK: [mem 0x1-0x0]",
    "ACPI: SRAT: Node 1 PXM 1 [mem 0x5", "RAMDISK: [mem 0x9", "-0x2]", "ACPI: RSDP 0x", "F59B0 000014 (v00",
])


@given(st.lists(st.lists(_pieces, max_size=8).map("".join), min_size=1, max_size=12))
def test_reader_never_crashes_on_near_miss_lines(lines):
    try:
        parse_boot_logs(lines, "fuzz.log")
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.log")


def test_impossible_srat_and_ramdisk_ranges_are_refused():
    import pytest
    with pytest.raises(InputError, match="t.log:2: SRAT range ends before it starts"):
        parse("[    0.000000] Linux version 6.1.0 (x)\n[    0.000000] ACPI: SRAT: Node 0 PXM 0 [mem 0x5000-0x1000]\n")
    with pytest.raises(InputError, match="t.log:2: RAMDISK range"):
        parse("[    0.000000] Linux version 6.1.0 (x)\n[    0.000000] RAMDISK: [mem 0x9000-0x2000]\n")


def test_excerpt_without_banner_or_header_is_still_a_boot():
    log = parse(" BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)\n BIOS-e820: 0000000000100000 - 0000000008000000 (usable)\n")[0]
    assert log.version is None and log.firmware.kind == "firmware" and len(log.firmware.entries) == 2


def test_ioapics_and_possible_cpus_are_input_facts():
    import pytest

    from earlymem.lib.errors import InputError

    head = ("[    0.000000] Linux version 6.1.0 (x)\n"
            "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n")
    log = parse(head + "[    0.000000] IOAPIC[0]: apic_id 0, version 32, address 0xfec00000, GSI 0-23\n"
                       "[    0.000000] IOAPIC[1]: apic_id 1, version 32, address 0xfec01000, GSI 24-47\n"
                       "[    0.000000] smpboot: Allowing 4 CPUs, 2 hotplug CPUs\n")[0]
    assert log.ioapics == {0, 1} and log.possible_cpus == 4
    m = machine_from_boot_log(log)
    assert m.ioapics == 2 and [c.node for c in m.cpus] == [0, 0, 0, 0] and m.boot_apic == 0
    log = parse(head + "[    0.000000] CPU topo: Allowing 3 present CPUs plus 2 hotplug CPUs\n")[0]
    assert log.possible_cpus == 5 and machine_from_boot_log(log).ioapics is None
    # with SRAT memory but no CPU lines (6.12 on), the CPUs' nodes are unknown: none taken
    log = parse(head + "[    0.000000] ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x0009ffff]\n"
                       "[    0.000000] CPU topo: Allowing 2 present CPUs plus 0 hotplug CPUs\n")[0]
    assert machine_from_boot_log(log).cpus == []
    with pytest.raises(InputError, match="t.log:3: 9000 possible CPUs: more than NR_CPUS"):
        parse(head + "[    0.000000] smpboot: Allowing 9000 CPUs, 0 hotplug CPUs\n")


def test_the_dmi_system_name():
    """dmi_format_ids()'s "DMI: <system>, BIOS ..." line names the platform (the unpack's calibration is
    per platform); 7.x's other "DMI: " lines (SMBIOS, memory slots) are not it."""
    head = ("[    0.000000] Linux version 7.2.13+deb14-amd64 (x) #1 SMP\n"
            "[    0.000000] BIOS-provided physical RAM map:\n"
            "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n")
    log = parse(head + "[    0.000000] DMI: SMBIOS 2.8 present.\n"
                "[    0.000000] DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014\n"
                "[    0.000000] DMI: Memory slots populated: 1/1\n")[0]
    assert machine_from_boot_log(log).dmi == "QEMU Standard PC (i440FX + PIIX, 1996)"
    log = parse(head + "[    0.000000] DMI: Dell Inc. PowerEdge R640/0W23H8, BIOS 2.1.8 04/30/2019\n")[0]
    assert machine_from_boot_log(log).dmi == "Dell Inc. PowerEdge R640/0W23H8"
    assert machine_from_boot_log(parse(head)[0]).dmi is None
