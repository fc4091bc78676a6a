"""Atomic writes: the file appears whole or not at all, with the mode the user's umask gives."""

import os
import stat

import pandas as pd
import pytest

from arst import checkpoint
from arst.io import atomic_path, write_json
from arst.tables import write_table


@pytest.fixture
def umask():
    """Set a umask for one test, then restore the one the session had."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o027, 0o640), (0o002, 0o664), (0o077, 0o600)],
                         ids=["umask027", "umask002", "umask077"])
def test_outputs_get_the_mode_the_umask_gives(tmp_path, umask, mask, expected):
    umask(mask)
    write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.csv", tmp_path / "t.md", title="t")
    checkpoint.save(tmp_path / "model.pt", {"step": 3})
    write_json(tmp_path / "listing.json", {"files": ["a.jpg"]})
    for name in ("t.csv", "t.md", "model.pt", "listing.json"):
        assert _mode(tmp_path / name) == expected, (name, oct(_mode(tmp_path / name)))
    assert checkpoint.load(tmp_path / "model.pt")["step"] == 3
    assert pd.read_csv(tmp_path / "t.csv")["a"].tolist() == [1, 2]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
