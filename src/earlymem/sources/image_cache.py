"""A disk cache of what a kernel image says (:func:`load_kernel_build`).

Reading a vmlinuz decompresses its payload and parses the vmlinux ELF and BTF
(:func:`earlymem.sources.bzimage.read_bzimage`), which takes a noticeable time
for every ``--kernel VMLINUZ`` (0.8 s for Debian's 6.1).  The facts earlymem
keeps of it, a :class:`~earlymem.kernels.builds.KernelBuild` (the struct
sizes early boot needs: about 1 KiB of JSON) and the header's version string,
are kept here, one JSON file per image; reading them back takes milliseconds.

* Where: ``$EARLYMEM_CACHE/images``, else ``$XDG_CACHE_HOME/earlymem/images``,
  else ``~/.cache/earlymem/images`` (the same base as the oracle's downloads,
  :func:`earlymem.oracle.kernels.cache_dir`).
* Key: the SHA-256 of the image's bytes (read once, at most
  :data:`~earlymem.sources.bzimage.MAX_BZIMAGE`), in a file named by
  :data:`FORMAT`, the version of the file format, which the JSON repeats.
* Written atomically (a temporary file in the same directory, then
  ``os.replace``).  A cache file that cannot be read, is cut short, has
  another format or fails validation is ignored and written anew; a
  directory that cannot be written to only means nothing is cached.

Nothing cached is trusted blindly: every field is checked for its type
before a build is made of it.  The build's ``name`` is the path given this
time, never the one the image was first read under.  A bad image raises the
same :class:`~earlymem.lib.errors.InputError` as ``read_bzimage`` would, and
nothing is cached for it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from pathlib import Path
from typing import Any

from earlymem.kernels.builds import KernelBuild, KernelHeader, KernelPurgatory
from earlymem.lib.errors import InputError
from earlymem.sources import bzimage

__all__ = ["FORMAT", "cache_file", "image_cache_dir", "load_kernel_build"]

#: Version of the cache file's format; bump it whenever what is stored, or
#: what :func:`earlymem.sources.bzimage.kernel_build` derives from an image,
#: changes (files of another format are ignored and rewritten).
FORMAT = 3
_KIND = "earlymem image facts"
#: A cache file larger than this is not one of ours (a Debian 6.1 image's is
#: about 1 KiB: kernel_build() keeps only the struct sizes early boot needs).
_MAX_CACHE_FILE = 16 << 20


def image_cache_dir() -> Path:
    """``$EARLYMEM_CACHE/images``, else ``$XDG_CACHE_HOME/earlymem/images``, else ``~/.cache/earlymem/images``."""
    base = os.environ.get("EARLYMEM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "earlymem")
    return Path(base) / "images"


def cache_file(digest: str) -> Path:
    """The cache file of the image whose SHA-256 is ``digest``."""
    return image_cache_dir() / f"v{FORMAT}-{digest}.json"


def load_kernel_build(path: str | Path) -> tuple[KernelBuild | None, str | None]:
    """``(build, kernel_version)`` of the bzImage at ``path``, from the cache when it has them.

    ``build`` is :func:`~earlymem.sources.bzimage.kernel_build`'s (None when the
    vmlinux cannot be read: a boot protocol before 2.08); ``kernel_version`` is
    the setup header's version text (``img.kernel_version``), or None.

    :raises InputError: naming the file (and the field), as ``read_bzimage`` does.
    """
    p = Path(path)
    data = _read_image(p)
    digest = hashlib.sha256(data).hexdigest()
    target = cache_file(digest)
    cached = _load(target, digest)
    if cached is not None:
        build, version = cached
        return (_renamed(build, str(p)) if build is not None else None), version
    img = bzimage.parse_bzimage(data, str(p))
    del data
    build = bzimage.kernel_build(img)
    _store(target, _to_json(digest, build, img.kernel_version))
    return build, img.kernel_version


def _read_image(p: Path) -> bytes:
    """The file's bytes, refused as ``read_bzimage`` refuses them (too large, unreadable)."""
    limit = bzimage.MAX_BZIMAGE
    try:
        size = p.stat().st_size
        if size > limit:
            raise InputError(f"{size} bytes is larger than any bzImage ({limit} accepted)", source=str(p))
        with open(p, "rb") as f:
            data = f.read(limit + 1)  # bounded even if the file grows (or is a device)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(p)) from None
    if len(data) > limit:
        raise InputError(f"more than {limit} bytes is larger than any bzImage ({limit} accepted)", source=str(p))
    return data


def _renamed(build: KernelBuild, name: str) -> KernelBuild:
    return build if build.name == name else replace(build, name=name)


# -- the file format ----------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """A cache file that is not a valid one of ours."""


def _int(v: Any) -> int:
    if type(v) is not int or v < 0:
        raise _Invalid(f"not a non-negative integer: {v!r}")
    return v


def _str(v: Any) -> str:
    if type(v) is not str:
        raise _Invalid(f"not a string: {v!r}")
    return v


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise _Invalid(f"not a boolean: {v!r}")
    return v


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else check(v)


def _sizes(v: Any) -> dict[str, int]:
    if type(v) is not dict:
        raise _Invalid("not an object")
    return {_str(k): _int(x) for k, x in v.items()}


def _resources(v: Any) -> tuple[tuple[str, int, int], ...]:
    if type(v) is not list:
        raise _Invalid("not a list")
    out = []
    for r in v:
        if type(r) is not list or len(r) != 3:
            raise _Invalid("a resource is not [name, start, end]")
        out.append((_str(r[0]), _int(r[1]), _int(r[2])))
    return tuple(out)


def _record(cls: type, checks: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def load(v: Any) -> Any:
        if type(v) is not dict or set(v) != set(checks):
            raise _Invalid(f"not a {cls.__name__}")
        return cls(**{k: checks[k](v[k]) for k in checks})

    return load


#: payload_length and output_len (format 3) are None where the image does not say them
_HEADER = {f.name: (_bool if f.name == "relocatable" else _optional(_int) if f.name in ("payload_length", "output_len") else _int)
           for f in dataclass_fields(KernelHeader)}
_PURGATORY = {f.name: _int for f in dataclass_fields(KernelPurgatory)}

#: How each KernelBuild field is read back (tests check that it names every field).
FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": _str,
    "release": _optional(_str),
    "load_addr": _int,
    "image_span": _int,
    "reserve_span": _optional(_int),
    "brk_size": _optional(_int),
    "struct_sizes": _sizes,
    "image_frees": _sizes,
    "resources": _resources,
    "header": _optional(_record(KernelHeader, _HEADER)),
    "purgatory": _optional(_record(KernelPurgatory, _PURGATORY)),
    "banner_tag": _optional(_str),
    "log_buf_shift": _int,
}


def _build_json(build: KernelBuild) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        v = getattr(build, name)
        if name in ("struct_sizes", "image_frees"):
            v = dict(v)
        elif name == "resources":
            v = [list(r) for r in v]
        elif name in ("header", "purgatory") and v is not None:
            v = {f.name: getattr(v, f.name) for f in dataclass_fields(v)}
        out[name] = v
    return out


def _to_json(digest: str, build: KernelBuild | None, version: str | None) -> dict[str, Any]:
    return {"kind": _KIND, "format": FORMAT, "sha256": digest, "kernel_version": version,
            "build": None if build is None else _build_json(build)}


def _from_json(doc: Any, digest: str) -> tuple[KernelBuild | None, str | None]:
    """:raises _Invalid: for anything but a complete, well-typed record of the image ``digest``."""
    if type(doc) is not dict or set(doc) != {"kind", "format", "sha256", "kernel_version", "build"}:
        raise _Invalid("not an image-facts record")
    if doc["kind"] != _KIND or doc["format"] != FORMAT or doc["sha256"] != digest:
        raise _Invalid("another kind, format or image")
    version = _optional(_str)(doc["kernel_version"])
    b = doc["build"]
    if b is None:
        return None, version
    if type(b) is not dict or set(b) != set(FIELDS):
        raise _Invalid("the build's fields differ")
    return KernelBuild(**{k: check(b[k]) for k, check in FIELDS.items()}), version


def _load(target: Path, digest: str) -> tuple[KernelBuild | None, str | None] | None:
    """The cached facts, or None when there are none that can be trusted."""
    try:
        with open(target, "rb") as f:
            raw = f.read(_MAX_CACHE_FILE + 1)
        if len(raw) > _MAX_CACHE_FILE:
            return None
        return _from_json(json.loads(raw), digest)
    except (OSError, ValueError, RecursionError, TypeError, _Invalid):
        # missing, unreadable, not JSON (cut short), not ours: read the image again
        return None


def _store(target: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``target`` atomically; any failure only means it is not cached."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        os.replace(tmp, target)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
