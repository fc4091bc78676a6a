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


# What users read: the README, the docs, the configs, the report's captions, the package.
PUBLISHED = ["README.md", "CITATION.cff", "docs", "config", "workflow", "src/arst", "envs", "Snakefile"]


def _published_text():
    for entry in PUBLISHED:
        path = ROOT / entry
        for file in ([path] if path.is_file() else sorted(path.rglob("*"))):
            if file.is_file() and file.suffix not in (".png", ".gif", ".pdf", ".pyc"):
                yield file, file.read_text(errors="replace")


def test_nothing_users_read_cites_a_folder_outside_the_repository():
    offenders = [f"{file.relative_to(ROOT)}: line {text[:text.index(hit)].count(chr(10)) + 1}"
                 for file, text in _published_text() for hit in ("../shared", "shared/spec", "shared/data")
                 if hit in text]
    assert offenders == []


def test_every_citation_of_the_spec_names_a_section_it_has():
    import re
    spec = (ROOT / "docs" / "spec.md").read_text()
    sections = set(re.findall(r"^## (\d+)\. ", spec, re.M))
    assert sections == {"1", "2", "3", "4", "5"}
    cited = [(file, m.group(1)) for file, text in _published_text()
             for m in re.finditer(r"docs/spec\.md`?,? \(?section (\d+)", text)]
    assert len(cited) >= 4, cited  # the README, both recipes, the claims caption and the CLI
    assert all(section in sections for _, section in cited), cited
