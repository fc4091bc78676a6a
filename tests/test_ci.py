"""The GitHub Actions workflow users copy into their own CI (.github/workflows/main.yml) and the
catalogue's file (.snakemake-workflow-catalog.yml): every command CI runs exists in this
repository, and the cheap ones (formatting, lint) pass here; the dry-run of every config runs its
loop here, and tests/test_workflow.py the dry-runs."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "main.yml"
# Every `run:` step, by name: run here by this file, or (heavy: minutes, root, packages from
# Debian) only checked to exist. A step in neither set fails the first test: decide which.
# The dry-run step runs here as written, with a `snakemake` that records what it is asked
# (test_the_dry_run_step_dry_runs_every_config_each_in_a_new_folder): the dry-runs themselves
# are tests/test_workflow.py's, one test per config, which check what each plans too.
RUN_HERE = {"Formatting", "Linting"}
DRY_RUNS = "Dry-run every config"
CHECKED_ONLY = {"Install", "Test config end to end", "Test suite with SLURM and the browser tests"}
SHELL_WORDS = {"for", "in", "do", "done", "exit"}


def _run_steps() -> dict[str, str]:
    """step name -> its `run:` command, over every job (a name used twice must run one command)."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    steps = {}
    for job in jobs.values():
        for step in job["steps"]:
            if "run" in step:
                assert steps.setdefault(step["name"], step["run"]) == step["run"], step["name"]
    return steps


def _commands(script: str) -> list[list[str]]:
    """The simple commands of a step's one-line bash script, as words: split at `&&`, `||` and
    `;`, with each `$(...)` a single word and bash's loop keywords dropped."""
    script = re.sub(r'"?\$\([^)]*\)"?', "SUBSTITUTED", script)
    commands = []
    for part in re.split(r"\s*(?:&&|\|\||;)\s*", script.strip()):
        words = shlex.split(part)
        if words and words[0] == "for":  # for NAME in WORDS: the words are what it iterates over
            commands.append(["for", *words[3:]])
        elif words and words[0] in ("do", "done"):
            words = words[1:]
        if words and words[0] != "for":
            commands.append(words)
    return commands


def _env() -> dict[str, str]:
    """This interpreter's bin folder first on PATH, as an activated venv (and CI's install) has it."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_every_step_is_known_and_every_command_and_file_it_names_exists():
    steps = _run_steps()
    known = RUN_HERE | {DRY_RUNS} | CHECKED_ONLY
    assert set(steps) == known, set(steps) ^ known
    env_path = _env()["PATH"]
    for name, script in steps.items():
        for words in _commands(script):
            program = words[0]
            if program == "for":
                assert all(list(ROOT.glob(w)) for w in words[1:]), (name, words)  # it iterates over files
                continue
            if program in SHELL_WORDS:
                continue
            assert shutil.which(program, path=env_path), f"{name}: {program} is not installed here"
            if program == "bash":
                assert (ROOT / words[1]).is_file(), f"{name}: {words[1]} is not in the repository"
            # Every argument that names a file or folder of the repository names one that exists.
            for word in words[1:]:
                if not word.startswith(("-", "$", "SUBSTITUTED")) and ("/" in word or word == "Snakefile"):
                    assert (ROOT / word).exists() or list(ROOT.glob(word)), f"{name}: {word} not found"
            if "--configfile" in words and not words[words.index("--configfile") + 1].startswith("$"):
                assert (ROOT / words[words.index("--configfile") + 1]).is_file(), (name, words)


def test_the_install_step_installs_what_the_others_run():
    """`pip install -e '.[test]'`: the extra exists and holds the tools the later steps call."""
    assert _commands(_run_steps()["Install"]) == [["pip", "install", "-e", ".[test]"]]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = " ".join(project["optional-dependencies"]["test"])
    assert "snakefmt" in extra and "pytest" in extra
    assert any(d.startswith("snakemake") for d in project["dependencies"])


def test_every_job_runs_in_debian_with_a_python_arst_supports_and_ci_runs_every_push():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    for name, job in workflow["jobs"].items():
        # .ci/run installs SLURM and Chromium from Debian, as root: an Ubuntu runner's chromium is a snap.
        image = re.fullmatch(r"python:(\d+)\.(\d+)-(bookworm|trixie)", job["container"])
        assert image, (name, job["container"])
        assert required == ">=3.11" and (int(image[1]), int(image[2])) >= (3, 11), (name, required)


@pytest.mark.parametrize("name", sorted(RUN_HERE))
def test_a_cheap_step_passes_here(name):
    script = _run_steps()[name]
    proc = subprocess.run(["bash", "-c", script], cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, f"{name}: {script}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def test_the_dry_run_step_dry_runs_every_config_each_in_a_new_folder(tmp_path):
    """The step as written, with a `snakemake` first on PATH that records its arguments (and
    fails for the config named in $FAIL). That the real one finds the Snakefile from the
    repository's root is the Linting step's test; each config's dry-run, and its plan, is
    test_workflow.py's test_dry_run_plans_expected_jobs."""
    from test_workflow import SHIPPED
    bin_dir, folders, calls = tmp_path / "bin", tmp_path / "tmp", tmp_path / "calls"
    bin_dir.mkdir()
    folders.mkdir()
    (bin_dir / "snakemake").write_text('#!/bin/sh\necho "$*" >> "$CALLS"\n[ "$3" != "$FAIL" ]\n')
    (bin_dir / "snakemake").chmod(0o755)
    env = {**_env(), "CALLS": str(calls), "TMPDIR": str(folders)}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    def step(fail: str = "") -> tuple[int, list[list[str]]]:
        calls.write_text("")
        proc = subprocess.run(["bash", "-c", _run_steps()[DRY_RUNS]], cwd=ROOT, env={**env, "FAIL": fail},
                              capture_output=True, text=True)
        return proc.returncode, [line.split() for line in calls.read_text().splitlines()]

    rc, runs = step()
    assert rc == 0, runs
    configs = sorted(f"config/{name}.yaml" for name in SHIPPED)  # what test_workflow.py dry-runs
    assert sorted(run[2] for run in runs) == configs == sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "config").glob("*.yaml"))
    assert all(run[:2] == ["-n", "--configfile"] and run[3] == "--directory" and len(run) == 5 for run in runs), runs
    made = [Path(run[4]) for run in runs]
    assert len(set(made)) == len(runs) and all(d.parent == folders and d.is_dir() for d in made), made
    # A config whose dry-run fails fails the step, and the loop stops there.
    rc, stopped = step(fail=runs[1][2])
    assert rc != 0 and [run[2] for run in stopped] == [run[2] for run in runs[:2]]


def test_the_catalogue_file_says_what_the_workflow_offers():
    catalogue = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert set(catalogue) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert set(catalogue["mandatory-flags"]) == {"desc", "flags"}
    deployment = catalogue["software-stack-deployment"]
    assert set(deployment) == {"conda", "singularity", "singularity+conda"}
    # conda: the rules name envs/arst.yaml (`snakemake --lint` requires it of every rule); no container.
    assert deployment["conda"] is True and (ROOT / "envs" / "arst.yaml").is_file()
    assert not deployment["singularity"] and not deployment["singularity+conda"]
    assert "container:" not in (ROOT / "Snakefile").read_text()
    # report: the Snakefile declares the report's front page, and it exists.
    front = re.search(r'^report: "([^"]+)"', (ROOT / "Snakefile").read_text(), re.M)
    assert catalogue["report"] is True and front and (ROOT / front[1]).is_file()
    # The workflow's configuration is described where the catalogue shows it from.
    assert (ROOT / "config" / "README.md").is_file()
