"""CsvStateCheckpoint records a run: one full training state per epoch (or every N
batches), named as Keras's ModelCheckpoint names its files, each resuming the run exactly.
Real TensorFlow, a tiny model (Dense + Dropout + Dense, Adam), 24 samples in batches of 4.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import (
    CsvStateCheckpoint,
    StateWriteError,
    open_state,
    restore_training_state,
)
from csv_state_viewer.bridge import tfimport

keras = tfimport.keras()

BATCH = 4
SAMPLES = 24  # 6 batches per epoch


def build() -> Any:
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((SAMPLES, 5)).astype("float32"), rng.integers(0, 3, SAMPLES)


def fit(model: Any, callbacks: list[Any], epochs: int, initial_epoch: int = 0) -> None:
    x, y = data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,  # the order of batches is then the same in every run
        verbose=0,
        callbacks=callbacks,
    )


def read(path: Path) -> dict[str, np.ndarray]:
    """The state's tensors; the optimizer's step counter (``adam/iteration``, or
    ``adam_1/iteration`` for the second Adam of a process) also as ``"iteration"``."""
    with open_state(path) as state:
        assert all(entry.ok for entry in state.entries)
        tensors = {entry.name: state.read(entry) for entry in state.entries}
        for entry in state.entries:
            if entry.metadata.get("optimizer_variable") == "iteration":
                tensors["iteration"] = tensors[entry.name]
        return tensors


def weights(model: Any) -> dict[str, np.ndarray]:
    return {variable.path: np.asarray(variable.numpy()) for variable in model.weights}


def assert_same_values(variables: list[Any], expected: list[Any]) -> None:
    """Bit for bit, in order (two models of one process differ in their names only)."""
    assert len(variables) == len(expected)
    for variable, other in zip(variables, expected, strict=True):
        np.testing.assert_array_equal(variable.numpy(), other.numpy(), strict=True)


def test_one_state_per_epoch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build()
    run = tmp_path / "run" / "deeper"  # parent folders are created
    callback = CsvStateCheckpoint(run / "epoch_{epoch:03d}.csv", encoding="base64", verbose=1)
    fit(model, [callback], epochs=3)

    names = [run / f"epoch_{n:03d}.csv" for n in (1, 2, 3)]
    assert sorted(run.iterdir()) == names
    assert callback.saved == [str(p) for p in names]
    states = [read(path) for path in names]
    assert [int(s["counters/epoch"]) for s in states] == [1, 2, 3]
    assert [int(s["counters/step"]) for s in states] == [6, 12, 18]
    assert [int(s["iteration"]) for s in states] == [6, 12, 18]
    assert any(name.endswith("seed_generators_state") for name in states[-1])  # Dropout's RNG
    assert "base64" in names[0].read_text().splitlines()[1]
    for name, value in weights(model).items():  # the last state is the model after fit
        np.testing.assert_array_equal(states[-1][name], value, strict=True)
    assert f"Epoch 3: saved {names[-1]}" in capsys.readouterr().out


@pytest.mark.parametrize("save_freq", [2, 4])
def test_every_n_batches_as_keras_names_them(tmp_path: Path, save_freq: int) -> None:
    ours = CsvStateCheckpoint(tmp_path / "ours" / "e{epoch}-b{batch:02d}.npz", save_freq=save_freq)
    theirs = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "keras" / "e{epoch}-b{batch:02d}.weights.h5"),
        save_weights_only=True,
        save_freq=save_freq,
    )
    fit(build(), [ours, theirs], epochs=2)

    def stems(folder: str, suffix: str) -> set[str]:
        return {p.name.removesuffix(suffix) for p in (tmp_path / folder).iterdir()}

    expected = {"2": {f"e{e}-b{b:02d}" for e in (1, 2) for b in (2, 4, 6)}}
    expected["4"] = {"e1-b04", "e2-b02", "e2-b06"}  # the count runs across epochs
    assert stems("ours", ".npz") == stems("keras", ".weights.h5") == expected[str(save_freq)]
    for path in map(Path, ours.saved):
        state = read(path)
        epoch, batch = (int(part[1:]) for part in path.stem.split("-"))
        assert int(state["counters/step"]) == (epoch - 1) * 6 + batch == int(state["iteration"])
        assert int(state["counters/epoch"]) == epoch - 1  # epochs completed


def test_resume_from_an_epoch_is_exact(tmp_path: Path) -> None:
    uninterrupted = build()
    fit(uninterrupted, [], epochs=2)

    first = build()
    fit(first, [CsvStateCheckpoint(tmp_path / "run" / "epoch_{epoch:03d}.csv")], epochs=1)
    resumed = build()  # fresh weights, optimizer and RNG states: all replaced by the file
    restored = restore_training_state(resumed, tmp_path / "run" / "epoch_001.csv")
    assert restored.counters == {"epoch": 1, "step": 6}
    callback = CsvStateCheckpoint(
        tmp_path / "run" / "epoch_{epoch:03d}.csv", initial_step=restored.counters["step"]
    )
    fit(resumed, [callback], epochs=2, initial_epoch=restored.counters["epoch"])

    assert callback.saved == [str(tmp_path / "run" / "epoch_002.csv")]
    assert_same_values(resumed.weights, uninterrupted.weights)
    # the optimizer's iteration and moments, and Dropout's generator, too
    assert_same_values(resumed.optimizer.variables, uninterrupted.optimizer.variables)
    generators = [v for v in resumed.variables if "seed_generator" in v.path]
    assert generators
    assert_same_values(
        generators, [v for v in uninterrupted.variables if "seed_generator" in v.path]
    )
    state = read(tmp_path / "run" / "epoch_002.csv")
    assert (int(state["counters/epoch"]), int(state["counters/step"])) == (2, 12)


def test_a_failed_write_stops_fit(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the run folder should be")
    with pytest.raises(StateWriteError, match=r"CsvStateCheckpoint \(epoch 1\):.*blocker"):
        fit(build(), [CsvStateCheckpoint(blocker / "epoch_{epoch}.csv")], epochs=2)


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="encoding"):
        CsvStateCheckpoint(tmp_path / "e{epoch}.csv", encoding="hex")
    with pytest.raises(ValueError, match="save_freq"):
        CsvStateCheckpoint(tmp_path / "e{epoch}.csv", save_freq="batch")
    with pytest.raises(StateWriteError, match="CSV destinations only"):
        fit(build(), [CsvStateCheckpoint(tmp_path / "e{epoch}.npz", encoding="base64")], 1)
    with pytest.raises(KeyError, match="integer save_freq"):
        fit(build(), [CsvStateCheckpoint(tmp_path / "e{epoch}-{batch}.csv")], 1)
    assert not list(tmp_path.iterdir())


def test_importable_without_qt() -> None:
    code = (
        "import sys\n"
        "from csv_state_viewer import CsvStateCheckpoint\n"
        "import keras\n"
        "assert issubclass(CsvStateCheckpoint, keras.callbacks.Callback)\n"
        "assert 'PySide6' not in sys.modules, 'PySide6 was imported'\n"
        "import csv_state_viewer\n"
        "assert 'CsvStateCheckpoint' in csv_state_viewer.__all__\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
