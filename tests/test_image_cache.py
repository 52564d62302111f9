"""The disk cache of kernel-image facts (earlymem.sources.image_cache).

Images are the synthetic bzImages of test_bzimage.py (a setup header and a
tiny vmlinux ELF); the cache lives in tmp_path through EARLYMEM_CACHE.  The
real Debian 6.1 image is read (and cached) only where the real-boot test
runs (EARLYMEM_ORACLE_TEST=1).
"""

import dataclasses
import json
import os
from pathlib import Path
from types import MappingProxyType

import pytest

from earlymem.kernels.builds import PINNED, KernelBuild
from earlymem.lib.errors import InputError
from earlymem.sources import bzimage as bz
from earlymem.sources import image_cache
from earlymem.sources.image_cache import FORMAT, image_cache_dir, load_kernel_build
from tests.test_bzimage import COMPRESS, bzimage, vmlinux


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("EARLYMEM_CACHE", str(d))
    return d / "images"


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "vmlinuz"
    p.write_bytes(bzimage(COMPRESS["xz"](vmlinux())))
    return p


@pytest.fixture
def parses(monkeypatch):
    """Count the images actually parsed (the cache misses)."""
    calls = []
    real = bz.parse_bzimage

    def counted(data, source, **kw):
        calls.append(source)
        return real(data, source, **kw)

    monkeypatch.setattr(bz, "parse_bzimage", counted)
    return calls


def no_reading(monkeypatch):
    """From here on, reading an image is an error: only the cache may answer."""

    def refuse(*a, **kw):
        raise AssertionError("the image was read again")

    for name in ("read_bzimage", "parse_bzimage", "kernel_build"):
        monkeypatch.setattr(bz, name, refuse)


def fresh(path):
    img = bz.read_bzimage(path)
    return bz.kernel_build(img), img.kernel_version


def cache_files(cache):
    return sorted(cache.iterdir()) if cache.is_dir() else []


def test_round_trip_equals_a_fresh_read(cache, image, monkeypatch):
    expected = fresh(image)
    assert expected[0] is not None and expected[1].startswith("6.1.0-test")
    assert load_kernel_build(image) == expected
    (f,) = cache_files(cache)
    assert f.name.startswith(f"v{FORMAT}-") and f.suffix == ".json"
    no_reading(monkeypatch)
    build, version = load_kernel_build(str(image))  # str or Path
    assert (build, version) == expected
    assert isinstance(build.struct_sizes, MappingProxyType) and isinstance(build.resources, tuple)


def test_every_field_survives_the_round_trip(cache, image, monkeypatch):
    """A build with every field set (the pinned 6.1 build, under this image's name)."""
    full = dataclasses.replace(PINNED[1], name=str(image), banner_tag="Debian 6.1.176-1", log_buf_shift=18,
                               resources=(("Kernel code", 0x1000000, 0x1E00000),))
    assert all(getattr(full, f.name) not in (None, (), {}) for f in dataclasses.fields(KernelBuild))
    monkeypatch.setattr(bz, "kernel_build", lambda img: full)
    assert load_kernel_build(image)[0] == full
    no_reading(monkeypatch)
    build, _ = load_kernel_build(image)
    assert build == full
    assert build.header == full.header and build.purgatory == full.purgatory
    assert dict(build.struct_sizes) == dict(full.struct_sizes) and build.resources == full.resources


def test_the_format_covers_every_build_field():
    """A field added to KernelBuild must be stored too (and FORMAT bumped)."""
    assert set(image_cache.FIELDS) == {f.name for f in dataclasses.fields(KernelBuild)}


def test_the_name_is_the_path_given_this_time(cache, image, tmp_path, monkeypatch):
    load_kernel_build(image)
    other = tmp_path / "elsewhere" / "vmlinuz-copy"
    other.parent.mkdir()
    other.write_bytes(image.read_bytes())
    no_reading(monkeypatch)
    build, _ = load_kernel_build(other)
    assert build.name == str(other)
    assert dataclasses.replace(build, name=str(image)) == load_kernel_build(image)[0]
    assert len(cache_files(cache)) == 1


def _valid(cache):
    (f,) = cache_files(cache)
    return json.loads(f.read_text())


CORRUPTIONS = {
    "empty": lambda raw, doc: b"",
    "truncated": lambda raw, doc: raw[: len(raw) // 2],
    "not utf-8": lambda raw, doc: b"\xff\xfe" + raw,
    "garbage": lambda raw, doc: os.urandom(200),
    "deeply nested": lambda raw, doc: b"[" * 100000 + b"]" * 100000,
    "too large": lambda raw, doc: b" " * ((16 << 20) + 1) + raw,
    "a list": lambda raw, doc: b"[]",
    "another format": lambda raw, doc: _dump({**doc, "format": FORMAT + 1}),
    "another image": lambda raw, doc: _dump({**doc, "sha256": "0" * 64}),
    "another kind": lambda raw, doc: _dump({**doc, "kind": "something else"}),
    "missing version": lambda raw, doc: _dump({k: v for k, v in doc.items() if k != "kernel_version"}),
    "extra key": lambda raw, doc: _dump({**doc, "more": 1}),
    "missing field": lambda raw, doc: _dump({**doc, "build": {k: v for k, v in doc["build"].items() if k != "image_span"}}),
    "extra field": lambda raw, doc: _dump({**doc, "build": {**doc["build"], "colour": "red"}}),
    "string int": lambda raw, doc: _dump(_build(doc, load_addr="16777216")),
    "float": lambda raw, doc: _dump(_build(doc, image_span=1.5)),
    "bool as int": lambda raw, doc: _dump(_build(doc, load_addr=True)),
    "negative": lambda raw, doc: _dump(_build(doc, image_span=-4096)),
    "int name": lambda raw, doc: _dump(_build(doc, name=7)),
    "bad size": lambda raw, doc: _dump(_build(doc, struct_sizes={"page": "64"})),
    "sizes as list": lambda raw, doc: _dump(_build(doc, image_frees=[1, 2])),
    "short resource": lambda raw, doc: _dump(_build(doc, resources=[["Kernel code", 1]])),
    "header fields": lambda raw, doc: _dump(_build(doc, header={"file_len": 1})),
    "header relocatable int": lambda raw, doc: _dump(_build(doc, header={**doc["build"]["header"], "relocatable": 1})),
    "purgatory as list": lambda raw, doc: _dump(_build(doc, purgatory=[1, 2, 3])),
    "version as int": lambda raw, doc: _dump({**doc, "kernel_version": 61}),
    "build as string": lambda raw, doc: _dump({**doc, "build": "yes"}),
}


def _dump(doc):
    return json.dumps(doc).encode()


def _build(doc, **changes):
    return {**doc, "build": {**doc["build"], **changes}}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_a_bad_cache_file_is_ignored_and_rewritten(cache, image, parses, how):
    expected = fresh(image)
    load_kernel_build(image)
    (f,) = cache_files(cache)
    good = f.read_bytes()
    f.write_bytes(CORRUPTIONS[how](good, json.loads(good)))
    before = len(parses)
    assert load_kernel_build(image) == expected
    assert len(parses) == before + 1  # the image was read again
    assert f.read_bytes() == good  # and its facts written anew
    assert cache_files(cache) == [f]  # no temporary file left behind


def test_a_cache_file_that_is_a_directory_is_no_error(cache, image, parses):
    expected = fresh(image)
    parses.clear()
    load_kernel_build(image)
    (f,) = cache_files(cache)
    f.unlink()
    f.mkdir()
    assert load_kernel_build(image) == expected
    assert load_kernel_build(image) == expected
    assert len(parses) == 3 and cache_files(cache) == [f] and f.is_dir()


def test_an_unwritable_cache_dir_means_no_caching(tmp_path, image, parses, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("EARLYMEM_CACHE", str(blocker))
    expected = fresh(image)
    parses.clear()
    assert load_kernel_build(image) == expected
    assert load_kernel_build(image) == expected
    assert len(parses) == 2
    assert blocker.read_text().startswith("a file") and sorted(tmp_path.iterdir()) == sorted([blocker, image])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_cache_dir_means_no_caching(cache, image, parses):
    cache.mkdir(parents=True)
    cache.chmod(0o500)
    try:
        assert load_kernel_build(image) == fresh(image)
        assert cache_files(cache) == [] and len(parses) == 2  # ours, and fresh()'s
    finally:
        cache.chmod(0o700)


def test_a_failed_rename_leaves_no_temporary_file(cache, image, parses, monkeypatch):
    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(image_cache.os, "replace", refuse)
    assert load_kernel_build(image) == fresh(image)
    assert cache.is_dir() and cache_files(cache) == []


def test_a_changed_file_gets_another_key(cache, image, parses):
    first = load_kernel_build(image)
    data = bytearray(image.read_bytes())
    at = data.index(b"6.1.0-test")
    data[at : at + 10] = b"6.1.0-tesu"
    image.write_bytes(bytes(data))
    second = load_kernel_build(image)
    assert len(cache_files(cache)) == 2 and len(parses) == 2
    assert second == fresh(image) and second != first
    assert second[0].release == "6.1.0-tesu" and second[1].startswith("6.1.0-tesu")


def test_an_image_without_a_vmlinux_caches_none(cache, tmp_path, monkeypatch):
    """Before boot protocol 2.08 there is no payload_offset: no vmlinux, no build."""
    old = tmp_path / "zimage"
    old.write_bytes(bzimage(version=0x0207))
    expected = fresh(old)
    assert expected[0] is None and expected[1].startswith("6.1.0-test")
    assert load_kernel_build(old) == expected
    (f,) = cache_files(cache)
    assert json.loads(f.read_text())["build"] is None
    no_reading(monkeypatch)
    assert load_kernel_build(old) == expected


def _error(call, *args):
    with pytest.raises(InputError) as exc:
        call(*args)
    e = exc.value
    return str(e), e.source, e.field, e.line


@pytest.mark.parametrize("data", [
    b"\0" * 100,
    bzimage(boot_flag=0x1234),
    bzimage(b"\x1f\x8b" + b"garbage" * 20),
    bzimage(COMPRESS["gzip"](b"not an elf" * 100)),
], ids=["short", "boot_flag", "payload", "not-elf"])
def test_bad_images_raise_what_read_bzimage_raises_and_cache_nothing(cache, tmp_path, data):
    p = tmp_path / "bad.img"
    p.write_bytes(data)
    assert _error(load_kernel_build, p) == _error(bz.read_bzimage, p)
    assert cache_files(cache) == []


def test_unreadable_and_oversized_files_are_refused_like_read_bzimage(cache, tmp_path, image, monkeypatch):
    missing = tmp_path / "missing"
    assert _error(load_kernel_build, missing) == _error(bz.read_bzimage, missing)
    assert _error(load_kernel_build, tmp_path) == _error(bz.read_bzimage, tmp_path)  # a directory
    monkeypatch.setattr(bz, "MAX_BZIMAGE", 1024)
    err = _error(load_kernel_build, image)
    assert err == _error(bz.read_bzimage, image)
    assert err[0].startswith(str(image)) and "larger than any bzImage (1024 accepted)" in err[0]
    assert cache_files(cache) == []


def test_the_cache_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("EARLYMEM_CACHE", str(tmp_path / "e"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert image_cache_dir() == tmp_path / "e" / "images"
    monkeypatch.delenv("EARLYMEM_CACHE")
    assert image_cache_dir() == tmp_path / "x" / "earlymem" / "images"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert image_cache_dir() == tmp_path / "h" / ".cache" / "earlymem" / "images"


@pytest.mark.skipif(os.environ.get("EARLYMEM_ORACLE_TEST") != "1", reason="the real Debian kernel: EARLYMEM_ORACLE_TEST=1 (CI)")
def test_the_real_debian_kernel(tmp_path, monkeypatch):
    from earlymem.oracle.kernels import fetch_kernel

    vmlinuz = fetch_kernel("6.1").vmlinuz  # the oracle's cache, before it is moved
    monkeypatch.setenv("EARLYMEM_CACHE", str(tmp_path))
    expected = fresh(vmlinuz)
    assert expected[0].release == "6.1.0-50-amd64" and expected[0].missing_facts() == []
    assert load_kernel_build(vmlinuz) == expected
    no_reading(monkeypatch)
    assert load_kernel_build(Path(vmlinuz)) == expected
