"""Every command's ``--format json`` output against its JSON Schema (docs/schemas/, docs/json-schema.md).

Each command runs for real, as a subprocess, on committed fixtures and
synthetic kernel images; its output is validated with the ``jsonschema``
package (Draft 2020-12).  The schemas themselves are checked too: valid
Draft 2020-12, one per id that :data:`earlymem.render.text.SCHEMAS` lists,
and their closed sets (enums) equal to the code's.
"""

import gzip
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from earlymem.render.text import SCHEMAS
from earlymem.result import SCHEMA

ROOT = Path(__file__).parents[1]
SCHEMA_DIR = ROOT / "docs" / "schemas"
FIX = Path(__file__).parent / "fixtures"
ORACLE = FIX / "oracle"
PUBLIC = sorted((FIX / "public").glob("*.log"))
SEED = ROOT / "src" / "earlymem" / "scenario" / "scenarios" / "seed-2011.toml"


def _schema_file(schema_id: str) -> Path:
    """``earlymem/boot/2`` -> docs/schemas/earlymem-boot-2.json"""
    return SCHEMA_DIR / (schema_id.replace("/", "-") + ".json")


def _schemas() -> dict[str, dict]:
    """Every schema file, by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.json"))}


def _registry() -> Registry:
    """The schemas under their $id and under their file name (what the relative
    ``"$ref": "earlymem-boot-2.json"`` of the kexec and replay schemas resolves to)."""
    resources = []
    for name, schema in _schemas().items():
        res = Resource.from_contents(schema)
        resources += [(name, res), (schema["$id"], res)]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def _validate(doc, schema_id: str) -> None:
    schema = json.loads(_schema_file(schema_id).read_text())
    validator = Draft202012Validator(schema, registry=REGISTRY)
    # the most relevant error under each (a oneOf's failure names the branch's own error)
    errors = [best_match([e]) for e in validator.iter_errors(doc)]
    assert not errors, f"{len(errors)} error(s) against {schema_id}:\n" + "\n".join(
        f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "earlymem", *map(str, args)], check=False, capture_output=True, text=True, cwd=ROOT)


def _json(*args, ok=(0,)):
    """Run a command with --format json; its parsed stdout."""
    proc = _cli(*args, "--format", "json")
    assert proc.returncode in ok, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout)


def _machine_toml(tmp_path) -> Path:
    """seed-2011's machine: the scenario without its [running] and [kdump] tables
    (which `predict --machine` refuses as unknown keys)."""
    kept, skip = [], False
    for line in SEED.read_text().splitlines():
        header = re.match(r"\s*\[+([^\]]+)\]+", line)
        if header:
            skip = header.group(1).strip() in ("running", "kdump")
        if not skip:
            kept.append(line)
    p = tmp_path / "seed-2011-machine.toml"
    p.write_text("\n".join(kept) + "\n")
    return p


def _synthetic_kernel(tmp_path, release=None):
    from tests.test_kexec_load import _synthetic_kernel as make

    return make(tmp_path, release)


def _et_rel_purgatory() -> bytes:
    """A tiny x86_64 ET_REL (a purgatory for kexec_file): .text 0x3000 bytes
    aligned 16, .bss 0x1000 aligned 0x1000, .shstrtab."""
    shstr = b"\0.text\0.bss\0.shstrtab\0"
    text = b"\x90" * 0x3000
    text_off = 64
    shstr_off = text_off + len(text)
    shoff = (shstr_off + len(shstr) + 7) & ~7
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0x10, 0, shoff, 0, 64, 0, 0, 64, 4, 3)

    def sh(name, typ, flags, off, size, align):
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, 0, off, size, 0, 0, align, 0)

    body = ehdr + text + shstr
    body += bytes(shoff - len(body))
    return body + sh(0, 0, 0, 0, 0, 0) + sh(1, 1, 6, text_off, len(text), 16) + sh(7, 8, 3, 0, 0x1000, 0x1000) + sh(12, 3, 0, shstr_off, len(shstr), 1)


def _kernel_with_purgatory(tmp_path) -> Path:
    """The synthetic relocatable bzImage64 of tests/test_kexec_load.py, its
    vmlinux embedding a purgatory, so that kexec --file-load can place it."""
    from tests.test_bzimage import bzimage, vmlinux

    data = bytearray(bzimage(gzip.compress(vmlinux() + bytes(64) + _et_rel_purgatory())))
    struct.pack_into("<I", data, 0x230, 0x200000)  # kernel_alignment
    data[0x234] = 1  # relocatable_kernel
    struct.pack_into("<I", data, 0x238, 2047)  # cmdline_size
    p = tmp_path / "vmlinuz-purgatory"
    p.write_bytes(bytes(data))
    return p


# -- the schema files ------------------------------------------------------------------------


def test_one_schema_file_per_schema_id():
    # the current version of every id, and the older versions kept beside them (docs/json-schema.md)
    current = {_schema_file(i).name for i in SCHEMAS.values()}
    files = {p.name for p in SCHEMA_DIR.glob("*.json")}
    assert current <= files
    for name in files - current:
        kind, version = re.fullmatch(r"earlymem-([a-z0-9]+)-([0-9]+)\.json", name).groups()
        assert int(version) < int(SCHEMAS[kind].rsplit("/", 1)[1]), name
    assert SCHEMAS["boot"] == SCHEMA


@pytest.mark.parametrize("name", sorted(_schemas()))
def test_schema_is_a_valid_draft_2020_12_schema(name):
    schema = _schemas()[name]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert re.fullmatch(r"urn:earlymem:schema:[a-z0-9]+:[0-9]+", schema["$id"])
    assert schema["title"] and schema["description"]


@pytest.mark.parametrize("key", sorted(SCHEMAS))
def test_schema_const_and_id_match_the_code(key):
    schema_id = SCHEMAS[key]
    schema = json.loads(_schema_file(schema_id).read_text())
    top = schema if "properties" in schema else schema["$defs"][key]  # replay: an object or a list of them
    assert top["properties"]["schema"] == {"description": "this document's schema id", "const": schema_id}
    name, version = re.fullmatch(r"earlymem/([a-z0-9]+)/([0-9]+)", schema_id).groups()
    assert schema["$id"] == f"urn:earlymem:schema:{name}:{version}"


def _properties(node, path="#"):
    """Every ``properties`` member of a schema: (path, name, subschema)."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}/properties/{name}", name, sub
        for k, v in node.items():
            if k != "if":  # a condition, not a description of the document
                yield from _properties(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _properties(v, f"{path}/{i}")


@pytest.mark.parametrize("name", sorted(_schemas()))
def test_every_property_says_what_it_is(name):
    missing = [p for p, _, sub in _properties(_schemas()[name]) if not sub.get("description")]
    assert not missing, missing


def test_closed_sets_are_the_codes():
    from earlymem.kernels.profile import Pipeline
    from earlymem.kexec.capture import LoadMethod
    from earlymem.result import LINE_FAMILIES, Verdict
    from earlymem.sources.bzimage import FIELDS
    from earlymem.verification import FAMILIES

    s = _schemas()
    boot, kexec, replay, verify, bz = (s[_schema_file(SCHEMAS[k]).name] for k in ("boot", "kexec", "replay", "verify", "bzimage"))
    assert boot["properties"]["pipeline"]["enum"] == [p.value for p in Pipeline]
    # every family the modern boot prints, and the bootmem/memblock eras' own steps
    assert set(LINE_FAMILIES) <= set(boot["$defs"]["lineFamily"]["enum"])
    assert kexec["properties"]["method"]["enum"] == [LoadMethod.KEXEC_LOAD, LoadMethod.KEXEC_FILE_LOAD, LoadMethod.NORMAL]
    assert replay["$defs"]["replay"]["properties"]["verdict"]["enum"] == [v.value for v in Verdict]
    fam = verify["properties"]["reports"]["items"]["properties"]["families"]["items"]["properties"]
    assert fam["family"]["enum"] == list(FAMILIES)
    assert set(fam["state"]["enum"]) == {"ok", "partial", "DIFFERS", "not predicted yet", "not in this capture"}
    assert list(bz["properties"]["fields"]["properties"]) == [f.name for f in FIELDS]
    profile = s["earlymem-profiles-1.json"]["$defs"]["profile"]
    assert profile["properties"]["pipeline"]["enum"] == [p.value for p in Pipeline]


def test_the_schemas_are_strict():
    doc = _json("predict", "--dmesg", ORACLE / "pc-4g-ck256-load-crash--6.1" / "serial.log")
    _validate(doc, "earlymem/boot/2")
    bad = [
        {**doc, "schema": "earlymem/boot/1"},
        {**doc, "surprise": 1},
        {**doc, "max_pfn": hex(doc["max_pfn"])},
        {**doc, "zones": [{**doc["zones"][0], "name": "HighMem"}]},
        {**doc, "lines": [{**doc["lines"][0], "family": "no-such-family"}]},
        {k: v for k, v in doc.items() if k != "crash"},
    ]
    for b in bad:
        with pytest.raises(AssertionError, match="error"):
            _validate(b, "earlymem/boot/2")


# -- predict -----------------------------------------------------------------------------------

PREDICT_CAPTURES = [
    "pc-4g-ck256-load-crash--5.10",
    "pc-4g-ck256-load-crash--6.1",
    "pc-16g-ck512high-load-crash--6.12",
    "pc-4g-ck128low-alone--7.2",
    "pc-4g-memmap-ckrange--7.2",  # a user-defined map
    "pc-8g-ck512high-low64m-file--6.1",  # a low crash region
    "numa4x16g-ck1g-load-crash--6.1",  # NUMA, four nodes
    "numa2-3g5g-ck512high-file-crash--7.2",  # NUMA; watermarks not predicted (null)
    "q35-16g-numa4-uneven-ck512-file--6.12",
]


@pytest.mark.parametrize("capture", PREDICT_CAPTURES)
def test_predict_on_oracle_captures(capture):
    doc = _json("predict", "--dmesg", ORACLE / capture / "serial.log")
    _validate(doc, "earlymem/boot/2")
    assert doc["pipeline"] == "modern" and doc["zones"]


@pytest.mark.parametrize("log", PUBLIC, ids=lambda p: p.stem)
def test_predict_on_public_old_era_logs(log):
    doc = _json("predict", "--dmesg", log)
    _validate(doc, "earlymem/boot/2")
    assert doc["pipeline"] == "e820" and doc["max_pfn"] is None


def test_predict_on_a_boot_log_with_appended_parameters():
    log = FIX / "bootlogs" / "pc-4g--6.1.0-50-amd64.log"
    doc = _json("predict", "--dmesg", log, "--append", "mem=3G memmap=64M$0x50000000")
    _validate(doc, "earlymem/boot/2")
    assert doc["user_e820"]


@pytest.mark.parametrize("version", ["2.6.23", "2.6.27", "2.6.37", "5.10", "6.1", "6.12", "7.2"])
def test_predict_on_the_bundled_seed_2011_machine(tmp_path, version):
    doc = _json("predict", "--machine", _machine_toml(tmp_path), "--kernel-version", version)
    _validate(doc, "earlymem/boot/2")
    if version == "2.6.27":  # BOOTMEM_EXCLUSIVE refuses crashkernel=128M@16M
        assert doc["crash_requested"] == [16 << 20, 144 << 20]
    if doc["pipeline"] == "bootmem":  # earlymem's account of the silent steps, with their numbers
        assert any(not ln["printed"] and ln["data"] for ln in doc["lines"])


# -- e820 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    (ORACLE / "pc-4g-memmap-ckrange--6.1" / "serial.log",),
    (FIX / "bootlogs" / "pc-4g-malformed--6.1.0-50-amd64.log",),
    (FIX / "bootlogs" / "pc-4g--7.2.13+deb14-amd64.log", "--append", "mem=2G memmap=foo"),
    (FIX / "public" / "lkml-2006-x86_64-2.6.16-kdump-exactmap.log",),
    (FIX / "public" / "ubuntu-2007-2.6.22-generic.log", "--append", "mem=2G"),  # end_user_pfn
    (FIX / "public" / "lkml-2013-x86_64-3.9-mem1g.log",),
], ids=["memmap", "malformed", "append", "exactmap-2.6.16", "end_user_pfn-2.6.22", "mem1g-3.9"])
def test_e820(args):
    doc = _json("e820", "--dmesg", *args)
    _validate(doc, "earlymem/e820/2")


# -- verify ------------------------------------------------------------------------------------


def test_verify_on_a_capture_and_a_plain_boot_log():
    doc = _json("verify", ORACLE / "pc-4g-ck256-load-crash--6.1", FIX / "bootlogs" / "pc-4g--6.1.0-50-amd64.log")
    _validate(doc, "earlymem/verify/1")
    assert len(doc["reports"]) == 2


def test_verify_on_old_era_logs_and_numa_captures():
    doc = _json("verify", *PUBLIC, ORACLE / "numa4x16g-ck1g-load-crash--7.2", ORACLE / "pc-4g-ck256-file-crash--5.10")
    _validate(doc, "earlymem/verify/1")
    assert {f["state"] for r in doc["reports"] for f in r["families"]} >= {"ok", "not in this capture"}


def test_verify_with_differences():
    # the wrong era's rules: some families differ (exit status 1), with their diffs
    doc = _json("verify", ORACLE / "pc-4g-ck256-load-crash--6.1", FIX / "bootlogs" / "pc-4g--7.2.13+deb14-amd64.log",
                "--kernel-version", "5.10", ok=(0, 1))
    _validate(doc, "earlymem/verify/1")
    states = {f["state"] for r in doc["reports"] for f in r["families"]}
    assert "DIFFERS" in states and "partial" in states


# -- kexec -------------------------------------------------------------------------------------


def test_kexec_load_with_an_initrd(tmp_path):
    k = _synthetic_kernel(tmp_path)
    rd = tmp_path / "initrd.img"
    rd.write_bytes(b"\0" * 5000)
    doc = _json("kexec", "--dmesg", ORACLE / "pc-4g-ck256-load-crash--6.1" / "serial.log", "--kernel", k, "--initrd", rd,
                "--append", "console=ttyS0 nokaslr")
    _validate(doc, "earlymem/kexec/2")
    assert doc["method"] == "kexec_load" and doc["capture"]["schema"] == "earlymem/boot/2" and doc["capture"]["lines"]
    # "capture" is checked against the boot schema through the relative $ref
    with pytest.raises(AssertionError, match="/capture/zones/0"):
        _validate({**doc, "capture": {**doc["capture"], "zones": [{**doc["capture"]["zones"][0], "spanned": "0x10"}]}}, "earlymem/kexec/2")
    with pytest.raises(AssertionError, match="segments"):
        _validate({k: v for k, v in doc.items() if k != "segments"}, "earlymem/kexec/2")


def test_kexec_load_on_numa_with_a_pinned_build(tmp_path):
    k = _synthetic_kernel(tmp_path, b"5.10.0-32-amd64")
    doc = _json("kexec", "--dmesg", ORACLE / "numa2x4g-ck256-load-crash--5.10" / "serial.log", "--kernel", k,
                "--append", "console=ttyS0 nr_cpus=1 nokaslr", "--rng-ready", "--cpus", "2")
    _validate(doc, "earlymem/kexec/2")
    assert len(doc["capture"]["nodes"]) >= 1


def test_kexec_normal_load(tmp_path):
    k = _synthetic_kernel(tmp_path)
    doc = _json("kexec", "--dmesg", ORACLE / "pc-4g-ck256-load-crash--6.12" / "serial.log", "--kernel", k, "--normal")
    _validate(doc, "earlymem/kexec/2")
    assert doc["method"] == "kexec_load_normal" and doc["capture"] is None and "kdump" not in doc


@pytest.mark.parametrize("capture", ["pc-4g-ck256-file-crash--6.1", "numa2-3g5g-ck512high-file-crash--7.2"])
def test_kexec_file_load(tmp_path, capture):
    k = _kernel_with_purgatory(tmp_path)
    doc = _json("kexec", "--dmesg", ORACLE / capture / "serial.log", "--kernel", k, "--file-load", "--append", "console=ttyS0")
    _validate(doc, "earlymem/kexec/2")
    assert doc["method"] == "kexec_file_load" and any(s["name"] == "purgatory" for s in doc["segments"])


# -- replay ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.6.23", "2.6.27", "2.6.37", "6.1", "7.2"])
def test_replay_one_version(version):
    doc = _json("replay", "--kernel-version", version)
    _validate(doc, "earlymem/replay/2")
    assert isinstance(doc, dict) and doc["boot"]["schema"] == "earlymem/boot/2"


def test_replay_several_versions_is_a_list():
    doc = _json("replay", "seed-2011", "--kernel-version", "2.6.23,2.6.33,2.6.37,5.10")
    _validate(doc, "earlymem/replay/2")
    assert [d["kernel"] for d in doc] == ["2.6.23", "2.6.33", "2.6.37", "5.10"]
    assert {d["verdict"] for d in doc} >= {"corruption", "safe"}


def test_replay_with_a_real_kdump_image(tmp_path):
    doc = _json("replay", "--kernel-version", "2.6.23", "--kdump-kernel", _synthetic_kernel(tmp_path))
    _validate(doc, "earlymem/replay/2")


# -- bzimage -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["gzip", "xz", "lzma", "bzip2", "zstd", "lz4"])
def test_bzimage_every_compression(tmp_path, fmt):
    from tests.test_bzimage import COMPRESS, bzimage, vmlinux

    p = tmp_path / "vmlinuz"
    p.write_bytes(bzimage(COMPRESS[fmt](vmlinux())))
    doc = _json("bzimage", p)
    _validate(doc, "earlymem/bzimage/1")
    assert doc["compression"] == fmt and doc["image"] == {"start": 0x1000000, "end": 0x4600000}


def test_bzimage_synthetic_kernels(tmp_path):
    for p in (_synthetic_kernel(tmp_path), _kernel_with_purgatory(tmp_path)):
        doc = _json("bzimage", p)
        _validate(doc, "earlymem/bzimage/1")
        assert doc["kexec_file_probe"] == "ok"


def test_bzimage_before_protocol_2_08(tmp_path):
    from tests.test_bzimage import bzimage

    p = tmp_path / "old"
    p.write_bytes(bzimage(version=0x0206))
    doc = _json("bzimage", p)
    _validate(doc, "earlymem/bzimage/1")
    assert doc["compression"] is None and doc["image"] is None and "payload_offset" not in doc["fields"]


# -- profiles ----------------------------------------------------------------------------------


def test_profiles():
    from earlymem.kernels import PROFILES

    doc = _json("profiles")
    _validate(doc, "earlymem/profiles/1")
    assert [p["name"] for p in doc["profiles"]] == [p.name for p in PROFILES]


# -- KASLR -------------------------------------------------------------------------------------


def test_predict_under_kaslr_is_a_distribution():
    from earlymem.render.text import SCHEMAS as S
    from earlymem.kaslr import SCHEMA as KASLR_SCHEMA

    assert S["kaslr"] == KASLR_SCHEMA
    doc = _json("predict", "--dmesg", ROOT / "tests" / "fixtures" / "kaslr" / "kaslr-pc-1g-ck256--6.1--01" / "serial.log.gz")
    _validate(doc, "earlymem/kaslr/1")
    from fractions import Fraction

    assert sum(Fraction(o["probability"]) for o in doc["outcomes"]) == 1
    assert doc["slots"]["total"] == sum(a["count"] for a in doc["slots"]["areas"])


def test_verify_reports_the_kaslr_place_and_groups():
    caps = sorted((ROOT / "tests" / "fixtures" / "kaslr").glob("kaslr-pc-1g-ck256--7.2--0*"))
    doc = _json("verify", *caps)
    _validate(doc, "earlymem/verify/1")
    assert all(r["kaslr"]["in_slots"] for r in doc["reports"])
    assert doc["kaslr_groups"] and doc["kaslr_groups"][0]["name"] == "kaslr-pc-1g-ck256--7.2"


# -- check and recommend -----------------------------------------------------------------------

SWEEP = Path(__file__).parent / "fixtures" / "dumps" / "sweep"


def _sweep_log(tmp_path, name: str) -> Path:
    from earlymem.sources.capture import read_capture

    log = tmp_path / f"{name}.log"
    log.write_text("\n".join(read_capture(SWEEP / name).section("first/dmesg")) + "\n")
    return log


RELEASES = {"6.1": "6.1.0-50-amd64", "6.12": "6.12.117+deb13-amd64", "7.2": "7.2.13+deb14-amd64"}


# ready, not ready, ready with the percpu chunk waiting (6.12, two nodes), marginal (7.2, two nodes)
@pytest.mark.parametrize("name, ok", [("dump-pc-2g-large-file--6.1--ck240M", (0,)), ("dump-pc-2g-large-file--6.1--ck236M", (1,)),
                                      ("dump-numa2-16g-small-load--6.12--ck92M", (0,)),
                                      ("dump-numa2-16g-small-load--7.2--ck160M", (1,))])
def test_check_and_recommend_on_sweep_logs(tmp_path, name, ok):
    log = _sweep_log(tmp_path, name)
    args = ["--kernel", RELEASES[name.split("--")[1]],
            "--initrd", str(SWEEP / ("kdump-initrd-large.lst" if "large" in name else "kdump-initrd-small.lst")),
            "--initrd-size", "36351882" if "large" in name else "2752525",
            "--append", "console=ttyS0 loglevel=4 irqpoll nr_cpus=1 reset_devices log_buf_len=1M panic=-1 oracle.mode=kdump nokaslr oracle.dump=1"]
    if "file" in name:
        args.append("--file-load")
    doc = _json("check", str(log), *args, ok=ok)
    _validate(doc, "earlymem/check/1")
    assert [p["name"] for p in doc["parts"]] == ["crash region", "load", "capture kernel", "corruption risk", "next kernels"]
    codes = {f["code"] for p in doc["parts"] for f in p["findings"]}
    assert ("unpack-chunk-waits" in codes) == ("6.12--ck92M" in name) and (doc["verdict"] == "marginal") == ("7.2--" in name)
    rec = _json("recommend", str(log), *args)
    _validate(rec, "earlymem/recommend/1")
    assert rec["size"] % (4 << 20) == 0 and any(p["stage"] == "ready" for p in rec["peers"])


def test_check_on_an_oracle_serial_log(tmp_path):
    doc = _json("check", str(ORACLE / "pc-4g-ck256-load-crash--6.1" / "serial.log"), ok=(1, 2))
    _validate(doc, "earlymem/check/1")


def test_check_on_this_machine():
    """`earlymem check` with no source reads the machine it runs on (issue 17: a live machine)."""
    from earlymem.lib.errors import InputError
    from earlymem.sources.procfs import machine_from_proc

    try:
        machine_from_proc("/")
    except InputError as exc:
        pytest.skip(f"this machine's /proc and /sys give no memory map: {exc}")
    doc = _json("check", ok=(0, 1))
    _validate(doc, "earlymem/check/1")
    assert doc["source"] == "this machine" and doc["parts"][0]["name"] == "crash region"
