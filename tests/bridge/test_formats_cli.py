"""The TensorFlow/Keras formats through the one registry: open_state, info, convert, apply."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import load_state, open_state, save_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.kerasmodel import variable_value

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

keras = tfimport.keras()
tf = tfimport.tensorflow()

RNG = np.random.default_rng(5)
X = RNG.standard_normal((64, 6)).astype("float32")
Y = RNG.standard_normal((64, 2)).astype("float32")


def build() -> Any:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    model = keras.Model(inputs, outputs, name="net")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return model


def values(model: Any) -> dict[str, bytes]:
    variables = list(model.weights) + list(model.optimizer.variables)
    return {v.path.split("/", 1)[-1]: variable_value(v).tobytes() for v in variables}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    model = build()
    model.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    folder = tmp_path_factory.mktemp("models")
    model.save(folder / "trained.keras")
    return model, folder


def test_keras_file_to_csv_and_back_through_apply(
    csv_state: CliRunner, trained: tuple[Any, Path]
) -> None:
    model, folder = trained
    csv_path = folder / "state.csv"
    converted = csv_state("convert", str(folder / "trained.keras"), str(csv_path), "--force")
    assert converted.returncode == 0, converted.stderr
    with open_state(csv_path) as state:
        roles = {e.name: e.metadata.get("role") for e in state.entries}
        slots = [e for e in state.entries if e.metadata.get("slot_of")]
    assert roles["hidden/kernel"] == "weight"
    assert {e.metadata["slot"] for e in slots} == {"momentum"}
    assert any(name.endswith("/iteration") for name in roles)

    fresh = folder / "fresh.keras"
    build().save(fresh)
    out = folder / "resumed.keras"
    applied = csv_state("apply", str(csv_path), str(fresh), "-o", str(out), "--force")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    back = keras.saving.load_model(out)
    assert values(back) == values(model)


def test_csv_to_checkpoint_without_a_model_keeps_every_name_and_bit(
    csv_state: CliRunner, tmp_path: Path
) -> None:
    tensors = {
        "dense/kernel": RNG.standard_normal((3, 4)).astype(np.float32),
        "optimizer/iteration": np.array(7, np.int64),
        "mask": np.array([True, False]),
    }
    save_state(tmp_path / "s.csv", tensors)
    prefix = tmp_path / "ckpt" / "state"
    prefix.parent.mkdir()
    result = csv_state("convert", str(tmp_path / "s.csv"), str(prefix))
    assert result.returncode == 0, result.stderr
    assert "tf-checkpoint" in result.stdout
    reader = tf.train.load_checkpoint(str(prefix))
    for name, array in tensors.items():
        assert reader.get_tensor(name).tobytes() == array.tobytes()
    assert {k: v.tobytes() for k, v in load_state(str(prefix)).items()} == {
        k: v.tobytes() for k, v in tensors.items()
    }


def test_csv_to_model_checkpoint_restores_with_tf_train_checkpoint(
    csv_state: CliRunner, trained: tuple[Any, Path], tmp_path: Path
) -> None:
    model, folder = trained
    csv_path = tmp_path / "state.csv"
    assert csv_state("convert", str(folder / "trained.keras"), str(csv_path)).returncode == 0
    prefix = tmp_path / "model-ckpt"
    result = csv_state(
        "convert", str(csv_path), str(prefix), "--model", str(folder / "trained.keras")
    )
    assert result.returncode == 0, result.stderr
    target = build()
    target.optimizer.build(target.trainable_variables)
    tf.train.Checkpoint(model=target, optimizer=target.optimizer).restore(
        str(prefix)
    ).assert_consumed()
    assert values(target) == values(model)


def test_model_destinations_need_a_model(csv_state: CliRunner, tmp_path: Path) -> None:
    save_state(tmp_path / "s.csv", {"w": np.zeros(2, np.float32)})
    result = csv_state("convert", str(tmp_path / "s.csv"), str(tmp_path / "out.keras"))
    assert result.returncode == 2
    assert "needs a model" in result.stderr
    assert not (tmp_path / "out.keras").exists()


def test_info_reads_checkpoints_by_prefix_and_index(
    csv_state: CliRunner, trained: tuple[Any, Path]
) -> None:
    model, folder = trained
    prefix = str(folder / "native")
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(prefix)
    for path in (prefix, prefix + ".index"):
        result = csv_state("info", path)
        assert result.returncode == 0, result.stderr
        assert "hidden/kernel" in result.stdout
        assert ".ATTRIBUTES" not in result.stdout


def test_formats_lists_the_tensorflow_formats(csv_state: CliRunner) -> None:
    result = csv_state("formats")
    for name in ("tf-checkpoint", "savedmodel", "keras", "keras-weights", "keras-h5"):
        assert name in result.stdout


def test_opening_a_csv_still_does_not_import_tensorflow(tmp_path: Path) -> None:
    save_state(tmp_path / "s.csv", {"w": np.ones(3, np.float32)})
    code = (
        "import sys, csv_state_viewer as c; c.load_state(sys.argv[1]); "
        "heavy = ('tensorflow', 'keras', 'h5py', 'csv_state_viewer.bridge.kerasfiles', "
        "'csv_state_viewer.bridge.tfcheckpoint', 'csv_state_viewer.bridge.apply'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.csv")],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("model.keras", "a Keras 3 model archive (.keras)"),
        (
            "model.weights.h5",
            "a Keras 3 weights file (.weights.h5) or legacy Keras HDF5 model or weights (.h5)",
        ),
        ("state.npz", "a NumPy .npz archive of named arrays"),
    ],
)
def test_a_file_whose_content_is_not_its_extension_says_so(
    csv_state: CliRunner, tmp_path: Path, name: str, what: str
) -> None:
    path = tmp_path / name
    path.write_text("hello\n")  # not the CSV reader's "no recognisable columns"
    result = csv_state("info", path)
    assert result.returncode == 2
    assert result.stderr == f"csv-state: {path}: its content is not {what}\n"
