"""The command line: one direction of dependencies, and a start that imports nothing heavy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from arst.cli import VERBS, build_parser, main

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "arst"


def test_nothing_below_the_command_line_imports_it():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if PACKAGE / "cli" in path.parents or path.name == "__main__.py":  # the entry point
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                if target.endswith("cli") or ".cli." in target or target.startswith("arst.cli"):
                    offenders.append(f"{path.relative_to(PACKAGE)}: from {target} import ...")
    assert offenders == []


def test_help_imports_neither_torch_nor_matplotlib():
    code = ("import sys; from arst.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'scipy', 'skimage', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_verb_builds_its_parser_and_help_shows_defaults(capsys):
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert {"train", "stylize", "adjustability", "claims", "plot-adjustability", "plot-saddle",
            "sweep-summary", "bench"} <= names == set(VERBS)
    for name in sorted(names):
        build_parser(name)  # each verb's module imports and adds its arguments
    with pytest.raises(SystemExit):
        main(["noise", "--help"])
    assert "(default: 1.5)" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("arst 0.")
