"""Build the oracle's initramfs images (newc cpio, gzip).

* the kdump image: busybox and ``init.sh``; for a dump (``dump`` "small" or
  "large"), also makedumpfile and its libraries, and for "large" 32 MiB of
  pseudo-random bytes (SHAKE-256, so every build is the same) and 32 MiB of
  zeros: a dracut-sized image, 32 MiB compressed and 64 MiB more unpacked;
* the main image: the same, plus kexec and the shared libraries it loads (as
  ``ldd`` lists them), ``/bin/kexec-file-load`` (kexec_file_load.c) and
  ``/bin/setup-data-chain`` (setup_data_chain.c), both built static, the kernel itself as ``/boot/vmlinuz`` (the kdump kernel is the
  same kernel version) and the kdump image as ``/boot/kdump-initrd.img``.

Images are rebuilt only when an input changes (a hash of the inputs names them).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from earlymem.lib.errors import InputError

__all__ = ["build_initramfs", "init_script"]


def init_script() -> str:
    """The guest's /init (src/earlymem/oracle/init.sh)."""
    return resources.files("earlymem.oracle").joinpath("init.sh").read_text()


#: the guest's helper programs: /bin/<name> built from src/earlymem/oracle/<source>
HELPERS = {"kexec-file-load": "kexec_file_load.c", "setup-data-chain": "setup_data_chain.c"}


def _helper_source(name: str) -> str:
    return resources.files("earlymem.oracle").joinpath(HELPERS[name]).read_text()


def _build_helper(gcc: str, name: str, out: Path) -> None:
    """Compile a helper statically (it runs in the bare initramfs)."""
    src = out.with_suffix(".c")
    src.write_text(_helper_source(name))
    proc = subprocess.run([gcc, "-static", "-O2", "-s", "-o", str(out), str(src)], capture_output=True, text=True)
    src.unlink()
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"cannot build the {name} helper (gcc -static): {last}", field="oracle")


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def _cpio(root: Path, out: Path) -> None:
    """Write ``root`` as a gzip-compressed newc cpio archive owned by root."""
    names = "\n".join(["."] + sorted(str(p.relative_to(root)) for p in root.rglob("*"))) + "\n"
    raw = out.with_suffix(".cpio")
    with open(raw, "wb") as sink:
        proc = subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], input=names.encode(), cwd=root, stdout=sink, stderr=subprocess.PIPE
        )
    if proc.returncode != 0:
        raise InputError(f"cpio failed: {proc.stderr.decode(errors='replace').strip()[-200:]}", field="oracle")
    with open(raw, "rb") as src, gzip.GzipFile(out, "wb", compresslevel=6, mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    raw.unlink()


def _base_tree(root: Path, busybox: str) -> None:
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "boot"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, root / "bin/busybox")
    init = root / "init"
    init.write_text(init_script())
    init.chmod(0o755)


def kdump_bytes_file(main: Path) -> Path:
    """Where the size of ``main``'s /boot/kdump-initrd.img is kept."""
    return main.with_suffix(".kdump-initrd-bytes")


#: the large kdump image's padding: (file, bytes, random?)
PADDING = (("pad/random.bin", 32 << 20, True), ("pad/zero.bin", 32 << 20, False))


def _dump_tree(root: Path, makedumpfile: str, dump: str, pad: int = 0) -> None:
    """Add makedumpfile, its libraries, (``large``) the padding and ``pad`` bytes of zeros to a kdump tree."""
    (root / "usr/sbin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(makedumpfile, root / "usr/sbin/makedumpfile")
    _copy_libraries(makedumpfile, root)
    if dump == "large":
        for name, size, random in PADDING:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(hashlib.shake_256(b"earlymem kdump padding").digest(size) if random else bytes(size))
    if pad:
        (root / "pad").mkdir(exist_ok=True)
        (root / "pad/extra-zeros.bin").write_bytes(bytes(pad))


def _copy_libraries(binary: str, root: Path) -> None:
    for lib in _libraries(binary):
        dest = root / lib.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(lib), dest)


def build_initramfs(vmlinuz: Path, tools: dict[str, str], out_dir: Path, dump: str = "none", pad: int = 0) -> Path:
    """Build (or reuse) the main initramfs for ``vmlinuz``; ``dump`` chooses the
    kdump image inside it (see the module's text).  :return: its path."""
    kexec = tools["kexec"]
    libs = _libraries(kexec)
    h = hashlib.sha256()
    dump_files = [tools["makedumpfile"], *_libraries(tools["makedumpfile"])] if dump != "none" else []
    for f in [tools["busybox"], kexec, *libs, str(vmlinuz), *dump_files]:
        st = os.stat(f)
        h.update(f"{f}:{st.st_size}:{int(st.st_mtime)}".encode())
    h.update(init_script().encode())
    for name in HELPERS:
        h.update(_helper_source(name).encode())
    if dump != "none":  # the images of earlier captures keep their names
        h.update(f"dump={dump}:{PADDING}".encode())
    if pad:
        h.update(f"pad={pad}".encode())
    out_dir.mkdir(parents=True, exist_ok=True)
    main = out_dir / f"main-{h.hexdigest()[:16]}.img"
    if main.is_file():
        return main
    with tempfile.TemporaryDirectory() as tmp:
        kroot, mroot = Path(tmp) / "kdump", Path(tmp) / "main"
        _base_tree(kroot, tools["busybox"])
        if dump != "none":
            _dump_tree(kroot, tools["makedumpfile"], dump, pad)
        kdump = Path(tmp) / "kdump-initrd.img"
        _cpio(kroot, kdump)
        # the capture kernel's initrd size is an input of every kexec
        # prediction: the note of each capture records it
        kdump_bytes_file(main).write_text(f"{kdump.stat().st_size}\n")
        _base_tree(mroot, tools["busybox"])
        (mroot / "usr/sbin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(kexec, mroot / "usr/sbin/kexec")
        for name in HELPERS:
            _build_helper(tools["gcc"], name, mroot / "bin" / name)
        _copy_libraries(kexec, mroot)
        shutil.copy2(vmlinuz, mroot / "boot/vmlinuz")
        shutil.copy2(kdump, mroot / "boot/kdump-initrd.img")
        tmp_main = main.with_suffix(".partial")
        _cpio(mroot, tmp_main)
        tmp_main.rename(main)
    return main
