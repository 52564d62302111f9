"""initramfs archives (newc/crc cpio, plain or compressed) read as the kernel unpacks them.

The kernel's unpacker is init/initramfs.c: ``unpack_to_rootfs()`` walks the
buffer; a ``'0'`` at a 4-aligned offset starts an uncompressed archive, zero
bytes between archives are skipped, and anything else must be a compressed
member (lib/decompress.c ``decompress_method()``: gzip, bzip2, lzma, xz, lzo,
lz4 legacy, zstd), whose output ``flush_buffer()`` feeds to the same state
machine -- several archives may follow each other inside one member, with
zero padding between them.  Per entry:

* ``do_header()``: a 110-byte header, magic ``070701`` (newc) or ``070702``
  (crc: the sum of a regular file's bytes is checked, ``do_copy()``'s "bad
  data checksum"); ``070707`` (odc) is refused ("incorrect cpio method used:
  use -H newc option"); thirteen 8-digit hex fields; the name and its
  padding take ``N_ALIGN(namesize)`` bytes so that the body starts 4-aligned,
  and the next header is at the body's end rounded up to 4;
* ``do_name()``: the name must end in its NUL ("initramfs name without
  nulterm"); ``TRAILER!!!`` ends an archive;
* ``do_copy()``: the body is ``filesize`` bytes (a symlink's body is its
  target);
* ``do_reset()``: zero padding after an entry; a non-zero byte at an offset
  that is not a multiple of 4 is "broken padding".

This reader is stricter than the kernel, which tolerates what a hostile or
damaged file should not pass silently: non-hex digits in a header field
(``simple_strtoul`` stops at them), a name length outside 1..PATH_MAX (the
kernel skips the entry), a name holding a NUL before its end, an archive cut
short in a header, name or body, and an archive (uncompressed run or
decompressed member) that does not end with ``TRAILER!!!``.  LZO members are
recognized but not decompressed (no LZO codec in the dependencies).

Hostile input: every offset is checked, the file size is capped
(:data:`MAX_CPIO_FILE`) and so is the total decompressed size of all members
(``limit``, :data:`MAX_UNPACKED`); any problem is one
:class:`~earlymem.lib.errors.InputError` naming the file and the byte offset
(in the file, or ``member at N, offset M`` inside a compressed member).
"""

from __future__ import annotations

import bz2
import lzma
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import lz4.block
import zstandard

from earlymem.lib.errors import InputError

__all__ = ["MAX_CPIO_FILE", "MAX_UNPACKED", "PATH_MAX", "CpioEntry", "parse_cpio", "read_cpio"]

#: Largest archive file accepted.
MAX_CPIO_FILE = 128 << 20
#: Default cap on the total decompressed size of all compressed members.
MAX_UNPACKED = 256 << 20
#: include/uapi/linux/limits.h
PATH_MAX = 4096

HEADER_SIZE = 110
_FIELDS = ("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor",
           "rdevmajor", "rdevminor", "namesize", "check")
_HEX8 = re.compile(rb"[0-9A-Fa-f]{8}")
_NONZERO = re.compile(rb"[^\x00]")
S_IFMT, S_IFREG = 0o170000, 0o100000
TRAILER = "TRAILER!!!"
#: lz4 legacy format (lib/decompress_unlz4.c): blocks of at most 8 MiB of output
_LZ4_MAGIC = 0x184C2102
_LZ4_BLOCK = 8 << 20
#: output bytes asked of a gzip, bzip2, lzma or xz decompressor per call: appended to one
#: bytearray, so that a member costs its size once (a single call's output is built in
#: blocks joined at the end, twice the size at the peak)
_CHUNK = 8 << 20
#: input bytes fed to zstd per call: zstandard's decompressobj has no output cap,
#: and 256 input bytes cannot make more than 64 RLE blocks of 128 KiB
_ZSTD_CHUNK = 256


def _n_align(namesize: int) -> int:
    """init/initramfs.c N_ALIGN: name plus padding, so that header + name ends 4-aligned."""
    return ((namesize + 1) & ~3) + 2


@dataclass(frozen=True)
class CpioEntry:
    """One archive member.

    :param name: the path as stored (UTF-8; other bytes as ``\\xNN``).
    :param size: ``filesize``: the body's length (a symlink's target, a regular file's bytes).
    :param segment: 0-based index of the archive (``TRAILER!!!``-terminated) it belongs to.
    :param compression: the compressed member it came out of (``gzip`` ...), or None.
    :param member_offset: file offset of that compressed member (or of the uncompressed run).
    :param offset: offset of the entry's header: in the file, or in the member's decompressed bytes.
    :param data_offset: offset of the body, likewise.
    """

    name: str
    mode: int
    size: int
    segment: int
    compression: str | None
    member_offset: int
    offset: int
    data_offset: int
    ino: int = 0
    uid: int = 0
    gid: int = 0
    nlink: int = 0
    mtime: int = 0
    rdevmajor: int = 0
    rdevminor: int = 0
    check: int = 0
    _buffer: bytes | bytearray | memoryview = field(default=b"", repr=False, compare=False)

    @property
    def data(self) -> bytes:
        """The body's bytes (copied out of the archive on each access)."""
        return bytes(self._buffer[self.data_offset : self.data_offset + self.size])

    @property
    def is_regular(self) -> bool:
        return self.mode & S_IFMT == S_IFREG


def read_cpio(path: str | Path, *, limit: int = MAX_UNPACKED) -> list[CpioEntry]:
    """Read an initramfs file.  :raises InputError: naming the file and byte offset."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_CPIO_FILE:
            raise InputError(f"file is {size} bytes, more than the {MAX_CPIO_FILE} accepted", source=str(p))
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(p)) from None
    return parse_cpio(data, str(p), limit=limit)


def parse_cpio(data: bytes, source: str, *, limit: int = MAX_UNPACKED) -> list[CpioEntry]:
    """Every entry of every archive in ``data`` (``TRAILER!!!`` entries left out), in order.

    :param limit: the most bytes all compressed members together may decompress to.
    :raises InputError: for anything malformed, naming ``source`` and the byte offset.
    """
    if not data:
        raise InputError("file is empty", source=source)
    view = memoryview(data)
    entries: list[CpioEntry] = []
    unpacked = 0
    segment = 0
    pos = 0
    while True:
        pos = _skip_zeros(data, pos)
        if pos >= len(data):
            break
        if data[pos] == 0x30:  # '0': an uncompressed archive
            if pos & 3:
                raise InputError(f"broken padding: an archive starts at offset {pos}, not a multiple of 4", source=source,
                                 field=f"offset {pos}")
            pos, segment = _archive(view, pos, source, entries, segment, None, 0, lambda off: f"offset {off}")
            continue
        name, out, used = _decompress(view[pos:], pos, source, limit - unpacked)
        unpacked += len(out)
        base = pos
        where = lambda off, base=base: f"member at {base}, offset {off}"
        spos, n = 0, len(out)
        if not n:
            raise InputError(f"{name} member decompresses to nothing", source=source, field=f"offset {base}")
        while True:
            spos = _skip_zeros(out, spos)
            if spos >= n:
                break
            if out[spos] != 0x30 or spos & 3:
                what = "broken padding" if out[spos] == 0x30 else "junk in compressed archive (no cpio magic)"
                raise InputError(what, source=source, field=where(spos))
            spos, segment = _archive(out, spos, source, entries, segment, name, base, where)
        pos += used
    if not entries and segment == 0:
        raise InputError("no cpio archive in the file (only zero bytes)", source=source)
    return entries


def _skip_zeros(buf, pos: int) -> int:
    """The offset of the first non-zero byte at or after ``pos`` (``len(buf)`` if none)."""
    m = _NONZERO.search(buf, pos)
    return m.start() if m else len(buf)


def _archive(buf, pos: int, source: str, entries: list[CpioEntry], segment: int, compression: str | None,
             member: int, where) -> tuple[int, int]:
    """Entries from ``pos`` through ``TRAILER!!!``: ``(offset after it, next segment index)``."""
    n = len(buf)
    while True:
        if pos >= n:
            raise InputError("archive ends without a TRAILER!!! entry", source=source, field=where(pos))
        # zero padding between entries (do_reset), then a header at a multiple of 4
        pos = _skip_zeros(buf, pos)
        if pos >= n:
            raise InputError("archive ends without a TRAILER!!! entry", source=source, field=where(pos))
        if pos & 3:
            raise InputError("broken padding (an entry starts at an offset that is not a multiple of 4)", source=source,
                             field=where(pos))
        if pos + HEADER_SIZE > n:
            raise InputError(f"header cut short ({n - pos} of {HEADER_SIZE} bytes)", source=source, field=where(pos))
        header = bytes(buf[pos : pos + HEADER_SIZE])
        magic = header[:6]
        if magic == b"070707":
            raise InputError("old portable cpio format (070707): the kernel reads newc only (cpio -H newc)", source=source,
                             field=where(pos))
        if magic not in (b"070701", b"070702"):
            raise InputError(f"no cpio magic ({magic!r})", source=source, field=where(pos))
        values = {}
        for i, name in enumerate(_FIELDS):
            text = header[6 + 8 * i : 14 + 8 * i]
            if not _HEX8.fullmatch(text):
                raise InputError(f"header field {name} is not 8 hex digits: {text!r}", source=source, field=where(pos + 6 + 8 * i))
            values[name] = int(text, 16)
        namesize, size = values["namesize"], values["filesize"]
        if not 1 <= namesize <= PATH_MAX:
            raise InputError(f"name length {namesize} is outside 1..{PATH_MAX} (PATH_MAX)", source=source, field=where(pos + 94))
        name_at = pos + HEADER_SIZE
        if name_at + namesize > n:
            raise InputError(f"name cut short ({n - name_at} of {namesize} bytes)", source=source, field=where(name_at))
        raw = bytes(buf[name_at : name_at + namesize])
        if raw[-1] != 0:
            raise InputError("name without its terminating NUL (initramfs name without nulterm)", source=source, field=where(name_at))
        if 0 in raw[:-1]:
            raise InputError("name holds a NUL before its end", source=source, field=where(name_at))
        name = raw[:-1].decode("utf-8", errors="backslashreplace")
        data_at = pos + HEADER_SIZE + _n_align(namesize)  # 4-aligned
        if data_at > n:
            raise InputError("name padding cut short", source=source, field=where(name_at + namesize))
        if data_at + size > n:
            raise InputError(f"body cut short ({n - data_at} of {size} bytes)", source=source, field=where(data_at))
        if magic == b"070702" and values["mode"] & S_IFMT == S_IFREG:
            csum = sum(buf[data_at : data_at + size]) & 0xFFFFFFFF
            if csum != values["check"]:
                raise InputError(f"bad data checksum ({csum:#010x}, header says {values['check']:#010x})", source=source,
                                 field=where(data_at))
        nxt = min((data_at + size + 3) & ~3, n)
        if name == TRAILER:
            return nxt, segment + 1
        entries.append(CpioEntry(name, values["mode"], size, segment, compression, member, pos, data_at,
                                 values["ino"], values["uid"], values["gid"], values["nlink"], values["mtime"],
                                 values["rdevmajor"], values["rdevminor"], values["check"], buf))
        pos = nxt


def _decompress(view: memoryview, pos: int, source: str, budget: int) -> tuple[str, bytearray, int]:
    """Decompress the member at ``pos``: ``(method, output, input bytes used)``, output capped at ``budget``."""
    head = bytes(view[:6])
    where = f"offset {pos}"

    def too_big() -> InputError:
        return InputError(f"decompresses past the limit of {budget} more bytes (a decompression bomb, or raise the limit)",
                          source=source, field=where)

    def cut(name: str) -> InputError:
        return InputError(f"{name} member is cut short (the stream does not end)", source=source, field=where)

    budget = max(budget, 0)
    name = "compressed"
    try:
        if head[:2] in (b"\x1f\x8b", b"\x1f\x9e"):
            name = "gzip"
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = bytearray()
            pending = view
            while not d.eof:
                chunk = d.decompress(pending, _CHUNK)
                out += chunk
                if len(out) > budget:
                    raise too_big()
                pending = d.unconsumed_tail
                if not pending and len(chunk) < _CHUNK:
                    break  # every byte read and nothing held back: the stream is cut short
            if not d.eof:
                raise cut(name)
            return name, out, len(view) - len(d.unused_data)
        if head[:3] == b"BZh" or head[:3] == b"\x5d\x00\x00" or head == b"\xfd7zXZ\x00":
            if head[:3] == b"BZh":
                name, d = "bzip2", bz2.BZ2Decompressor()
            elif head[:3] == b"\x5d\x00\x00":
                name, d = "lzma", lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
            else:
                name, d = "xz", lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            out = bytearray()
            pending = view
            while not d.eof:
                out += d.decompress(pending, max_length=_CHUNK)
                pending = b""  # the decompressor keeps what it has not used
                if len(out) > budget:
                    raise too_big()
                if d.needs_input:
                    break
            if not d.eof:
                raise cut(name)
            return name, out, len(view) - len(d.unused_data)
        if head[:4] == b"\x28\xb5\x2f\xfd":
            name = "zstd"
            return name, *_zstd(view, budget, too_big, cut)
        if head[:4] == b"\x02\x21\x4c\x18":
            name = "lz4"
            return name, *_lz4_legacy(view, budget, too_big, source, pos)
        if head[:3] == b"\x89\x4c\x5a":
            raise InputError("lzo-compressed member: earlymem cannot decompress LZO", source=source, field=where)
    except InputError:
        raise
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError, zstandard.ZstdError, lz4.block.LZ4BlockError) as exc:
        raise InputError(f"{name} member does not decompress: {' '.join(str(exc).split())}", source=source, field=where) from None
    raise InputError(f"junk in the archive: no cpio magic and no known compression (starts {head[:4].hex()})", source=source,
                     field=where)


def _zstd(view: memoryview, budget: int, too_big, cut) -> tuple[bytearray, int]:
    d = zstandard.ZstdDecompressor().decompressobj()
    out = bytearray()
    fed = 0
    while fed < len(view) and not d.eof:
        chunk = view[fed : fed + _ZSTD_CHUNK]
        fed += len(chunk)
        out += d.decompress(chunk)
        if len(out) > budget:
            raise too_big()
    if not d.eof:
        raise cut("zstd")
    return out, fed - len(d.unused_data)


def _lz4_legacy(view: memoryview, budget: int, too_big, source: str, pos: int) -> tuple[bytearray, int]:
    """lib/decompress_unlz4.c: the magic, then (u32 size, block) pairs; a size of 0, or the
    end of the data, ends the stream (a new magic word may start another frame)."""
    out = bytearray()
    n = len(view)
    at = 4
    while at + 4 <= n:
        size = int.from_bytes(view[at : at + 4], "little")
        if size == _LZ4_MAGIC:
            at += 4
            continue
        if size == 0:
            break
        if at + 4 + size > n:
            raise InputError(f"lz4 block of {size} bytes runs past the end of the file", source=source,
                             field=f"offset {pos + at}")
        out += lz4.block.decompress(view[at + 4 : at + 4 + size], uncompressed_size=_LZ4_BLOCK)
        at += 4 + size
        if len(out) > budget:
            raise too_big()
    return out, at
