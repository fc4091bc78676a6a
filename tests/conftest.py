from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.register_assert_rewrite("workers_plugin")  # imported here before pytest_plugins loads it
from workers_plugin import auto_workers, note, notes, once, shared_folder  # noqa: E402

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"

# The browser tests' fixtures and their deselection where Chromium is missing; the workers
# (pytest-xdist) and what they tell the controller, which prints the summary.
pytest_plugins = ["workers_plugin", "chromium_plugin"]


# --------------------------------------------------------------------------- SLURM tests
# The tests marked `slurm` need a running cluster. On a machine with none (a user's laptop,
# where the README's `pytest` must pass) they are deselected, and the summary says how many
# and how to run them. Where the cluster is part of the run (CI: `CI=true`, or
# ARST_REQUIRE_SLURM=1, which .ci/run sets once .ci/slurm-up.sh has started one) a cluster
# that does not answer fails every one of them instead: CI never passes without them.

REQUIRE_SLURM = "ARST_REQUIRE_SLURM"


def slurm_required() -> bool:
    def on(name: str) -> bool:
        return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")
    return on("CI") or on(REQUIRE_SLURM)


SLURM_STATE = "ARST_SLURM_STATE"  # "up", or why not: asked once, then passed on in the environment


def slurm_down() -> str | None:
    """None when a SLURM controller answers `sinfo`; otherwise why not, in a few words.

    Asked once per run: the answer goes into the environment, which the workers inherit. Where
    a SLURM client is installed but no controller runs (a machine that ran .ci/slurm-up.sh once),
    every client command waits 9 s before it gives up, and Snakemake's SLURM plugin runs
    `scontrol` whenever it loads, in every workflow test. With no cluster to test, the tests'
    processes get an empty client configuration (SLURM_CONF), with which they fail at once."""
    state = os.environ.get(SLURM_STATE)
    if state is None:
        state = ask_sinfo() or "up"
        os.environ[SLURM_STATE] = state
        if state != "up" and not slurm_required():
            os.environ.setdefault("SLURM_CONF", os.devnull)
    return None if state == "up" else state


def ask_sinfo() -> str | None:
    sinfo = shutil.which("sinfo")
    if sinfo is None:
        return "sinfo is not installed"
    try:
        proc = subprocess.run([sinfo, "-h"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 30 s"
    if proc.returncode != 0:
        return f"sinfo failed: {(proc.stderr or proc.stdout).strip()[-300:] or f'exit {proc.returncode}'}"
    return None


def pytest_configure(config):
    slurm_down()  # before the workers start, so that they inherit the answer (and SLURM_CONF)


@pytest.hookimpl(trylast=True)  # after `-m` has deselected what the user asked to leave out
def pytest_collection_modifyitems(config, items):
    slurm = [item for item in items if item.get_closest_marker("slurm")]
    if not slurm:
        return
    why = slurm_down()
    if why is None:
        return
    if slurm_required():
        note(config, "slurm_missing", why)
        return
    items[:] = [item for item in items if not item.get_closest_marker("slurm")]
    config.hook.pytest_deselected(items=slurm)
    note(config, "slurm_not_run", [len(slurm), why])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (tests/workers_plugin.py), and one worker more where the SLURM tests will run:
    they spend minutes waiting on the cluster, and would hold one of the two meanwhile."""
    workers = auto_workers(config)
    expr = config.getoption("markexpr", "") or ""
    if workers and "not slurm" not in expr and slurm_down() is None:
        workers += 1
    return workers


def pytest_runtest_setup(item):
    why = notes(item.config).get("slurm_missing")
    if why is not None and item.get_closest_marker("slurm"):
        pytest.fail(f"no SLURM cluster answers ({why}), but this run requires one (CI or "
                    f"{REQUIRE_SLURM} is set): start it with `bash .ci/slurm-up.sh` (as root)",
                    pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if "slurm_not_run" in notes(config):
        count, why = notes(config)["slurm_not_run"]
        terminalreporter.write_line(
            f"{count} test{'s' if count != 1 else ''} marked slurm not run: no SLURM cluster answers "
            f"({why}). To run them: `sudo bash .ci/slurm-up.sh && pytest -m slurm` "
            "(.ci/run does both, and fails if the cluster does not come up).", yellow=True, bold=True)
    if "slurm_missing" in notes(config):
        terminalreporter.write_line(
            f"tests marked slurm FAILED: this run requires a SLURM cluster (CI or {REQUIRE_SLURM} is "
            f"set) and none answers ({notes(config)['slurm_missing']}).", red=True, bold=True)


@pytest.fixture(scope="session", autouse=True)
def arst_cache_dir(tmp_path_factory):
    """arst's cache (the ONNX exports of checkpoints: arst.export.cache_dir) in a folder of this
    session's, shared by its tests, its workers and the processes they start, never the
    user's ~/.cache."""
    folder = shared_folder(tmp_path_factory) / "arst-cache"  # the workers' too: its writes are atomic
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ARST_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """The real reference images beside the repository (never copied into it)."""
    if not (SHARED_IMAGES / "mosaic.jpg").is_file():
        pytest.fail(
            f"reference images not found in {SHARED_IMAGES}: the tests need ../shared/data/images "
            "beside the repository (mosaic.jpg, candy.jpg, udnie.jpg, amber.jpg)",
            pytrace=False,
        )
    return SHARED_IMAGES


class FileServer:
    """Serves ``files`` ({path: bytes}) with Range support; ``modes`` ({path: mode}) misbehave on purpose.

    Modes: "cut" sends half the body of the first response for a path (with the full
    Content-Length) and closes; "wrong" serves other bytes; "norange" ignores Range;
    "busy" answers 503. ``down_url`` gives an address where nothing listens.
    ``requests`` records (path, Range header or None) for every request.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self._cut: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                mode = server.modes.get(self.path)
                if mode == "busy":
                    self.send_error(503)
                    return
                if mode == "wrong":
                    body = bytes(b ^ 0xFF for b in body)
                if mode == "cut" and self.path not in server._cut:
                    server._cut.add(self.path)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and mode != "norange":
                    start = int(m.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    body = body[start:]
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes, mode: str | None = None) -> str:
        self.files[path] = body
        if mode:
            self.modes[path] = mode
        return self.url(path)

    @staticmethod
    def down_url(path: str) -> str:
        """An address where nothing listens: a port just bound and released."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return f"http://127.0.0.1:{port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def http_server():
    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The working directory of the one local run of config/test.yaml (`--cores 2`), shared by
    every test that needs a workflow run and by the SLURM test's comparison: built once for
    the session, whichever worker (pytest-xdist) asks first. The tests that use it run on one
    worker (tests/workers_plugin.py: some change it), the SLURM tests, which read it, on another."""
    return once(tmp_path_factory, "tiny", _run_tiny)


def _run_tiny(workdir: Path) -> None:
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(root / "Snakefile"), "--cores", "2",
           "--configfile", str(root / "config" / "test.yaml"), "--directory", str(workdir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"


TINY_MODELS = {"steps": 2, "seed": 3}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, shared_images) -> dict:
    """Each implementation trained 2 steps (seed 3, at 32 px, to a 64 px mosaic.jpg) on a
    folder of three small photos (amber.jpg, candy.jpg and udnie.jpg at 48x40: stylizing the
    full-size ones takes a minute on a CPU), once for the session; for the tests that need a
    trained model, not a particular one. Read only: {"baseline": model.pt, "corrected":
    model.pt, "content": the folder, "steps": 2, "seed": 3}."""
    def build(root: Path) -> None:
        from PIL import Image

        from arst.recipe import load_recipe
        from arst.schedule import Schedule
        from arst.train import train
        (root / "content").mkdir()
        for name in ("amber.jpg", "candy.jpg", "udnie.jpg"):
            Image.open(shared_images / name).convert("RGB").resize((48, 40)).save(root / "content" / name)
        for name in ("baseline", "corrected"):
            train(root / "content", shared_images / "mosaic.jpg", root / name, load_recipe(name, style_size=64),
                  Schedule(steps=TINY_MODELS["steps"], batch=2, size=32), seed=TINY_MODELS["seed"], progress=False)

    root = once(tmp_path_factory, "tiny-models", build)
    return {"baseline": root / "baseline" / "model.pt", "corrected": root / "corrected" / "model.pt",
            "content": root / "content", **TINY_MODELS}
