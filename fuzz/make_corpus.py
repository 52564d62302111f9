"""Derive the seed corpus ``fuzz/corpus/TARGET/`` from tests/fixtures (and a few built inputs).

Run from the repository root: ``python -m fuzz.make_corpus`` (rewrites the
corpus; deterministic, so the committed corpus is what this makes).  Seeds
are kept small (each under the target's ``-max_len`` in fuzz/run.py; the
whole corpus well under a few MB): boot logs are cut down to the lines the
readers look at; binary formats (bzImage, ELF, BTF, purgatory, the real-mode
blob, cpio) are built here byte by byte, as the unit tests build them.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import re
import shutil
import struct
from pathlib import Path

from fuzz.run import CORPUS, MAX_LEN, ROOT

FIX = ROOT / "tests" / "fixtures"


def _put(target: str, data: bytes, seen: dict) -> None:
    if len(data) > MAX_LEN[target]:
        data = data[: MAX_LEN[target]]
    digest = hashlib.sha1(data).hexdigest()[:16]
    if digest in seen.setdefault(target, set()):
        return
    seen[target].add(digest)
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / digest).write_bytes(data)


# -- text ---------------------------------------------------------------------------------------

_INTERESTING = re.compile(
    r"Linux version|Command line:|command line|BIOS-e820|BIOS-provided|user-defined|extended physical|modified physical|"
    r"e820: |user: |SRAT|ACPI: [A-Z0-9_]{4} |IOAPIC\[|Allowing|RAMDISK|RSDP|Kdump: loaded|Memory: |memblock|MEMBLOCK|"
    r"reserved\[|memory\[|SLUB: HWalign|Bootdata|NUMA|node|crashkernel|@@@@|efi: |BRK \[|early reservations|#\d+ \[|bootmap")


def distill(raw: bytes, limit: int, head: int = 3) -> bytes:
    """The first ``head`` lines and the lines readers look at, up to ``limit`` bytes (raw, CR/LF kept)."""
    lines = raw.split(b"\n")
    keep = lines[:head] + [ln for ln in lines[head:] if _INTERESTING.search(ln.decode("latin-1"))]
    out = b""
    for ln in keep:
        if len(out) + len(ln) + 1 > limit:
            break
        out += ln + b"\n"
    return out


def _logs() -> list[Path]:
    """One boot log per bootlogs/ configuration (kernels taken in turn), the public ones and the captures."""
    by_config: dict[str, list[Path]] = {}
    for p in sorted((FIX / "bootlogs").glob("*.log")):
        by_config.setdefault(p.name.split("--")[0], []).append(p)
    picked = [paths[i % len(paths)] for i, (_c, paths) in enumerate(sorted(by_config.items()))]
    picked += sorted((FIX / "public").glob("*.log"))
    # the enterprise kernels' logs: old-format EFI maps, BRK pages, RHEL 6's early reservations
    picked += sorted((FIX / "public" / "enterprise").glob("*.log"))[::3]
    return picked


def _sections(path: Path) -> dict[str, list[str]]:
    from earlymem.sources.capture import split_sections
    from earlymem.sources.text import read_text_lines

    return split_sections(read_text_lines(path), str(path))


def text_seeds(seen: dict) -> None:
    for p in _logs():
        data = p.read_bytes()
        _put("dmesg", distill(data, MAX_LEN["dmesg"]), seen)
    for p in _logs()[::6]:
        data = p.read_bytes()
        _put("text", data[:1500], seen)
        _put("inputs", b"\x00" + distill(data, MAX_LEN["inputs"] - 1), seen)
    _put("text", "caf\u00e9 \u2014 ok\r\nline\rcr\n".encode() + b"\xff\xfe bad\n", seen)
    _put("text", b"\n\n  \n", seen)
    for cap in sorted((FIX / "mbdebug").glob("*/serial.log"))[::3]:
        raw = cap.read_bytes()
        at = raw.find(b"MEMBLOCK configuration:")
        if at < 0:
            continue
        start = raw.rfind(b"\n", 0, at) + 1
        body = raw[start : start + MAX_LEN["memblock"] - 200]
        body = body[: body.rfind(b"\n") + 1] + b"[    0.123456] SLUB: HWalign=64, Order=0-3, MinObjects=0, CPUs=1, Nodes=1\n"
        _put("memblock", body, seen)
    for cap in sorted((FIX / "oracle").glob("*/serial.log"))[::4] + sorted((FIX / "holdout").glob("*/serial.log"))[::6]:
        secs = _sections(cap)
        out = []
        for name, lines in secs.items():
            out += [f"@@@@BEGIN {name}@@@@", *lines[:6], f"@@@@END {name}@@@@", f"@@@@RC {name}=0@@@@"]
        _put("capture", ("\n".join(out) + "\n").encode()[: MAX_LEN["capture"]], seen)
        if "first/iomem" in secs:
            _put("iomem", ("\n".join(secs["first/iomem"]) + "\n").encode(), seen)
        if "first/firmware_memmap" in secs:
            tree = _memmap_tree(secs["first/firmware_memmap"], "")
            _put("memmap", tree, seen)
            cmd = "\n".join(secs.get("first/cmdline", ["console=ttyS0"]))
            _put("proc", b"=== proc/cmdline\n" + cmd.encode() + b"\n=== proc/sys/kernel/osrelease\n6.1.0-50-amd64\n"
                 + _memmap_tree(secs["first/firmware_memmap"], "sys/firmware/memmap/"), seen)
        if "first/iomem" in secs:
            _put("proc", b"=== proc/iomem\n" + ("\n".join(secs["first/iomem"]) + "\n").encode()
                 + b"=== proc/cmdline\nro quiet\n", seen)
    # UEFI boots (efi=debug): the EFI banner, the EFI memory map lines, setup_data updates;
    # and a serial log kept compressed, as the KASLR and UEFI captures are (serial.log.gz)
    efi = re.compile(r"Linux version|Command line|BIOS-e820|efi: |usable ==> usable|RAMDISK")
    for cap in sorted((FIX / "uefi").glob("*-dbg--*/serial.log.gz"))[::8]:
        lines = gzip.decompress(cap.read_bytes()).split(b"\n")
        body = b"\n".join(ln for ln in lines if efi.search(ln.decode("latin-1")))
        _put("dmesg", body[: body.rfind(b"\n", 0, MAX_LEN["dmesg"]) + 1], seen)
    # the DMI lines: dmi_format_ids()'s system name (the unpack's calibration platform) and 7.x's other "DMI:" lines
    _put("dmesg", b"[    0.000000] Linux version 7.2.13+deb14-amd64 (x) #1 SMP\n"
         b"[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
         b"[    0.000000] DMI: SMBIOS 2.8 present.\n"
         b"[    0.000000] DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014\n"
         b"[    0.000000] DMI: Memory slots populated: 1/1\n", seen)
    # a capture's setup_data chain (setup_data_chain.c's lines, first/setup_data), read by verify
    chain = ["setup_data 0x7c5c6018 3 39984", "setup_data 0x7c4ca018 3 249904"]
    for body in (chain, chain[:1] + ["setup_data 0x7c5c6018 3 39984"]):
        _put("capture", ("\n".join(["@@@@BEGIN first/setup_data@@@@", *body, "@@@@END first/setup_data@@@@",
                                     "@@@@RC first/setup_data=0@@@@"]) + "\n").encode(), seen)
    small = (FIX / "public").glob("*.log")
    first = sorted(small)[0].read_bytes()[:1500]
    _put("text", gzip.compress(first, mtime=0), seen)
    _put("text", gzip.compress(first, mtime=0)[:200], seen)  # truncated
    for dump in sorted((FIX / "bootlogs").glob("dump-*.log"))[::3]:
        secs = _sections(dump)
        if "iomem" in secs:
            _put("iomem", ("\n".join(secs["iomem"]) + "\n").encode(), seen)
        if "firmware_memmap" in secs:
            _put("memmap", _memmap_tree(secs["firmware_memmap"], ""), seen)


def _memmap_tree(lines: list[str], prefix: str) -> bytes:
    out = b""
    for line in lines:
        parts = line.split(" ", 3)
        if len(parts) != 4:
            continue
        n, start, end, type_ = parts
        for f, v in (("start", start), ("end", end), ("type", type_)):
            out += f"=== {prefix}{n}/{f}\n{v}\n".encode()
    return out


def toml_seeds(seen: dict) -> None:
    scen = ROOT / "src/earlymem/scenario/scenarios/seed-2011.toml"
    _put("toml", scen.read_bytes(), seen)
    _put("inputs", b"\x01" + scen.read_bytes(), seen)
    doc = (ROOT / "docs/machine-toml.md").read_text()
    for block in re.findall(r"```toml\n(.*?)```", doc, re.DOTALL):
        _put("toml", block.encode(), seen)
        _put("inputs", b"\x01" + block.encode(), seen)
    for m in ("kaslr/matrix.toml", "uefi/matrix.toml", "uefi/kaslr-matrix.toml"):
        cut = (FIX / m).read_bytes()[: MAX_LEN["toml"]]
        _put("toml", cut[: cut.rfind(b"\n[[boot]]") + 1] if b"\n[[boot]]" in cut else cut, seen)
    matrix = (FIX / "oracle/matrix.toml").read_bytes()
    cut = matrix[: MAX_LEN["toml"]]
    _put("toml", cut[: cut.rfind(b"\n[[boot]]") + 1] if b"\n[[boot]]" in cut else cut, seen)
    _put("toml", b'kernel_version = "6.1"\ncommand_line = "crashkernel=256M"\n[[e820]]\nstart = 0\nsize = "640K"\n'
         b'type = "usable"\n[[e820]]\nstart = "1M"\nlast = 0xBFFFFFFF\ntype = 1\n[[numa]]\nnode = 0\nstart = 0\nsize = "3G"\n'
         b'[[cpus]]\napic = 0\nnode = 0\n[initrd]\nstart = "512M"\nsize = "16M"\n[running]\nallocate = "1G"\n'
         b'[kdump]\nbzimage_size = 8000000\nsetup_sects = 27\nprotocol = "2.15"\nkernel_alignment = "2M"\n', seen)


# -- binary formats ------------------------------------------------------------------------------------------

KBASE = 0xFFFFFFFF80000000
TEXT = 0x1000000


def elf64(e_type: int, sections: list[tuple], segments: list[tuple] = (), entry: int = 0) -> bytes:
    """A little-endian x86_64 ELF: ``sections`` are (name, sh_type, flags, addr, data-or-size, align)."""
    names = b"\0"
    offs = []
    for s in sections:
        offs.append(len(names))
        names += s[0].encode() + b"\0"
    shstr_name = len(names)
    names += b".shstrtab\0"
    body = b""
    data_off = 64 + 56 * len(segments)
    placed = []
    for name, typ, flags, addr, data, align in sections:
        if typ == 8:  # NOBITS
            placed.append((data_off + len(body), data))
            continue
        pad = -(data_off + len(body)) % min(max(align, 1), 16)  # file offsets need not follow sh_addralign
        body += bytes(pad)
        placed.append((data_off + len(body), len(data)))
        body += data
    shstr_off = data_off + len(body)
    body += names
    body += bytes(-len(body) % 8)
    shoff = data_off + len(body)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", e_type, 62, 1, entry, 64 if segments else 0, shoff, 0, 64, 56,
                               len(segments), 64, len(sections) + 2, len(sections) + 1)
    phdrs = b"".join(struct.pack("<IIQQQQQQ", 1, 7, 0, vaddr, paddr, 0, memsz, 0x200000) for vaddr, paddr, memsz in segments)
    shdrs = bytes(64)
    for (name, typ, flags, addr, data, align), off, (foff, size) in zip(sections, offs, placed):
        shdrs += struct.pack("<IIQQQQIIQQ", off, typ, flags, addr, foff, size, 0, 0, align, 0)
    shdrs += struct.pack("<IIQQQQIIQQ", shstr_name, 3, 0, 0, shstr_off, len(names), 0, 0, 1, 0)
    return ehdr + phdrs + body + shdrs


def btf_blob() -> bytes:
    strings = b"\0int\0pglist_data\0u\0zone\0a\0b\0"
    t = lambda n, k, v, s: struct.pack("<III", n, (k << 24) | v, s)
    types = (t(1, 1, 0, 4) + struct.pack("<I", 32) + t(5, 4, 2, 0x2A880) + struct.pack("<III", 17, 1, 0) * 2
             + t(0, 6, 3, 4) + struct.pack("<Ii", 21, 0) * 3 + t(17, 5, 1, 8) + struct.pack("<III", 19, 1, 0)
             + t(19, 4, 0, 0x680) + t(0, 2, 0, 1) + t(0, 13, 2, 1) + struct.pack("<II", 1, 1) * 2)
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def realmode_blob() -> bytes:
    """.init.data holding a real_mode_header at offset 0 and its relocation list (rmpiggy.S)."""
    words = [0x1000, 0x1010, 0x1020, 0x1030, 0x1040, 0x1050, 0x1060, 0x1070, 0x1080, 8]
    blob = bytearray(0x1100)
    struct.pack_into("<10I", blob, 0, *words)
    relocs = struct.pack("<I2I", 2, 4, 8) + struct.pack("<I1I", 1, 12)
    return bytes(blob[:0x1080]) + relocs + bytes(64)


def purgatory_elf() -> bytes:
    return elf64(1, [(".text", 1, 6, 0, b"\x90" * 48, 16), (".rodata", 1, 2, 0, b"abc", 8), (".data", 1, 3, 0, bytes(24), 8),
                     (".bss", 8, 3, 0, 0x40, 64)], entry=0x10)


def vmlinux(*, btf=True, realmode=True, purgatory=True) -> bytes:
    secs = [(".text", 1, 6, KBASE + TEXT, b"\xcc" * 64, 4096),
            (".rodata", 1, 2, KBASE + TEXT + 0x200000, b"\0" * 32, 4096),
            (".data", 1, 3, KBASE + TEXT + 0x400000, purgatory_elf() if purgatory else bytes(32), 4096),
            (".data..percpu", 1, 3, 0, bytes(16), 64),
            (".init.text", 1, 6, KBASE + TEXT + 0x600000, b"\xc3" * 16, 16)]
    if realmode:
        secs.append((".init.data", 1, 3, KBASE + TEXT + 0x700000, realmode_blob(), 4096))
    secs += [(".smp_locks", 1, 2, KBASE + TEXT + 0x800000, bytes(8), 8),
             (".bss", 8, 3, KBASE + TEXT + 0x900000, 0x100000, 4096),
             (".brk", 8, 3, KBASE + TEXT + 0xA00000, 0x40000, 4096)]
    if btf:
        secs.append((".BTF", 1, 2, KBASE + TEXT + 0xB00000, btf_blob(), 4))
    return elf64(2, secs, [(KBASE + TEXT, TEXT, 0xB00000)], entry=KBASE + TEXT)


def lz4_legacy(data: bytes) -> bytes:
    import lz4.block

    c = lz4.block.compress(data, store_size=False)
    return b"\x02\x21\x4c\x18" + struct.pack("<I", len(c)) + c


COMPRESS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "bzip2": bz2.compress,
    "zstd": lambda d: __import__("zstandard").ZstdCompressor().compress(d),
    "lz4": lz4_legacy,
}


def bzimage(payload: bytes, *, version=0x020F, setup_sects=1) -> bytes:
    setup = bytearray((setup_sects or 4) * 512 + 512)
    struct.pack_into("<B", setup, 0x1F1, setup_sects)
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200:0x202] = b"\xeb\x66"
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<H", setup, 0x20E, 0x100)
    setup[0x300:0x31D] = b"6.1.0-test (earlymem) #1 SMP\0"
    struct.pack_into("<B", setup, 0x211, 1)
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<BB", setup, 0x234, 1, 21)
    struct.pack_into("<I", setup, 0x230, 0x200000)
    struct.pack_into("<H", setup, 0x236, 3)
    struct.pack_into("<I", setup, 0x238, 2048)
    struct.pack_into("<II", setup, 0x248, 0x40, len(payload))
    struct.pack_into("<Q", setup, 0x258, TEXT)
    struct.pack_into("<I", setup, 0x260, 0x3F97000)
    return bytes(setup) + bytes(0x40) + payload + bytes(16)


def newc(name: str | bytes, body: bytes = b"", *, mode=0o100644, magic=b"070701", ino=1) -> bytes:
    raw = name.encode() + b"\0" if isinstance(name, str) else name
    values = [ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), sum(body) & 0xFFFFFFFF if magic == b"070702" else 0]
    out = magic + b"".join(b"%08X" % v for v in values) + raw
    out += bytes(-len(out) % 4) + body
    return out + bytes(-len(out) % 4)


def cpio_archive(*entries: bytes, magic=b"070701") -> bytes:
    return b"".join(entries) + newc("TRAILER!!!", mode=0, magic=magic, ino=0)


def binary_seeds(seen: dict) -> None:
    from earlymem.sources import image_cache
    from earlymem.sources.bzimage import kernel_build, parse_bzimage

    full = vmlinux()
    _put("elf", full, seen)
    _put("elf", vmlinux(btf=False, realmode=False, purgatory=False), seen)
    for comp in COMPRESS.values():
        _put("bzimage", bzimage(comp(full)), seen)
    _put("bzimage", bzimage(COMPRESS["gzip"](vmlinux(realmode=False)), version=0x0207), seen)
    _put("bzimage", bzimage(COMPRESS["xz"](vmlinux(btf=False)), version=0x0209, setup_sects=0), seen)
    _put("btf", btf_blob(), seen)
    _put("purgatory", b"\x7fELF\x02\x01\x01" + bytes(64) + purgatory_elf(), seen)
    _put("purgatory", full, seen)
    _put("realmode", struct.pack("<Q", KBASE + TEXT + 0x700000) + realmode_blob(), seen)
    _put("realmode", struct.pack("<Q", 0x123) + bytes(-0x123 % 4096) + realmode_blob(), seen)
    simple = cpio_archive(newc(".", mode=0o40755), newc("init", b"#!/bin/sh\necho hi\n", mode=0o100755),
                          newc("bin/sh", b"busybox", mode=0o120777), newc("dev/console", mode=0o20600))
    _put("cpio", simple, seen)
    _put("cpio", cpio_archive(newc("f", b"\xff\x01\x02", magic=b"070702"), magic=b"070702"), seen)
    for comp in COMPRESS.values():
        _put("cpio", comp(simple), seen)
    micro = cpio_archive(newc("kernel/x86/microcode/GenuineIntel.bin", b"\x01" * 37))
    _put("cpio", micro + bytes(64) + COMPRESS["gzip"](simple) + bytes(7) + COMPRESS["zstd"](simple + bytes(8) + micro), seen)
    build = kernel_build(parse_bzimage(bzimage(COMPRESS["gzip"](full)), "vmlinuz"))
    _put("image_cache", image_cache.json.dumps(image_cache._to_json("0" * 64, build, "6.1.0-test")).encode(), seen)
    _put("image_cache", image_cache.json.dumps(image_cache._to_json("0" * 64, None, None)).encode(), seen)


def sosreport_seeds(seen: dict) -> None:
    """Small sosreports: plain tar, gzip and xz, with a link, and one with a traversal member."""
    import io
    import tarfile

    top = "sosreport-h-2026-12-05-x"
    files = {"proc/cmdline": b"ro crashkernel=auto\n", "sos_commands/kernel/dmesg": b"[    0.000000] Linux version 4.18.0-305.el8.x86_64\n",
             "sys/kernel/kexec_crash_size": b"0\n", "etc/kdump.conf": b"path /var/crash\n"}

    def tar(mode: str, extra: str | None = None) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode, format=tarfile.USTAR_FORMAT) as t:
            for rel, data in files.items():
                info = tarfile.TarInfo(f"{top}/{rel}")
                info.size, info.mtime = len(data), 0
                t.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo(f"{top}/uname")
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, "sos_commands/kernel/dmesg", 0
            t.addfile(info)
            if extra:
                info = tarfile.TarInfo(extra)
                info.size, info.mtime = 1, 0
                t.addfile(info, io.BytesIO(b"x"))
        return buf.getvalue().rstrip(b"\0") + bytes(1024)

    _put("sosreport", tar("w"), seen)
    _put("sosreport", tar("w", "../evil"), seen)
    # an Insights archive's layout: data/ and insights_commands/
    files = {"data/insights_commands/dmesg": b"[    0.000000] NUMA: Initialized distance table, cnt=2\n",
             "data/proc/cmdline": b"ro\n", "data/sys/kernel/kexec_crash_size": b"0\n"}
    top = "insights-h-20261205101010"
    _put("sosreport", gzip.compress(tar("w"), mtime=0), seen)
    files = {"proc/cmdline": b"ro crashkernel=auto\n", "sos_commands/kernel/dmesg": b"[    0.000000] Linux version 4.18.0-305.el8.x86_64\n",
             "sys/kernel/kexec_crash_size": b"0\n", "etc/kdump.conf": b"path /var/crash\n"}
    top = "sosreport-h-2026-12-05-x"
    plain = tar("w")
    _put("sosreport", gzip.compress(plain, mtime=0), seen)
    _put("sosreport", lzma.compress(plain), seen)


def kdump_text_seeds(seen: dict) -> None:
    """An lsinitrd listing (header, device node, symlink), a cpio -itv one, kdump-tools and sysconfig
    files (one with quotes that do not close), and a kdump.conf with network and crypt targets."""
    seeds = [
        "Image: /boot/initramfs-5.14.0-284.el9.x86_64kdump.img: 26M\n" + "=" * 72 + "\nVersion: dracut-057\n\ndracut modules:\nbash\n"
        + "=" * 72 + "\ncrw-r--r--   1 root     root       5,   1 Feb 14 09:12 dev/console\n"
        "lrwxrwxrwx   1 root     root            7 Feb 14 09:12 bin -> usr/bin\n"
        "-rwxr-xr-x   1 root     root      1396520 Jan 24  2023 usr/bin/bash\n",
        "drwxr-xr-x  12 root     root            0 Dec 05 2026 .\n-rwxr-xr-x   1 root     root      1982256 May 07 2026 bin/busybox\n",
        'KDUMP_CMDLINE_APPEND="reset_devices nr_cpus=1 irqpoll"\nKDUMP_KEXEC_ARGS="-s"\n',
        'KDUMP_COMMANDLINE_REMOVE="hugepages hugepagesz"\nKDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1\n',
        "# kdump.conf\nnfs my.server.com:/export/tmp\ncore_collector makedumpfile -l -d 31\ndracut_args --add crypt\n",
    ]
    for text in seeds:
        _put("kdump_text", text.encode(), seen)


def fleet_rows_seeds(seen: dict) -> None:
    """earlymem fleet's own output, as a re-run reads it: JSON lines (one cut short) and CSV (the first
    byte picks: b"j" or b"c")."""
    row = ('{"host":"h1","input":"/f/h1.log","input_hash":"0123456789abcdef","kernel":"6.1.0-50-amd64","ram":4294967296,'
           '"nodes":1,"crashkernel":"256M","crash_region":"0xaf000000-0xbeffffff","verdict":"ready","p_ready":null,"reasons":"",'
           '"recommended":"crashkernel=100M","whatif":null,"whatif_verdict":null,"whatif_why":null,"error":null}')
    _put("fleet_rows", b"j" + (row + "\n" + row.replace("h1", "h2")[:60]).encode(), seen)
    header = "host,input,input_hash,kernel,ram,nodes,crashkernel,crash_region,verdict,p_ready,reasons,recommended,whatif,whatif_verdict,whatif_why,error"
    _put("fleet_rows", b"c" + (header + "\nh1,/f/h1.log,0123,6.1.0-50-amd64,4294967296,1,256M,,ready,1/3,,,,,,\n"
                                "h2,/f/h2.log,4567,,,,,,,,,,,,,/f/h2.log:1: binary data\n").encode(), seen)


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    seen: dict = {}
    text_seeds(seen)
    toml_seeds(seen)
    binary_seeds(seen)
    sosreport_seeds(seen)
    kdump_text_seeds(seen)
    fleet_rows_seeds(seen)
    total = 0
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        size = sum(f.stat().st_size for f in files)
        total += size
        print(f"{d.name:12} {len(files):3} seeds {size:>8} bytes")
    print(f"{'total':12} {total:>18} bytes")


if __name__ == "__main__":
    main()
