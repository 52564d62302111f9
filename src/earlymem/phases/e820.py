"""The e820 part of early boot: the printed firmware map and the user-defined map.

``setup_arch()`` (arch/x86/kernel/setup.c) first calls ``e820__memory_setup()``
(``setup_memory_region()`` on 2.6 x86_64), which sanitizes the table the boot
loader passed and prints it as ``BIOS-e820``; then ``parse_early_param()`` runs
``mem=``/``memmap=``, and ``e820__finish_early_params()`` prints the result as
``user`` if any of them set ``userdef``.  A parameter whose handler fails is
reported by init/main.c ``do_early_param()`` as ``Malformed early option``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from earlymem.kernels.profile import KernelProfile
from earlymem.lib.cmdline import CommandLine
from earlymem.lib.errors import InputError, KernelPanic, Panic
from earlymem.lib.units import U64_MAX, memparse, parse_integer
from earlymem.machine import Machine
from earlymem.machine.e820 import E820Entry, E820Table, E820Type, sanitize
from earlymem.phases.e820_print_table import format_event, format_table, header

__all__ = ["E820Report", "e820_report", "firmware_table", "UserMapResult", "apply_mem_params", "reserve_setup_data"]


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
        new = sanitize(entries, no_merge_types=profile.e820.no_merge_types, max_entries=128)
        if new is None or len(new) < 2:
            raise InputError(
                "fewer than two e820 entries after sanitizing: the kernel would fall back to a "
                "BIOS-88/BIOS-e801 map, which earlymem does not model",
                source=machine.source,
                field="e820",
            )
        entries = new
    return E820Table(entries, profile.e820.capacity)


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
            if self.user.panic is not None:
                if self.user.panic.message is not None:
                    out.append(("panic", f"Kernel panic - not syncing: {self.user.panic.message}"))
                return out
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
                    "start": e.addr,
                    "end": e.addr + e.size,
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
                {"entries": entries(user.table.entries), "sanitized": self.profile.e820.sanitize_user_map}
                if user is not None and user.userdef and user.panic is None
                else None
            ),
            "panic": dataclasses.asdict(user.panic) if user is not None and user.panic is not None else None,
            "end_user_pfn": user.end_user_pfn if user is not None else None,
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
    if user is not None and user.userdef and user.panic is None:
        # e820__reserve_setup_data() runs after parse_early_param(), before
        # e820__finish_early_params() prints the user-defined map
        user = dataclasses.replace(user, table=reserve_setup_data(user.table, machine, profile))
    return E820Report(profile, fw.entries, who, user)


def reserve_setup_data(table: E820Table, machine: Machine, profile: KernelProfile) -> E820Table:
    """e820__reserve_setup_data(): ``e820__range_update(pa_data, sizeof(*data) +
    data->len, E820_TYPE_RAM, E820_TYPE_RESERVED_KERN)`` for each node, then
    e820__update_table(); after parse_early_param() (so after mem=/memmap=) and before
    e820__finish_early_params() prints the user-defined map.  ``machine.setup_data``
    are the ranges the log's ``usable ==> usable`` updates show."""
    if not machine.setup_data or not profile.e820.setup_data_reserved_kern:
        return table
    out = table.copy()
    for r in machine.setup_data:
        out.update_range(r.start, r.size, E820Type.RAM, E820Type.RESERVED_KERN)
    # its "e820: update ... usable ==> usable" lines are input facts (printed once per
    # table it updates, which differs by release), not lines earlymem predicts
    out.events = list(table.events)
    new = sanitize(out.entries, no_merge_types=profile.e820.no_merge_types, max_entries=out.capacity)
    if new is not None:
        out.entries = new
    return out


# -- parse_early_param(): mem= and memmap= (arch/x86/kernel/e820.c) -------------------------


@dataclass
class UserMapResult:
    """What ``mem=``/``memmap=`` did to the table during ``parse_early_param()``.

    :param table: the table after the parameters (sanitized if the era does so).
    :param userdef: True if the kernel prints ``user-defined physical RAM map:``.
    :param end_user_pfn: the ``mem=`` page limit of eras that cap instead of
        editing the table (x86_64 before 2.6.27), else None.
    :param ignored: parameters the kernel rejects (-EINVAL), with the reason.
    """

    table: E820Table
    userdef: bool = False
    end_user_pfn: int | None = None
    ignored: list[str] = field(default_factory=list)
    #: where an early parameter makes the kernel panic: e820__finish_early_params()'s
    #: "Invalid user supplied memory map", or a BUG_ON()
    panic: Panic | None = None


#: early_panic()'s text when the user-defined map cannot be sanitized (arch/x86/kernel/e820.c
#: e820__finish_early_params(); finish_e820_parsing() before v4.12, the same words since 2.6.25)
PANIC_USER_MAP = "Invalid user supplied memory map"


def apply_mem_params(firmware: E820Table, cmdline: CommandLine, profile: KernelProfile) -> UserMapResult:
    """Apply every ``mem=`` and ``memmap=`` of the command line, in order.

    ``parse_early_param()`` calls each early_param handler once per occurrence,
    left to right (``mem=`` and ``memmap=`` interleaved as written); then
    ``e820__finish_early_params()`` (``finish_e820_parsing()`` before v4.12)
    sanitizes the table if any parameter set ``userdef`` (since 2.6.25) and
    prints it.  Where the table cannot be sanitized the kernel panics
    (``early_panic("Invalid user supplied memory map")``): ``panic`` says why,
    a predicted outcome (:data:`PANIC_USER_MAP`).
    """
    table = firmware.copy()
    result = UserMapResult(table)
    kw = {"full_message": profile.e820.full_message}
    try:
        for name, value in cmdline.params():
            if name == "mem":
                ok = _parse_mem(value, table, result, profile, kw)
            elif name == "memmap":
                if profile.e820.memmap_comma_list:
                    # parse_memmap_opt() ignores parse_memmap_one()'s result and returns 0.
                    for item in value.split(",") if value is not None else []:
                        _parse_memmap_one(item, table, result, profile, kw)
                    ok = True
                else:
                    ok = _parse_memmap_one(value, table, result, profile, kw)
            else:
                continue
            if not ok:
                # init/main.c do_early_param(): the handler returned non-zero.
                table.events.append(("malformed", name))
    except KernelPanic as exc:  # a BUG_ON() while editing the table
        result.panic = exc.panic
        return result
    if result.userdef and profile.e820.sanitize_user_map:
        new = sanitize(table.entries, no_merge_types=profile.e820.no_merge_types, max_entries=table.capacity)
        if new is None:
            # e820__update_table() returns -1: fewer than two entries, or one that wraps past 2^64
            result.panic = Panic(PANIC_USER_MAP, "e820__finish_early_params",
                                 f"fewer than two e820 entries are left after mem=/memmap= ({len(table.entries)})"
                                 if len(table.entries) < 2 else "an e820 entry wraps past 2^64")
            return result
        table.entries = new
    return result


def _size(text: str, pos: int, profile: KernelProfile, param: str):
    try:
        return memparse(text, pos, profile.e820.memparse_suffixes)
    except InputError as exc:
        raise exc.located(field=f"{param}={text}")


def _parse_mem(value: str | None, table: E820Table, result: UserMapResult, profile: KernelProfile, kw) -> bool:
    """``parse_memopt()``.  :return: False where the handler returns -EINVAL."""
    if value is None:
        result.ignored.append("mem (no value)")
        return False
    if value == "nopentium" and profile.e820.mem_rejects_zero:
        table.events.append(("warn", "mem=nopentium ignored! (only supported on x86_32)"))
        result.ignored.append("mem=nopentium (only supported on x86_32)")
        return False
    size = _size(value, 0, profile, "mem").value
    if profile.e820.mem_caps_end_pfn:
        # arch/x86_64/kernel/e820.c (<= 2.6.26) parse_memopt: end_user_pfn only.
        result.end_user_pfn = size >> 12
        return True
    result.userdef = True
    if size == 0 and profile.e820.mem_rejects_zero:
        result.ignored.append(f"mem={value} (size 0)")
        return False
    table.remove_range(size, U64_MAX - size, E820Type.RAM, **kw)
    return True


def _parse_memmap_one(item: str | None, table: E820Table, result: UserMapResult, profile: KernelProfile, kw) -> bool:
    """``parse_memmap_one()``.  :return: False where it returns -EINVAL."""
    if item is None or item == "":
        result.ignored.append("memmap (no value)")
        return False
    if item.startswith("exactmap"):
        table.entries.clear()
        result.userdef = True
        return True
    first = _size(item, 0, profile, "memmap")
    if first.end == 0:
        result.ignored.append(f"memmap={item} (not a size)")
        return False
    mem_size, p = first.value, first.end
    result.userdef = True
    op = item[p : p + 1]
    types = {"@": E820Type.RAM, "#": E820Type.ACPI, "$": E820Type.RESERVED, "!": E820Type.PRAM}
    if op in types and op in profile.e820.memmap_forms:
        start = _size(item, p + 1, profile, "memmap")
        table.add(start.value, mem_size, types[op], **kw)
        p = start.end
    elif op == "%" and "%" in profile.e820.memmap_forms:
        start = _size(item, p + 1, profile, "memmap")
        p = start.end
        old_type = new_type = 0
        if item[p : p + 1] == "-":
            num = parse_integer(item, p + 1)
            old_type, p = num.value, num.end
        if item[p : p + 1] == "+":
            num = parse_integer(item, p + 1)
            new_type, p = num.value, num.end
        if p != len(item):
            # Checked before the edit, unlike the @#$! forms, which edit first
            # and return -EINVAL after: captures pc-4g-percent-trailing (6.1,
            # 7.2) and pc-4g-retype-debug.
            result.ignored.append(f"memmap={item} (trailing characters)")
            return False
        if old_type and new_type:
            table.update_range(start.value, mem_size, old_type, new_type, **kw)
        elif new_type:
            table.add(start.value, mem_size, new_type, **kw)
        elif old_type:
            table.remove_range(start.value, mem_size, old_type, **kw)
        else:
            table.remove_range(start.value, mem_size, None, **kw)
        return True
    elif op and op in "@#$!%":
        # A form this era does not know: the remainder is trailing garbage,
        # but the bare size was already read (falls into the 'else' below).
        result.ignored.append(f"memmap={item} ('{op}' form not known to this kernel)")
        _bare_size_limit(mem_size, table, result, profile, kw)
        return False
    else:
        _bare_size_limit(mem_size, table, result, profile, kw)
    if p != len(item):
        result.ignored.append(f"memmap={item} (trailing characters)")
        return False
    return True


def _bare_size_limit(size: int, table: E820Table, result: UserMapResult, profile: KernelProfile, kw) -> None:
    """``memmap=S`` with no address: acts like ``mem=S``."""
    if profile.e820.mem_caps_end_pfn:
        result.end_user_pfn = size >> 12
    else:
        table.remove_range(size, U64_MAX - size, E820Type.RAM, **kw)
