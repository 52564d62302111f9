"""The ``earlymem`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from earlymem import __version__
from earlymem.errors import EXIT_BAD_INPUT, InputError
from earlymem.kernels import PROFILES

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="earlymem")
def cli() -> None:
    """Simulate and predict how Linux on x86_64 manages physical memory.

    Every output that imitates the kernel uses that kernel era's exact printk
    format, so it can be diffed against a real log.
    """


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
    from earlymem.inputs import load_input
    from earlymem.report import e820_report

    try:
        loaded = load_input(
            dmesg=dmesg, machine_file=machine_file, proc_root=proc_root, boot=boot, kernel_version=kernel_version, append=append
        )
    except ValueError as exc:
        raise click.UsageError(str(exc))
    machine = loaded.machine
    try:
        report = e820_report(machine, loaded.profile, already_sanitized=loaded.map_is_sanitized, who=loaded.who)
    except InputError as exc:  # a command-line parameter: point at where it came from
        source, line, field = loaded.cmdline_source
        raise exc.located(source=source, line=line, field=field)
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
