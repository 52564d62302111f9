"""The ``earlymem`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from earlymem import __version__
from earlymem.kernels import PROFILES
from earlymem.lib.errors import EXIT_BAD_INPUT, InputError

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="earlymem")
def cli() -> None:
    """Simulate and predict how Linux on x86_64 manages physical memory.

    Every output that imitates the kernel uses that kernel era's exact printk
    format, so it can be diffed against a real log.
    """


def _input_options(func):
    """The input options every predicting command takes (see earlymem.sources.inputs)."""
    options = [
        click.option("--dmesg", "dmesg", type=click.Path(dir_okay=False, path_type=Path), help="A boot log (dmesg, serial console, syslog); only its input facts are used."),
        click.option("--machine", "machine_file", type=click.Path(dir_okay=False, path_type=Path), help="A machine description (TOML, docs/machine-toml.md)."),
        click.option("--proc", "proc_root", type=click.Path(file_okay=False, path_type=Path), help="A running system's root (/ or a copy with sys/firmware/memmap, proc/cmdline, proc/sys/kernel/osrelease)."),
        click.option("--append", "append", help="Extra kernel parameters, as if appended to the command line (e.g. 'memmap=64M$0x50000000')."),
        click.option("--boot", default=1, show_default=True, type=click.IntRange(min=1), help="Which boot of a multi-boot log (1 = first kernel, 2 = e.g. its kdump kernel)."),
        click.option("--kernel-version", help="Kernel release to use instead of the log's 'Linux version' banner."),
        click.option("--kernel", "kernel_image", type=click.Path(dir_okay=False, path_type=Path), help="The vmlinuz (bzImage): where the kernel lies, instead of the assumed Debian default."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load_and_report(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image=None):
    """Load one input and compute its e820 report; errors located where they came from."""
    from earlymem.boot.e820 import e820_report
    from earlymem.sources.inputs import load_input

    try:
        loaded = load_input(
            dmesg=dmesg, machine_file=machine_file, proc_root=proc_root, boot=boot,
            kernel_version=kernel_version, append=append, kernel_image=kernel_image,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc))
    if loaded.kaslr_note:
        click.echo(f"earlymem: note: {loaded.kaslr_note}", err=True)
    try:
        report = e820_report(loaded.machine, loaded.profile, already_sanitized=loaded.map_is_sanitized, who=loaded.who)
    except InputError as exc:  # a command-line parameter: point at where it came from
        source, line, field = loaded.cmdline_source
        raise exc.located(source=source, line=line, field=field)
    return loaded, report


@cli.command("e820")
@_input_options
@click.option("--format", "fmt", type=click.Choice(["dmesg", "json", "table"]), default="dmesg", show_default=True)
def e820_cmd(
    dmesg: Path | None,
    machine_file: Path | None,
    proc_root: Path | None,
    append: str | None,
    boot: int,
    kernel_version: str | None,
    kernel_image: Path | None,
    fmt: str,
) -> None:
    """Print the firmware memory map exactly as the kernel printed it.

    When the command line has mem= or memmap=, the e820 edits they make and
    the user-defined map the kernel derives follow, as that kernel prints
    them.  With --append, see what extra parameters would do.
    """
    loaded, report = _load_and_report(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image)
    machine = loaded.machine
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

    from earlymem.lib.units import format_size

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


@cli.group("oracle")
def oracle_group() -> None:
    """Boot real Debian kernels under QEMU and capture what they decided."""


def _oracle_run(configs, out: Path, jobs: int, allow_newer: bool) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from earlymem.oracle.run import prepare, run_boots

    console = Console(stderr=True)
    keys = {k for c in configs for k in c.kernels}
    prepared = prepare(keys, allow_newer=allow_newer, log=lambda m: console.print(m))
    total = sum(len(c.kernels) for c in configs)
    failures = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("booting", total=total)

        def done(result):
            status = "timed out" if result.timed_out else f"{result.seconds:.1f} s"
            if result.timed_out:
                failures.append(result.name)
            progress.console.print(f"{result.name}: {status} -> {result.directory}")
            progress.advance(task)

        run_boots(configs, prepared, out, jobs=jobs, on_done=done)
    if failures:
        raise InputError(f"{len(failures)} boot(s) timed out: {', '.join(failures)}", field="oracle")


@oracle_group.command("boot")
@click.option("--name", required=True, help="Name of the capture directory (NAME--KERNEL).")
@click.option("--kernel", "kernels", multiple=True, default=("6.1",), show_default=True, help="Kernel series: 5.10, 6.1, 6.12, 7.2 (repeatable).")
@click.option("--memory", default="1G", show_default=True, help="Guest RAM, e.g. 4G.")
@click.option("--machine", type=click.Choice(["pc", "q35"]), default="pc", show_default=True)
@click.option("--cpus", type=int, default=None, help="vCPUs (default 1, or what --numa needs).")
@click.option("--numa", "numa", multiple=True, help="A NUMA node as SIZE:CPUS, e.g. 2G:0 (repeatable, in node order).")
@click.option("--cmdline", default="", help="Extra kernel parameters (memmap=, mem= ...).")
@click.option("--crashkernel", default=None, help="crashkernel= value, e.g. 256M or 512M,high.")
@click.option("--kexec", type=click.Choice(["none", "load", "file", "both", "normal"]), default="none", show_default=True,
              help="load: kexec -p; file: kexec -s -p; both: load, unload, file; normal: kexec -l.")
@click.option("--crash", is_flag=True, help="Crash into the kdump kernel after loading it.")
@click.option("--timeout", type=int, default=300, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("captures"), show_default=True)
@click.option("--allow-newer", is_flag=True, help="Use the newest kernel of a series if the pinned one is gone from Debian.")
def oracle_boot(name, kernels, memory, machine, cpus, numa, cmdline, crashkernel, kexec, crash, timeout, out, allow_newer) -> None:
    """Boot one configuration (always with nokaslr) and write its capture."""
    from earlymem.oracle.config import make_config

    data = {"name": name, "memory": memory, "machine": machine, "cmdline": cmdline, "kexec": kexec, "crash": crash, "kernels": list(kernels), "timeout": timeout}
    if cpus is not None:
        data["cpus"] = cpus
    if crashkernel:
        data["crashkernel"] = crashkernel
    if numa:
        nodes = []
        for spec in numa:
            size, _, cpu_list = spec.partition(":")
            nodes.append({"size": size, "cpus": cpu_list or str(len(nodes))})
        data["numa"] = nodes
    config = make_config(data, "boot", "<command line>")
    _oracle_run([config], out, 1, allow_newer)


@oracle_group.command("matrix")
@click.argument("matrix_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("captures"), show_default=True)
@click.option("--only", multiple=True, help="Only these boot names (repeatable).")
@click.option("--kernel", "kernels", multiple=True, help="Only these kernel series (repeatable).")
@click.option("--jobs", type=click.IntRange(1, 8), default=2, show_default=True, help="Boots run at once.")
@click.option("--allow-newer", is_flag=True, help="Use the newest kernel of a series if the pinned one is gone from Debian.")
def oracle_matrix(matrix_file, out, only, kernels, jobs, allow_newer) -> None:
    """Boot every configuration of a TOML matrix with every kernel it names."""
    from dataclasses import replace

    from earlymem.oracle.config import read_matrix

    configs = read_matrix(matrix_file)
    if only:
        unknown = sorted(set(only) - {c.name for c in configs})
        if unknown:
            raise InputError(f"no boot named {unknown[0]!r}", source=str(matrix_file), field="--only")
        configs = [c for c in configs if c.name in only]
    if kernels:
        configs = [replace(c, kernels=tuple(k for k in c.kernels if k in kernels)) for c in configs]
        configs = [c for c in configs if c.kernels]
    _oracle_run(configs, out, jobs, allow_newer)


@cli.command("predict")
@_input_options
@click.option("--format", "fmt", type=click.Choice(["dmesg", "iomem", "zoneinfo", "buddyinfo", "json"]), default="dmesg", show_default=True,
              help="dmesg: the kernel's lines; iomem: the memory part of /proc/iomem; zoneinfo: each zone's pages block "
                   "(free pages at the hand-off; managed, watermarks and protection as they stand after boot); "
                   "buddyinfo: the free lists at the hand-off; json: the lines, as data.")
def predict_cmd(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image, fmt) -> None:
    """Print, in kernel order and format, the early-boot memory lines the kernel would print.

    The e820 maps, NUMA merge or faked-node lines, NODE_DATA, crashkernel
    reservations and failures, Zone ranges, Early memory node ranges and
    Initmem setup (for the 5.x-7.x eras); with --format iomem the memory part
    of /proc/iomem, with zoneinfo the zones' pages blocks (free pages right
    after memblock_free_all(), managed pages, watermarks and protection as
    /proc/zoneinfo shows them once boot is done), with buddyinfo the free
    lists right after memblock_free_all().  stderr names what is not
    predicted yet and what was assumed.
    """
    from earlymem.pipeline import NOT_DMESG, predict_lines

    loaded, report = _load_and_report(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image)
    profile = loaded.profile
    notes: list[str] = []
    state: dict = {}
    lines, missing = predict_lines(loaded.machine, profile, report, notes, state)
    for note in notes:
        click.echo(f"earlymem: note: {note}", err=True)
    if fmt in ("zoneinfo", "buddyinfo"):
        from earlymem.render.procfs import buddyinfo_text, zoneinfo_text

        if "handoff" not in state:
            movable = [m for m in missing if m.startswith("zoneinfo (")]
            if not profile.models_early_nodes:
                why = f"the {profile.name} era is not modelled here"
            else:
                why = movable[0] if movable else "the kernel's place is unknown (KASLR: pass nokaslr)"
            click.echo(f"earlymem: /proc/{fmt} is not predicted: {why}", err=True)
            sys.exit(1)
        if fmt == "zoneinfo":
            click.echo(zoneinfo_text(profile.zoneinfo_fields, state["handoff"], state["watermarks"], state["managed"]))
            click.echo("earlymem: note: 'pages free' is the hand-off's (the running system allocates from it); managed "
                       "pages, watermarks and protection are /proc/zoneinfo's after boot, the init memory and initrd "
                       "given back", err=True)
        else:
            click.echo(buddyinfo_text(state["handoff"]))
            click.echo("earlymem: note: the free lists right after the hand-off; the kernel later frees its init memory "
                       "and the initrd, and allocates", err=True)
        return
    if fmt == "iomem":
        iomem = [t for f, t in lines if f == "iomem"]
        if not iomem:
            click.echo(f"earlymem: /proc/iomem is not predicted for the {profile.name} era", err=True)
            sys.exit(1)
        click.echo("\n".join(iomem))
        click.echo("earlymem: note: device resources (PCI, IOAPIC, HPET, APIC, ROMs) are not predicted; they may nest or stretch the non-RAM entries", err=True)
        if not loaded.machine.kernel_resources:
            click.echo("earlymem: note: Kernel code/rodata/data/bss need --kernel VMLINUZ (with nokaslr)", err=True)
        return
    if fmt == "json":
        click.echo(json.dumps({"profile": profile.name, "lines": [{"family": f, "text": t} for f, t in lines if f != "crashkernel-determined"], "not_predicted": missing}, indent=2))
    else:
        click.echo("\n".join(t for f, t in lines if f not in NOT_DMESG))
        click.echo(f"earlymem: note: not predicted yet for the {profile.name} era: {', '.join(missing)}", err=True)


@cli.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False, path_type=Path))
@click.option("--kernel-version", help="Kernel release to use instead of the log's banner.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--diff/--no-diff", default=True, show_default=True, help="Show the differing lines of families earlymem predicts.")
def verify_cmd(paths, kernel_version, fmt, diff) -> None:
    """Compare earlymem's predictions with real captures or boot logs, family by family.

    Reads only the input facts of the first kernel; every other line is an
    expected output.  Families earlymem does not predict yet count as 0/N.
    A family is "partial" when every line earlymem predicts is right but some
    are not predicted yet.  Exits 1 if earlymem predicts a line the kernel did
    not print.
    """
    from rich.console import Console
    from rich.table import Table

    from earlymem.verify import FAMILIES, verify_path

    reports = [verify_path(p, kernel_version=kernel_version) for p in paths]
    failed = any(f.wrong for r in reports for f in r.families)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        console = Console()
        for r in reports:
            t = Table(title=f"{r.source} -- kernel {r.kernel}, profile {r.profile}")
            t.add_column("family")
            t.add_column("matched / expected", justify="right")
            t.add_column("")
            for f in r.families:
                t.add_row(FAMILIES[f.name], f"{f.matched}/{len(f.expected)}", f.state)
            console.print(t)
            if diff:
                for f in r.families:
                    if f.predicted is not None and not f.ok:
                        console.print(f"[bold]{f.name}[/bold]:", highlight=False)
                        for line in f.diff():
                            console.print(line, markup=False, highlight=False)
    if failed:
        sys.exit(1)


@cli.command("bzimage")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def bzimage_cmd(path, fmt) -> None:
    """Read a kernel image: boot-protocol header, payload, and where the kernel lies."""
    from earlymem.sources.bzimage import FIELDS, read_bzimage

    img = read_bzimage(path)
    extent = img.image_extent
    if fmt == "json":
        click.echo(json.dumps({
            "source": img.source, "protocol": img.protocol_text, "kernel_version": img.kernel_version,
            "fields": img.fields, "compression": img.compression,
            "load_segments": [{"paddr": hex(p), "memsz": hex(m)} for p, m in img.load_segments],
            "image": [hex(extent.start), hex(extent.end)] if extent else None,
            "kexec_file_probe": img.kernel_probe_error() or "ok",
            "btf_struct_sizes": {k: img.struct_sizes[k] for k in ("pglist_data", "printk_info", "prb_desc") if k in img.struct_sizes},
        }, indent=2))
        return
    click.echo(f"{img.source}: bzImage, boot protocol {img.protocol_text}, {img.size} bytes")
    if img.kernel_version:
        click.echo(f"kernel version: {img.kernel_version}")
    for f in FIELDS:
        if f.name in img.fields:
            click.echo(f"  {f.name:<22} {img.fields[f.name]:#x}")
    click.echo(f"payload: {img.compression}")
    for p, m in img.load_segments:
        click.echo(f"  PT_LOAD paddr {p:#x} memsz {m:#x}")
    if extent:
        click.echo(f"kernel image [_text, _end): {extent.start:#x}-{extent.last:#x} ({extent.size:#x} bytes)")
    for name in ("pglist_data", "printk_info", "prb_desc"):
        if name in img.struct_sizes:
            click.echo(f"  BTF sizeof(struct {name}) = {img.struct_sizes[name]:#x}")
    click.echo(f"kexec_file_load probe: {img.kernel_probe_error() or 'ok (a relocatable bzImage64)'}")
    click.echo(f"initrd_addr_max (as kexec-tools uses it): {img.initrd_addr_max:#x}")


def _segments_json(segments) -> list[dict]:
    """kexec segments as JSON numbers, in load order."""
    return [{"name": s.name, "mem": s.mem, "memsz": s.memsz, "bufsz": s.bufsz} for s in segments]


def _load_fails(exc) -> None:
    """A load the real tool refuses: its words on stderr, exit status 1 (not bad input)."""
    click.echo(f"earlymem: the load fails: {exc.message}", err=True)
    sys.exit(1)


@cli.command("kexec")
@click.option("--dmesg", "dmesg", type=click.Path(dir_okay=False, path_type=Path), help="The first kernel's boot log (its input facts).")
@click.option("--machine", "machine_file", type=click.Path(dir_okay=False, path_type=Path), help="The first kernel's machine (TOML).")
@click.option("--proc", "proc_root", type=click.Path(file_okay=False, path_type=Path), help="A running system's root.")
@click.option("--boot", default=1, show_default=True, type=click.IntRange(min=1), help="Which boot of a multi-boot log.")
@click.option("--kernel-version", help="The first kernel's release, instead of the log's banner.")
@click.option("--kernel", "kernel", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The capture kernel's vmlinuz (bzImage64).")
@click.option("--initrd", "initrd", type=click.Path(dir_okay=False, path_type=Path), help="The capture kernel's initrd (only its size matters).")
@click.option("--append", "append", default="", help="kexec's --append: the capture kernel's command line.")
@click.option("--file-load", is_flag=True, help="kexec -s: the kernel places the segments (kexec_file_load) instead of kexec-tools.")
@click.option("--normal", is_flag=True, help="kexec -l (kexec-tools): a normal load anywhere in RAM, no crash region, no capture kernel.")
@click.option("--running-kernel", type=click.Path(dir_okay=False, path_type=Path), help="The first kernel's vmlinuz, for --file-load's purgatory (default: --kernel, the usual same build).")
@click.option("--cpus", type=click.IntRange(min=1), default=1, show_default=True, help="The first kernel's possible CPUs (one PT_NOTE each).")
@click.option("--rng-ready", is_flag=True, help="kexec-tools' getrandom(GRND_NONBLOCK) succeeds (hardware with RDRAND), adding an RNG-seed setup_data segment.")
@click.option("--crash-cpu", type=click.IntRange(min=0), help="The first kernel's CPU that crashes; the capture kernel boots on it. "
              "Default: the log's 'CPU: N PID: ... Kdump: loaded' panic line, else 0.")
@click.option("--format", "fmt", type=click.Choice(["debug", "kdump", "json"]), default="debug", show_default=True,
              help="debug: what kexec -p --debug (or the kernel, for --file-load) prints; kdump: the capture kernel's predicted boot lines; json: both, as data.")
def kexec_cmd(dmesg, machine_file, proc_root, boot, kernel_version, kernel, initrd, append, file_load, normal, running_kernel, cpus, rng_ready,
              crash_cpu, fmt) -> None:
    """Predict `kexec -p` (kexec-tools 2.0.25) or `kexec -s -p` into the first
    kernel's crash region, and the capture kernel's boot."""
    from earlymem.kexec.capture import predict_crash_load
    from earlymem.kexec.file_load import KernelPurgatory
    from earlymem.kexec.holes import KexecLoadError
    from earlymem.kexec.tools_2_0_25 import KernelHeader
    from earlymem.pipeline import NOT_DMESG, predict_lines
    from earlymem.sources.bzimage import read_bzimage

    loaded, report = _load_and_report(dmesg, machine_file, proc_root, None, boot, kernel_version)
    machine, profile = loaded.machine, loaded.profile
    img = read_bzimage(kernel)
    if img.image_extent is None:
        raise InputError("the capture kernel's vmlinux could not be read (protocol before 2.08?)", source=str(kernel), field="payload")
    purgatory = None
    if file_load:
        p = read_bzimage(running_kernel).purgatory if running_kernel else img.purgatory
        if p is None:
            raise InputError("no kexec_file purgatory in the running kernel's image (CONFIG_KEXEC_FILE off?)",
                             source=str(running_kernel or kernel), field="purgatory")
        purgatory = KernelPurgatory(p.padded, p.memsz, p.align)
    initrd_size = None
    if initrd is not None:
        try:
            initrd_size = initrd.stat().st_size
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", source=str(initrd)) from None
    if normal:
        if file_load:
            raise click.UsageError("--normal is kexec-tools' kexec -l; --file-load models only crash loads")
        from earlymem.kexec.capture import predict_normal_load

        try:
            load = predict_normal_load(report, KernelHeader.from_bzimage(img), initrd_size, append, rng_ready=rng_ready)
        except KexecLoadError as exc:
            _load_fails(exc)
        if fmt == "json":
            click.echo(json.dumps({"method": "kexec -l (kexec-tools 2.0.25)", "segments": _segments_json(load.segments),
                                   "e820": [{"start": a, "end": b, "type": t} for a, b, t in load.e820], "cmdline": load.cmdline, "debug": load.debug}, indent=2))
        else:
            click.echo("\n".join(load.debug))
        return
    notes: list[str] = []
    lines, _ = predict_lines(machine, profile, report, notes)
    if crash_cpu is None:
        crash_cpu = loaded.crash_cpu
        if crash_cpu is None:
            crash_cpu = 0
            if len({c.node for c in machine.cpus}) > 1:
                notes.append("the crash is taken to happen on CPU 0, where the capture kernel then boots (pass --crash-cpu)")
    elif machine.cpus and crash_cpu >= len(machine.cpus):
        raise InputError(f"CPU {crash_cpu} is not among the machine's {len(machine.cpus)} SRAT CPUs", field="--crash-cpu")
    try:
        kp = predict_crash_load(machine, profile, report, lines, header=KernelHeader.from_bzimage(img), image_span=img.image_extent.size,
                                reserve_span=(img.reserve_end - img.image_extent.start) if img.reserve_end else None,
                                initrd_size=initrd_size, append=append, cpus=cpus, rng_ready=rng_ready, file_load=file_load, purgatory=purgatory,
                                crash_cpu=crash_cpu)
    except KexecLoadError as exc:
        _load_fails(exc)
    for note in notes + kp.notes:
        click.echo(f"earlymem: note: {note}", err=True)
    if fmt == "json":
        click.echo(json.dumps({
            "method": "kexec_file_load" if file_load else "kexec_load (kexec-tools 2.0.25)",
            "segments": _segments_json(kp.load.segments),
            "e820": [{"start": a, "end": b, "type": t} for a, b, t in kp.load.e820],
            "cmdline": kp.load.cmdline,
            "debug": kp.load.debug,
            "kdump": [{"family": f, "text": t} for f, t in kp.kdump_lines if f not in ("crashkernel-determined",)],
        }, indent=2))
    elif fmt == "kdump":
        click.echo("\n".join(t for f, t in kp.kdump_lines if f not in NOT_DMESG))
    else:
        click.echo("\n".join(kp.load.debug))
        if not file_load:
            click.echo("earlymem: note: segment[i].buf (kexec-tools' own buffers) and the ELF/relocation chatter are not printed", err=True)


@cli.command("replay")
@click.argument("scenario", default="seed-2011")
@click.option("--kernel-version", "version", default="2.6.23", show_default=True,
              help="The kernel to replay the machine under: 2.6.23-2.6.33 (bootmem), 2.6.37 (memblock), 5.10 and later (earlymem's predictor); "
                   "several, comma-separated, compare eras in brief.")
@click.option("--brief", is_flag=True, help="Only the era, the kernel's crashkernel lines, what kexec -p overwrote, and the verdict.")
@click.option("--kdump-kernel", "kdump_kernel", type=click.Path(dir_okay=False), default=None,
              help="A real bzImage to load with kexec -p instead of the scenario's [kdump] header values.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def replay_cmd(scenario, version, brief, kdump_kernel, fmt) -> None:
    """Replay a scenario (default: the 2011 report, seed-2011) from the firmware map
    to a loaded kdump kernel: the early allocator's placements, the hand-off to
    the page allocator, the running system's allocations, and where kexec -p
    writes -- with every page the load overwrote that the running kernel owned."""
    from earlymem.replay.replay import replay

    versions = [v.strip() for v in version.split(",") if v.strip()]
    if not versions:
        raise InputError("no kernel version given", field="--kernel-version")
    results = [replay(scenario, v, kdump_image=kdump_kernel) for v in versions]
    if fmt == "json":
        out = [_replay_json(scenario, r) for r in results]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return
    if brief or len(results) > 1:
        for res in results:
            click.echo(f"== {scenario} under Linux {res.version}: {res.era.source}")
            for e in res.events:
                if e.kind == "crashkernel" and e.kernel_line:
                    click.echo("| " + e.text)
            for o in res.overwritten:
                click.echo(f"   kexec -p {o.segment} overwrote PFNs {o.pfns.start:#x}-{o.pfns.end - 1:#x} held by {o.owner}")
            click.echo(f"   verdict: {res.verdict()}")
        return
    res = results[0]
    from earlymem.lib.ranges import Range
    from earlymem.mm.buddy import buddyinfo_line

    early = "bootmem" if res.era.early == "bootmem" else "memblock"
    click.echo(f"# {scenario} under Linux {version}  (lines starting with '|' are the kernel's own printk text)")
    click.echo(f"  era: {res.era.source}")
    for e in res.events:
        click.echo(("| " if e.kernel_line else "  ") + e.text)
    click.echo(f"  /proc/buddyinfo when {early} hands over (before the running system allocates):")
    for z in res.buddy:
        click.echo("| " + buddyinfo_line(z))
    for s, e, why in res.leaked:
        click.echo(f"  PFNs {s:#x}-{e - 1:#x} ({e - s} pages) lie in the crash region: {why}")
        for phase in (early, "buddy", "running"):
            owners = ", ".join(f"{o} {r.start:#x}-{r.end - 1:#x}" for r, o in res.ledger.owners(phase, Range(s, e)))
            click.echo(f"    ledger, phase {phase}: {owners}")
    a = res.allocator
    want = "every page the watermarks allow" if res.scenario.allocate is None else f"{res.scenario.allocate} pages"
    click.echo(f"  running system: {want}, order-0, from node {res.scenario.alloc_node}; zonelist order {a.zonelist_order() if a.order is None else a.order}, min_free_kbytes {a.min_free_kbytes}")
    for z, got in res.running:
        first = ", ".join(f"{r.start:#x}-{r.end - 1:#x}" for r in z.first_out)
        click.echo(f"    node {z.nid} {z.name:<6} {got.total:>9} pages (pages_low {z.pages_low}, lowmem_reserve {z.lowmem_reserve[2]}); handed out first: {first}")
    click.echo("  /proc/buddyinfo after the running system's allocations:")
    for z in res.buddy_after:
        click.echo("| " + buddyinfo_line(z))
    if res.segments:
        click.echo("  kexec -p (kexec-tools 2.0.2, i386 bzImage loader), segments in load order:")
        for i, seg in enumerate(res.segments):
            click.echo(f"    {i}: {seg.name:<40} mem {seg.mem:#010x}-{seg.end - 1:#010x} memsz {seg.memsz:#x} bufsz {seg.bufsz:#x}")
        click.echo(f"  capture kernel command line: {res.kdump_cmdline}")
        for o in res.overwritten:
            click.echo(f"  OVERWRITTEN: {o.segment} wrote PFNs {o.pfns.start:#x}-{o.pfns.end - 1:#x} ({o.pfns.size} pages) held by {o.owner}")
        for o in res.written_free:
            if res.ledger.claims.get("Crash kernel") and any(s <= o.pfns.start < e for s, e, _ in res.leaked):
                click.echo(f"  written while free: {o.segment} PFNs {o.pfns.start:#x}-{o.pfns.end - 1:#x} ({o.pfns.size} pages): the page allocator can still hand them out")
    elif res.kexec_error:
        click.echo(f"  kexec -p: {res.kexec_error}")
    for n in res.notes:
        click.echo(f"earlymem: note: {n}", err=True)
    click.echo(f"verdict: {res.verdict()}")


def _replay_json(scenario: str, res) -> dict:
    def rng(r) -> dict:
        return {"start": r.start, "end": r.end}

    b = res.boot
    return {
        "scenario": scenario,
        "kernel": res.version,
        "era": {"early_allocator": res.era.early, "source": res.era.source},
        "bitmaps": {str(n): {**rng(r), "bytes": r.size} for n, r in b.bitmaps.items()} if b else {},
        "node_data": {str(n): rng(r) for n, r in b.pgdats.items()} if b else {},
        "mem_map": {str(n): rng(r) for n, r in b.mem_maps.items()} if b else {},
        "crash": None if res.crash is None else {**rng(res.crash), "reserved": res.crash_reserved},
        "leaked": [{"start_pfn": s, "end_pfn": e, "pages": e - s, "why": w} for s, e, w in res.leaked],
        "leaked_pages": res.leaked_pages,
        "buddyinfo": [{"node": z.nid, "zone": z.name, "free_blocks_by_order": z.counts} for z in res.buddy],
        "running": {
            "zonelist_order": res.allocator.zonelist_order() if res.allocator.order is None else res.allocator.order,
            "min_free_kbytes": res.allocator.min_free_kbytes,
            "zones": [{"node": z.nid, "zone": z.name, "present_pages": z.present_pages, "pages_min": z.pages_min, "pages_low": z.pages_low,
                       "pages_high": z.pages_high, "lowmem_reserve": z.lowmem_reserve} for z in res.allocator.zones],
            "allocated": [{"node": z.nid, "zone": z.name, "pages": got.total, "ranges": [[r.start, r.end] for r in got][:64]} for z, got in res.running],
        },
        "buddyinfo_after": [{"node": z.nid, "zone": z.name, "free_blocks_by_order": z.counts} for z in res.buddy_after],
        "kexec": {
            "error": res.kexec_error,
            "segments": _segments_json(res.segments),
            "cmdline": res.kdump_cmdline,
            "overwritten": [{"segment": o.segment, "start_pfn": o.pfns.start, "end_pfn": o.pfns.end, "owner": o.owner} for o in res.overwritten],
            "overwritten_pages": res.overwritten_pages,
            "written_free": [{"segment": o.segment, "start_pfn": o.pfns.start, "end_pfn": o.pfns.end} for o in res.written_free],
        },
        "ledger": {phase: [{"start_pfn": r.start, "end_pfn": r.end, "owner": o} for r, o in owners] for phase, owners in res.ledger.phases.items()},
        "events": [{"kind": e.kind, "text": e.text, "kernel_line": e.kernel_line, **e.data} for e in res.events],
        "notes": res.notes,
        "verdict": res.verdict(),
    }


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
