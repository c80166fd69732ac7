"""Names over the CSV limit are refused whole: never cut into another name (two long names
differing only at the end were once "duplicates"; a cut inside a character was "invalid
UTF-8"), and never written by our own writer."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import StateWriteError, open_state, save_state
from csv_state_viewer.core.csv.csvindex import MAX_NAME_BYTES


def write_rows(path: Path, names: list[str]) -> None:
    """Rows the way the recipe writes them (csv module), names as given."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for name in names:
            out.writerow([name, "1.5", '{"shape": [1], "dtype": "float32"}'])


def test_long_names_are_bad_rows_not_cut_duplicates(tmp_path: Path) -> None:
    long_a, long_b = "a" * 70_000 + "1", "a" * 70_000 + "2"
    accents = "é" * 40_000  # 80,000 bytes: a cut would land inside a character
    write_rows(tmp_path / "s.csv", [long_a, long_b, accents, "ok"])
    with open_state(tmp_path / "s.csv") as state:
        assert state.names() == ["ok"]
        errors = [entry.error or "" for entry in state.entries[:3]]
    assert all(f"at most {MAX_NAME_BYTES} are read" in error for error in errors), errors
    assert not any("duplicate" in e or "UTF-8" in e for e in errors)


def test_our_writer_refuses_a_name_its_reader_would_not_read(tmp_path: Path) -> None:
    with pytest.raises(StateWriteError, match="at most 65536 bytes"):
        save_state(tmp_path / "s.csv", {"x" * (MAX_NAME_BYTES + 1): np.ones(1)})
    assert not (tmp_path / "s.csv").exists()
    save_state(tmp_path / "s.csv", {"x" * MAX_NAME_BYTES: np.ones(1)})
    with open_state(tmp_path / "s.csv") as state:
        assert state.names() == ["x" * MAX_NAME_BYTES]
