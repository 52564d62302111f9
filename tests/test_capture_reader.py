"""Reading captures: sections, exit codes, and the kdump kernel's part."""

import pytest

from earlymem.lib.errors import InputError
from earlymem.sources.capture import read_capture
from earlymem.verification import verify_path

CAPTURE = """SeaBIOS noise\x1b[2J@@@@BEGIN first/cmdline@@@@\r
console=ttyS0 nokaslr memmap=1M$0x200000\r
@@@@END first/cmdline@@@@\r
@@@@RC first/cmdline=0@@@@\r
@@@@BEGIN first/dmesg@@@@\r
[    0.000000] Linux version 6.1.0-50-amd64 (x) #1 SMP\r
[    0.000000] Command line: console=ttyS0 nokaslr memmap=1M$0x200000\r
[    0.000000] BIOS-provided physical RAM map:\r
[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\r
[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000003fffffff] usable\r
[    0.000000] user-defined physical RAM map:\r
[    0.000000] user: [mem 0x0000000000000000-0x000000000009fbff] usable\r
[    0.000000] user: [mem 0x0000000000100000-0x00000000001fffff] usable\r
[    0.000000] user: [mem 0x0000000000200000-0x00000000002fffff] reserved\r
[    0.000000] user: [mem 0x0000000000300000-0x000000003fffffff] usable\r
[    0.000000] Zone ranges:\r
[    0.000000]   DMA      [mem 0x0000000000001000-0x0000000000ffffff]\r
[    0.000000]   Normal   empty\r
[    0.000000] Initmem setup node 0 [mem 0x0000000000001000-0x000000003fffffff]\r
@@@@END first/dmesg@@@@\r
@@@@RC first/dmesg=0@@@@\r
@@@@BEGIN first/zoneinfo@@@@\r
Node 0, zone      DMA\r
  pages free     3840\r
        spanned  4095\r
        present  3998\r
        managed  3840\r
@@@@END first/zoneinfo@@@@\r
@@@@RC first/zoneinfo=0@@@@\r
"""


def test_sections_and_return_codes(tmp_path):
    (tmp_path / "serial.log").write_text(CAPTURE)
    (tmp_path / "note.md").write_text("# t\n")
    cap = read_capture(tmp_path)
    assert cap.sections["first/cmdline"] == ["console=ttyS0 nokaslr memmap=1M$0x200000"]
    assert cap.rcs == {"first/cmdline": 0, "first/dmesg": 0, "first/zoneinfo": 0}
    assert not cap.has_kdump and cap.note == "# t\n"


def test_verify_reads_input_facts_from_the_dmesg_section(tmp_path):
    (tmp_path / "serial.log").write_text(CAPTURE)
    fam = {f.name: f for f in verify_path(tmp_path).families}
    assert fam["e820"].ok and fam["e820"].matched == 3
    assert fam["user-map"].ok and fam["user-map"].matched == 5
    assert fam["zones"].expected == ["Zone ranges:", "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]", "  Normal   empty"]
    assert fam["zones"].predicted is not None  # predicted, and this hand-made capture is not a real kernel's
    assert fam["zoneinfo"].expected == ["Node 0, zone DMA: spanned=4095 present=3998"]
    assert fam["zoneinfo-managed"].expected == ["Node 0, zone DMA: managed=3840"]
    assert fam["zoneinfo-managed"].predicted is None and fam["zoneinfo-managed"].matched == 0
    assert fam["zoneinfo-managed"].state == "not predicted yet" and fam["kdump-e820"].state == "not in this capture"


def test_unclosed_section_is_an_error(tmp_path):
    (tmp_path / "serial.log").write_text("@@@@BEGIN first/dmesg@@@@\nx\n")
    with pytest.raises(InputError, match="never closed"):
        read_capture(tmp_path)


def test_directory_without_serial_log(tmp_path):
    with pytest.raises(InputError, match="no serial.log"):
        read_capture(tmp_path)
