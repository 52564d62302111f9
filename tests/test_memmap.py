"""The memory map's data (earlymem.render.memmap): what each phase draws is the BootResult's, the axis
is one geometry for every phase, the page is self-contained, and compare mode marks exactly the
regions that differ (issue 18)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from earlymem.pipeline import boot
from earlymem.render import memmap
from earlymem.scenario import replay
from earlymem.sources.inputs import load_input

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "src/earlymem/data/debian-6.1-pc-4g-memmap.log"


def _boot(version=None, append=None):
    loaded = load_input(dmesg=DEMO, machine_file=None, proc_root=None, boot=1, kernel_version=version, append=append)
    return boot(loaded.machine, loaded.profile, loaded.kernel)


def test_every_phase_draws_the_boot_result():
    r = _boot()
    m = memmap.memory_map(r)
    assert [p.key for p in m.phases] == ["firmware", "user", "memblock", "numa", "handoff", "after"]
    assert [(x.start, x.end) for x in m.phase("firmware").regions] == [(e.start, e.end) for e in r.firmware_e820]
    assert [(x.start, x.end) for x in m.phase("user").regions] == [(e.start, e.end) for e in r.user_e820]
    early = [x for x in m.phase("memblock").regions if x.kind in ("kernel", "early", "initrd")]
    assert [(x.start, x.end, x.label) for x in early] == [(a.start, a.end, a.purpose) for a in r.allocations]
    assert all(dict(x.detail)["made by"] == a.phase for x, a in zip(early, r.allocations))
    zones = [x for x in m.phase("numa").regions if x.kind == "zone"]
    assert [(x.start >> 12, (x.end - x.start) >> 12) for x in zones] == [(z.start_pfn, z.spanned) for z in r.zones if z.spanned]
    buddy = next(p for p in r.ledger if p.name == "buddy")
    free = sum(x.end - x.start for x in m.phase("handoff").regions if x.kind == "free") >> 12
    assert free == sum(e - s for s, e, o in buddy.owners if o.startswith("free"))
    # each firmware range names the kernel line that printed it, and so does an allocation the kernel announces
    assert all(any(k == "kernel line" and "BIOS-e820" in v for k, v in x.detail) for x in m.phase("firmware").regions)
    node_data = next(x for x in early if x.label == "NODE_DATA(0)")
    assert dict(node_data.detail)["kernel line"].startswith("NODE_DATA(0) allocated [mem ")
    # what each phase changed: marked where the phase before did not have the region
    data = memmap._page_data([m], ["t"])["maps"][0]["phases"]
    assert not any(r[9] for r in data["firmware"]["regions"])
    assert {r[3] for r in data["memblock"]["regions"] if r[9]} >= {a.purpose for a in r.allocations}


def test_one_geometry_for_every_phase():
    m = memmap.memory_map(_boot())
    ivs = memmap.axis(m)
    assert all(a.start == b.end for a, b in zip(ivs, ivs[1:]))  # contiguous, highest first
    assert all(a.y + a.h == b.y for a, b in zip(ivs, ivs[1:]))
    assert all(iv.h == memmap.HOLE_H for iv in ivs if iv.hole) and all(iv.h >= memmap.MIN_H for iv in ivs)
    # a hole is where no phase draws anything: from the end of memmap=64M!'s persistent memory (the user map)
    # to the firmware's top reserved range
    holes = [(iv.start, iv.end) for iv in ivs if iv.hole]
    assert holes == [(0x144000000, 0xfd00000000)]
    # a 73-byte allocation is as visible as any: at least MIN_H pixels
    data = memmap._page_data([m], ["t"])
    hpet = next(r for r in data["maps"][0]["phases"]["memblock"]["regions"] if r[3] == "hpet_res")
    assert sum(a[4] for a in data["axis"][hpet[4]:hpet[5] + 1]) >= memmap.MIN_H and hpet[6] == "73 B"
    # the page stays small: the 6.1 demo machine's six phases
    assert len(memmap.to_html([m])) < 100_000


def test_the_page_is_self_contained():
    page = memmap.to_html([memmap.memory_map(_boot())])
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\((?!#)", page)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]  # the SVG namespace, not a fetch
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["schema"] == "earlymem/map/1" and data["keys"][0] == "firmware"
    if shutil.which("node"):
        script = re.findall(r"<script>(.*?)</script>", page, re.S)[0]
        proc = subprocess.run(["node", "--check", "-"], input=script, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_compare_marks_exactly_the_regions_that_differ_on_the_2011_eras():
    a, b = (memmap.replay_map(replay("seed-2011", v)) for v in ("2.6.23", "2.6.25"))
    diff = memmap.compare(a, b)
    assert set(diff) == {"firmware", "memblock", "numa", "handoff", "running", "kdump-load"}
    assert diff["firmware"] == (set(), set())  # the same machine
    only_a, only_b = diff["kdump-load"]
    # 2.6.23 loaded kdump over pages the running kernel owned; 2.6.25 refused the region and loaded nothing
    assert {k[2] for k in only_a} == {"crash", "kexec", "overwritten"} and {k[2] for k in only_b} == {"crash"}
    for n, m in enumerate((a, b)):
        page = memmap._page_data([a, b], ["2.6.23", "2.6.25"])["maps"][n]
        for p in m.phases:
            marked = {(int(r[0], 16), int(r[1], 16), r[2], r[3]) for r in page["phases"][p.key]["regions"] if r[8]}
            assert marked == diff[p.key][n], p.key
    same = memmap._page_data([a, a], ["x", "y"])
    assert not any(r[8] for mp in same["maps"] for p in mp["phases"].values() for r in p["regions"])


def test_describe_is_the_json_twin():
    m = memmap.memory_map(_boot())
    doc = memmap.describe(m)
    assert doc["schema"] == "earlymem/map/1"
    assert [p["key"] for p in doc["phases"]] == [p.key for p in m.phases]
    first = doc["phases"][0]["regions"][0]
    assert first["start"] == "0x0" and first["kind"] == "ram" and first["size"] == 0x9fc00


def test_the_json_follows_its_schema():
    import importlib.util

    spec = importlib.util.spec_from_file_location("schema_tests", ROOT / "tests/test_json_schema.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod._validate(memmap.describe(memmap.memory_map(_boot())), "earlymem/map/1")
    for version in ("2.6.23", "2.6.25"):
        mod._validate(memmap.describe(memmap.replay_map(replay("seed-2011", version))), "earlymem/map/1")


def test_the_cli(tmp_path):
    def run(*args):
        return subprocess.run([str(ROOT / ".venv/bin/earlymem") if (ROOT / ".venv/bin/earlymem").exists() else "earlymem",
                               *args], capture_output=True, text=True)

    out = run("map", "--dmesg", str(DEMO), "--phase", "firmware")
    assert out.returncode == 0 and "hole, 1007 GiB" in out.stdout and "usable (3.00 GiB)" in out.stdout
    bad = run("map", "--dmesg", str(DEMO), "--phase", "nonsense")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("earlymem: error:") and "Traceback" not in bad.stderr
    page = tmp_path / "m.html"
    js = run("map", "--dmesg", str(DEMO), "--html", str(page), "--format", "json", "--vs-kernel-version", "7.2")
    assert js.returncode == 0 and page.is_file()
    doc = json.loads(js.stdout)
    assert doc["differ"]["firmware"] == [[], []] and doc["differ"]["memblock"][0]
    from test_json_schema import _validate
    _validate(doc, "earlymem/map/1")
    _validate(json.loads(run("map", "--dmesg", str(DEMO), "--format", "json").stdout), "earlymem/map/1")
    assert run("map", "--dmesg", str(DEMO), "--png", str(tmp_path / "x.png")).returncode == 2  # --png needs --html


@pytest.mark.parametrize("version", ["2.6.23", "2.6.25", "6.1"])
def test_the_replay_story_is_drawn(version):
    rr = replay("seed-2011", version)
    m = memmap.replay_map(rr)
    load = m.phase("kdump-load")
    over = [r for r in load.regions if r.kind == "overwritten"]
    assert sum(r.end - r.start for r in over) >> 12 == rr.overwritten_pages
    assert [(r.start, r.end) for r in load.regions if r.kind == "kexec"] == [(s.mem, s.end) for s in rr.segments]


def test_the_schema_s_closed_sets_are_the_code_s():
    schema = json.loads((ROOT / "docs/schemas/earlymem-map-1.json").read_text())
    assert schema["$defs"]["region"]["properties"]["kind"]["enum"] == list(memmap.KINDS)
    assert set(schema["$defs"]["phase"]["properties"]["key"]["enum"]) == set(memmap.PHASES)


def test_what_the_boot_cannot_place_is_named_not_drawn(tmp_path):
    """Without nokaslr the kernel's place is KASLR's draw: the map draws no kernel image and says why."""
    log = tmp_path / "kaslr.log"
    log.write_text(DEMO.read_text(errors="replace").replace(" nokaslr", ""))
    loaded = load_input(dmesg=log, machine_file=None, proc_root=None, boot=1, kernel_version=None, append=None)
    m = memmap.memory_map(boot(loaded.machine, loaded.profile, loaded.kernel))
    assert not [r for p in m.phases for r in p.regions if r.kind == "kernel"]
    assert any(n.startswith("not drawn:") for n in m.notes)
    assert memmap._page_data([m], ["t"])["maps"][0]["notes"] == list(m.notes)
