"""Tests in a real browser (marked `browser`): headless Chromium driven by selenium.

They follow the rule of the SLURM tests. On a machine without Chromium, ChromeDriver or
selenium, a plain `pytest` deselects them and says so in one line of its summary (never a
silent skip). Where CI=true, or when they are asked for by name (`-m browser`), they run,
and fail saying what is missing. `.ci/run` installs Debian's chromium and chromium-driver.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from workers_plugin import note, notes

# Debian's packages put them here; ARST_CHROMIUM / ARST_CHROMEDRIVER name others.
CHROMIUM = os.environ.get("ARST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("ARST_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
# A quiet, offline, throw-away browser: no sandbox (CI runs as root), no GPU, no updates,
# sync or background fetches; the profile folder is new for each session.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,820")
INSTALL = "apt-get install -y chromium chromium-driver (Debian), then pip install -e '.[test]'"

def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    missing = [f"{what} ({path})" for what, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if not os.access(path, os.X_OK)]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package")
    return f"not found: {', '.join(missing)}" if missing else None


def _asked_for(config) -> bool:
    expr = config.getoption("markexpr", "") or ""
    return "browser" in expr and "not browser" not in expr


@pytest.hookimpl(trylast=True)  # after -k and -m chose: count only the tests that would have run
def pytest_collection_modifyitems(config, items) -> None:
    browser = [item for item in items if item.get_closest_marker("browser")]
    if not browser or os.environ.get("CI") == "true" or _asked_for(config) or chromium_missing() is None:
        return
    note(config, "browser_not_run", len(browser))
    config.hook.pytest_deselected(items=browser)
    items[:] = [item for item in items if not item.get_closest_marker("browser")]


def pytest_terminal_summary(terminalreporter, config) -> None:
    if notes(config).get("browser_not_run"):
        terminalreporter.write_line(
            f"browser tests NOT RUN: {notes(config)['browser_not_run']} deselected, Chromium {chromium_missing()}. "
            f"Install with: {INSTALL}; CI (CI=true) runs them and fails without them.", yellow=True, bold=True)


@pytest.fixture(scope="session")
def chrome(tmp_path_factory):
    """A headless Chromium under selenium, for the whole session."""
    reason = chromium_missing()
    if reason:
        pytest.fail(f"browser tests need Chromium: {reason}. Install with: {INSTALL}", pytrace=False)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not look for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """Where the browser tests leave their screenshots (ARST_SCREENSHOTS, or a temporary folder)."""
    folder = os.environ.get("ARST_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        return folder
    return str(tmp_path_factory.mktemp("screenshots"))
