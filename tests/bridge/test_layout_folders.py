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


def test_a_model_built_twice_in_one_session_takes_the_state_by_structure(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    """Keras numbers the second build's layers (dense_1...); names then differ only by that."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 6, 6, 1)), rng.standard_normal((8, 3))
    first = build(3)
    first.fit(x, y, epochs=1, verbose=0)
    first.save(tmp_path / "first.keras")
    second = build(4)  # same architecture, auto-numbered names
    second.save(tmp_path / "second.keras")
    assert [w.path for w in first.weights] != [w.path for w in second.weights]
    state = tmp_path / "first.csv"
    assert csv_state("convert", tmp_path / "first.keras", state).returncode == 0
    out = tmp_path / "restored.keras"
    applied = csv_state("apply", state, tmp_path / "second.keras", "-o", out)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "names differ only by Keras auto-numbering" in applied.stdout
    restored = keras.saving.load_model(out)
    for got, want in zip(restored.weights, first.weights, strict=True):
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
    for got, want in zip(restored.optimizer.variables, first.optimizer.variables, strict=True):
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


def test_a_refused_mapping_that_fits_by_position_suggests_match_order() -> None:
    from csv_state_viewer.bridge.apply import MappingError
    from csv_state_viewer.bridge.mapping import Slot, plan
    from csv_state_viewer.core.messages import COMMAND_LINE, advice

    model = [Slot("net/a/kernel", (2, 3), "float32"), Slot("net/b/kernel", (3, 1), "float32")]
    state = [Slot("net/x/kernel", (2, 3), "float32"), Slot("net/b/kernel", (3, 1), "float32")]
    report = plan(state, model, None)
    assert not report.ok and report.order_fits
    assert "--match order" in advice(MappingError(report), COMMAND_LINE)


def test_a_partial_write_says_what_kept_its_initial_values(
    csv_state: CliRunner, models: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "three"
    folder.mkdir()
    for index, weight in enumerate(models["weights"][:3], start=1):
        matrix = weight.reshape(-1, weight.shape[-1]) if weight.ndim > 1 else weight
        np.savetxt(folder / f"layer_{index}.csv", matrix, delimiter=",")
    out = tmp_path / "partial.keras"
    args = ("apply", folder, models["fresh"], "-o", out, "--no-optimizer")
    refused = csv_state(*args)
    assert refused.returncode == 1 and not out.exists()
    written = csv_state(*args, "--allow-partial")
    assert written.returncode == 0, written.stderr
    last = written.stderr.strip().splitlines()[-1]
    assert last == "3 of 4 variables written; the rest keep their initial values"
