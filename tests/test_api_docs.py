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
