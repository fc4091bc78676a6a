"""The suite on pytest-xdist workers: how many, which tests run together, and what the workers
tell the controller.

pyproject.toml's addopts ask for `-n auto --dist loadgroup --no-loadscope-reorder`. `auto`
is WORKERS where there are that many cores (one more where the SLURM tests run: they wait on
the cluster for minutes, tests/conftest.py), and no workers at all (the tests run in this
process, as without pytest-xdist) on a single core or when only named tests are asked for
(`pytest tests/test_x.py::test_y`), where starting workers would cost more than it saves.
`-n 0` runs without workers; `-n 3` with three.

Which tests run together is decided here (`group_of`), not by xdist_group marks alone:
pytest-xdist's loadgroup tells the controller a test's group by appending it to the test's
id, which pytest 9.2's structured ids silently ignore (pytest-dev/pytest-xdist#1386), so
that every test went wherever a worker was free. Each worker writes the groups it collected
to a file the controller named (`pytest_configure_node`), and the controller's scheduler
(`GroupScheduling`, pytest-xdist's own loadscope scheduling) reads them from there.

Each worker collects and deselects on its own, and the controller, which prints the summary,
sees neither: `note` hands it what the plugins decided (the SLURM and browser tests not run),
and pytest_testnodedown below counts the deselected tests, which pytest-xdist leaves out of
its summary line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest

WORKERS = 2

# Tests that run on one worker, in the order they start: the longest first, then the other
# tests marked workflow (a run of their own), so that no worker waits idle at the end for one.
#   tiny_run: the tests that use the shared run of config/test.yaml (tests/conftest.py). It
#       is built once, and some of them change it (a figure deleted and rebuilt, a report
#       written) while others read it.
#   slurm: the cluster's tests, one run at a time on its one node.
#   <a test module>: the tests that share a module-scoped fixture (a model, a sweep), or the
#       session's Chromium: built once, not once per worker.
#   <an xdist_group mark's name>: the tests marked so.
# Every other test goes wherever a worker is free.
FIRST = ("tiny_run", "slurm")


def worker() -> str | None:
    """This worker's name (gw0, gw1, ...), or None in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_workers(config) -> int | None:
    """`-n auto`'s count (tests/conftest.py's pytest_xdist_auto_num_workers may add one); None
    where PYTEST_XDIST_AUTO_NUM_WORKERS gives it (pytest-xdist's own hook reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    if usable_cpus() < WORKERS or (config.args and all("::" in arg for arg in config.args)):
        return 0
    return WORKERS


def pytest_configure(config):
    """On a worker, torch and the processes the tests start get the worker's share of the
    cores: each worker's torch on every core would only make them contend."""
    if worker() is None:
        return
    share = str(max(1, usable_cpus() // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, share)  # a user's own setting stands
    if "torch" in sys.modules:  # else torch reads OMP_NUM_THREADS when the tests import it
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


# --------------------------------------------------------------------------- once


def shared_folder(tmp_path_factory) -> Path:
    """This session's folder that every worker sees (each has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker() else base


def once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `name`, filled by `build(folder)` once for the session: by the first worker
    to ask, under a lock, while the others wait for it. Call it from a session-scoped fixture.
    A failed build fails every later asker too, with its message, rather than build again."""
    if worker() is None:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    shared = shared_folder(tmp_path_factory)
    folder, done, failed = shared / name, shared / f"{name}.done", shared / f"{name}.failed"
    with FileLock(shared / f"{name}.lock"):
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not done.exists():
            folder.mkdir()
            try:
                build(folder)
            except (Exception, pytest.fail.Exception) as error:
                failed.write_text(f"{name}, built by worker {worker()}, failed: {error}")
                raise
            done.touch()
    return folder


# --------------------------------------------------------------------------- notes


_NOTES = pytest.StashKey[dict]()


def note(config, key: str, value) -> None:
    """Record `value` (plain data: it may cross to the controller) for this run's summary."""
    notes(config)[key] = value
    if hasattr(config, "workeroutput"):  # a worker: sent to the controller when it ends
        config.workeroutput["arst_notes"] = notes(config)


def notes(config) -> dict:
    """What `note` recorded, in this process or, on the controller, in the first worker to end."""
    if _NOTES not in config.stash:
        config.stash[_NOTES] = {}
    return config.stash[_NOTES]


_HEARD = pytest.StashKey[bool]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller, as each worker ends. Every worker collected and deselected the same
    tests: the first to end tells for all."""
    config, output = node.config, getattr(node, "workeroutput", None) or {}
    if config.stash.get(_HEARD, False) or "arst_deselected" not in output:
        return
    config.stash[_HEARD] = True
    notes(config).update(output.get("arst_notes", {}))
    if output["arst_deselected"]:
        config.hook.pytest_deselected(items=output["arst_deselected"])  # counted by node id


def pytest_deselected(items):
    config = getattr(items[0], "config", None) if items else None  # node ids on the controller
    if config is not None and hasattr(config, "workeroutput"):
        config.workeroutput.setdefault("arst_deselected", []).extend(item.nodeid for item in items)


# --------------------------------------------------------------------------- groups


def group_of(item) -> str | None:
    marked = item.get_closest_marker("xdist_group")
    if marked:
        return str(marked.args[0] if marked.args else marked.kwargs.get("name", "default"))
    if item.get_closest_marker("slurm"):
        return "slurm"
    if "tiny_run" in item.fixturenames:
        return "tiny_run"
    fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    if "chrome" in item.fixturenames or any(defs and defs[-1].scope == "module" for defs in fixtures.values()):
        return item.module.__name__
    return None


_GROUPS = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """On a worker: the groups, and the order in which the controller hands them out."""
    if worker() is None:
        return
    groups = config.stash[_GROUPS] = {item: group_of(item) for item in items}

    def start(item) -> int:  # stable: within a group, and among the rest, the order of the files
        if groups[item] in FIRST:
            return FIRST.index(groups[item])
        return len(FIRST) + (not item.get_closest_marker("workflow"))
    items.sort(key=start)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist sends the controller the collected ids
def pytest_collection_finish(session):
    config = session.config
    if not hasattr(config, "workeroutput"):
        return
    config.workeroutput.setdefault("arst_deselected", [])
    if "arst_groups" in config.workerinput:
        groups = config.stash.get(_GROUPS, {})
        by_id = {item.nodeid: groups[item] for item in session.items if groups.get(item)}
        path = Path(config.workerinput["arst_groups"]) / f"{worker()}.json"
        path.with_suffix(".tmp").write_text(json.dumps(by_id))
        path.with_suffix(".tmp").replace(path)


_GROUPS_FOLDER = pytest.StashKey[Path]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """The controller, as it starts a worker: where to write its groups."""
    config = node.config
    if _GROUPS_FOLDER not in config.stash:
        config.stash[_GROUPS_FOLDER] = Path(tempfile.mkdtemp(prefix="arst-xdist-groups-"))
    node.workerinput["arst_groups"] = str(config.stash[_GROUPS_FOLDER])


def pytest_unconfigure(config):
    if _GROUPS_FOLDER in config.stash:
        shutil.rmtree(config.stash[_GROUPS_FOLDER], ignore_errors=True)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before pytest-xdist's own LoadGroupScheduling
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """pytest-xdist's loadscope, its scopes the groups the workers wrote (every worker
        collects the same tests, so any one's file will do) and each other test its own."""

        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                written = sorted(config.stash[_GROUPS_FOLDER].glob("*.json"))
                self.groups = json.loads(written[0].read_text()) if written else {}
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)
