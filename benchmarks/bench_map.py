"""Benchmark: the HTML memory map of big machines -- its size, the time to make it, and the time headless
Chromium takes to open it and to draw each phase.

Run: .venv/bin/python benchmarks/bench_map.py  (needs chromium and chromium-driver; prints a Markdown
table, the README's "Benchmarks" section holds the last run).  The machines are bench_predict.py's
(RAM to 64 TiB cut into equal SRAT nodes, a crashkernel range list), under 6.12 and 7.2.  "make" is
earlymem.boot() plus memmap.memory_map() and to_html(), best of three; "open" is the page's own
navigation timing (navigationStart to loadEventEnd: parse, data, the first phase drawn), best of three;
"slowest phase" the longest click-to-drawn of its phases.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_predict import GiB, TiB, machine  # noqa: E402

from earlymem.kernels import profile_for  # noqa: E402
from earlymem.lib.version import parse_version  # noqa: E402
from earlymem.pipeline import boot  # noqa: E402
from earlymem.render import memmap  # noqa: E402
from earlymem.render.browser import find_chromium, webdriver  # noqa: E402


def _driver():
    found = find_chromium()
    if found is None:
        raise SystemExit("bench_map: needs chromium and chromium-driver (Debian: apt-get install chromium chromium-driver)")
    return webdriver(found)


def run(driver, total: int, nodes: int, version: str, where: Path) -> tuple[int, float, float, float]:
    from selenium.webdriver.common.by import By

    profile, m = profile_for(parse_version(version)), machine(total, nodes, version)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        page = memmap.to_html([memmap.memory_map(boot(m, profile))])
        best = min(best, time.perf_counter() - t)
    path = where / f"map-{total >> 30}g-{nodes}n-{version}.html"
    path.write_text(page)
    opens = []
    for _ in range(3):
        driver.get(path.as_uri())
        opens.append(driver.execute_script("const t = performance.timing; return t.loadEventEnd - t.navigationStart;"))
    slowest = 0.0
    for b in driver.find_elements(By.CSS_SELECTOR, "#steps button"):
        t = time.perf_counter()
        b.click()
        driver.execute_script("return document.querySelectorAll('g.region').length;")
        slowest = max(slowest, time.perf_counter() - t)
    return len(page.encode()), best, min(opens) / 1000, slowest


def main() -> None:
    driver = _driver()
    where = Path(tempfile.mkdtemp())
    print("| machine | kernel | page | make (best of 3) | open in Chromium (best of 3) | slowest phase |")
    print("|---|---|---|---|---|---|")
    try:
        for total, nodes in ((64 * GiB, 1), (64 * GiB, 8), (64 * TiB, 32)):
            for version in ("6.12", "7.2"):
                size, make, opened, phase = run(driver, total, nodes, version, where)
                name = f"{total // TiB} TiB" if total >= TiB else f"{total // GiB} GiB"
                print(f"| {name}, {nodes} node(s) | {version} | {size / 1024:.0f} KiB | {make * 1000:.0f} ms | "
                      f"{opened * 1000:.0f} ms | {phase * 1000:.0f} ms |")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
