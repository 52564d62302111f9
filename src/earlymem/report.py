"""The e820 part of early boot: the printed firmware map and the user-defined map.

``setup_arch()`` (arch/x86/kernel/setup.c) first calls ``e820__memory_setup()``
(``setup_memory_region()`` on 2.6 x86_64), which sanitizes the table the boot
loader passed and prints it as ``BIOS-e820``; then ``parse_early_param()`` runs
``mem=``/``memmap=``, and ``e820__finish_early_params()`` prints the result as
``user`` if any of them set ``userdef``.  A parameter whose handler fails is
reported by init/main.c ``do_early_param()`` as ``Malformed early option``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlymem.e820 import E820Entry, E820Table, UserMapResult, apply_mem_params, sanitize
from earlymem.errors import InputError
from earlymem.kernels import KernelProfile
from earlymem.machine import Machine
from earlymem.render.e820 import format_table, header

__all__ = ["E820Report", "e820_report", "firmware_table"]


def firmware_table(machine: Machine, profile: KernelProfile, *, already_sanitized: bool) -> E820Table:
    """The table the kernel prints as ``BIOS-e820``.

    A map read back from a boot log was printed after sanitizing and is taken
    as it is; a raw map (TOML, /sys) is sanitized as ``e820__memory_setup()``
    does.  :raises InputError: for maps the kernel would not take (fewer than two
    entries: it would fake a BIOS-88/e801 map, which earlymem does not model).
    """
    entries = list(machine.e820)
    if not already_sanitized:
        new = sanitize(entries, no_merge_types=profile.e820_no_merge_types, max_entries=128)
        if new is None or len(new) < 2:
            raise InputError(
                "fewer than two usable e820 entries: the kernel would fall back to a "
                "BIOS-88/BIOS-e801 map, which earlymem does not model",
                source=machine.source,
                field="e820",
            )
        entries = new
    return E820Table(entries, profile.e820_capacity)


@dataclass
class E820Report:
    """What the kernel prints about e820 up to the user-defined map."""

    profile: KernelProfile
    firmware: list[E820Entry]
    firmware_who: str
    user: UserMapResult | None
    malformed: list[str] = field(default_factory=list)

    def dmesg_lines(self) -> list[str]:
        """The kernel's lines, in order, without timestamps."""
        lines = [header("firmware", self.profile)]
        lines += format_table(self.firmware_who, self.firmware, self.profile)
        lines += [f"Malformed early option '{name}'" for name in self.malformed]
        if self.user is not None and self.user.userdef:
            lines.append(header("user", self.profile))
            lines += format_table("user", self.user.table.entries, self.profile)
        return lines

    def to_json(self) -> dict:
        def entries(es: list[E820Entry]) -> list[dict]:
            return [
                {
                    "start": f"{e.addr:#x}",
                    "end": f"{e.addr + e.size:#x}",
                    "last": f"{e.addr + e.size - 1:#x}",
                    "size": e.size,
                    "type": e.type,
                    "label": self.profile.label(e.type).strip(),
                }
                for e in es
            ]

        user = self.user
        return {
            "profile": self.profile.name,
            "firmware": {"who": self.firmware_who, "entries": entries(self.firmware)},
            "user": (
                {"entries": entries(user.table.entries), "sanitized": self.profile.sanitize_user_map}
                if user is not None and user.userdef
                else None
            ),
            "end_user_pfn": f"{user.end_user_pfn:#x}" if user is not None and user.end_user_pfn is not None else None,
            "ignored_parameters": list(user.ignored) if user is not None else [],
            "warnings": list(user.table.warnings) if user is not None else [],
        }


def e820_report(machine: Machine, profile: KernelProfile, *, already_sanitized: bool, who: str = "BIOS-e820") -> E820Report:
    """Print-ready e820 facts for ``machine`` under ``profile``."""
    fw = firmware_table(machine, profile, already_sanitized=already_sanitized)
    cmd = machine.command_line
    has_params = any(name in ("mem", "memmap") for name, _ in cmd.params())
    user = apply_mem_params(fw, cmd, profile) if has_params else None
    malformed = []
    if user is not None:
        for item in user.ignored:
            name = item.split("=", 1)[0].split(" ", 1)[0]
            malformed.append(name)
    return E820Report(profile, fw.entries, who, user, malformed)
