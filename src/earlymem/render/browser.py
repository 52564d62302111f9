"""Headless Chromium for the HTML map: found, or installed from Debian's packages where allowed, and used
to take a screenshot of a page as a person would see it (``--png``; tests/test_map_browser.py drives it
through Selenium)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from earlymem.lib.errors import InputError

__all__ = ["find_chromium", "screenshot", "webdriver", "PACKAGES"]

#: Debian's packages: the browser and the WebDriver that drives it
PACKAGES = ("chromium", "chromium-driver")


def find_chromium(*, install: bool = False, log=None) -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths, or None.  ``install``: where they are missing, install Debian's
    packages with apt-get (as root only)."""
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if None not in found:
        return found  # type: ignore[return-value]
    if not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    if log:
        log(f"installing {' '.join(PACKAGES)} ...")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode != 0:
            return None
    found = shutil.which("chromium"), shutil.which("chromedriver")
    return None if None in found else found  # type: ignore[return-value]


def screenshot(page: Path, png: Path, *, phase: str | None = None, width: int = 1400, height: int = 1800) -> None:
    """Save what headless Chromium shows of ``page`` as ``png``; with ``phase``, the page opens on it with
    only that phase's ranges drawn (the rest of the axis collapsed)."""
    found = find_chromium()
    if found is None:
        raise InputError("headless Chromium is not installed (Debian: apt-get install chromium)", field="--png")
    url = page.resolve().as_uri() + (f"#{phase}&focus" if phase else "")
    cmd = [found[0], "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={width},{height}",
           f"--screenshot={png.resolve()}", url]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise InputError("headless Chromium took over 120 s to draw the page", source=str(page), field="--png") from None
    if proc.returncode != 0 or not png.is_file():
        raise InputError(f"headless Chromium failed (exit {proc.returncode})", source=str(page), field="--png")


def webdriver(found: tuple[str, str], *, width: int = 1400, height: int = 1800):
    """A Selenium WebDriver for headless Chromium (``found``: :func:`find_chromium`'s paths)."""
    from selenium import webdriver as wd
    from selenium.webdriver.chrome.service import Service

    opts = wd.ChromeOptions()
    opts.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    return wd.Chrome(service=Service(found[1]), options=opts)
