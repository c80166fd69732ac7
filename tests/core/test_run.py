"""Which files of a folder are the states of a run, and their training order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer.core.analysis.run import order_run, run_paths
from csv_state_viewer.core.api import save_state
from csv_state_viewer.core.errors import CsvStateError


def test_a_folder_gives_its_state_files_without_companions_or_shards(tmp_path: Path) -> None:
    for step, name in ((20, "epoch_10.npy"), (10, "epoch_2.npy")):
        save_state(tmp_path / name, {"w": np.full(3, step, np.float32)}, metadata={"w": {"a": 1}})
    assert (tmp_path / "epoch_2.npy.json").exists()  # its sidecar: not a state of the run
    (tmp_path / "ckpt-1.data-00000-of-00001").write_bytes(b"\0" * 8)
    (tmp_path / ".hidden.csv").write_text("x")
    (tmp_path / "sub").mkdir()
    found = [Path(p).name for p in run_paths([str(tmp_path)])]
    assert found == ["epoch_2.npy", "epoch_10.npy"]  # natural order


def test_states_are_ordered_by_step_when_each_has_one(tmp_path: Path) -> None:
    for name, step in (("a.csv", 30), ("b.csv", 10), ("c.csv", 20)):
        save_state(tmp_path / name, {"w": np.ones(2, np.float32), "adam/iteration": np.array(step)})
    members = order_run(run_paths([str(tmp_path / "*.csv")]))
    assert [(Path(m.path).name, m.step) for m in members] == [
        ("b.csv", 10),
        ("c.csv", 20),
        ("a.csv", 30),
    ]
    save_state(tmp_path / "d.csv", {"w": np.ones(2, np.float32)})  # no step: file order
    members = order_run(run_paths([str(tmp_path)]))
    assert [Path(m.path).name for m in members] == ["a.csv", "b.csv", "c.csv", "d.csv"]


def test_a_pattern_matching_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CsvStateError, match="no file matches"):
        run_paths([str(tmp_path / "*.csv")])
