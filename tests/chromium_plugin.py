"""Tests in a real browser (marked `browser`): headless Chromium driven by selenium.

They follow the rule of the SLURM tests. On a machine without Chromium, ChromeDriver or
selenium, a plain `pytest` deselects them and says so in one line of its summary (never a
silent skip). Where CI=true, or when they are asked for by name (`-m browser`), they run,
and fail saying what is missing. `.ci/run` installs Debian's chromium and chromium-driver.

Tests marked `ort_web` (the explorer that runs the model in the browser) also need
onnxruntime-web's npm tarball, which no test downloads: ARST_ORT_WEB names a local copy
(`.ci/run` fetches it first). Without it they are deselected the same way, and fail where
CI=true or when asked for by name (`-m ort_web`).
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

ORT_WEB_VARIABLE = "ARST_ORT_WEB"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    missing = [f"{what} ({path})" for what, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if not os.access(path, os.X_OK)]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package")
    return f"not found: {', '.join(missing)}" if missing else None


def ort_web_missing() -> str | None:
    """Why the tests marked ort_web cannot run here (no onnxruntime-web tarball), or None."""
    path = os.environ.get(ORT_WEB_VARIABLE)
    if not path:
        return f"{ORT_WEB_VARIABLE} is not set"
    if not os.path.isfile(path):
        return f"{ORT_WEB_VARIABLE}={path} is not a file"
    return None


def get_ort_web() -> str:
    from arst.data.fetch import ORT_WEB, ORT_WEB_FILE
    return (f"`arst fetch-ort-web --out /tmp/{ORT_WEB_FILE}` (or `npm pack onnxruntime-web@{ORT_WEB['version']}`), "
            f"then {ORT_WEB_VARIABLE}=/tmp/{ORT_WEB_FILE} pytest")


def _asked_for(config, marker: str) -> bool:
    expr = config.getoption("markexpr", "") or ""
    return marker in expr and f"not {marker}" not in expr


def _deselect(config, items, marker: str) -> None:
    chosen = [item for item in items if item.get_closest_marker(marker)]
    if chosen:
        note(config, f"{marker}_not_run", len(chosen))
        config.hook.pytest_deselected(items=chosen)
        items[:] = [item for item in items if not item.get_closest_marker(marker)]


@pytest.hookimpl(trylast=True)  # after -k and -m chose: count only the tests that would have run
def pytest_collection_modifyitems(config, items) -> None:
    if os.environ.get("CI") == "true":
        return
    # On workers each deselects its own, and `note` tells the controller, which prints the summary.
    if not _asked_for(config, "browser") and chromium_missing() is not None:
        _deselect(config, items, "browser")
    if not _asked_for(config, "ort_web") and ort_web_missing() is not None:
        _deselect(config, items, "ort_web")


def pytest_terminal_summary(terminalreporter, config) -> None:
    if notes(config).get("browser_not_run"):
        terminalreporter.write_line(
            f"browser tests NOT RUN: {notes(config)['browser_not_run']} deselected, Chromium {chromium_missing()}. "
            f"Install with: {INSTALL}; CI (CI=true) runs them and fails without them.", yellow=True, bold=True)
    if notes(config).get("ort_web_not_run"):
        terminalreporter.write_line(
            f"onnxruntime-web tests NOT RUN: {notes(config)['ort_web_not_run']} deselected, {ort_web_missing()} (the path of "
            f"onnxruntime-web's npm tarball; no test downloads it). Get it with: {get_ort_web()}; CI (CI=true) "
            "runs them and fails without it.", yellow=True, bold=True)


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


@pytest.fixture(scope="session")
def ort_web_tarball():
    """onnxruntime-web's npm tarball, from ARST_ORT_WEB (never downloaded by a test)."""
    reason = ort_web_missing()
    if reason:
        pytest.fail(f"this test needs onnxruntime-web's npm tarball: {reason}. Get it with: {get_ort_web()}",
                    pytrace=False)
    return os.environ[ORT_WEB_VARIABLE]
