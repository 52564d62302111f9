"""The initramfs reader (earlymem.sources.cpio) on archives from the real ``cpio``
tool, from the oracle's own initramfs writer, from a byte-level writer here,
and on malformed ones."""

import bz2
import gzip
import lzma
import shutil
import struct
import subprocess

import pytest

from earlymem.lib.errors import InputError
from earlymem.sources.cpio import MAX_CPIO_FILE, parse_cpio, read_cpio

HAVE_CPIO = shutil.which("cpio") is not None


def entry(name, body=b"", *, mode=0o100644, magic=b"070701", namesize=None, filesize=None, check=None, ino=1, fields=None):
    """One newc/crc entry, padded as the kernel expects (header + name to 4, body to 4)."""
    raw = name.encode() + b"\0" if isinstance(name, str) else name
    values = [ino, mode, 0, 0, 1, 0, len(body) if filesize is None else filesize, 0, 0, 0, 0,
              len(raw) if namesize is None else namesize, (sum(body) & 0xFFFFFFFF) if check is None else check]
    hdr = magic + b"".join(b"%08X" % v for v in values)
    if fields:
        for i, text in fields.items():
            hdr = hdr[: 6 + 8 * i] + text + hdr[14 + 8 * i :]
    out = hdr + raw
    out += b"\0" * (-len(out) % 4) + body
    return out + b"\0" * (-len(out) % 4)


def archive(*entries, magic=b"070701"):
    return b"".join(entries) + entry("TRAILER!!!", mode=0, magic=magic, ino=0)


SIMPLE = archive(entry(".", mode=0o40755), entry("init", b"#!/bin/sh\necho hi\n", mode=0o100755),
                 entry("bin/sh", b"../init", mode=0o120777))


def lz4_legacy(data):
    import lz4.block

    c = lz4.block.compress(data, store_size=False)
    return b"\x02\x21\x4c\x18" + struct.pack("<I", len(c)) + c


COMPRESS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "zstd": lambda d: __import__("zstandard").ZstdCompressor().compress(d),
    "lz4": lz4_legacy,
}


def names(entries):
    return [(e.name, e.segment, e.compression) for e in entries]


def rejects(data, message, **kw):
    with pytest.raises(InputError) as exc:
        parse_cpio(data, "initrd.img", **kw)
    text = str(exc.value)
    assert message in text, text
    assert text.startswith("initrd.img: ") and "offset" in text and "\n" not in text
    return text


def test_a_plain_newc_archive():
    es = parse_cpio(SIMPLE, "i")
    assert [(e.name, oct(e.mode), e.data) for e in es] == [
        (".", "0o40755", b""), ("init", "0o100755", b"#!/bin/sh\necho hi\n"), ("bin/sh", "0o120777", b"../init")]
    assert es[1].is_regular and not es[2].is_regular
    assert es[1].offset == 112 and es[1].data_offset % 4 == 0


@pytest.mark.parametrize("fmt", sorted(COMPRESS))
def test_every_compression(fmt):
    es = parse_cpio(COMPRESS[fmt](SIMPLE), "i")
    assert names(es) == [(".", 0, fmt), ("init", 0, fmt), ("bin/sh", 0, fmt)]
    assert es[1].data == b"#!/bin/sh\necho hi\n" and es[1].member_offset == 0


def test_concatenated_archives_with_zero_padding_and_compressed_members():
    # the early-microcode layout: an uncompressed archive, padding, then compressed ones
    early = archive(entry("kernel/x86/microcode/GenuineIntel.bin", b"\x01" * 37))
    main = archive(entry("init", b"x"))
    data = early + b"\0" * 512 + gzip.compress(main) + b"\0" * 3 + COMPRESS["zstd"](main + b"\0" * 8 + main) + b"\0" * 4096
    es = parse_cpio(data, "i")
    assert names(es) == [("kernel/x86/microcode/GenuineIntel.bin", 0, None), ("init", 1, "gzip"), ("init", 2, "zstd"),
                         ("init", 3, "zstd")]
    assert es[1].member_offset == len(early) + 512


def test_crc_format_checks_the_sum_of_a_regular_files_bytes():
    good = archive(entry("f", b"\xff\x01\x02", magic=b"070702"), magic=b"070702")
    assert parse_cpio(good, "i")[0].check == 0x102
    rejects(archive(entry("f", b"\xff\x01\x02", magic=b"070702", check=5), magic=b"070702"), "bad data checksum")
    # only regular files carry a sum (do_copy)
    assert parse_cpio(archive(entry("l", b"t", mode=0o120777, magic=b"070702", check=0)), "i")[0].data == b"t"


def test_only_a_trailer_is_an_empty_archive():
    assert parse_cpio(archive(), "i") == []


def test_non_utf8_names_are_kept_readable():
    assert parse_cpio(archive(entry(b"caf\xe9\0")), "i")[0].name == "caf\\xe9"


@pytest.mark.skipif(not HAVE_CPIO, reason="no cpio tool")
@pytest.mark.parametrize("fmt", ["newc", "crc"])
def test_archives_of_the_real_cpio_tool(tmp_path, fmt):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (root / "bin/big").write_bytes(bytes(range(256)) * 300)
    (root / "bin/empty").write_bytes(b"")
    (root / "bin/sh").symlink_to("busybox")
    (root / "etc/hosts2").hardlink_to(root / "etc/hosts")
    listing = "\n".join(sorted(str(p.relative_to(root)) for p in root.rglob("*"))) + "\n"
    out = subprocess.run(["cpio", "-o", "-H", fmt, "--quiet", "-R", "0:0"], input=listing.encode(), cwd=root,
                         capture_output=True, check=True).stdout
    assert len(out) % 512 == 0  # the tool pads the archive with zeros
    for data in (out, gzip.compress(out), out + COMPRESS["xz"](out)):
        es = parse_cpio(data, "i")
        by = {e.name: e for e in es if e.segment == 0}
        assert set(by) == {"bin", "bin/big", "bin/empty", "bin/sh", "etc", "etc/hosts", "etc/hosts2"}
        assert by["bin/big"].data == bytes(range(256)) * 300
        assert by["bin/sh"].data == b"busybox" and by["bin/empty"].size == 0
        # hard links: the body goes with the last one, the others are empty
        assert {by["etc/hosts"].size, by["etc/hosts2"].size} == {0, 20}
        assert by["etc/hosts"].ino == by["etc/hosts2"].ino and by["etc/hosts"].nlink == 2


@pytest.mark.skipif(not HAVE_CPIO, reason="no cpio tool")
def test_the_oracles_own_initramfs_writer(tmp_path):
    from earlymem.oracle.initramfs import _cpio

    root = tmp_path / "root"
    (root / "boot").mkdir(parents=True)
    (root / "init").write_text("#!/bin/sh\n")
    (root / "boot/kdump-initrd.img").write_bytes(b"\x1f\x8b" + bytes(1000))
    _cpio(root, tmp_path / "main.img")
    es = read_cpio(tmp_path / "main.img")
    assert {e.name for e in es} == {".", "boot", "init", "boot/kdump-initrd.img"}
    assert all(e.compression == "gzip" and e.uid == 0 for e in es)
    assert next(e for e in es if e.name == "boot/kdump-initrd.img").data == b"\x1f\x8b" + bytes(1000)


HDR = entry("name", b"body")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"070707" + HDR[6:] + archive(), "old portable cpio format"),
        (archive()[:60], "header cut short"),
        (entry("name", b"body")[:113], "name cut short"),
        (entry("name", b"b" * 40)[:130], "body cut short"),
        (entry("name", b"body", fields={6: b"0000004G"}) + archive(), "filesize is not 8 hex digits"),
        (entry("name", b"body", fields={1: b" 00081A4"}) + archive(), "mode is not 8 hex digits"),
        (entry(b"name!", b"body") + archive(), "without its terminating NUL"),
        (entry(b"na\0e\0", b"body") + archive(), "NUL before its end"),
        (entry("name", b"body", namesize=0) + archive(), "name length 0"),
        (entry("name", b"body", namesize=5000) + archive(), "name length 5000"),
        (entry("name", b"body", filesize=0x7FFFFFFF) + archive(), "body cut short"),
        (entry("name", b"body"), "without a TRAILER!!!"),
        (entry("name", b"body") + b"\0" * 64, "without a TRAILER!!!"),
        (b"\0\0" + archive(), "broken padding"),
        (archive() + b"\0" + b"0" + archive(), "broken padding"),
        (archive() + b"junk!", "junk in the archive"),
        (b"\x89LZO\0\r\n\x1a\n", "LZO"),
        (gzip.compress(SIMPLE)[:-12], "cut short"),
        (gzip.compress(b"x" * 100), "junk in compressed archive"),
        (gzip.compress(SIMPLE + b"\0\0" + b"0"), "broken padding"),
        (gzip.compress(entry("a", b"b")), "without a TRAILER!!!"),
        (b"\x1f\x8b" + b"\xff" * 40, "does not decompress"),
        (b"BZh9" + b"\xff" * 40, "does not decompress"),
        (b"\xfd7zXZ\0" + b"\xff" * 40, "does not decompress"),
        (b"\x28\xb5\x2f\xfd" + b"\xff" * 40, "does not decompress"),
        (b"\x02\x21\x4c\x18" + struct.pack("<I", 9) + b"\xff" * 9, "does not decompress"),
        (b"\x02\x21\x4c\x18" + struct.pack("<I", 900) + b"\xff" * 9, "runs past the end"),
        (gzip.compress(b""), "decompresses to nothing"),
    ],
)
def test_malformed_archives_are_one_line_errors_with_the_offset(data, message):
    rejects(data, message)


def test_empty_and_zero_files():
    with pytest.raises(InputError, match="empty"):
        parse_cpio(b"", "i")
    with pytest.raises(InputError, match="only zero bytes"):
        parse_cpio(bytes(4096), "i")


@pytest.mark.parametrize("fmt", sorted(COMPRESS))
def test_a_decompression_bomb_stops_at_the_limit(fmt):
    bomb = COMPRESS[fmt](archive(entry("zeros", bytes(4 << 20))))
    assert len(bomb) < 64 << 10
    text = rejects(bomb, "past the limit", limit=1 << 20)
    assert "offset 0" in text
    # the limit is on all members together
    two = COMPRESS[fmt](archive(entry("z", bytes(600 << 10))))
    assert len(parse_cpio(two, "i", limit=1 << 20)) == 1
    rejects(two + two, "past the limit", limit=1 << 20)


def test_the_offset_inside_a_compressed_member_is_named():
    text = rejects(b"\0" * 8 + gzip.compress(entry("a", b"b", fields={0: b"zzzzzzzz"}) + archive()), "ino is not 8 hex digits")
    assert "member at 8, offset 6" in text


def test_read_cpio_names_the_file(tmp_path):
    p = tmp_path / "x.img"
    p.write_bytes(SIMPLE)
    assert len(read_cpio(p)) == 3
    with pytest.raises(InputError, match="cannot read"):
        read_cpio(tmp_path / "missing.img")
    assert MAX_CPIO_FILE >= 64 << 20
