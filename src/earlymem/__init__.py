"""earlymem: how Linux on x86_64 manages physical memory, from the firmware's
e820 map to a running system and a kdump load, predicted line for line.

The data flows one way (DESIGN.md): inputs (boot logs, /proc, /sys, TOML)
become a :class:`Machine`; :func:`boot` runs its kernel era's phases and
returns a typed :class:`BootResult`; :func:`kexec_load` loads a capture kernel
into it and boots that; renderers print what the kernel would print.  A script
uses it like this (docs/api.md)::

    import earlymem
    m = earlymem.load_machine("boot.log")
    r = earlymem.boot(m)
    print(r.crash, r.lines_of("crashkernel"))

The names below are loaded on first use (PEP 562 ``__getattr__``): every
command of the CLI imports this package first, and loading the whole API
took about 66 of its 78 ms of imports (README, "Start-up against a QEMU boot").
"""

from importlib import import_module

from earlymem.lib.version import EARLYMEM_VERSION as __version__

#: public name -> (module, attribute)
_API = {
    "load_machine": ("earlymem.sources.inputs", "load_machine"),
    "read_kernel": ("earlymem.sources.inputs", "read_kernel"),
    "profile_for": ("earlymem.kernels", "profile_for"),
    "boot": ("earlymem.pipeline", "boot"),
    "kexec_load": ("earlymem.kexec.capture", "kexec_load"),
    "replay": ("earlymem.scenario", "replay"),
    "verify": ("earlymem.verification", "verify_path"),
    "Machine": ("earlymem.machine", "Machine"),
    "KernelBuild": ("earlymem.kernels", "KernelBuild"),
    "BootResult": ("earlymem.result", "BootResult"),
    "KexecResult": ("earlymem.kexec.capture", "KexecResult"),
    "LoadMethod": ("earlymem.kexec.capture", "LoadMethod"),
    "ReplayResult": ("earlymem.scenario", "ReplayResult"),
    "VerifyReport": ("earlymem.verification", "VerifyReport"),
    "Verdict": ("earlymem.result", "Verdict"),
    "InputError": ("earlymem.lib.errors", "InputError"),
    "SCHEMA": ("earlymem.result", "SCHEMA"),
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'earlymem' has no attribute {name!r}")
    module, attr = _API[name]
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
