"""Open a `matchtag report` file in headless Chromium, with no network, and list console errors.

    python bench/report_browser.py REPORT.html [--screenshot PNG] [--width 1100 --height 1400] [--anchor v0]

Exit 0 when the page loaded with no console error (SEVERE entries) and its paged tables
rendered rows; 1 otherwise.  Needs Debian's `chromium` and `chromium-driver` packages
(apt-get install -y chromium chromium-driver) and selenium (in the dev extra).  The test
tests/test_render_report.py uses the same function.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync")


def chromium_paths() -> tuple[str, str] | None:
    """(browser, chromedriver) executables, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium_driver(width: int = 1100, height: int = 1400):
    """A selenium driver of a fresh headless Chromium profile (no network beyond localhost
    needed), with the browser console log kept; quit and its profile removed on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    profile = tempfile.mkdtemp(prefix="matchtag-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    """The browser console's SEVERE entries since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def open_in_chromium(page: Path, screenshot: Path | None = None, width: int = 1100, height: int = 1400,
                     clicks: tuple[str, ...] = (), anchor: str | None = None) -> list[str]:
    """Open ``page`` in a fresh headless Chromium profile; returns the console's errors (plus
    one when the paged tables rendered no row).  ``clicks``: CSS selectors clicked in turn
    first (sorting, filtering), so their handlers run too."""
    from selenium.webdriver.common.by import By

    with chromium_driver(width, height) as driver:
        driver.get(Path(page).resolve().as_uri() + (f"#{anchor}" if anchor else ""))
        for selector in clicks:
            driver.find_element(By.CSS_SELECTOR, selector).click()
        if screenshot is not None:
            driver.save_screenshot(str(screenshot))
        errors = console_errors(driver)
        rows = driver.execute_script("return document.querySelectorAll('.pager table tbody tr').length")
    return errors + ([] if rows else ["the paged tables rendered no rows"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report")
    ap.add_argument("--screenshot", help="PNG to save of the first screen")
    ap.add_argument("--width", type=int, default=1100)
    ap.add_argument("--height", type=int, default=1400)
    ap.add_argument("--anchor", help="scroll to this #anchor first, e.g. v3 for the fourth video")
    args = ap.parse_args(argv)
    if chromium_paths() is None:
        print("chromium and chromedriver are needed: apt-get install -y chromium chromium-driver", file=sys.stderr)
        return 2
    if not os.path.isfile(args.report):
        print(f"{args.report}: no such file", file=sys.stderr)
        return 2
    errors = open_in_chromium(Path(args.report), Path(args.screenshot) if args.screenshot else None,
                              args.width, args.height, anchor=args.anchor)
    for e in errors:
        print(f"console error: {e}")
    print(f"{args.report}: {len(errors)} console error(s)" + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
