"""What the firmware, the boot loader and the command line hand the kernel: plain data, no readers."""

from earlymem.machine.e820 import E820Entry, E820Table, E820Type, sanitize
from earlymem.machine.machine import CpuAffinity, Machine, NumaAffinity

__all__ = ["Machine", "NumaAffinity", "CpuAffinity", "E820Entry", "E820Table", "E820Type", "sanitize"]
