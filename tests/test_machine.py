"""Machine: built from a boot log, /proc + /sys files, or TOML."""

import pytest
from conftest import FIXTURES

from earlymem.phases.e820 import e820_report
from earlymem.kernels import profile_for
from earlymem.lib.errors import InputError
from earlymem.lib.ranges import Range
from earlymem.machine import CpuAffinity
from earlymem.machine.e820 import E820Entry
from earlymem.sources.dmesg import machine_from_boot_log, read_boot_logs
from earlymem.sources.iomem import iomem_e820, parse_iomem
from earlymem.sources.procfs import machine_from_proc
from earlymem.sources.toml import machine_from_toml

TOML = """
kernel_version = "6.1"
command_line = "console=ttyS0 memmap=512M$0x120000000"
rsdp = "0xf59b0"

[[e820]]
start = "1M"
end = "0xbffe0000"
type = "usable"

[[e820]]
start = 0
size = "639K"
type = 1

[[e820]]
start = "0x9fc00"
last = "0xfffff"
type = "reserved"

[[e820]]
start = "0xf0000"
size = "64K"
type = "reserved"

[[e820]]
start = "4G"
size = "1G"
type = "ram"

[[numa]]
node = 0
start = 0
size = "5G"

[initrd]
start = "0x7f000000"
size = "12M"
"""


def test_toml_machine_is_sanitized_like_the_firmware_map(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text(TOML)
    m = machine_from_toml(f)
    assert m.kernel_version.key == (6, 1, 0)
    assert m.rsdp == 0xF59B0 and m.initrd == Range(0x7F000000, 0x7F000000 + (12 << 20))
    assert m.numa[0].range == Range(0, 5 << 30)
    rep = e820_report(m, profile_for("6.1"), already_sanitized=False)
    assert rep.dmesg_lines() == [
        "BIOS-provided physical RAM map:",
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
        "BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable",
        "BIOS-e820: [mem 0x0000000100000000-0x000000013fffffff] usable",
        "user-defined physical RAM map:",
        "user: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "user: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
        "user: [mem 0x0000000000100000-0x00000000bffdffff] usable",
        "user: [mem 0x0000000100000000-0x000000011fffffff] usable",
        "user: [mem 0x0000000120000000-0x000000013fffffff] reserved",
    ]


@pytest.mark.parametrize(
    "patch, field",
    [
        (("size = \"639K\"", "size = \"639Q\""), "e820[1].size"),
        (("type = \"reserved\"", "type = \"wobbly\""), "e820[2].type"),
        (("last = \"0xfffff\"", "last = \"0x1\""), "e820[2]"),
        (("size = \"1G\"", "size = \"1G\"\nend = 5"), "e820[4]"),
        (("kernel_version = \"6.1\"", "kernel_version = 6.1"), "kernel_version"),
        (("rsdp = \"0xf59b0\"", "rsdp = -1"), "rsdp"),
        (("rsdp = \"0xf59b0\"", "colour = 1"), "colour"),
        (("size = \"1G\"", "size = \"99999999999999999999G\""), "e820[4].size"),
        (("rsdp = \"0xf59b0\"", "rsdp = \"0xf59b0\"\nboot_apic = 7\n[[cpus]]\napic = 0\nnode = 0\n[[cpus]]\napic = 1\nnode = 1\n"), "boot_apic"),
        (("rsdp = \"0xf59b0\"", "rsdp = \"0xf59b0\"\n[[cpus]]\napic = 0\n"), "cpus[0]"),
        (("rsdp = \"0xf59b0\"", "rsdp = \"0xf59b0\"\n[[cpus]]\napic = \"0x100000000\"\nnode = 0\n"), "cpus[0].apic"),
        (("rsdp = \"0xf59b0\"", "rsdp = \"0xf59b0\"\nacpi_tables = [\"HPETX\"]"), "acpi_tables"),
        (("rsdp = \"0xf59b0\"", "rsdp = \"0xf59b0\"\nioapics = 129"), "ioapics"),
        (("rsdp = \"0xf59b0\"", "rsdp = \"0xf59b0\"\nioapics = \"two\""), "ioapics"),
    ],
)
def test_toml_errors_name_the_field(tmp_path, patch, field):
    f = tmp_path / "m.toml"
    f.write_text(TOML.replace(*patch, 1))
    with pytest.raises(InputError) as exc:
        machine_from_toml(f)
    assert str(exc.value).startswith(f"{f}: {field}: ")


def test_toml_cpus_boot_cpu_and_acpi_tables(tmp_path):
    f = tmp_path / "m.toml"
    extra = 'boot_apic = 1\nacpi_tables = ["APIC", "SRAT"]\n[[cpus]]\napic = 0\nnode = 0\n[[cpus]]\napic = 1\nnode = 1\npxm = 5\n'
    f.write_text(TOML.replace('rsdp = "0xf59b0"', 'rsdp = "0xf59b0"\n' + extra, 1))
    m = machine_from_toml(f)
    assert m.boot_apic == 1 and m.acpi_tables == ("APIC", "SRAT") and m.cpus[1] == CpuAffinity(1, 1, 5)
    f.write_text(TOML.replace('rsdp = "0xf59b0"', 'rsdp = "0xf59b0"\nioapics = 2', 1))
    assert machine_from_toml(f).ioapics == 2
    f.write_text(TOML)
    m = machine_from_toml(f)
    assert m.cpus == [] and m.boot_apic is None and m.acpi_tables is None and m.ioapics is None


def test_toml_syntax_error(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text("kernel_version = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        machine_from_toml(f)


def test_machine_from_boot_log_takes_only_input_facts():
    log = read_boot_logs(FIXTURES / "bootlogs" / "q35-2g-numa2--6.1.0-50-amd64.log")[0]
    m = machine_from_boot_log(log)
    assert m.kernel_version.key[:2] == (6, 1)
    assert "nokaslr" in m.command_line.text
    assert [a.node for a in m.numa] == [0, 0, 1]
    assert m.numa[-1].range.end == 0x80000000 + (1 << 30) or m.numa[-1].range.size > 0
    assert m.rsdp is not None
    assert m.e820[0] == E820Entry(0, 0x9FC00, 1)


IOMEM = """00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-bffdffff : System RAM
  01000000-01e01d31 : Kernel code
  af000000-beffffff : Crash kernel
bffe0000-bfffffff : Reserved
c0000000-febfffff : PCI Bus 0000:00
fffc0000-ffffffff : Reserved
100000000-13fffffff : System RAM
"""


def test_iomem_top_level_entries():
    res = parse_iomem(IOMEM.splitlines(), "iomem")
    assert [r.name for r in res if r.depth == 1] == ["System ROM", "Kernel code", "Crash kernel"]
    e = iomem_e820(res)
    assert e[1] == E820Entry(0x1000, 0x9EC00, 1)
    assert e[-1] == E820Entry(0x100000000, 0x40000000, 1)
    assert all(x.type in (1, 2) for x in e)


def test_iomem_read_without_root_is_refused():
    with pytest.raises(InputError, match="as root"):
        parse_iomem(["00000000-00000000 : Reserved", "00000000-00000000 : System RAM"], "iomem")


def test_iomem_malformed_line_is_located():
    with pytest.raises(InputError) as exc:
        parse_iomem(["00000000-00000fff : Reserved", "zz-yy : x"], "iomem")
    assert str(exc.value).startswith("iomem:2: ")


def test_machine_from_proc_and_sys(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cmdline").write_text("mem=2G quiet\n")
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("6.12.117+deb13-amd64\n")
    for i, (s, e, t) in enumerate([(0, 0x9FBFF, "System RAM"), (0x9FC00, 0x9FFFF, "Reserved"), (0x100000, 0xBFFDFFFF, "System RAM")]):
        d = tmp_path / f"sys/firmware/memmap/{i}"
        d.mkdir(parents=True)
        (d / "start").write_text(f"{s:#x}\n")
        (d / "end").write_text(f"{e:#x}\n")
        (d / "type").write_text(t + "\n")
    m = machine_from_proc(tmp_path)
    assert m.kernel_version.key == (6, 12, 117)
    assert m.command_line.get("mem") == "2G"
    assert m.e820 == [E820Entry(0, 0x9FC00, 1), E820Entry(0x9FC00, 0x400, 2), E820Entry(0x100000, 0xBFEE0000, 1)]


def test_toml_map_the_kernel_would_not_take(tmp_path):
    f = tmp_path / "one.toml"
    f.write_text('kernel_version = "6.1"\n[[e820]]\nstart = 0\nsize = "1G"\ntype = "usable"\n')
    with pytest.raises(InputError, match="fewer than two e820 entries"):
        e820_report(machine_from_toml(f), profile_for("6.1"), already_sanitized=False)
