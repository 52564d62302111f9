"""The e820 part of early boot: the printed firmware map and the user-defined map.

``setup_arch()`` (arch/x86/kernel/setup.c) first calls ``e820__memory_setup()``
(``setup_memory_region()`` on 2.6 x86_64), which sanitizes the table the boot
loader passed and prints it as ``BIOS-e820``; then ``parse_early_param()`` runs
``mem=``/``memmap=``, and ``e820__finish_early_params()`` prints the result as
``user`` if any of them set ``userdef``.  A parameter whose handler fails is
reported by init/main.c ``do_early_param()`` as ``Malformed early option``.
"""

from __future__ import annotations

from dataclasses import dataclass

from earlymem.e820 import E820Entry, E820Table, UserMapResult, apply_mem_params, sanitize
from earlymem.errors import InputError
from earlymem.kernels import KernelProfile
from earlymem.machine import Machine
from earlymem.render.e820 import format_event, format_table, header

__all__ = ["E820Report", "e820_report", "firmware_table"]


def firmware_table(machine: Machine, profile: KernelProfile, *, already_sanitized: bool) -> E820Table:
    """The table the kernel prints as ``BIOS-e820``.

    A map read back from a boot log or /sys/firmware/memmap was printed after
    sanitizing and is taken as it is; a raw map (TOML) is sanitized as
    ``e820__memory_setup()`` sanitizes ``boot_params.e820_table``, whose
    capacity is E820_MAX_ENTRIES_ZEROPAGE (128; more entries would arrive as
    SETUP_E820_EXT setup_data, which earlymem does not model).
    :raises InputError: for maps the kernel would not take (fewer than two
    entries: it would fake a BIOS-88/e801 map, which earlymem does not model).
    """
    entries = list(machine.e820)
    if not already_sanitized:
        if len(entries) > 128:
            raise InputError(
                f"{len(entries)} e820 entries: the zeropage holds 128 (SETUP_E820_EXT is not modelled)",
                source=machine.source,
                field="e820",
            )
        new = sanitize(entries, no_merge_types=profile.e820_no_merge_types, max_entries=128)
        if new is None or len(new) < 2:
            raise InputError(
                "fewer than two e820 entries after sanitizing: the kernel would fall back to a "
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

    def lines(self) -> list[tuple[str, str]]:
        """``(family, text)`` for every line, in the kernel's order.

        Families: ``e820`` (the BIOS-provided map), ``e820-edit`` (the
        KERN_DEBUG update/remove lines printed while mem=/memmap= run; a
        console at the default loglevel does not show them, ``dmesg`` does),
        ``early-param`` (KERN_WARNING: ``Malformed early option``, ``mem=nopentium
        ignored!``), ``user-map``.
        """
        out = [("e820", header("firmware", self.profile))]
        out += [("e820", ln) for ln in format_table(self.firmware_who, self.firmware, self.profile)]
        if self.user is not None:
            for event in self.user.table.events:
                text = format_event(event, self.profile)
                if text is not None:
                    out.append(("early-param" if event[0] in ("malformed", "warn") else "e820-edit", text))
            if self.user.userdef:
                out.append(("user-map", header("user", self.profile)))
                out += [("user-map", ln) for ln in format_table("user", self.user.table.entries, self.profile)]
        return out

    def dmesg_lines(self) -> list[str]:
        """The kernel's lines, in order, without timestamps."""
        return [text for _, text in self.lines()]

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
            "lines": [{"family": fam, "text": text} for fam, text in self.lines()],
        }


def e820_report(machine: Machine, profile: KernelProfile, *, already_sanitized: bool, who: str = "BIOS-e820") -> E820Report:
    """Print-ready e820 facts for ``machine`` under ``profile``."""
    fw = firmware_table(machine, profile, already_sanitized=already_sanitized)
    cmd = machine.command_line
    has_params = any(name in ("mem", "memmap") for name, _ in cmd.params())
    user = apply_mem_params(fw, cmd, profile) if has_params else None
    return E820Report(profile, fw.entries, who, user)
