"""The command line: one direction of dependencies, and a start that imports nothing heavy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from arst.cli import all_verbs, build_parser, main

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
            "sweep-summary", "bench"} <= names == set(all_verbs())
    for name in sorted(names):
        build_parser(name)  # each verb's module imports and adds its arguments
    with pytest.raises(SystemExit):
        main(["noise", "--help"])
    assert "(default: 1.5)" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("arst 0.")


# --------------------------------------------------------------------------- bad inputs
# Each one ends in exactly one line on stderr, naming the value and what is wrong, and exit 2.


@pytest.fixture
def trained(tiny_models):
    """A baseline model (4 style layers) and a content folder of three small photos: the
    session's (tests/conftest.py)."""
    return tiny_models["baseline"], tiny_models["content"]


def _one_line_error(capsys, verb: str, *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"arst {verb}: error: "), err
    assert all(f in lines[0] for f in fragments), (fragments, lines[0])
    return lines[0]


@pytest.mark.parametrize("alpha, shown", [
    ("--alpha=2,2,2,2", "and 2.0 does not"),
    ("--alpha=-1,0,0,0", "and -1.0 does not"),
    ("--alpha=nan,0,0,0", "and nan does not"),
])
def test_stylize_refuses_an_alpha_outside_zero_one(trained, tmp_path, capsys, alpha, shown):
    model, content = trained
    out = tmp_path / "out.png"
    assert main(["stylize", "--checkpoint", str(model), alpha, "--out", str(out), str(content / "amber.jpg")]) == 2
    _one_line_error(capsys, "stylize", "every alpha must lie in [0, 1]", shown)
    assert not out.exists()


def test_stylize_takes_folders(trained, tmp_path, capsys):
    model, content = trained
    assert main(["stylize", "--checkpoint", str(model), "--alpha", "0,0.5,1,0", "--out", str(tmp_path / "out"),
                 str(content)]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["amber.png", "candy.png", "udnie.png"]


def test_stylize_refuses_two_inputs_with_one_output_name(trained, tmp_path, capsys):
    import shutil
    model, content = trained
    (tmp_path / "b").mkdir()
    shutil.copy(content / "amber.jpg", tmp_path / "b" / "candy.jpg")
    out = tmp_path / "out"
    assert main(["stylize", "--checkpoint", str(model), "--out", str(out), str(content), str(tmp_path / "b")]) == 2
    _one_line_error(capsys, "stylize", str(content / "candy.jpg"), str(tmp_path / "b" / "candy.jpg"),
                    f"would both be written to {out / 'candy.png'}")
    assert not out.exists()  # refused before anything was written


def test_stylize_refuses_to_overwrite_an_input(trained, tmp_path, capsys):
    import shutil
    model, content = trained
    shutil.copy(content / "amber.jpg", tmp_path / "amber.png")
    assert main(["stylize", "--checkpoint", str(model), "--out", str(tmp_path), str(tmp_path / "amber.png")]) == 2
    _one_line_error(capsys, "stylize", str(tmp_path / "amber.png"), "would be overwritten")


def test_stylize_names_a_missing_input(trained, tmp_path, capsys):
    model, _ = trained
    assert main(["stylize", "--checkpoint", str(model), "--out", str(tmp_path), str(tmp_path / "nope")]) == 2
    _one_line_error(capsys, "stylize", f"not found: {tmp_path / 'nope'}")


@pytest.mark.parametrize("override, fragments", [
    ("batch_size=abc", ("batch_size = 'abc': expected an integer",)),
    ("style_layers=[relu9_9]", ("style_layers names relu9_9", "vgg19 does not have")),
    ("lr=[1]", ("lr = [1]: expected a finite number",)),
    ("no_such_field=1", ("unknown recipe key(s) ['no_such_field']",)),
])
def test_train_names_a_bad_recipe_override(trained, tmp_path, capsys, override, fragments):
    _, content = trained
    argv = ["train", "--content", str(content), "--style", str(content / "amber.jpg"), "--out", str(tmp_path),
            "--steps", "1", "--set", override]
    assert main(argv) == 2
    _one_line_error(capsys, "train", *fragments)


def test_train_names_a_bad_schedule(trained, tmp_path, capsys):
    _, content = trained
    argv = ["train", "--content", str(content), "--style", str(content / "amber.jpg"), "--out", str(tmp_path),
            "--steps", "2", "--log-every", "0"]
    assert main(argv) == 2
    _one_line_error(capsys, "train", "schedule: log_every = 0: must be at least 1")


def test_train_with_a_missing_style_fails_before_reading_the_content(trained, tmp_path, capsys, monkeypatch):
    from arst.data.images import ContentCache
    _, content = trained

    def decode(*args, **kwargs):
        raise AssertionError("the content folder was decoded before the style was checked")
    monkeypatch.setattr(ContentCache, "from_folder", decode)
    argv = ["train", "--content", str(content), "--style", str(tmp_path / "missing.jpg"), "--out",
            str(tmp_path / "run"), "--steps", "1", "--size", "32", "--set", "style_size=64"]
    assert main(argv) == 2
    _one_line_error(capsys, "train", f"style image not found: {tmp_path / 'missing.jpg'}")


def test_alpha_gif_loops_through_the_alpha_path(trained, tmp_path, capsys):
    from PIL import Image, ImageSequence
    model, content = trained
    out = tmp_path / "sweep.gif"
    assert main(["alpha-gif", "--checkpoint", str(model), "--image", str(content / "amber.jpg"), "--size", "32",
                 "--frames-per-leg", "2", "--frame-ms", "50", "--width", "160", "--out", str(out)]) == 0
    with Image.open(out) as gif:
        frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(gif)]
        assert gif.info["loop"] == 0 and gif.info["duration"] == 50
    # The baseline has 4 style layers: legs 0 -> e_k -> 0 for each, then 0 -> 1 -> 0, 2 frames each.
    assert len(frames) == (2 * 4 + 2) * 2 and frames[0].width == 160
    assert frames[0].height > 160  # the image, and the alpha bars under it
    assert main(["alpha-gif", "--checkpoint", str(model), "--image", str(content / "amber.jpg"),
                 "--frame-ms", "5", "--out", str(tmp_path / "x.gif")]) == 2
    _one_line_error(capsys, "alpha-gif", "frame duration 5 ms")


def test_training_curves_and_benchmarks_verbs(trained, tmp_path, capsys):
    import pandas as pd
    model, _ = trained
    losses = model.parent / "losses.csv"
    assert main(["plot-training", "--run", "one", str(losses), "--run", "two", str(losses),
                 "--png", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert main(["plot-training", "--run", "gone", str(tmp_path / "losses.csv"), "--png", str(tmp_path / "x.png")]) == 2
    _one_line_error(capsys, "plot-training", f"{tmp_path / 'losses.csv'} not found")
    tsv = tmp_path / "train.tsv"
    tsv.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                   "2.5\t0:00:02\t100\t200\t90\t95\t0\t1\t80\t2\n")
    assert main(["benchmarks", "--run", "job1", str(tsv), "--csv", str(tmp_path / "b.csv")]) == 0
    assert pd.read_csv(tmp_path / "b.csv").to_dict("records") == [
        {"job": "job1", "wall_s": 2.5, "max_rss_mb": 100, "mean_load_pct": 80, "cpu_s": 2}]
