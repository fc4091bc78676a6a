"""An experiment is one module: the example of docs/experiments.md, registered through
ARST_EXPERIMENTS, appears in the command line, the config check, the workflow's DAG, the
report's pages and the claims table."""

import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from arst.errors import ConfigError
from arst.experiments import registry

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "config"


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The docs' example as the module toy_experiment, its captions beside it, registered."""
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "experiments.md").read_text(), re.S).group(1)
    (tmp_path / "toy_experiment.py").write_text(code)
    for caption in ("toy.rst", "toy_figure.rst"):
        (tmp_path / caption).write_text("The toy experiment of docs/experiments.md: mean grey levels.\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(registry.EXTRA_MODULES, "toy_experiment")
    yield tmp_path
    sys.modules.pop("toy_experiment", None)


def test_the_toy_has_its_verbs_with_its_settings(toy, capsys):
    from arst.cli import all_verbs, build_parser
    parser = build_parser("toy")
    assert {"toy", "toy-summary", "plot-toy"} <= set(all_verbs())
    args = parser.parse_args(["toy", "--checkpoint", "m.pt", "--style", "s.png", "--images", "a.png",
                              "--table", "t.csv", "--scale", "3"])
    assert args.scale == 3.0
    with pytest.raises(SystemExit):
        build_parser("toy").parse_args(["toy", "--help"])
    assert "what the mean is multiplied by (default: 1.0)" in capsys.readouterr().out


def test_the_toys_settings_are_checked_and_filled(toy):
    from arst.plan import check_evaluation, experiment_argv
    config = {"evaluation": {"toy": {"scale": 2}}}
    check_evaluation(config)
    assert config["evaluation"]["toy"] == {"scale": 2} and config["evaluation"]["noise"]["dots"] == 9
    assert experiment_argv(config, "toy") == ["--scale", "2"]
    with pytest.raises(ConfigError, match=r"^config evaluation.toy: Additional properties are not allowed "
                                          r"\('scal' was unexpected\)$"):
        check_evaluation({"evaluation": {"toy": {"scal": 2}}})


def test_the_toy_is_in_the_dag_the_report_and_the_claims_inputs(toy):
    from test_workflow import job_counts, snakemake
    proc = snakemake("-n", "-p", "--configfile", str(CONFIGS / "test.yaml"), "--directory", str(toy / "run"))
    counts = job_counts(proc.stdout)
    runs = 2  # baseline and corrected, one style, one seed
    assert (counts["toy"], counts["toy_summary"], counts["plot_toy"], counts["toy_page"]) == (runs, 1, 1, 1)
    assert "arst toy --checkpoint results/models/baseline/mosaic/seed1/model.pt" in proc.stdout
    assert "--scale 1.0 --table results/tables/toy/baseline_mosaic_seed1.csv" in proc.stdout
    assert "output: results/report/toy.html" in proc.stdout
    assert "--toy results/tables/toy.csv" in proc.stdout  # the claims read its summary
    named = snakemake("-n", "toy_target", "--configfile", str(CONFIGS / "test.yaml"), "--directory", str(toy / "run"))
    assert {"toy_summary", "plot_toy"} <= set(job_counts(named.stdout))


def test_the_toys_claim_is_a_row_of_the_claims_table(toy):
    from arst.experiments.claims import claims_table
    summary = toy / "toy.csv"
    pd.DataFrame({"implementation": ["corrected"] * 2, "style": ["mosaic"] * 2, "seed": [1, 2],
                  "loss_net": ["random(seed=0)"] * 2, "mean": [0.4, 0.5]}).to_csv(summary, index=False)
    table, text = claims_table({"toy": str(summary)})
    row = table[table["claim"] == "The toy measures something"].iloc[0]
    assert (row["corrected"], row["holds (corrected)"]) == ("lowest mean 0.4", "yes")
    assert "The toy measures something" in text


def test_every_experiments_captions_exist():
    """The report's captions the built-in experiments name (the rule files no longer spell them)."""
    for experiment in registry.experiments().values():
        for caption in (experiment.summary_caption, *(f.caption for f in experiment.figures)):
            assert (ROOT / "workflow" / "report" / caption).stat().st_size > 50, (experiment.name, caption)
