"""The ``earlymem`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from earlymem import __version__
from earlymem.errors import EXIT_BAD_INPUT, InputError
from earlymem.kernels import PROFILES, KernelProfile, parse_version, profile_for

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="earlymem")
def cli() -> None:
    """Simulate and predict how Linux on x86_64 manages physical memory.

    Every output that imitates the kernel uses that kernel era's exact printk
    format, so it can be diffed against a real log.
    """


def _profile(version_text: str | None, override: str | None, source: str, line: int | None = None) -> KernelProfile:
    if override:
        try:
            return profile_for(parse_version(override))
        except InputError as exc:
            raise exc.located(source="--kernel-version")
    if not version_text:
        raise InputError("no kernel version (no 'Linux version' banner); pass --kernel-version", source=source)
    try:
        return profile_for(parse_version(version_text))
    except InputError as exc:
        raise exc.located(source=source, line=line)


@cli.command("e820")
@click.option("--dmesg", "dmesg", type=click.Path(dir_okay=False, path_type=Path), help="A boot log (dmesg, serial console, syslog).")
@click.option("--machine", "machine_file", type=click.Path(dir_okay=False, path_type=Path), help="A machine description (TOML, docs/machine-toml.md).")
@click.option("--proc", "proc_root", type=click.Path(file_okay=False, path_type=Path), help="A running system's root (/ or a copy with sys/firmware/memmap, proc/cmdline, proc/sys/kernel/osrelease).")
@click.option("--append", "append", help="Extra kernel parameters, as if appended to the command line (e.g. 'memmap=64M$0x50000000').")
@click.option("--boot", default=1, show_default=True, type=click.IntRange(min=1), help="Which boot of a multi-boot log (1 = first kernel, 2 = e.g. its kdump kernel).")
@click.option("--kernel-version", help="Kernel release to use instead of the log's 'Linux version' banner.")
@click.option("--format", "fmt", type=click.Choice(["dmesg", "json", "table"]), default="dmesg", show_default=True)
def e820_cmd(
    dmesg: Path | None,
    machine_file: Path | None,
    proc_root: Path | None,
    append: str | None,
    boot: int,
    kernel_version: str | None,
    fmt: str,
) -> None:
    """Print the firmware memory map exactly as the kernel printed it.

    When the command line has mem= or memmap=, the e820 edits they make and
    the user-defined map the kernel derives follow, as that kernel prints
    them.  With --append, see what extra parameters would do.
    """
    from earlymem.cmdline import CommandLine
    from earlymem.machine import Machine
    from earlymem.report import e820_report
    from earlymem.sources.dmesg import read_boot_logs

    if sum(x is not None for x in (dmesg, machine_file, proc_root)) != 1:
        raise click.UsageError("give exactly one of --dmesg FILE, --machine FILE or --proc DIR")
    who = "BIOS-e820"
    cmd_line: int | None = None
    field = None
    if dmesg is not None:
        boots = read_boot_logs(dmesg)
        if boot > len(boots):
            raise InputError(f"the log has {len(boots)} boot(s), not {boot}", source=str(dmesg), field="--boot")
        log = boots[boot - 1]
        machine = Machine.from_boot_log(log)
        profile = _profile(log.version, kernel_version, str(dmesg), log.version_lineno)
        who, cmd_line, source = log.firmware.who, log.command_line_lineno, str(dmesg)
        # A map read back from a log was printed after sanitizing.
        sanitized = True
    elif machine_file is not None:
        machine = Machine.from_toml(machine_file)
        source, field, sanitized = str(machine_file), "command_line", False
        profile = _profile(str(machine.kernel_version) if machine.kernel_version else None, kernel_version, source)
    else:
        machine = Machine.from_proc(proc_root)
        # /sys/firmware/memmap is e820_table_firmware: the sanitized BIOS map.
        source, field, sanitized = str(proc_root), "proc/cmdline", True
        profile = _profile(str(machine.kernel_version) if machine.kernel_version else None, kernel_version, source)
    if append:
        machine.command_line = CommandLine(f"{machine.command_line.text} {append}".strip())
        cmd_line, field = None, "--append"
    try:
        report = e820_report(machine, profile, already_sanitized=sanitized, who=who)
    except InputError as exc:  # a command-line parameter: point at where it came from
        raise exc.located(source=source if field != "--append" else "--append", line=cmd_line, field=field)
    if fmt == "dmesg":
        click.echo("\n".join(report.dmesg_lines()))
    elif fmt == "json":
        data = {"source": machine.source, "kernel_version": kernel_version or (str(machine.kernel_version) if machine.kernel_version else None)}
        data.update(report.to_json())
        click.echo(json.dumps(data, indent=2))
    else:
        _print_table(report)


def _print_table(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from earlymem.units import format_size

    console = Console()
    maps = [("firmware (" + report.firmware_who + ")", report.firmware)]
    if report.user is not None and report.user.userdef:
        maps.append(("user-defined", report.user.table.entries))
    for title, entries in maps:
        t = Table(title=f"{title} map, as kernels of the {report.profile.name} era print it")
        for col in ("start", "end (incl.)", "size", "type"):
            t.add_column(col, justify="right" if col != "type" else "left")
        for e in entries:
            t.add_row(f"{e.addr:#x}", f"{e.addr + e.size - 1:#x}", format_size(e.size), report.profile.label(e.type).strip())
        console.print(t)


@cli.command("profiles")
def profiles_cmd() -> None:
    """List the kernel eras earlymem knows, with what changed in each."""
    for p in PROFILES:
        click.echo(f"{p.name:>7}  {p.summary}")


def main() -> None:
    """Entry point: bad input gives one line on stderr and exit status 2."""
    try:
        cli.main(standalone_mode=False)
    except InputError as exc:
        click.echo(f"earlymem: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        click.echo("earlymem: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # pragma: no cover - a bug, not bad input
        if os.environ.get("EARLYMEM_DEBUG"):
            raise
        click.echo(f"earlymem: internal error: {type(exc).__name__}: {exc} (set EARLYMEM_DEBUG=1 for a traceback)", err=True)
        sys.exit(70)
