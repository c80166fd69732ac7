"""``csv-state health``: text, JSON and exit codes, for one state and for a run."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from csv_state_viewer import save_state

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture
DENSE, BIAS = "sequential/dense/kernel", "sequential/dense/bias"
BN = "sequential/batch_normalization"
ITERATION = "adam/iteration"


def slot_name(variable: str, slot: str) -> str:
    return f"adam/{variable.replace('/', '_')}_{slot}"


def healthy(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """A small sane Keras 3 state (tests/core/test_health.py has the fuller one)."""
    rng = np.random.default_rng(seed)
    tensors = {
        DENSE: rng.standard_normal((8, 12)) / math.sqrt(8),
        BIAS: rng.standard_normal(12) * 0.01,
        f"{BN}/gamma": 1 + rng.standard_normal(8) * 0.1,
        f"{BN}/beta": rng.standard_normal(8) * 0.1,
        f"{BN}/moving_variance": rng.uniform(0.5, 1.5, 8),
    }
    tensors = {name: values.astype(np.float32) for name, values in tensors.items()}
    metadata: dict[str, dict[str, Any]] = {name: {"role": "weight"} for name in tensors}
    for variable in (DENSE, BIAS, f"{BN}/gamma", f"{BN}/beta"):
        shape = tensors[variable].shape
        for slot, values in (
            ("momentum", rng.standard_normal(shape) * 1e-3),
            ("velocity", np.abs(rng.standard_normal(shape)) * 1e-6),
        ):
            tensors[slot_name(variable, slot)] = values.astype(np.float32)
            metadata[slot_name(variable, slot)] = {
                "role": "optimizer",
                "slot_of": variable,
                "slot": slot,
            }
    tensors[ITERATION] = np.array(100, dtype=np.int64)
    metadata[ITERATION] = {"role": "optimizer", "optimizer_variable": "iteration"}
    return tensors, metadata


def test_a_healthy_state(tmp_path: Path, csv_state: CliRunner) -> None:
    tensors, metadata = healthy()
    save_state(tmp_path / "s.csv", tensors, metadata=metadata)
    result = csv_state("health", tmp_path / "s.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "no findings in s.csv\n"
    result = csv_state("health", tmp_path / "s.csv", "--json")
    assert json.loads(result.stdout) == {"path": str(tmp_path / "s.csv"), "findings": []}


def test_findings_as_text_and_json(tmp_path: Path, csv_state: CliRunner) -> None:
    tensors, metadata = healthy()
    tensors[DENSE][0, 3] = np.nan
    tensors[f"{BN}/moving_variance"][1] = -1.0
    tensors[f"{BN}/gamma"][:] = 0
    save_state(tmp_path / "s.npz", tensors, metadata=metadata)
    result = csv_state("health", tmp_path / "s.npz")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split()[:3] for line in lines[:-1]] == [
        ["error", "nonfinite", DENSE],
        ["error", "bn_variance", f"{BN}/moving_variance"],
        ["warning", "bn_variance", f"{BN}/gamma"],
    ]
    assert lines[0].endswith("1 NaN; first at index 3 (row 0, column 3)")
    assert lines[-1] == "2 errors, 1 warning in s.npz"
    result = csv_state("health", tmp_path / "s.npz", "--json")
    assert result.returncode == 1
    record = json.loads(result.stdout)
    assert record["findings"][0] == {
        "tensor": DENSE,
        "check": "nonfinite",
        "severity": "error",
        "message": "1 NaN; first at index 3 (row 0, column 3)",
        "value": 1,
    }
    assert [f["value"] for f in record["findings"]] == [1, 1, 8]


def test_warnings_only_exit_zero(tmp_path: Path, csv_state: CliRunner) -> None:
    tensors, metadata = healthy()
    tensors[f"{BN}/gamma"][:] = 0
    tensors["sequential/dense_1/kernel"] = (
        np.random.default_rng(3).standard_normal((256, 64)) / 16
    ).astype(np.float32)
    save_state(tmp_path / "s.csv", tensors, metadata=metadata)
    result = csv_state("health", tmp_path / "s.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 warning, 1 info in s.csv"


def test_bad_rows_and_files_that_are_not_states(tmp_path: Path, csv_state: CliRunner) -> None:
    tensors, metadata = healthy()
    path = tmp_path / "bad.csv"
    save_state(path, tensors, metadata=metadata)
    text = path.read_text().splitlines(keepends=True)
    row = next(i for i, line in enumerate(text) if line.startswith(BIAS + ","))
    text[row] = text[row].replace('"', '"oops,', 1)
    path.write_text("".join(text))
    result = csv_state("health", path)
    assert result.returncode == 1  # a bad row, as the other commands say it
    assert result.stdout == "no findings in bad.csv\n"
    assert "1 bad row not checked" in result.stderr and BIAS in result.stderr
    (tmp_path / "notes.txt").write_text("hello\n")
    result = csv_state("health", tmp_path / "notes.txt")
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.startswith("csv-state: ")
    assert csv_state("health", tmp_path / "missing.csv").returncode == 2


def test_a_run_tells_where_a_problem_first_appears(tmp_path: Path, csv_state: CliRunner) -> None:
    """Three states saved at steps 100, 200, 300 (named so that file order disagrees):
    a NaN appears in the velocity at step 200 and stays; a dead unit only at step 200."""
    paths = []
    for number, (step, name) in enumerate([(100, "c.csv"), (200, "a.csv"), (300, "b.csv")]):
        tensors, metadata = healthy(seed=number)
        tensors[ITERATION] = np.array(step, dtype=np.int64)
        if step >= 200:
            tensors[slot_name(DENSE, "velocity")][0, 0] = np.nan
        if step == 200:
            tensors[DENSE][:, 4] = 0
            tensors[BIAS][4] = 0
        save_state(tmp_path / name, tensors, metadata=metadata)
        paths.append(tmp_path / name)
    result = csv_state("health", "--run", tmp_path, "--json")
    assert result.returncode == 1, result.stderr
    record = json.loads(result.stdout)
    assert record["states"] == [
        {"path": str(tmp_path / name), "step": step}
        for name, step in (("c.csv", 100), ("a.csv", 200), ("b.csv", 300))
    ]
    found = {(f["tensor"], f["check"]): f for f in record["findings"]}
    assert set(found) == {(slot_name(DENSE, "velocity"), "nonfinite"), (DENSE, "dead_units")}
    nan = found[(slot_name(DENSE, "velocity"), "nonfinite")]
    assert (nan["first_state"], nan["first_step"], nan["in_last_state"]) == (1, 200, True)
    assert nan["first_path"] == str(tmp_path / "a.csv") and nan["severity"] == "error"
    dead = found[(DENSE, "dead_units")]
    assert (dead["first_state"], dead["in_last_state"], dead["value"]) == (1, False, 1)
    result = csv_state("health", "--run", *paths)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 error, 1 warning in a run of 3 states"
    assert lines[0].startswith("error") and lines[0].endswith(
        "[first in state 2 of 3: a.csv (step 200); still in the last state]"
    )
    assert lines[1].endswith("gone by the last state]")
    healthy_run = csv_state("health", "--run", paths[0])
    assert (healthy_run.returncode, healthy_run.stdout) == (0, "no findings in a run of 1 state\n")


def test_a_kernel_too_large_for_the_spectral_check(tmp_path: Path, csv_state: CliRunner) -> None:
    """Both sides above spectral.MAX_SIDE: not measured, and the note says so."""
    kernel = np.random.default_rng(0).standard_normal((2100, 2050)).astype(np.float32)
    save_state(tmp_path / "big.npz", {"dense/kernel": kernel / np.sqrt(2100)})
    result = csv_state("health", tmp_path / "big.npz")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "no findings in big.npz\n"
    assert "spectral: 1 kernel larger than 2048 on both sides not measured" in result.stderr
