"""The package's layout (../shared/DESIGN.md, "Target layout"): data flows one way.

Every ``import`` of an earlymem module -- at the top of a module or inside a
function -- must point to the same package or an earlier layer in
:data:`LAYERS`; inside ``phases/`` a module may import only phases the kernel
runs before it (:data:`PHASES`).  There is no import cycle, and ``cli.py`` only
parses options, calls the API and picks a renderer.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "earlymem"

#: layers, earliest first: a module may import its own layer and the ones before it
LAYERS = ["lib", "machine", "allocators", "kernels", "sources", "phases", "mm", "result", "pipeline", "kaslr", "kexec", "kdump", "render",
          "scenario", "verification", "oracle", "fleet", "__init__", "cli", "__main__"]
#: phases in the order the kernel runs them (arch/x86/kernel/setup.c setup_arch(),
#: init/main.c start_kernel() and kernel_init()); the two old eras' own boots and the middle eras' crash search beside them
PHASES = ["kaslr", "e820_print_table", "e820", "image", "efi", "numa_init", "setup_arch", "crashkernel", "paging_init", "free_area_init", "start_kernel",
          "kernel_init", "bootmem_era", "memblock_2_6_37", "crashkernel_middle"]


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        rel = p.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out["earlymem." + ".".join(parts) if parts != ["__init__"] else "earlymem"] = p
    return out


MODULES = _modules()


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """``(line, module, at_top)`` for every earlymem import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("earlymem"):
            names = [f"{node.module}.{a.name}" for a in node.names]
            for name in names:  # "from earlymem.phases import x": x may be a module
                out.append((node.lineno, name if name in MODULES else node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, id(node) in top) for a in node.names if a.name.startswith("earlymem")]
    return out


def _layer(module: str) -> tuple[int, int]:
    parts = module.split(".")[1:] or ["__init__"]
    head = parts[0]
    index = LAYERS.index(head)
    phase = PHASES.index(parts[1]) if head == "phases" and len(parts) > 1 and parts[1] in PHASES else -1
    return index, phase


def test_every_module_is_in_a_layer():
    for name in MODULES:
        parts = name.split(".")[1:] or ["__init__"]
        assert parts[0] in LAYERS, f"{name}: not in a layer of DESIGN.md's layout"
        if parts[0] == "phases" and len(parts) > 1:
            assert parts[1] in PHASES, f"{name}: not in PHASES (kernel order)"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_to_earlier_layers_and_phases(name):
    me = _layer(name)
    for line, target, _ in _imports(MODULES[name]):
        if target not in MODULES:
            target = target.rsplit(".", 1)[0]
        assert target in MODULES, f"{name}:{line}: imports unknown {target}"
        them = _layer(target)
        assert them[0] <= me[0], f"{name}:{line}: imports {target}, a later layer"
        if them[0] == me[0] and me[1] >= 0 and them[1] >= 0:
            assert them[1] <= me[1], f"{name}:{line}: imports {target}, a later phase"


def test_no_import_cycle():
    graph = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for _, target, _ in _imports(path):
            while target not in MODULES:
                target = target.rsplit(".", 1)[0]
            if target != name:
                graph[name].add(target)
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt == "earlymem":
                continue  # the API root re-exports; nothing below it imports it (checked above)
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_nothing_below_the_api_imports_the_package_root():
    for name, path in MODULES.items():
        if name in ("earlymem", "earlymem.__main__"):
            continue
        for line, target, _ in _imports(path):
            assert target != "earlymem", f"{name}:{line}: imports the package root (earlymem/__init__.py)"


#: function-level imports kept for a measured start-up cost (README, "Start-up"):
#: the CLI loads only what the command it runs needs; decompressors are loaded
#: for the payload format an image has
LAZY_OK = {"earlymem.cli", "earlymem.sources.bzimage"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_are_at_the_top(name):
    if name in LAZY_OK:
        return
    inner = [(line, t) for line, t, top in _imports(MODULES[name]) if not top and not _in_type_checking(MODULES[name], line)]
    assert not inner, f"{name}: imports inside functions at lines {[ln for ln, _ in inner]} (move them to the top)"


def _in_type_checking(path: Path, line: int) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            if node.lineno <= line <= max(getattr(n, "end_lineno", node.lineno) for n in node.body):
                return True
    return False


def test_cli_only_parses_calls_and_renders():
    # cli.py: options -> the API -> a renderer; it reaches no model internals
    # and formats no addresses itself
    allowed = ("earlymem.lib.errors", "earlymem.lib.version", "earlymem.kernels", "earlymem.sources.inputs", "earlymem.pipeline", "earlymem.kaslr",
               "earlymem.kexec.capture", "earlymem.kdump", "earlymem.render", "earlymem.scenario", "earlymem.verification", "earlymem.oracle",
               "earlymem.sources.bzimage", "earlymem.fleet")
    src = (SRC / "cli.py").read_text()
    for line, target, _ in _imports(SRC / "cli.py"):
        assert target.startswith(allowed), f"cli.py:{line}: imports {target}"
    tree = ast.parse(src)
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], "cli.py defines a class"
    for fmt in (":#x}", ":08x}", ":#010x}", ":#018x}", ":016x}"):
        assert fmt not in src, f"cli.py formats an address ({fmt}): that belongs in earlymem.render"
