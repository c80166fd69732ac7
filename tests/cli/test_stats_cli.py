"""``csv-state stats``: the Summary's statistics per tensor, parameters and optimizer apart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import load_state, save_state
from csv_state_viewer.cli.main import main

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
EXE = shutil.which("csv-state", path=os.path.dirname(sys.executable)) or "csv-state"


def test_stats_of_a_sample_separates_parameters_from_the_optimizer() -> None:
    """A real process on the bundled sample: the step counter is a value, not the max."""
    result = subprocess.run(
        [EXE, "stats", str(SAMPLES / "mlp_adam.csv")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME", "SHAPE", "DTYPE", "ROLE", "PARAMETERS", "MIN", "MAX", "MEAN", "STD", "L2",
        "ZEROS", "NAN", "INF",
    ]  # fmt: skip
    parameters = next(line for line in lines if line.startswith("parameters: "))
    optimizer = next(line for line in lines if line.startswith("optimizer state: "))
    assert parameters.startswith("parameters: 6 tensors, 17,226 values, min ")
    assert optimizer.startswith("optimizer state: 12 tensors, 34,452 values, min ")
    assert "adam/iteration: 320" in lines
    assert "adam/learning_rate: 0.001" in lines
    arrays = load_state(SAMPLES / "mlp_adam.csv")
    weights = np.concatenate(
        [a.reshape(-1) for n, a in arrays.items() if n.startswith("sequential/")]
    ).astype(np.float64)
    assert f"max {weights.max():.6g}," in parameters
    assert f"L2 {np.linalg.norm(weights):.6g}," in parameters
    assert "320" not in parameters + optimizer


def test_json_names_and_globs(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SAMPLES / "mlp_adam.csv")
    assert main(["stats", path, "adam/*kernel_momentum", "sequential/dense/bias", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [t["name"] for t in out["tensors"]]
    assert names == [
        "sequential/dense/bias",
        "adam/sequential_dense_kernel_momentum",
        "adam/sequential_dense_1_kernel_momentum",
        "adam/sequential_dense_2_kernel_momentum",
    ]
    bias = load_state(path)["sequential/dense/bias"].astype(np.float64)
    first = out["tensors"][0]
    assert first["role"] == "parameter" and first["shape"] == [128] and first["parameters"] == 128
    assert first["max"] == pytest.approx(bias.max()) and first["l2"] == pytest.approx(
        np.linalg.norm(bias)
    )
    assert out["parameters"]["tensors"] == 1 and out["optimizer"]["tensors"] == 3
    assert out["optimizer"]["elements"] == 8_192 + 8_192 + 640
    assert out["values"] == {} and out["errors"] == []


def test_bad_rows_exit_1_and_a_missing_name_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = str(SAMPLES / "damaged.csv")
    assert main(["stats", damaged]) == 1
    captured = capsys.readouterr()
    assert f"{damaged}:3: 'dense/bias': bad float32 value 'oops'" in captured.err
    assert captured.err.rstrip().endswith(f"{damaged}: 5 of 7 rows are bad")  # as validate
    assert "parameters: 2 tensors, 14 values" in captured.out

    save_state(tmp_path / "s.csv", {"w": np.ones(3, np.float32)})
    assert main(["stats", str(tmp_path / "s.csv"), "nope"]) == 2
    assert "no tensor named 'nope'" in capsys.readouterr().err


def test_counters_without_roles_are_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A recipe-style file: no metadata roles; names tell the optimizer and the counter."""
    save_state(
        tmp_path / "r.csv",
        {
            "dense/kernel": np.full((2, 2), 0.5, np.float32),
            "optimizer/dense_kernel_m": np.full((2, 2), 0.25, np.float32),
            "optimizer/iteration": np.array(12_345, np.int64),
        },
    )
    assert main(["stats", str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "optimizer/iteration: 12,345" in out
    assert any(line.startswith("parameters: 1 tensor, 4 values, min 0.5, max 0.5") for line in out)
    assert any(line.startswith("optimizer state: 1 tensor, 4 values, min 0.25") for line in out)
