"""``csv-state convert --tensor NAME``: write one tensor, or the tensors of a scope."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import open_state, save_state

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

RNG = np.random.default_rng(4)
TENSORS = {
    "model/dense/kernel": RNG.standard_normal((6, 5)).astype(np.float32),
    "model/dense/bias": RNG.standard_normal(5).astype(np.float32),
    "model/dense_1/kernel": RNG.standard_normal((5, 2)).astype(np.float32),
    "adam/iteration": np.array(7, np.int64),
}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "s.csv"
    save_state(path, TENSORS, metadata={"model/dense/kernel": {"role": "weight"}})
    return path


def test_one_tensor_and_a_scope_are_written_in_the_state_order(
    csv_state: CliRunner, state: Path, tmp_path: Path
) -> None:
    out = tmp_path / "part.npz"
    result = csv_state(
        "convert", state, out, "--tensor", "adam/iteration", "--tensor", "model/dense"
    )
    assert result.returncode == 0, result.stderr
    assert "(3 tensors, npz)" in result.stdout
    with open_state(out) as written:
        assert written.names() == ["model/dense/kernel", "model/dense/bias", "adam/iteration"]
        for name in written.names():
            np.testing.assert_array_equal(written.read(name), TENSORS[name])
        assert written.entry("model/dense/kernel").metadata["role"] == "weight"


def test_one_tensor_to_a_npy_file(csv_state: CliRunner, state: Path, tmp_path: Path) -> None:
    out = tmp_path / "kernel.npy"
    result = csv_state("convert", state, out, "--tensor", "model/dense_1/kernel")
    assert result.returncode == 0, result.stderr
    assert "(1 tensor, npy)" in result.stdout
    array = np.load(out, allow_pickle=False)  # what a user does with it
    np.testing.assert_array_equal(array, TENSORS["model/dense_1/kernel"])
    assert array.dtype == np.float32


def test_an_unknown_name_writes_nothing(csv_state: CliRunner, state: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.npz"
    result = csv_state("convert", state, out, "--tensor", "model/dense_9")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("no tensor or scope named 'model/dense_9'")
    assert not out.exists()
