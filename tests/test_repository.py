"""What a user of the published repository reads: the licence, how to cite, and docs that
cite only files inside the repository."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_licence_is_the_one_pyproject_names():
    assert PROJECT["license"]["text"] == "BSD-3-Clause"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License\n\nCopyright (c) 2026, the arst contributors\n")
    assert "Neither the name of the copyright holder nor the names of its" in text


def test_citation_names_the_project_and_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == PROJECT["version"] and cff["license"] == "BSD-3-Clause"
    assert cff["authors"] == [{"name": "the arst contributors"}]
    (paper,) = cff["references"]
    assert paper["title"] == "Adjustable Real-time Style Transfer" and paper["year"] == 2020
    assert [a["family-names"] for a in paper["authors"]] == ["Babaeizadeh", "Ghiasi"]
    assert "ICLR 2020" in paper["conference"]["name"]
    assert paper["url"] == "https://arxiv.org/abs/1811.08560"
