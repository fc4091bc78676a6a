"""The test suite's own promises: the README's `pytest` passes on a machine without SLURM,
saying what it did not run, and CI (which starts a cluster) never passes without the SLURM
tests. Each case runs pytest on a two-test file with this suite's conftest.py and a fake
`sinfo` (or none) on PATH."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SLURM_STATE

ROOT = Path(__file__).resolve().parents[1]

TWO_TESTS = '''
import pytest

@pytest.mark.slurm
def test_on_the_cluster():
    pass

def test_anywhere():
    pass
'''


THREE_TESTS = TWO_TESTS + '''

@pytest.mark.browser
def test_in_chromium():
    pass
'''


def _pytest(tmp_path, sinfo_exit=None, extra_env=None, args=(), tests=TWO_TESTS):
    """pytest on `tests` (TWO_TESTS); `sinfo` absent (None) or a script exiting `sinfo_exit`."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for helper in (ROOT / "tests").glob("*.py"):  # conftest.py and the plugins it loads
        if not helper.name.startswith("test_"):
            shutil.copy(helper, suite / helper.name)
    (suite / "test_two.py").write_text(tests)
    (suite / "pytest.ini").write_text("[pytest]\nmarkers =\n    slurm: needs a cluster\n    browser: needs Chromium\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if sinfo_exit is not None:
        (bin_dir / "sinfo").write_text(f"#!/bin/sh\necho 'sinfo: cannot reach slurmctld' >&2\nexit {sinfo_exit}\n")
        (bin_dir / "sinfo").chmod(0o755)
    # Not this run's settings, nor its worker's (PYTEST_XDIST_WORKER: this suite may run on one),
    # nor the cluster's state it asked for once and passed on (conftest.SLURM_STATE): each case
    # asks its own fake sinfo.
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "ARST_REQUIRE_SLURM", "SLURM_CONF", SLURM_STATE) and not k.startswith("PYTEST_")}
    env.update(PATH=str(bin_dir), **(extra_env or {}))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args, str(suite)],
                          cwd=suite, capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("sinfo_exit, why", [(None, "sinfo is not installed"), (1, "cannot reach slurmctld")],
                         ids=["no-sinfo", "sinfo-fails"])
def test_without_a_cluster_slurm_tests_are_deselected_and_counted(tmp_path, sinfo_exit, why):
    rc, out = _pytest(tmp_path, sinfo_exit)
    assert rc == 0, out
    assert "1 passed, 1 deselected" in out
    assert "1 test marked slurm not run: no SLURM cluster answers" in out and why in out
    assert "pytest -m slurm" in out  # how to run them


@pytest.mark.parametrize("env", [{"CI": "true"}, {"ARST_REQUIRE_SLURM": "1"}], ids=["CI", "ARST_REQUIRE_SLURM"])
def test_a_run_that_requires_the_cluster_fails_without_one(tmp_path, env):
    rc, out = _pytest(tmp_path, None, env)
    assert rc == 1, out
    # An error in setup, before any fixture of the test (the tiny run, the cluster) is built.
    assert "1 passed, 1 error" in out
    assert "ERROR test_two.py::test_on_the_cluster" in out and "no SLURM cluster answers" in out
    assert "tests marked slurm FAILED" in out


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["one-process", "two-workers"])
def test_the_summary_counts_what_was_left_out_on_workers_too(tmp_path, args):
    """On pytest-xdist's workers (pyproject.toml's addopts) each worker deselects; the
    controller's summary still counts them and says why (tests/workers_plugin.py)."""
    rc, out = _pytest(tmp_path, None, {"ARST_CHROMIUM": str(tmp_path / "no-chromium")}, args, THREE_TESTS)
    assert rc == 0, out
    assert ("created: 2/2 workers" in out) == bool(args), out
    assert "1 passed, 2 deselected" in out, out
    assert "1 test marked slurm not run: no SLURM cluster answers (sinfo is not installed)" in out, out
    assert "browser tests NOT RUN: 1 deselected, Chromium not found: chromium" in out, out


def test_on_workers_a_run_that_requires_the_cluster_fails_without_one(tmp_path):
    rc, out = _pytest(tmp_path, None, {"CI": "true"}, ("-n", "2"))
    assert rc == 1, out
    assert "1 passed, 1 error" in out and "no SLURM cluster answers" in out
    assert "tests marked slurm FAILED" in out


SHARED_FIXTURE = '''
import os
import pytest

@pytest.fixture(scope="module")
def built():
    with open(os.environ["BUILT_LOG"], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    return os.environ["PYTEST_XDIST_WORKER"]

@pytest.mark.parametrize("k", range(6))
def test_with_it(built, k):
    assert os.environ["PYTEST_XDIST_WORKER"] == built

@pytest.mark.parametrize("k", range(6))
def test_without_it(k):
    pass
'''


def test_on_workers_the_tests_of_a_module_fixture_share_one_and_it_is_built_once(tmp_path):
    """tests/workers_plugin.py's groups reach pytest-xdist's scheduler (its own xdist_group
    marks silently do not, with pytest 9.2: pytest-dev/pytest-xdist#1386)."""
    log = tmp_path / "built.log"
    rc, out = _pytest(tmp_path, None, {"BUILT_LOG": str(log)}, ("-n", "2", "--dist", "loadgroup", "-v"),
                      SHARED_FIXTURE)
    assert rc == 0 and "12 passed" in out, out
    assert len(log.read_text().split()) == 1, out  # one worker built it, and ran every test of it
    assert "[gw0]" in out and "[gw1]" in out, out  # the others went to both


def test_with_a_cluster_every_test_runs(tmp_path):
    rc, out = _pytest(tmp_path, 0, {"CI": "true"})
    assert rc == 0 and "2 passed" in out and "deselected" not in out and "not run" not in out, out


def test_with_a_cluster_auto_adds_a_worker_for_its_tests(tmp_path):
    """`-n auto` (pyproject.toml): the SLURM tests wait on the cluster for minutes; the others
    keep two workers meanwhile. With `-m "not slurm"`, two."""
    from workers_plugin import WORKERS, usable_cpus
    if usable_cpus() < WORKERS:
        pytest.skip(f"{usable_cpus()} core: no workers")
    for k, (args, workers) in enumerate((((), WORKERS + 1), (("-m", "not slurm"), WORKERS))):
        (tmp_path / str(k)).mkdir()
        rc, out = _pytest(tmp_path / str(k), 0, {"CI": "true"}, ("-n", "auto", *args))
        assert rc == 0 and f"created: {workers}/{workers} workers" in out, (args, out)


def test_asking_to_leave_them_out_is_not_a_failure_even_in_ci(tmp_path):
    rc, out = _pytest(tmp_path, None, {"CI": "true"}, args=("-m", "not slurm"))
    assert rc == 0 and "1 passed, 1 deselected" in out and "FAILED" not in out and "error" not in out, out


def test_ci_runs_the_readme_test_line_verbatim_and_requires_the_cluster():
    readme = (ROOT / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("python3 -m venv") and "pytest" in l)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert line in ci
    up = ci.index("bash .ci/slurm-up.sh")
    required = next(i for i, l in enumerate(ci) if l.startswith("export ARST_REQUIRE_SLURM=1"))
    assert up < required < ci.index(line)
