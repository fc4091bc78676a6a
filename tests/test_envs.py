"""The conda environment of `snakemake --sdm conda`, as far as a machine without conda can
check it: its pins against pyproject.toml, and Snakemake building it (through a stand-in
`conda` that records what it is asked to do) from the copy in .snakemake/conda/."""

import json
import os
import sys
import textwrap
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "envs" / "arst.yaml"
# The controller's, not the jobs': Snakemake and its SLURM plugin stay out of the rules' env.
CONTROLLER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}


def _pip_section(env_file: Path) -> list[str]:
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    return next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)


def _requirements(lines) -> dict[str, Requirement]:
    out = {}
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            raise AssertionError(f"{line!r} is not a requirement (a path or a pip option?)") from None
        assert req.url is None, f"{line!r} installs from a URL or path"
        out[req.name.lower()] = req
    return out


def test_env_pins_are_pyprojects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {name: req for name, req in _requirements(project["dependencies"]).items()
              if name not in CONTROLLER_ONLY}
    env = _requirements(_pip_section(ENV))
    assert set(env) == set(wanted), f"only in the env: {set(env) - set(wanted)}; missing: {set(wanted) - set(env)}"
    for name, req in env.items():
        assert req.specifier == wanted[name].specifier, f"{name}: {req.specifier} in the env, " \
                                                         f"{wanted[name].specifier} in pyproject.toml"
    python = next(d for d in yaml.safe_load(ENV.read_text())["dependencies"]
                  if isinstance(d, str) and d.startswith("python="))
    assert SpecifierSet(project["requires-python"]).contains(python.split("=", 1)[1] + ".0")


FAKE_CONDA = '''#!{python}
"""Stands in for conda: answers Snakemake's checks; `env create` makes a prefix whose python
records how it was called (the post-deploy script's install)."""
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
if args[:2] == ["info", "--json"]:
    print(json.dumps({{"conda_prefix": {prefix!r}, "platform": "linux-64"}}))
elif args == ["--version"]:
    print("conda 24.11.0")
elif args[:2] == ["config", "--get"]:
    print(json.dumps({{"get": {{"channel_priority": "strict"}}}}))
elif args[:1] == ["clean"]:
    pass
elif args[:2] == ["env", "create"]:
    file, prefix = args[args.index("--file") + 1], Path(args[args.index("--prefix") + 1])
    (prefix / "bin").mkdir(parents=True)
    python = prefix / "bin" / "python"
    python.write_text("#!{python}\\nimport json, os, sys\\n"
                      "json.dump(dict(argv=sys.argv[1:], cwd=os.getcwd(), source=os.environ.get('ARST_SOURCE')),"
                      " open(os.environ['FAKE_CONDA_LOG'], 'w'))\\n")
    python.chmod(0o755)
    Path(os.environ["FAKE_CONDA_LOG"] + ".created").write_text(file)
else:
    sys.exit("fake conda: unexpected " + " ".join(args))
'''


def test_snakemake_builds_the_env_and_installs_this_checkout(tmp_path):
    import subprocess
    conda_root, bin_dir, work = tmp_path / "conda", tmp_path / "bin", tmp_path / "work"
    for d in (conda_root / "bin", bin_dir, work):
        d.mkdir(parents=True)
    conda = bin_dir / "conda"
    conda.write_text(FAKE_CONDA.format(python=sys.executable, prefix=str(conda_root)))
    conda.chmod(0o755)
    # `source $CONDA_PREFIX/bin/activate ENV`, as Snakemake activates an environment.
    (conda_root / "bin" / "activate").write_text('export PATH="$1/bin:$PATH"\n')
    log = tmp_path / "install.json"
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                                                  os.environ["PATH"]]), "FAKE_CONDA_LOG": str(log)}
    env.pop("ARST_SOURCE", None)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                           "--configfile", str(ROOT / "config" / "test.yaml"), "--directory", str(work),
                           "--sdm", "conda", "--conda-create-envs-only", "--cores", "1"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # conda was handed Snakemake's copy, in .snakemake/conda/: a relative path in its pip
    # section would be read from there.
    copy = Path((tmp_path / "install.json.created").read_text())
    assert copy.parent == work / ".snakemake" / "conda" and copy.read_text() == ENV.read_text()
    _requirements(_pip_section(copy))
    # The post-deploy script installed this checkout, by its absolute path, from the working directory.
    installed = json.loads(log.read_text())
    assert installed == {"argv": ["-m", "pip", "install", "--no-deps", "--editable", str(ROOT)],
                         "cwd": str(work), "source": str(ROOT)}, textwrap.shorten(str(installed), 500)
