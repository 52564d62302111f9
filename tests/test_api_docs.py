"""Every example of docs/api.md runs, in order, in one namespace, from the
repository's top directory (the page says so)."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_api_examples_run(capsys):
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"docs/api.md[{i}]", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert "Reserving 256MB of memory at 2800MB" in capsys.readouterr().out


def test_the_api_names_what_the_page_lists():
    import earlymem

    for name in ("load_machine", "read_kernel", "profile_for", "boot", "kexec_load", "replay", "verify", "BootResult",
                 "KexecResult", "InputError", "Verdict", "LoadMethod", "SCHEMA"):
        assert name in earlymem.__all__ and hasattr(earlymem, name), name


def test_api_functions_are_not_hidden_by_packages_of_the_same_name():
    # importing a subpackage sets it as an attribute of its parent: a package
    # named like an API function (boot, replay, verify) would hide the function
    import subprocess
    import sys

    code = ("import importlib, earlymem\n"
            "for m in ('earlymem.scenario.replay', 'earlymem.verification', 'earlymem.phases.numa_init', 'earlymem.pipeline'):\n"
            "    importlib.import_module(m)\n"
            "assert callable(earlymem.replay) and callable(earlymem.verify) and callable(earlymem.boot), "
            "(earlymem.replay, earlymem.verify, earlymem.boot)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
