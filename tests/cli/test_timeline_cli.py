"""``csv-state timeline``: the real command on a small run (text, JSON, PNG, folder, glob);
its cache goes to a temporary folder, never the user's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer.core.api import save_state

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

STEPS = {"epoch_2.npz": 20, "epoch_1.npz": 10, "epoch_10.npz": 30}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSV_STATE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "run"
    folder.mkdir()
    for name, step in STEPS.items():
        t = step // 10
        save_state(
            folder / name,
            {
                "dense/kernel": np.full((3, 2), float(t), np.float32),
                "dense/bias": np.arange(2, dtype=np.float32) * t,
                "adam/iteration": np.array(step, np.int64),
            },
        )
    return folder


def test_text_of_a_folder(csv_state: CliRunner, run: Path, tmp_path: Path) -> None:
    result = csv_state("timeline", run)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "dense/kernel"
    assert lines[1].split() == ["STEP", "STATE", "L2", "MEAN", "STD", "MAX|W|", "UPDATE"]
    assert lines[2].split() == ["10", "epoch_1.npz", "2.44949", "1", "0", "1"]
    assert lines[3].split() == ["20", "epoch_2.npz", "4.89898", "2", "0", "2", "1"]
    assert lines[4].split()[-1] == "0.5"
    assert "dense/bias" in result.stdout and "adam/iteration" not in result.stdout
    assert len(list((tmp_path / "cache").iterdir())) == 3


def test_json_of_a_glob(csv_state: CliRunner, run: Path) -> None:
    result = csv_state("timeline", str(run / "epoch_*.npz"), "--json", "--tensor", "dense/bias")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["states", "tensors"]
    assert [s["step"] for s in data["states"]] == [10, 20, 30]
    assert all(list(s) == ["path", "step"] for s in data["states"])
    (bias,) = data["tensors"]
    assert list(bias) == ["name", "l2", "mean", "std", "max_abs", "update_ratio", "percentiles"]
    assert bias["name"] == "dense/bias"
    assert bias["l2"] == [1.0, 2.0, 3.0] and bias["mean"] == [0.5, 1.0, 1.5]
    assert bias["update_ratio"] == [None, 1.0, 0.5]
    assert bias["percentiles"][0] == [0.0, 0.07, 0.16, 0.5, 0.84, 0.93, 1.0]


def test_png_and_files(csv_state: CliRunner, run: Path, tmp_path: Path) -> None:
    out = tmp_path / "timeline.png"
    files = [run / name for name in STEPS]
    result = csv_state("timeline", *files, "--png", out, "--no-cache")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "cache").exists()


def test_errors(csv_state: CliRunner, run: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_text("hello\n")
    assert csv_state("timeline", junk).returncode == 2
    assert csv_state("timeline", str(tmp_path / "none*.npz")).returncode == 2
    result = csv_state("timeline", run, "--tensor", "nope")
    assert result.returncode == 2 and "no tensor named 'nope'" in result.stderr
    assert csv_state("timeline", run, "--png", tmp_path / "x.jpg").returncode == 2
