"""Print what kexec-tools' embedded purgatory weighs: python tools/purgatory_facts.py /usr/sbin/kexec

The numbers go into earlymem.kexec.tools_2_0_25.KexecTools for that build.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from earlymem.sources.purgatory import purgatory_facts  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else "/usr/sbin/kexec"
f = purgatory_facts(Path(path).read_bytes(), path)
print(f"{path}: purgatory ELF at {f.offset:#x}: bufsz {f.bufsz:#x} memsz {f.memsz:#x} align {f.align:#x} entry {f.entry:#x}")
