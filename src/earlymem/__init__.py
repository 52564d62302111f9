"""earlymem: how Linux on x86_64 manages physical memory, from the firmware's
e820 map to a running system and a kdump load, predicted line for line.

The data flows one way (see DESIGN.md): inputs (boot logs, /proc, /sys, TOML)
become a :class:`~earlymem.machine.Machine`; a kernel profile runs its era's
setup steps over it; renderers print what the kernel would print.
"""

__version__ = "0.1.0"
