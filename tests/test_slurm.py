"""The workflow on a real SLURM cluster, through workflow/profiles/slurm.

The tests marked `slurm` need a running cluster with a gpu gres: CI starts a single-node
one on 127.0.0.1 with `.ci/slurm-up.sh` (and stops it with `.ci/slurm-down.sh`). Without
one, tests/conftest.py deselects them and the summary says so, unless the run requires a
cluster (CI=true, or ARST_REQUIRE_SLURM=1 as .ci/run sets): then they fail. Run only these:
`pytest -m slurm`. The profile checks need no cluster and always run.

The runs go through `python -m snakemake` in a subprocess: profiles are read by the
command line only. The workflow profile is used as a user would (`--workflow-profile`,
beside a site profile given with `--profile`), except that its per-rule `cpus_per_task`
and `mem_mb` are lowered to what the test node has (a training job asks a real cluster
for 8 CPUs and 32 GB); every other key is the file's own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TEST_CONFIG = REPO / "config" / "test.yaml"
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
LOCAL_GPU_PROFILE = REPO / "workflow" / "profiles" / "local-gpu" / "config.yaml"

# Rules that train or evaluate models ask SLURM for a GPU (at least these; the profile
# lists them all); the rest are small CPU jobs.
GPU_RULES = {"train", "retrain", "sweep", "noise", "diversity", "content_identity", "combinations"}
TRAIN_RULES = {"train", "retrain", "train_ablation"}
# Columns that measure time, not results: they differ between any two runs.
VOLATILE = re.compile(r"(^|_)(elapsed|seconds|time|duration|date|host|runtime|device)(_|$)|_s$")

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: ([^)]*)\)")


def _sh(*cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _env() -> dict[str, str]:
    """This environment as an activated venv has it (jobs run `arst`; SLURM jobs inherit the
    controller's environment), less SLURM_* (a controller inside a SLURM job would take
    that job's settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


# --------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="session")
def cluster() -> dict:
    """The running cluster's node: name, state, CPUs, memory (MB), GPUs, default partition."""
    missing = [t for t in ("sinfo", "squeue", "sbatch", "scancel") if not shutil.which(t)]
    if missing:
        pytest.fail(f"SLURM client tools not found ({', '.join(missing)}): start the test cluster "
                    "with `bash .ci/slurm-up.sh` (as root)", pytrace=False)
    try:
        info = _sh("sinfo", "-h", "-N", "-o", "%N|%T|%c|%m|%G|%P")
        queue = _sh("squeue", "-h")
    except subprocess.TimeoutExpired:
        pytest.fail("sinfo/squeue did not answer within 30 s: is slurmctld running? "
                    "Start the test cluster with `bash .ci/slurm-up.sh`", pytrace=False)
    if info.returncode != 0 or queue.returncode != 0:
        pytest.fail("SLURM is not up (sinfo/squeue failed): "
                    f"{(info.stderr or queue.stderr).strip()[-500:]}\n"
                    "Start the test cluster with `bash .ci/slurm-up.sh` (as root)", pytrace=False)
    nodes = []
    for line in info.stdout.splitlines():
        name, state, cpus, mem, gres, partition = line.split("|")
        gpus = sum(int(m.group(1)) for m in re.finditer(r"gpu(?::[^:(,]+)?:(\d+)", gres))
        nodes.append(dict(name=name, state=state, cpus=int(cpus), mem=int(mem), gpus=gpus,
                          partition=partition.rstrip("*"), default=partition.endswith("*")))
    usable = [n for n in nodes if n["state"].rstrip("*~#").startswith(("idle", "mix", "alloc"))
              and n["gpus"] > 0]
    if not usable:
        pytest.fail(f"no SLURM node is up with a gpu gres: {nodes}\n"
                    "Start the test cluster with `bash .ci/slurm-up.sh`", pytrace=False)
    node = next((n for n in usable if n["default"]), usable[0])
    return node


def _squeue_all() -> dict[str, dict]:
    """Every job slurmctld still knows: id -> comment, state, tres-per-job."""
    out = _sh("squeue", "--states=all", "-h", "-O",
              "JobID:24,Comment:200,State:24,tres-per-job:80")
    jobs = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            jobs[parts[0]] = dict(comment=parts[1], state=parts[2], tres=parts[3])
    return jobs


# --------------------------------------------------------------------------- profiles


def _profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


@pytest.fixture(scope="session")
def profiles(cluster, tmp_path_factory) -> tuple[Path, Path]:
    """(site profile, workflow profile) for the test node.

    The site profile holds what a user's own profile would: the partition. It also polls
    every 5 s instead of 40 (test speed). The workflow profile is workflow/profiles/slurm
    with cpus_per_task and mem_mb lowered to fit the test node."""
    root = tmp_path_factory.mktemp("profiles")
    site, workflow = root / "site", root / "workflow"
    site.mkdir()
    workflow.mkdir()
    (site / "config.yaml").write_text(yaml.safe_dump({
        "default-resources": {"slurm_partition": cluster["partition"]},
        "slurm-init-seconds-before-status-checks": 5,
    }))
    profile = _profile()
    mem_cap = max(500, cluster["mem"] // cluster["cpus"])
    for resources in profile["set-resources"].values():
        if "cpus_per_task" in resources:
            resources["cpus_per_task"] = 1
        if "mem_mb" in resources:
            resources["mem_mb"] = min(resources["mem_mb"], mem_cap)
    (workflow / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return site / "config.yaml", workflow / "config.yaml"


def test_profile_is_portable_and_asks_for_gpus():
    """The keys the issue asks for, and none that would break a user's site profile."""
    profile = _profile()
    assert profile["executor"] == "slurm"
    assert isinstance(profile["jobs"], int) and profile["jobs"] > 0
    assert profile["latency-wait"] >= 30
    assert profile["slurm-status-command"] == "squeue"
    assert profile["rerun-incomplete"] is True
    # A workflow profile's default-resources would discard the site's account and
    # partition; its cores would leak into every job's command line.
    assert not {"default-resources", "cores", "resources"} & set(profile)
    resources = profile["set-resources"]
    for rule in GPU_RULES & set(_workflow_rules()):
        assert resources[rule]["gpu"] == 1, rule
        assert {"runtime", "mem_mb", "cpus_per_task"} <= set(resources[rule]), rule
    for rule in ("prepare_content", "claims"):
        assert "gpu" not in resources[rule], rule
        assert resources[rule]["cpus_per_task"] == 1, rule
    local = yaml.safe_load(LOCAL_GPU_PROFILE.read_text())
    assert local["resources"]["gpu"] >= 1
    assert not {"executor", "default-resources", "cores"} & set(local)


def _workflow_rules() -> dict[str, dict]:
    """Each rule of the workflow's files: whether it runs a command, is local, declares a gpu."""
    rules, local = {}, set()
    for path in [SNAKEFILE, *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        text = path.read_text()
        for block in re.finditer(r"^localrules:\n((?:[ \t]+.*\n?)+)", text, re.M):
            local |= set(re.findall(r"\w+", block.group(1)))
        for m in re.finditer(r"^rule (\w+):\n((?:(?:[ \t]+.*)?\n)+)", text, re.M):
            body = m.group(2)
            rules[m.group(1)] = dict(
                runs=bool(re.search(r"^[ \t]+(shell|script|run|notebook|wrapper):", body, re.M)),
                local=bool(re.search(r"^[ \t]+localrule:\s*True", body, re.M)),
                gpu=bool(re.search(r"^[ \t]+gpu\s*=", body, re.M)))
    for name in local & set(rules):
        rules[name]["local"] = True
    return rules


def test_profile_covers_every_submitted_rule():
    """Every rule SLURM would run has its resources in the profile; those that declare a
    gpu ask SLURM for one, the others do not."""
    rules = _workflow_rules()
    assert "train" in rules and rules["train"]["runs"] and rules["train"]["gpu"], rules.get("train")
    assert GPU_RULES & set(rules) == {r for r in GPU_RULES & set(rules) if rules[r]["gpu"]}
    resources = _profile()["set-resources"]
    submitted = {name for name, rule in rules.items() if rule["runs"] and not rule["local"]}
    missing = sorted(submitted - set(resources))
    assert not missing, f"rules without set-resources in {PROFILE.relative_to(REPO)}: {missing}"
    for name in submitted:
        wants = 1 if rules[name]["gpu"] else None
        assert resources[name].get("gpu") == wants, (
            f"{name}: gpu {resources[name].get('gpu')} in the profile, but the rule "
            f"{'declares' if wants else 'does not declare'} a gpu resource")


def test_profile_dry_run():
    """Snakemake accepts every key of the unmodified profile (and the plugin its options)."""
    with_profile = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
         "--configfile", str(TEST_CONFIG), "--workflow-profile", str(PROFILE.parent),
         "--dry-run", "--quiet", "rules"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=_env())
    assert with_profile.returncode == 0, with_profile.stdout[-3000:] + with_profile.stderr[-3000:]
    assert f"workflow specific profile {PROFILE.parent}" in with_profile.stdout + with_profile.stderr


# --------------------------------------------------------------------------- runs


class Run:
    """One `python -m snakemake` in a subprocess, its log in a file, SLURM's view of its jobs."""

    def __init__(self, workdir: Path, *args: str, config: Path = TEST_CONFIG, name: str = "run"):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir.parent / f"{workdir.name}.{name}.log"
        self.slurm: dict[str, dict] = {}
        self._stop = threading.Event()
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
               "--directory", str(workdir), f"--configfile={config}", *args]
        self._out = open(self.log, "w")
        self._out.write(" ".join(cmd) + "\n")
        self._out.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=workdir, env=_env())

    def watch_slurm(self) -> "Run":
        """Record every job's state and GPU request while it runs (squeue forgets jobs
        MinJobAge seconds after they end)."""
        def poll():
            while not self._stop.is_set():
                try:
                    for jobid, job in _squeue_all().items():
                        seen = self.slurm.setdefault(jobid, {**job, "states": set()})
                        seen.update(job)
                        seen["states"].add(job["state"])
                except (subprocess.TimeoutExpired, OSError):
                    pass
                self._stop.wait(1.0)
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=60)
            self.close()
            pytest.fail(f"snakemake did not finish within {timeout:.0f} s; log {self.log}:\n"
                        + self.tail(), pytrace=False)
        self.close()
        return rc

    def close(self) -> None:
        self._stop.set()
        if hasattr(self, "_thread"):
            self._thread.join(timeout=10)
        self._out.close()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.text().splitlines()[-n:])

    def submitted(self) -> dict[str, str]:
        """SLURM job id -> rule, from the controller's log."""
        jobs = {}
        for jobid, path in SUBMITTED.findall(self.text()):
            rule = next((p[len("rule_"):] for p in Path(path).parts if p.startswith("rule_")), None)
            jobs[jobid] = rule
        return jobs

    def sbatch_calls(self) -> dict[str, str]:
        """Rule -> one of its sbatch command lines (the controller logs them with --verbose)."""
        calls = {}
        for line in self.text().splitlines():
            m = re.search(r"sbatch call: (sbatch .*?) --wrap=", line)
            if m:
                rule = re.search(r"--comment '?rule_(\w+?)(?:_wildcards_\S*)?'? ", m.group(1))
                calls.setdefault(rule.group(1), m.group(1))
        return calls


def _run_ok(run: Run, timeout: float) -> Run:
    rc = run.wait(timeout)
    assert rc == 0, f"snakemake exited {rc}; log {run.log}:\n{run.tail()}"
    return run


@pytest.fixture
def local_run(tiny_run) -> Path:
    """The tiny config run locally (conftest's shared run): the SLURM run's reference."""
    return tiny_run


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / "results").rglob("*") if p.is_file()}


def _assert_same_table(a: Path, b: Path, rel: str) -> None:
    x, y = pd.read_csv(a), pd.read_csv(b)
    assert list(x.columns) == list(y.columns), rel
    assert x.shape == y.shape, rel
    for col in x.columns:
        if VOLATILE.search(col.lower()):
            continue
        u, v = x[col], y[col]
        if pd.api.types.is_numeric_dtype(u) and pd.api.types.is_numeric_dtype(v):
            assert np.allclose(u.to_numpy(float), v.to_numpy(float), rtol=1e-5, atol=1e-8,
                               equal_nan=True), (
                f"{rel}: column {col} differs between the local and the SLURM run:\n"
                f"{pd.DataFrame({'local': u, 'slurm': v})[~np.isclose(u, v, rtol=1e-5, atol=1e-8, equal_nan=True)]}")
        else:
            assert u.astype(str).tolist() == v.astype(str).tolist(), f"{rel}: column {col} differs"


# Through SLURM, the tiny config's models and alpha sweep: every kind of job (inputs,
# training, an evaluation, a summary) without the whole comparison, which would add ten
# minutes of 15-second SLURM round trips to the suite.
SLURM_TARGET = "results/tables/sweep_summary.csv"


@pytest.mark.slurm
def test_slurm_run_matches_local_and_asks_for_gpus(cluster, profiles, request, tmp_path):
    site, workflow = profiles
    run = Run(tmp_path / "work", SLURM_TARGET, "--profile", str(site.parent), "--workflow-profile",
              str(workflow.parent), "--verbose", name="slurm").watch_slurm()
    _run_ok(run, timeout=1200)
    # Asked for only now: on workers (pytest-xdist) another may be building it meanwhile.
    local_run = request.getfixturevalue("local_run")
    log = run.text()
    assert "workflow specific profile" in log

    # Every job went through SLURM, with a wall time and memory from the profile, and the
    # partition from the site profile.
    submitted = run.submitted()
    rules = set(submitted.values())
    assert rules & TRAIN_RULES, f"no training job was submitted; log {run.log}"
    calls = run.sbatch_calls()
    assert set(calls) == rules
    gpu_rules = {r for r, res in _profile()["set-resources"].items() if res.get("gpu")}
    for rule, call in calls.items():
        assert re.search(r" -t \d+", call), f"{rule} was submitted without a runtime: {call}"
        assert re.search(r" --mem \d+", call), f"{rule} was submitted without mem_mb: {call}"
        assert f"-p {cluster['partition']}" in call, f"{rule} lost the site's partition: {call}"
        if rule in gpu_rules:
            assert "--gpus=1" in call, f"{rule} was submitted without a GPU request: {call}"
        else:
            assert "--gpus" not in call, f"{rule} asked for a GPU: {call}"

    # ... and SLURM recorded the GPU request of every training job.
    for jobid, rule in submitted.items():
        if rule in gpu_rules:
            seen = run.slurm.get(jobid)
            assert seen is not None, f"squeue never showed job {jobid} ({rule})"
            assert seen["tres"] == "gres:gpu:1", f"job {jobid} ({rule}): TRES per job {seen['tres']}"
            assert "COMPLETED" in seen["states"] or "RUNNING" in seen["states"], seen

    # The outputs the local run also made, with the same numbers.
    local, remote = _files(local_run), _files(run.workdir)
    assert SLURM_TARGET in remote and remote <= local, f"only SLURM: {sorted(remote - local)}"
    tables = sorted(f for f in remote if f.startswith("results/tables/") and f.endswith(".csv"))
    assert tables, "the tiny run wrote no tables"
    losses = sorted(f for f in remote if f.startswith("results/models/") and f.endswith("/losses.csv"))
    assert losses, "the tiny run trained no model"
    for rel in tables + losses:
        _assert_same_table(local_run / rel, run.workdir / rel, rel)


def _tiny_long_training(tmp_path: Path, steps: int) -> tuple[Path, str, dict]:
    """config/test.yaml, trained long enough to cancel mid-run, and its first model's folder."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    impl = next(iter(config["implementations"]))
    config["train"]["steps"] = steps
    config["train"]["checkpoint_every"] = 4
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    style, seed = next(iter(config["styles"])), config["seeds"][0]
    return path, f"results/models/{impl}/{style}/seed{seed}", config


@pytest.mark.slurm
def test_cancelled_training_resumes_from_its_checkpoint(cluster, profiles, tmp_path):
    """scancel a training job mid-run; the rerun resumes it from its last checkpoint."""
    site, workflow = profiles
    steps = 40
    config, model_dir, _ = _tiny_long_training(tmp_path, steps)
    work = tmp_path / "work"
    target = f"{model_dir}/model.pt"
    args = ["--profile", str(site.parent), "--workflow-profile", str(workflow.parent), target]

    # The training job's inputs are made locally (they are not what this test is about).
    _run_ok(Run(work, target, "--cores", "2", "--until", "prepare_content", "source_image",
                config=config, name="inputs"), timeout=600)
    run = Run(work, *args, config=config, name="cancelled")
    checkpoint = work / model_dir / "checkpoint.pt"
    cancelled = None
    deadline = time.monotonic() + 600
    while run.proc.poll() is None and time.monotonic() < deadline:
        train_jobs = [j for j, r in run.submitted().items() if r == "train"]
        if train_jobs and checkpoint.exists():
            state = _squeue_all().get(train_jobs[0], {}).get("state")
            if state == "RUNNING":
                cancelled = train_jobs[0]
                assert _sh("scancel", cancelled).returncode == 0
                break
        time.sleep(0.2)
    rc = run.wait(timeout=300)
    assert cancelled, (f"the training job never ran with a checkpoint written (rc {rc}); "
                       f"log {run.log}:\n{run.tail()}")
    assert rc != 0, f"snakemake succeeded although its training job was cancelled:\n{run.tail()}"
    assert not (work / model_dir / "model.pt").exists(), "training finished before it was cancelled"
    assert checkpoint.exists(), "the cancelled job's checkpoint is gone"
    assert "CANCELLED" in run.text() or "cancelled" in run.text().lower(), run.tail()

    rerun = _run_ok(Run(work, *args, config=config, name="rerun"), timeout=900)
    assert "train" in rerun.submitted().values(), f"the rerun submitted no training job:\n{rerun.tail()}"
    train_log = (work / "results" / "logs" / "train").glob("*.log")
    text = "\n".join(p.read_text(errors="replace") for p in train_log)
    m = re.search(r"resuming \S+ from step (\d+)", text)
    assert m, f"the rerun's training log says nothing of resuming:\n{text[-2000:]}"
    assert 0 < int(m.group(1)) < steps
    losses = pd.read_csv(work / model_dir / "losses.csv")
    assert losses["step"].astype(int).tolist() == list(range(steps)), (
        "losses.csv should hold every step exactly once")


def test_every_test_that_needs_the_cluster_is_marked_slurm():
    """Unmarked, a cluster test would error on every machine without SLURM instead of being
    deselected (tests/conftest.py deselects by the marker)."""
    import inspect
    needs_cluster = {"cluster", "profiles"}
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and needs_cluster & set(inspect.signature(fn).parameters):
            marks = {m.name for m in getattr(fn, "pytestmark", [])}
            assert "slurm" in marks, f"{name} uses the cluster but is not marked slurm"
