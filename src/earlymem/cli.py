"""The ``earlymem`` command line: options -> the API (earlymem/__init__.py) -> a renderer.

Nothing here models the kernel or formats its output; the oracle commands drive
:mod:`earlymem.oracle`.  Exit status: 0 done, 1 a predicted failure or a
verify difference, 2 bad input (one line naming the file and line or field),
70 an internal error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from earlymem.lib.errors import EXIT_BAD_INPUT, InputError
from earlymem.lib.version import EARLYMEM_VERSION as __version__

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
        click.option("--kernel-version", help="Kernel release to use instead of the log's 'Linux version' banner (a series such as 6.1 stands for earlymem's pinned build of it)."),
        click.option("--kernel", "kernel_image", type=click.Path(dir_okay=False, path_type=Path), help="The vmlinuz (bzImage) of the kernel that boots: its facts (extent, struct sizes, frees) instead of a pinned build's."),
        click.option("--assume-era", "assume_era", metavar="RELEASE", help="Predict with the rules of RELEASE's era (e.g. 7.2): needed for a kernel newer than any earlymem knows; unverified."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_KERNEL_AT = click.option(
    "--kernel-at", "kernel_at", metavar="ADDR",
    help="The kernel's physical place (its _text: the start of /proc/iomem's 'Kernel code'), which KASLR drew: "
         "the prediction is then exact instead of a distribution over the places KASLR may draw.")


_SETUP_DATA = click.option(
    "--setup-data", "setup_data", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
    help="Where the loader's setup_data nodes lie, as the setup-data-chain helper prints them as root "
         "(src/earlymem/oracle/setup_data_chain.c): from 7.0 on no log line shows them, and under UEFI they "
         "change managed pages.")


def _load(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image=None, assume_era=None, kernel_at=None,
          setup_data=None):
    from earlymem.sources.inputs import load_input

    try:
        loaded = load_input(dmesg=dmesg, machine_file=machine_file, proc_root=proc_root, boot=boot,
                            kernel_version=kernel_version, append=append, kernel_image=kernel_image, assume_era=assume_era,
                            kernel_at=kernel_at, setup_data=setup_data)
    except ValueError as exc:
        raise click.UsageError(str(exc))
    return loaded  # (its notes are printed once the command's work succeeded: an error stays one line)


def _note(text: str) -> None:
    click.echo(f"earlymem: note: {text}", err=True)


def _assumed(items) -> None:
    """Every default the prediction used, in one block on stderr."""
    items = list(dict.fromkeys(i for i in items if i))
    if items:
        click.echo("earlymem: assumed:\n" + "\n".join(f"  - {i}" for i in items), err=True)


@cli.command("e820")
@_input_options
@click.option("--format", "fmt", type=click.Choice(["dmesg", "json", "table"]), default="dmesg", show_default=True)
def e820_cmd(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image, assume_era, fmt) -> None:
    """Print the firmware memory map exactly as the kernel printed it.

    When the command line has mem= or memmap=, the e820 edits they make and
    the user-defined map the kernel derives follow, as that kernel prints
    them.  With --append, see what extra parameters would do.
    """
    from earlymem.pipeline import e820_phase
    from earlymem.render import text

    loaded = _load(dmesg, machine_file, proc_root, append, boot, kernel_version, None, assume_era)  # (the map needs no image)
    report = e820_phase(loaded.machine, loaded.profile)
    for note in loaded.notes:
        _note(note)
    _assumed(loaded.assumed)
    machine = loaded.machine
    if fmt == "dmesg":
        click.echo("\n".join(report.dmesg_lines()))
    elif fmt == "json":
        version = str(machine.kernel_version) if machine.kernel_version else None
        click.echo(json.dumps(text.e820_json(report, machine.source, kernel_version or version), indent=2))
    else:
        text.e820_table(report)
    if report.user is not None and report.user.panic is not None:
        _note(f"predicted outcome: the kernel panics in {report.user.panic.function}(): {report.user.panic.why}")


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
    prepared = prepare(configs, allow_newer=allow_newer, log=lambda m: console.print(m))
    total = sum(len(c.kernels) * c.boots for c in configs)
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
@click.option("--dump", type=click.Choice(["none", "small", "large"]), default="none", show_default=True,
              help="The kdump kernel runs makedumpfile -F -l -d 31 into a pipe (small or large kdump initramfs; needs --crash).")
@click.option("--timeout", type=int, default=300, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("captures"), show_default=True)
@click.option("--allow-newer", is_flag=True, help="Use the newest kernel of a series if the pinned one is gone from Debian.")
def oracle_boot(name, kernels, memory, machine, cpus, numa, cmdline, crashkernel, kexec, crash, dump, timeout, out, allow_newer) -> None:
    """Boot one configuration (with nokaslr; a matrix can ask for KASLR) and write its capture."""
    from earlymem.oracle.config import make_config

    data = {"name": name, "memory": memory, "machine": machine, "cmdline": cmdline, "kexec": kexec, "crash": crash, "dump": dump, "kernels": list(kernels),
            "timeout": timeout}
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


def _matrix_options(out: str, jobs: str):
    """The options the matrix-driven oracle commands share (OUT's default and what --jobs counts differ)."""
    def wrap(func):
        for opt in reversed([
            click.argument("matrix_file", type=click.Path(dir_okay=False, path_type=Path)),
            click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path(out), show_default=True),
            click.option("--only", multiple=True, help="Only these boot names (repeatable)."),
            click.option("--kernel", "kernels", multiple=True, help="Only these kernel series (repeatable)."),
            click.option("--jobs", type=click.IntRange(1, 8), default=2, show_default=True, help=f"{jobs} run at once."),
            click.option("--allow-newer", is_flag=True, help="Use the newest kernel of a series if the pinned one is gone from Debian."),
        ]):
            func = opt(func)
        return func
    return wrap


@oracle_group.command("matrix")
@_matrix_options("captures", "Boots")
def oracle_matrix(matrix_file, out, only, kernels, jobs, allow_newer) -> None:
    """Boot every configuration of a TOML matrix with every kernel it names."""
    _oracle_run(_matrix_configs(matrix_file, only, kernels), out, jobs, allow_newer)


@oracle_group.command("sweep")
@_matrix_options("sweep", "Bisections")
@click.option("--keep-all", is_flag=True, help="Keep every boot's capture (OUT/boots/), not only the two that bracket each minimum.")
def oracle_sweep(matrix_file, out, only, kernels, jobs, allow_newer, keep_all) -> None:
    """Bisect crashkernel= on real boots for the smallest region in which a dump completes (configurations with a sweep)."""
    from rich.console import Console

    from earlymem.oracle.run import prepare
    from earlymem.oracle.sweep import sweep

    configs = [c for c in _matrix_configs(matrix_file, only, kernels) if c.sweep]
    if not configs:
        raise InputError("no configuration has a sweep = { low, high, step }", source=str(matrix_file), field="boot")
    console = Console(stderr=True)
    prepared = prepare(configs, allow_newer=allow_newer, log=lambda m: console.print(m))
    results = sweep(configs, prepared, out, jobs=jobs, keep_all=keep_all,
                    on_boot=lambda name, o: console.print(f"{name}: {o.outcome} ({o.seconds} s) {o.evidence}"))
    for r in results:
        below = r.below
        console.print(f"{r.config} on {r.kernel}: minimum {r.minimum >> 20 if r.minimum else 'none'} MiB"
                      + (f", {below.size >> 20} MiB: {below.outcome}" if below else ""))


def _matrix_configs(matrix_file, only, kernels):
    """A matrix's configurations, narrowed by --only and --kernel."""
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
    return configs


@cli.command("predict")
@_input_options
@_KERNEL_AT
@_SETUP_DATA
@click.option("--format", "fmt", type=click.Choice(["dmesg", "iomem", "zoneinfo", "buddyinfo", "json"]), default="dmesg", show_default=True,
              help="dmesg: the kernel's lines; iomem: the memory part of /proc/iomem; zoneinfo: each zone's pages block "
                   "(free pages at the hand-off; managed, watermarks and protection as they stand after boot); "
                   "buddyinfo: the free lists at the hand-off; json: the whole boot, as data (schema earlymem/boot/2).")
def predict_cmd(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image, assume_era, kernel_at, setup_data,
                fmt) -> None:
    """Print, in kernel order and format, the early-boot memory lines the kernel would print.

    The e820 maps, NUMA merge or faked-node lines, NODE_DATA, crashkernel
    reservations and failures, Zone ranges, Early memory node ranges and
    Initmem setup (for the 5.x-7.x eras); with --format iomem the memory part
    of /proc/iomem, with zoneinfo the zones' pages blocks (free pages right
    after memblock_free_all(), managed pages, watermarks and protection as
    /proc/zoneinfo shows them once boot is done), with buddyinfo the free
    lists right after memblock_free_all().  stderr names what is not
    predicted and what was assumed.
    """
    from earlymem.kernels import era_name
    from earlymem.pipeline import boot as run_boot
    from earlymem.render.boot import not_predicted_note
    from earlymem.render.iomem import iomem_text
    from earlymem.render.procfs import buddyinfo_text, zoneinfo_text

    from earlymem.kaslr import predict_for
    from earlymem.render.kaslr import kaslr_json, kaslr_notes

    loaded = _load(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image, assume_era, kernel_at, setup_data)
    profile = loaded.profile
    kp, why_not_kaslr = predict_for(loaded.machine, profile, loaded.kernel)
    if kp is not None:
        # the most probable outcome's boot stands for the prediction; the notes give the others
        result = kp.outcomes[0].result
        if kp.slots.disabled is None:
            result = result.without_kernel_resources()
    else:
        result = run_boot(loaded.machine, profile, loaded.kernel)
    for note in loaded.notes:
        _note(note)
    if why_not_kaslr is not None:
        _note(f"KASLR: the kernel's place is drawn at boot, and its distribution is not predicted: {why_not_kaslr}")
    _assumed([*loaded.assumed, *(kp.slots.notes if kp is not None else ()), *result.assumptions])
    if fmt == "json":
        click.echo(json.dumps(kaslr_json(kp) if kp is not None else result.to_json(), indent=2))
        return
    after = kaslr_notes(kp) if kp is not None else []
    if fmt in ("zoneinfo", "buddyinfo"):
        ready = result.zones and all(z.free_lists is not None and z.managed is not None for z in result.zones)
        if not ready:
            why = (result.why_not("zoneinfo") or result.why_not("zoneinfo managed pages")
                   or f"zones are not modelled for {era_name(loaded.machine.kernel_version, profile)}")
            click.echo(f"earlymem: /proc/{fmt} is not predicted: {why}", err=True)
            sys.exit(1)
        if fmt == "zoneinfo":
            click.echo(zoneinfo_text(profile.zoneinfo.fields, result.zones))
            if not result.predicted("zoneinfo managed pages"):
                _note(result.why_not("zoneinfo managed pages"))
            _note("'pages free' is the hand-off's (the running system allocates from it); managed pages, watermarks and "
                  "protection are /proc/zoneinfo's after boot, the init memory and initrd given back")
        else:
            click.echo(buddyinfo_text(result.zones))
            _note("the free lists right after the hand-off; the kernel later frees its init memory and the initrd, and allocates")
        for note in after:
            _note(note)
        return
    if fmt == "iomem":
        if not result.iomem:
            click.echo(f"earlymem: /proc/iomem is not predicted for {era_name(loaded.machine.kernel_version, profile)}", err=True)
            sys.exit(1)
        click.echo("\n".join(iomem_text(result.iomem)))
        _note("device resources (PCI, IOAPIC, HPET, APIC, ROMs) are not predicted; they may nest or stretch the non-RAM entries")
        if not result.predicted("iomem Kernel code/rodata/data/bss"):
            _note(f"Kernel code/rodata/data/bss: {result.why_not('iomem Kernel code/rodata/data/bss')}")
        for note in after:
            _note(note)
        return
    click.echo("\n".join(result.dmesg()))
    note = not_predicted_note(result)
    if note:
        _note(note)
    for note in after:
        _note(note)


@cli.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False, path_type=Path))
@click.option("--kernel-version", help="Kernel release to use instead of the log's banner.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--diff/--no-diff", default=True, show_default=True, help="Show the differing lines of families earlymem predicts.")
@click.option("--kernel", "kernel_image", type=click.Path(dir_okay=False, path_type=Path),
              help="The vmlinuz (bzImage) the logs' kernel booted: its facts instead of a pinned build's.")
def verify_cmd(paths, kernel_version, fmt, diff, kernel_image) -> None:
    """Compare earlymem's predictions with real captures or boot logs, family by family.

    Reads only the input facts of the first kernel; every other line is an
    expected output.  Families earlymem does not predict yet count as 0/N.
    A family is "partial" when every line earlymem predicts is right but some
    are not predicted yet.  Exits 1 if earlymem predicts a line the kernel did
    not print.
    """
    from earlymem.render import text
    from earlymem.sources.inputs import read_kernel
    from earlymem.verification import FAMILIES, kaslr_groups, verify_path

    kernel = read_kernel(kernel_image) if kernel_image is not None else None
    reports = [verify_path(p, kernel_version=kernel_version, kernel=kernel) for p in paths]
    groups = kaslr_groups(paths, kernel=kernel)
    if fmt == "json":
        click.echo(json.dumps(text.verify_json(reports, groups), indent=2))
    else:
        text.verify_tables(reports, FAMILIES, diff, kaslr_groups=groups)
    if (any(f.wrong for r in reports for f in r.families) or any(r.kaslr is not None and r.kaslr.in_slots is False for r in reports)
            or any(g.fails for g in groups)):
        sys.exit(1)


@cli.command("bzimage")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def bzimage_cmd(path, fmt) -> None:
    """Read a kernel image: boot-protocol header, payload, and where the kernel lies."""
    from earlymem.render import text
    from earlymem.sources.bzimage import read_bzimage

    img = read_bzimage(path)
    if fmt == "json":
        click.echo(json.dumps(text.bzimage_json(img), indent=2))
    else:
        click.echo("\n".join(text.bzimage_text(img)))


@cli.command("kexec")
@click.option("--dmesg", "dmesg", type=click.Path(dir_okay=False, path_type=Path), help="The first kernel's boot log (its input facts).")
@click.option("--machine", "machine_file", type=click.Path(dir_okay=False, path_type=Path), help="The first kernel's machine (TOML).")
@click.option("--proc", "proc_root", type=click.Path(file_okay=False, path_type=Path), help="A running system's root.")
@click.option("--boot", default=1, show_default=True, type=click.IntRange(min=1), help="Which boot of a multi-boot log.")
@click.option("--kernel-version", help="The first kernel's release, instead of the log's banner.")
@click.option("--assume-era", "assume_era", metavar="RELEASE", help="Predict the first kernel with the rules of RELEASE's era: needed for a kernel newer than any earlymem knows; unverified.")
@click.option("--kernel", "kernel", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The capture kernel's vmlinuz (bzImage64).")
@click.option("--initrd", "initrd", type=click.Path(dir_okay=False, path_type=Path), help="The capture kernel's initrd (only its size matters).")
@click.option("--append", "append", default="", help="kexec's --append: the capture kernel's command line.")
@click.option("--file-load", is_flag=True, help="kexec -s: the kernel places the segments (kexec_file_load) instead of kexec-tools.")
@click.option("--normal", is_flag=True, help="kexec -l (kexec-tools): a normal load anywhere in RAM, no crash region, no capture kernel.")
@click.option("--running-kernel", type=click.Path(dir_okay=False, path_type=Path), help="The first kernel's vmlinuz: its facts for the first kernel's boot, and its purgatory for --file-load (default: the pinned build the log names; --kernel's purgatory).")
@click.option("--cpus", type=click.IntRange(min=1), default=1, show_default=True, help="The first kernel's possible CPUs (one PT_NOTE each).")
@click.option("--rng-ready", is_flag=True, help="kexec-tools' getrandom(GRND_NONBLOCK) succeeds (hardware with RDRAND), adding an RNG-seed setup_data segment.")
@click.option("--crash-cpu", type=click.IntRange(min=0), help="The first kernel's CPU that crashes; the capture kernel boots on it. "
              "Default: the log's 'CPU: N PID: ... Kdump: loaded' panic line, else 0.")
@click.option("--format", "fmt", type=click.Choice(["debug", "kdump", "json"]), default="debug", show_default=True,
              help="debug: what kexec -p --debug (or the kernel, for --file-load) prints; kdump: the capture kernel's predicted boot lines; json: both, as data.")
def kexec_cmd(dmesg, machine_file, proc_root, boot, kernel_version, assume_era, kernel, initrd, append, file_load, normal, running_kernel, cpus, rng_ready,
              crash_cpu, fmt) -> None:
    """Predict `kexec -p` (kexec-tools 2.0.25) or `kexec -s -p` into the first
    kernel's crash region, and the capture kernel's boot."""
    from earlymem.kernels import era_name
    from earlymem.kexec.capture import LoadMethod, first_boots, kexec_load
    from earlymem.render.kaslr import kexec_kaslr_notes
    from earlymem.pipeline import boot as run_boot
    from earlymem.render import text
    from earlymem.render.boot import not_predicted_note
    from earlymem.sources.inputs import read_kernel

    if normal and file_load:
        raise click.UsageError("--normal is kexec-tools' kexec -l; --file-load models only crash loads")
    loaded = _load(dmesg, machine_file, proc_root, None, boot, kernel_version, None, assume_era)
    machine, profile = loaded.machine, loaded.profile
    capture = read_kernel(kernel)
    running = read_kernel(running_kernel) if running_kernel else None
    initrd_size = None
    if initrd is not None:
        try:
            initrd_size = initrd.stat().st_size
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", source=str(initrd)) from None
    notes: list[str] = []
    if crash_cpu is None:
        crash_cpu = loaded.crash_cpu
        if crash_cpu is None:
            crash_cpu = 0
            if len({c.node for c in machine.cpus}) > 1 and not normal:
                notes.append("the crash is taken to happen on CPU 0, where the capture kernel then boots (pass --crash-cpu)")
    elif machine.cpus and crash_cpu >= len(machine.cpus):
        raise InputError(f"CPU {crash_cpu} is not among the machine's {len(machine.cpus)} possible CPUs", source="--crash-cpu")
    method = LoadMethod.NORMAL if normal else LoadMethod.KEXEC_FILE_LOAD if file_load else LoadMethod.KEXEC_LOAD
    # the first kernel: under KASLR each crash-region outcome is loaded into, with its probability
    candidates, first_notes = first_boots(machine, profile, running, crash_load=not normal)
    notes += first_notes
    first = candidates[0][0]
    if first.panic is not None:
        pass  # kexec_load() says the load fails: the first kernel never reaches user space
    elif method != LoadMethod.NORMAL and not first.predicted("crashkernel"):
        raise InputError(f"the first kernel's crash region is not predicted: {first.why_not('crashkernel')}", source=machine.source)
    elif not first.iomem:
        raise InputError(f"kexec over a first kernel of {era_name(machine.kernel_version, profile)} is not modelled (its /proc/iomem is not predicted; "
                         "`earlymem replay` loads kexec-tools 2.0.2 into the 2.6 eras)", source=machine.source)
    def load_into(f):
        return kexec_load(machine, f, capture, profile=profile, initrd_size=initrd_size, append=append, method=method,
                          running=running, cpus=cpus, rng_ready=rng_ready, crash_cpu=crash_cpu)

    load = load_into(first)
    if len(candidates) > 1:
        notes += kexec_kaslr_notes(load, [(load_into(f), p) for f, p in candidates[1:]], candidates[0][1])
    if not load.loaded:
        # a load the real tool refuses: its words on stderr, exit status 1 (not bad input)
        click.echo(f"earlymem: the load fails: {load.error}", err=True)
        for note in notes:
            if note.startswith("KASLR"):
                _note(note)
        sys.exit(1)
    for note in list(loaded.notes) + notes + list(load.notes):
        _note(note)
    _assumed([*loaded.assumed, *([] if normal else first.assumptions)])
    if fmt == "json":
        click.echo(json.dumps(text.kexec_json(load), indent=2))
    elif fmt == "kdump" and not normal:
        click.echo("\n".join(load.capture.dmesg() if load.capture else []))
        note = not_predicted_note(load.capture) if load.capture else None
        if note:
            _note(f"the capture kernel: {note}")
    else:
        click.echo("\n".join(load.debug))
        if method == LoadMethod.KEXEC_LOAD:
            _note("segment[i].buf (kexec-tools' own buffers) and the ELF/relocation chatter are not printed")


def _kdump_options(func):
    """The options ``check`` and ``recommend`` share: what the source may lack."""
    for opt in reversed([
        click.argument("source", required=False, type=click.Path(path_type=Path)),
        click.option("--boot", default=1, show_default=True, type=click.IntRange(min=1), help="Which boot of a multi-boot log."),
        click.option("--kernel", "kernel", help="The capture kernel: its vmlinuz, or a release earlymem knows (default: the running kernel's)."),
        click.option("--initrd", "initrd", type=click.Path(dir_okay=False, path_type=Path),
                     help="The kdump initramfs: the image, or its listing (lsinitrd, lsinitramfs -l, cpio -itv)."),
        click.option("--initrd-size", "initrd_size", help="The kdump initramfs's size in bytes (with a listing)."),
        click.option("--append", default=None, help="The capture kernel's command line (default: from the kdump configuration)."),
        click.option("--file-load/--no-file-load", "file_load", default=None, help="kexec -s (kexec_file_load) or kexec -p (default: the configuration's)."),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True),
    ]):
        func = opt(func)
    return func


def _gather(source, boot, kernel, initrd, initrd_size, append, file_load):
    from earlymem.kdump.gather import Options, gather

    return gather(str(source) if source is not None else None,
                  Options(boot, kernel, str(initrd) if initrd else None, initrd_size, append, file_load))


@cli.command("check")
@_kdump_options
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.html",
              help="Also draw the machine's memory map, the kdump load and the capture kernel's map as one self-contained page.")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.png",
              help="With --html: also save what headless Chromium shows of the page, opened on the kdump load.")
def check_cmd(source, boot, kernel, initrd, initrd_size, append, file_load, fmt, html_out, png_out) -> None:
    """Will kdump work on this machine (no SOURCE), a sosreport, a system copy or a boot log?

    Exit status 0 ready, 1 not ready or not confirmed, 2 bad input."""
    from earlymem.kdump.check import check, check_observed, next_kernel
    from earlymem.kdump.gather import installed_builds
    from earlymem.render.kdump import check_text

    if png_out is not None and html_out is None:
        raise InputError("--png draws the --html page: give both", field="--png")
    g = _gather(source, boot, kernel, initrd, initrd_size, append, file_load)
    if g.setup is None:
        if html_out is not None:
            raise InputError("the source has no memory map to draw", source=g.source, field="--html")
        result = check_observed(g.source, g.observed, tuple(g.missing))
    else:
        from earlymem.kdump.evaluate import evaluate

        ev = evaluate(g.setup)
        nxt = None if g.installed is None else tuple(next_kernel(g.setup, rel, b) for rel, b in installed_builds(g))
        result = check(g.setup, source=g.source, missing=tuple(g.missing), next_kernels=nxt, notes=tuple(g.notes),
                       crash_loaded=g.crash_loaded, targets=g.targets, evaluation=ev)
        if html_out is not None:
            from earlymem.render import memmap

            o = ev.outcomes[0]
            html_out.write_text(memmap.to_html([memmap.memory_map(o.first, load=o.load)]))
            _note(f"wrote {html_out}")
            if png_out is not None:
                from earlymem.render.browser import screenshot

                screenshot(html_out, png_out, phase="kdump-load" if o.load is not None else None)
                _note(f"wrote {png_out}")
    click.echo(json.dumps(result.to_json(), indent=2) if fmt == "json" else check_text(result))
    sys.exit(result.exit_status)


@cli.command("recommend")
@_kdump_options
def recommend_cmd(source, boot, kernel, initrd, initrd_size, append, file_load, fmt) -> None:
    """The smallest crashkernel= this machine can place and dump with, and what the peers would choose."""
    from earlymem.kdump.recommend import recommend
    from earlymem.render.kdump import recommend_text

    g = _gather(source, boot, kernel, initrd, initrd_size, append, file_load)
    for m in g.missing:
        _note(f"missing: {m.what}: {m.changes}")
    for n in g.notes:
        _note(n)
    if g.setup is None:
        click.echo(f"{g.source}: no recommendation -- the source has no firmware map to place a region in")
        sys.exit(1)
    r = recommend(g.setup)
    click.echo(json.dumps(r.to_json(), indent=2) if fmt == "json" else recommend_text(r, g.source))
    sys.exit(0 if r.size is not None else 1)


@cli.command("replay")
@click.argument("scenario", default="seed-2011")
@click.option("--kernel-version", "version", default=None,
              help="The kernel to replay the machine under: 2.6.23-2.6.33 (bootmem), 2.6.37 (memblock), 5.10 and later (the modern boot); "
                   "several, comma-separated, compare eras in brief.  Default: the scenario's kernel_version, else 2.6.23.")
@click.option("--brief", is_flag=True, help="Only the era, the kernel's crashkernel lines, what kexec -p overwrote, and the verdict.")
@click.option("--kdump-kernel", "kdump_kernel", type=click.Path(dir_okay=False), default=None,
              help="A real bzImage to load with kexec -p instead of the scenario's [kdump] header values.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.html",
              help="Also draw the story as a self-contained page (two versions: side by side, the differences marked).")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.png",
              help="With --html: also save what headless Chromium shows of the page, opened on the kdump load.")
def replay_cmd(scenario, version, brief, kdump_kernel, fmt, html_out, png_out) -> None:
    """Replay a scenario (default: the 2011 report, seed-2011) from the firmware map
    to a loaded kdump kernel: the early allocator's placements, the hand-off to
    the page allocator, the running system's allocations, and where kexec -p
    writes -- with every page the load overwrote that the running kernel owned."""
    from earlymem.render import text
    from earlymem.scenario import replay

    versions = [v.strip() for v in version.split(",") if v.strip()] if version is not None else [None]
    if not versions:
        raise InputError("no kernel version given", source="--kernel-version")
    results = [replay(scenario, v, kdump_image=kdump_kernel) for v in versions]
    if html_out is not None:
        from earlymem.render import memmap

        if len(results) > 2:
            raise InputError("the page compares two versions at most", source="--kernel-version")
        html_out.write_text(memmap.to_html([memmap.replay_map(r) for r in results], [r.version for r in results]))
        _note(f"wrote {html_out}")
        if png_out is not None:
            from earlymem.render.browser import screenshot

            screenshot(html_out, png_out, phase="kdump-load")
            _note(f"wrote {png_out}")
    elif png_out is not None:
        raise InputError("--png draws the --html page: give both", field="--png")
    if fmt == "json":
        out = [text.replay_json(scenario, r) for r in results]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return
    if brief or len(results) > 1:
        click.echo("\n".join(text.replay_brief(scenario, results)))
        return
    lines, notes = text.replay_text(scenario, results[0].version, results[0])
    click.echo("\n".join(lines[:-1]))
    _assumed(notes)
    click.echo(lines[-1])


@cli.command("map")
@_input_options
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.html",
              help="Write the map as one self-contained page (no network): a phase stepper, details on hover, a legend.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a scaled map of one phase in the terminal; json: every phase's regions (schema earlymem/map/1).")
@click.option("--phase", default="memblock", show_default=True,
              help="The phase the terminal view shows (firmware, user, memblock, numa, handoff, after), and the one --png opens on.")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.png",
              help="With --html: also save what headless Chromium shows of the page at --phase.")
@click.option("--vs-kernel-version", "vs_version", metavar="RELEASE",
              help="Compare mode: the same machine under another kernel (the HTML page puts them side by side).")
@click.option("--vs-append", "vs_append", metavar="PARAMS",
              help="Compare mode: the same machine and kernel with these parameters appended instead.")
def map_cmd(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image, assume_era, html_out, fmt, phase,
            png_out, vs_version, vs_append) -> None:
    """Draw the physical memory map, phase by phase: the firmware's map, mem=/memmap=, memblock's early
    reservations in kernel order, NUMA nodes and zones, the hand-off, and what is given back after boot."""
    from earlymem.pipeline import boot as run_boot
    from earlymem.render import memmap

    loaded = _load(dmesg, machine_file, proc_root, append, boot, kernel_version, kernel_image, assume_era)
    result = run_boot(loaded.machine, loaded.profile, loaded.kernel)
    maps, names = [memmap.memory_map(result)], [f"{result.kernel_version or result.era}" + (f" + {append}" if append else "")]
    if vs_version or vs_append:
        other_append = " ".join(a for a in (append, vs_append) if a) or None
        other = _load(dmesg, machine_file, proc_root, other_append, boot, vs_version or kernel_version,
                      None if vs_version else kernel_image, assume_era)
        vs = run_boot(other.machine, other.profile, other.kernel)
        maps.append(memmap.memory_map(vs))
        names.append(f"{vs.kernel_version or vs.era}" + (f" + {other_append}" if other_append else ""))
    for note in loaded.notes:
        _note(note)
    _assumed([*loaded.assumed, *result.assumptions])
    if png_out is not None and html_out is None:
        raise InputError("--png draws the --html page: give both", field="--png")
    if html_out is not None:
        html_out.write_text(memmap.to_html(maps, names))
        _note(f"wrote {html_out} ({len(maps)} map{'s' if len(maps) > 1 else ''}, {len(maps[0].phases)} phases)")
        if png_out is not None:
            from earlymem.render.browser import screenshot

            screenshot(html_out, png_out, phase=phase)
            _note(f"wrote {png_out}")
    if fmt == "json":
        docs = [memmap.describe(m) for m in maps]
        if len(docs) == 2:
            diff = memmap.compare(*maps)
            docs = {"schema": memmap.SCHEMA, "maps": docs, "differ": {k: [sorted(map(list, a)), sorted(map(list, b))]
                                                                      for k, (a, b) in diff.items()}}
        click.echo(json.dumps(docs[0] if isinstance(docs, list) else docs, indent=2))
        return
    if html_out is not None:
        return
    if maps[0].phase(phase) is None:
        raise InputError(f"no phase {phase!r} in this boot (it has {', '.join(p.key for p in maps[0].phases)})", source="--phase")
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    console.print(Text(f"{maps[0].title}: {memmap.PHASES[phase][0]}", style="bold"))
    for rng, label, kind in memmap.terminal_lines(maps[0], phase):
        colour = memmap.KINDS[kind][1] if kind in memmap.KINDS else None
        bar = Text("  ", style=f"on {colour}" if colour else "dim")
        console.print(Text(f"{rng} ") + bar + Text(f" {label}", style="dim" if kind == "hole" else ""))
    for note in maps[0].notes:
        if note.startswith("not drawn:"):
            _note(note)


@cli.command("fleet")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--kernel", "kernel", help="The capture kernel every host is checked with (default: each host's running kernel).")
@click.option("--initrd", "initrd", type=click.Path(dir_okay=False, path_type=Path),
              help="The kdump initramfs (image or listing) for hosts whose input has none.")
@click.option("--initrd-size", "initrd_size", help="Its size in bytes (with a listing).")
@click.option("--append", default=None, help="The capture kernel's command line (default: each host's kdump configuration).")
@click.option("--what-if", "what_if", metavar="RELEASE", help="Check every host again with this kernel (running and capture).")
@click.option("--what-if-cmdline", "what_if_cmdline", metavar="'crashkernel=...'", help="... or with this crashkernel=.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="RESULTS.jsonl|.csv|.parquet",
              help="One row per host, appended as each host is done (Parquet: to a .jsonl journal beside it, then written); a re-run skips the hosts already there.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--dask", "dask", metavar="tcp://SCHEDULER:8786", envvar="DASK_SCHEDULER_ADDRESS",
              help="Run on this Dask cluster (default: $DASK_SCHEDULER_ADDRESS; unset: the local pool); its workers must see the inputs.")
@click.option("--no-recommend", "no_recommend", is_flag=True, help="Skip recommend's size (the costliest part of a row).")
def fleet_cmd(inputs, kernel, initrd, initrd_size, append, what_if, what_if_cmdline, out, jobs, dask, no_recommend) -> None:
    """Check kdump readiness on many hosts: directories or globs of sosreports, system copies and boot logs.

    One row per host (a bad input is a row with its error); on the terminal, the verdicts and reasons
    counted, and with a what-if the hosts whose verdict it changes."""
    from rich.console import Console
    from rich.progress import Progress

    from earlymem.fleet.hosts import discover
    from earlymem.fleet.job import FleetOptions
    from earlymem.fleet.run import run_fleet, summarize

    if what_if and what_if_cmdline:
        raise InputError("one what-if at a time", field="--what-if-cmdline")
    if what_if_cmdline and not what_if_cmdline.startswith("crashkernel="):
        raise InputError("give the whole parameter: 'crashkernel=SIZE'", field="--what-if-cmdline")
    hosts = discover(list(inputs))
    if not hosts:
        raise InputError("no host in the inputs", field="INPUTS")
    opts = FleetOptions(kernel, str(initrd) if initrd else None, initrd_size, append, what_if, what_if_cmdline, not no_recommend)
    err = Console(stderr=True)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("checking", total=None)

        def step(done, total):
            bar.update(task, completed=done, total=total)
        try:
            rows, skipped = run_fleet(hosts, opts, out, jobs=jobs, progress=step, dask=dask or None)
        except OSError as exc:  # the scheduler cannot be reached
            raise InputError(f"the Dask scheduler cannot be reached: {exc}", source=dask, field="--dask") from None
    s = summarize(rows)
    con = Console(highlight=False)
    con.print(f"{s.hosts} host(s)" + (f", {skipped} already in {out}" if skipped else "") + (f"; rows in {out}" if out else ""))
    for verdict, n in s.verdicts.most_common():
        con.print(f"  {verdict:12} {n}")
    if s.reasons:
        con.print("reasons (hosts):")
        for code, n in s.reasons.most_common():
            con.print(f"  {code:24} {n}")
    if what_if or what_if_cmdline:
        con.print(f"with {what_if or what_if_cmdline}: {len(s.changed)} host(s) change verdict")
        for host, now, then in s.changed:
            con.print(f"  {host}: {now} -> {then}")


@cli.command("profiles")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: every profile's rules by subsystem, with their sources (schema earlymem/profiles/1).")
def profiles_cmd(fmt) -> None:
    """List the kernel eras earlymem knows, with what changed in each."""
    from earlymem.kernels import PROFILES
    from earlymem.render import text

    if fmt == "json":
        click.echo(json.dumps(text.profiles_json(PROFILES), indent=2))
        return
    click.echo("\n".join(text.profiles_text(PROFILES)))


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
