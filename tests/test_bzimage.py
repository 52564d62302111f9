"""bzImage parsing: the setup header, every payload compression, hostile images.

Images are built here byte by byte from the boot protocol's layout
(Documentation/arch/x86/boot.rst), with a tiny vmlinux ELF whose PT_LOAD
segment says where the kernel lies.  The real Debian kernels are read in the
CI-only real-boot test (test_oracle_real_boot.py).
"""

import bz2
import gzip
import lzma
import struct
import subprocess
import sys

import pytest

from earlymem.lib.errors import InputError
from earlymem.sources.bzimage import DEFAULT_INITRD_ADDR_MAX, FIELDS, parse_bzimage

TEXT, END = 0x1000000, 0x4600000


def vmlinux(paddr=TEXT, memsz=END - TEXT):
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0xFFFFFFFF81000000, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0xFFFFFFFF81000000, paddr, 0, memsz, 0x200000)
    return ehdr + phdr + bytes(256)


def lz4_legacy(data):
    """The kernel's lz4 legacy frame: magic, then (u32 length, block) per 8 MiB of input."""
    import lz4.block

    out = b"\x02\x21\x4c\x18"
    for i in range(0, len(data), 8 << 20):
        c = lz4.block.compress(data[i : i + (8 << 20)], store_size=False)
        out += struct.pack("<I", len(c)) + c
    return out


COMPRESS = {
    "gzip": lambda d: gzip.compress(d),
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "bzip2": lambda d: bz2.compress(d),
    "zstd": lambda d: __import__("zstandard").ZstdCompressor().compress(d),
    "lz4": lz4_legacy,
}


def bzimage(payload=None, *, version=0x020F, setup_sects=1, loadflags=1, xloadflags=3, payload_offset=0x100, payload_length=None, boot_flag=0xAA55, magic=b"HdrS"):
    payload = COMPRESS["gzip"](vmlinux()) if payload is None else payload
    setup = bytearray((setup_sects or 4) * 512 + 512)
    struct.pack_into("<B", setup, 0x1F1, setup_sects)
    struct.pack_into("<H", setup, 0x1FE, boot_flag)
    setup[0x200:0x202] = b"\xeb\x66"
    setup[0x202:0x206] = magic
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<H", setup, 0x20E, 0x100)  # version string at 0x100 + 0x200
    setup[0x300:0x31d] = b"6.1.0-test (earlymem) #1 SMP\0"
    struct.pack_into("<B", setup, 0x211, loadflags)
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<H", setup, 0x236, xloadflags)
    struct.pack_into("<II", setup, 0x248, payload_offset, len(payload) if payload_length is None else payload_length)
    struct.pack_into("<Q", setup, 0x258, TEXT)
    struct.pack_into("<I", setup, 0x260, 0x3F97000)
    return bytes(setup) + bytes(payload_offset) + payload + b"\0" * 64


def patched(data, offset, byte):
    """``data`` with one byte changed (a header that lies about the file)."""
    return data[:offset] + bytes([byte]) + data[offset + 1 :]


@pytest.mark.parametrize("fmt", sorted(COMPRESS))
def test_every_payload_compression(fmt):
    img = parse_bzimage(bzimage(COMPRESS[fmt](vmlinux())), "k")
    assert img.compression == fmt
    assert (img.image_extent.start, img.image_extent.end) == (TEXT, END)


def test_header_fields_follow_the_table():
    img = parse_bzimage(bzimage(), "k")
    assert img.protocol_text == "2.15"
    assert img.fields["pref_address"] == TEXT and img.fields["init_size"] == 0x3F97000
    assert img.kernel_version.startswith("6.1.0-test")
    assert img.setup_size == 1024
    assert set(img.fields) == {f.name for f in FIELDS}
    assert img.kernel_probe_error() is None


def test_initrd_addr_max_before_protocol_2_03():
    # kexec-tools: DEFAULT_INITRD_ADDR_MAX 0x37FFFFFF unless protocol >= 2.03 (the 2011 report's fact).
    old = parse_bzimage(bzimage(version=0x0202), "k", decompress=False)
    assert "initrd_addr_max" not in old.fields and old.initrd_addr_max == DEFAULT_INITRD_ADDR_MAX
    assert parse_bzimage(bzimage(), "k").initrd_addr_max == 0x7FFFFFFF


def test_setup_sects_zero_means_four():
    assert parse_bzimage(bzimage(setup_sects=0), "k").setup_size == 5 * 512


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"version": 0x020B}, "Must be at least protocol version 2.12"),
        ({"loadflags": 0}, "zImage not a bzImage"),
        ({"xloadflags": 2}, "Not a bzImage64. XLF_KERNEL_64 is not set."),
        ({"xloadflags": 1}, "XLF_CAN_BE_LOADED_ABOVE_4G is not set."),
    ],
)
def test_kernel_probe_messages(kw, error):
    assert parse_bzimage(bzimage(**kw), "k", decompress=False).kernel_probe_error() == error


@pytest.mark.parametrize(
    "data, field, text",
    [
        (b"\0" * 100, None, "too short"),
        (bzimage(boot_flag=0x1234), "boot_flag", "0xAA55"),
        (patched(bzimage(), 0x1F1, 250), "setup_sects", "past the end"),
        (bzimage(payload_offset=0x100, payload_length=1 << 30), "payload_offset", "outside the file"),
        (bzimage(b"\x1f\x8b" + b"garbage" * 20), "payload", "does not decompress"),
        (bzimage(b"ABCD" * 40), "payload", "unknown payload compression"),
        (bzimage(COMPRESS["gzip"](b"not an elf" * 100)), "payload", "not an ELF"),
    ],
)
def test_hostile_images_are_refused_with_one_line(data, field, text):
    with pytest.raises(InputError) as exc:
        parse_bzimage(data, "bad.img")
    msg = str(exc.value)
    assert msg.startswith("bad.img") and text in msg and "\n" not in msg
    if field:
        assert f": {field}: " in msg


@pytest.mark.parametrize("fmt", ["gzip", "xz", "bzip2", "zstd", "lz4"])
def test_decompression_bombs_stop_at_the_limit(fmt):
    bomb = COMPRESS[fmt](vmlinux() + bytes(8 << 20))
    with pytest.raises(InputError, match="more than 1048576 bytes"):
        parse_bzimage(bzimage(bomb), "bomb.img", limit=1 << 20)


def test_cli_bzimage(tmp_path):
    f = tmp_path / "vmlinuz"
    f.write_bytes(bzimage(COMPRESS["xz"](vmlinux())))
    proc = subprocess.run([sys.executable, "-m", "earlymem", "bzimage", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "protocol 2.15" in proc.stdout and "xz" in proc.stdout and "0x1000000-0x45fffff" in proc.stdout
    f.write_bytes(b"\0" * 10)
    proc = subprocess.run([sys.executable, "-m", "earlymem", "bzimage", str(f)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
