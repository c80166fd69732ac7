"""Per-layer files written the way people write them go back into a Keras model: a folder
of np.savetxt matrices (conv kernels flattened), and unnamed rows with the model's shapes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer.bridge import tfimport

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

keras = tfimport.keras()


def build(seed: int) -> Any:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("models")
    trained = build(1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 6, 6, 1)), rng.standard_normal((8, 3))
    trained.fit(x, y, epochs=1, verbose=0)
    fresh = build(2)
    fresh.save(folder / "fresh.keras")
    weights = [np.asarray(w) for w in trained.weights]
    return {"folder": folder, "weights": weights, "fresh": folder / "fresh.keras"}


def saved_weights(path: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in keras.saving.load_model(path).weights]


@pytest.mark.parametrize("writer", ["np.savetxt", "pandas"])
def test_a_folder_of_per_layer_matrices_applies_by_position_with_reshapes(
    csv_state: CliRunner, models: dict[str, Any], tmp_path: Path, writer: str
) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    for index, weight in enumerate(models["weights"], start=1):
        matrix = weight.reshape(-1, weight.shape[-1]) if weight.ndim > 1 else weight
        if writer == "pandas":  # header ,0,1,… and an index column; repr-style floats
            import pandas as pd

            pd.DataFrame(matrix).to_csv(folder / f"layer_{index}.csv")
        else:
            np.savetxt(folder / f"layer_{index}.csv", matrix, delimiter=",")  # '%.18e'
    info = csv_state("info", folder)
    assert info.returncode == 0, info.stderr
    names = [line.split()[0] for line in info.stdout.splitlines()[1:5]]
    assert names == ["layer_1", "layer_2", "layer_3", "layer_4"]  # natural order, one root
    out = tmp_path / "out.keras"
    applied = csv_state("apply", folder, models["fresh"], "-o", out, "--no-optimizer")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "[9,4] -> [3,3,1,4] (reshaped)" in applied.stdout
    assert "matched by position" in applied.stdout
    for got, want in zip(saved_weights(out), models["weights"], strict=True):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_unnamed_rows_need_the_models_shapes(
    csv_state: CliRunner, models: dict[str, Any], tmp_path: Path
) -> None:
    rows = tmp_path / "weights.txt"
    lines = []
    for weight in models["weights"]:  # one row per kernel row and per bias element
        if weight.ndim > 1:
            lines += [
                " ".join(repr(float(v)) for v in row)
                for row in weight.reshape(-1, weight.shape[-1])
            ]
        else:
            lines += [repr(float(v)) for v in weight]
    rows.write_text("\n".join(lines) + "\n")
    refused = csv_state("info", rows)
    assert refused.returncode == 2
    assert "no recognisable columns" not in refused.stderr
    assert "--like" in refused.stderr, refused.stderr
    info = csv_state("info", rows, "--like", models["fresh"])
    assert info.returncode == 0, info.stderr
    assert "conv2d" in info.stdout and "[3,3,1,4]" in info.stdout  # the model's names
    out = tmp_path / "out.keras"
    applied = csv_state(
        "apply", rows, models["fresh"], "--like", models["fresh"], "-o", out, "--no-optimizer"
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for got, want in zip(saved_weights(out), models["weights"], strict=True):
        assert got.tobytes() == want.astype(got.dtype).tobytes()
