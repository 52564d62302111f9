"""The HTML map as a person sees it (issue 18): a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) opens the page from file://, steps through every phase, hovers
regions, reads compare mode's marks, and the test checks what is shown against the maps' data, which
tests/test_memmap.py checks against the BootResult.  It skips, saying why, where Chromium is missing and
cannot be installed; .ci/run sets EARLYMEM_BROWSER_TEST=1, and then the test installs it (as root)."""

import json
import os
import tempfile
from pathlib import Path

import pytest

from earlymem.render import memmap
from earlymem.render.browser import find_chromium, webdriver
from earlymem.scenario import replay

ROOT = Path(__file__).parents[1]
SWEEP = ROOT / "tests/fixtures/dumps/sweep"


@pytest.fixture(scope="module")
def browser():
    found = find_chromium(install=os.environ.get("EARLYMEM_BROWSER_TEST") == "1")
    if found is None:
        pytest.skip("headless Chromium is not installed here and cannot be (Debian: apt-get install chromium chromium-driver, "
                    "as root; .ci/run sets EARLYMEM_BROWSER_TEST=1 to have this test install it)")
    driver = webdriver(found)
    yield driver
    driver.quit()


def _open(driver, tmp_path: Path, maps, names):
    page = tmp_path / "map.html"
    page.write_text(memmap.to_html(maps, names))
    driver.get(page.as_uri())
    return memmap._page_data(maps, names)


def _shown(driver):
    """Per column: the regions drawn, as (start, end, kind, label, outlined as differing, marked new)."""
    from selenium.webdriver.common.by import By

    out = []
    for col in driver.find_elements(By.CSS_SELECTOR, "#cols .col"):
        out.append([(g.get_attribute("data-start"), g.get_attribute("data-end"), g.get_attribute("data-kind"),
                     g.get_attribute("data-label"), g.get_attribute("data-diff") == "true", g.get_attribute("data-new") == "true")
                    for g in col.find_elements(By.CSS_SELECTOR, "g.region")])
    return out


def _expected(data, key):
    return [[(r[0], r[1], r[2], r[3], r[8], r[9]) for r in m["phases"][key]["regions"] if r[4] >= 0] if key in m["phases"] else []
            for m in data["maps"]]


def test_the_2011_story_side_by_side(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    maps = [memmap.replay_map(replay("seed-2011", v)) for v in ("2.6.23", "2.6.25")]
    data = _open(browser, tmp_path, maps, ["2.6.23", "2.6.25"])
    buttons = browser.find_elements(By.CSS_SELECTOR, "#steps button")
    assert [b.get_attribute("data-key") for b in buttons] == data["keys"]
    diff = memmap.compare(*maps)
    for b in buttons:
        b.click()
        key = b.get_attribute("data-key")
        assert b.get_attribute("aria-pressed") == "true"
        shown = _shown(browser)
        assert shown == _expected(data, key), key
        # compare mode: the outlined regions are exactly the ones the other boot does not have
        for n in (0, 1):
            marked = {(int(s, 16), int(e, 16), k, label) for s, e, k, label, d, _ in shown[n] if d}
            assert marked == diff[key][n], key
        assert browser.find_element(By.ID, "note").text.startswith(memmap.PHASES.get(key, (key,))[0].split(":")[0])
    browser.save_screenshot(str(tmp_path / "2011-kdump-load.png"))
    # hovering the first page kexec -p overwrote shows its range, its owner and that 2.6.25 differs there
    over = next(g for g in browser.find_elements(By.CSS_SELECTOR, "#cols .col:first-child g.region")
                if g.get_attribute("data-kind") == "overwritten")
    ActionChains(browser).move_to_element(over).perform()
    tip = browser.find_element(By.ID, "tip")
    assert tip.is_displayed()
    text = tip.text
    assert f"[{over.get_attribute('data-start')}, {over.get_attribute('data-end')})" in text
    assert "pages the running kernel owned, written by kexec -p" in text and "differs from the other map" in text
    # the keyboard steps back a phase
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
    pressed = [b.get_attribute("data-key") for b in browser.find_elements(By.CSS_SELECTOR, "#steps button")
               if b.get_attribute("aria-pressed") == "true"]
    assert pressed == [data["keys"][-2]]
    assert (tmp_path / "2011-kdump-load.png").stat().st_size > 10_000


def test_a_numa_kdump_case(browser, tmp_path):
    """The sweep's two-node 16 GiB machine on 6.12 at 92 MiB: the kdump load's segments in the crash
    region, then the capture kernel's own map and zones."""
    from selenium.webdriver.common.by import By

    from earlymem.kdump.evaluate import evaluate
    from earlymem.oracle.dumps import sweep_inputs

    doc = json.loads((SWEEP / "sweep.json").read_text())
    s = next(x for x in doc["sweeps"] if x["config"] == "dump-numa2-16g-small-load" and x["kernel"] == "6.12")
    g = sweep_inputs(SWEEP, s, 92 << 20, Path(tempfile.mkdtemp()))
    o = evaluate(g.setup).outcomes[0]
    m = memmap.memory_map(o.first, load=o.load)
    data = _open(browser, tmp_path, [m], ["numa2-16g, 6.12, crashkernel=92M"])
    assert data["keys"] == ["firmware", "memblock", "numa", "handoff", "kdump-load", "capture"]
    for key in data["keys"]:
        browser.find_element(By.CSS_SELECTOR, f'#steps button[data-key="{key}"]').click()
        assert _shown(browser) == _expected(data, key), key
        if key == "numa":
            nodes = {label for _, _, _, label, *_ in _shown(browser)[0] if label.startswith("node ") and " " not in label[5:]}
            assert nodes == {"node 0", "node 1"}
        if key == "kdump-load":
            segs = [label for _, _, kind, label, *_ in _shown(browser)[0] if kind == "kexec"]
            assert segs == [sg.name for sg in o.load.segments]
            # focus: the same regions, the axis this phase does not draw on collapsed
            tall = int(browser.find_element(By.CSS_SELECTOR, "#cols svg").get_attribute("height"))
            browser.find_element(By.ID, "focus").click()
            assert _shown(browser) == _expected(data, key)
            assert int(browser.find_element(By.CSS_SELECTOR, "#cols svg").get_attribute("height")) < tall
            browser.find_element(By.ID, "focus").click()
        if key == "capture":
            zones = [label for _, _, kind, label, *_ in _shown(browser)[0] if kind == "zone"]
            assert zones == [f"node {z.nid} {z.name}" for z in o.load.capture.zones if z.spanned]
    browser.save_screenshot(str(tmp_path / "numa-kdump.png"))
