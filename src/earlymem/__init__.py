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
"""

from earlymem.kernels import KernelBuild, profile_for  # noqa: E402
from earlymem.kexec.capture import KexecResult, LoadMethod, kexec_load  # noqa: E402
from earlymem.lib.errors import InputError  # noqa: E402
from earlymem.lib.version import EARLYMEM_VERSION as __version__
from earlymem.machine import Machine  # noqa: E402
from earlymem.pipeline import boot  # noqa: E402
from earlymem.replay import ReplayResult, replay  # noqa: E402
from earlymem.result import SCHEMA, BootResult, Verdict  # noqa: E402
from earlymem.sources.inputs import load_machine, read_kernel  # noqa: E402
from earlymem.verify import VerifyReport  # noqa: E402
from earlymem.verify import verify_path as verify

__all__ = ["load_machine", "read_kernel", "profile_for", "boot", "kexec_load", "replay", "verify", "Machine", "KernelBuild",
           "BootResult", "KexecResult", "LoadMethod", "ReplayResult", "VerifyReport", "Verdict", "InputError", "SCHEMA",
           "__version__"]
