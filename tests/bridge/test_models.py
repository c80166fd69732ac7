"""Other architectures end to end: a CNN with BatchNormalization, an Embedding+LSTM model,
a native checkpoint through CSV and back, and Keras safe mode."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import open_state, save_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.apply import apply_state
from csv_state_viewer.bridge.kerasmodel import model_tensors, variable_value

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

keras = tfimport.keras()
tf = tfimport.tensorflow()
RNG = np.random.default_rng(9)


def cnn() -> Any:
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, outputs, name="cnn")
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def lstm() -> Any:
    keras.utils.set_random_seed(4)
    inputs = keras.Input((6,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 5, name="embed")(inputs)
    x = keras.layers.LSTM(7, name="lstm")(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    model = keras.Model(inputs, outputs, name="seq")
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2), loss="mse")
    return model


DATA = {
    "cnn": (
        RNG.standard_normal((48, 8, 8, 1)).astype("float32"),
        RNG.integers(0, 3, 48).astype("int32"),
    ),
    "lstm": (
        RNG.integers(0, 20, (48, 6)).astype("int32"),
        RNG.standard_normal((48, 2)).astype("float32"),
    ),
}
BUILDERS: dict[str, Callable[[], Any]] = {"cnn": cnn, "lstm": lstm}


def fit(model: Any, kind: str, epochs: int) -> None:
    x, y = DATA[kind]
    model.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0)


def state_bits(model: Any) -> list[bytes]:
    variables = list(model.weights) + list(model.optimizer.variables)
    return [variable_value(v).tobytes() for v in variables]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("encoding", ["text", "base64"])
def test_resume_is_exact_for_other_architectures(tmp_path: Path, kind: str, encoding: str) -> None:
    original = BUILDERS[kind]()
    fit(original, kind, 2)
    tensors = model_tensors(original)
    path = tmp_path / "state.csv"
    save_state(
        path,
        {t.name: t.load() for t in tensors},
        encoding,
        metadata={t.name: t.metadata for t in tensors},
    )
    resumed = BUILDERS[kind]()
    with open_state(path) as state:
        assert apply_state(state, resumed).ok
    fit(original, kind, 1)
    fit(resumed, kind, 1)
    assert state_bits(resumed) == state_bits(original)


def test_native_checkpoint_to_csv_and_back_restores_with_tf_train_checkpoint(
    csv_state: CliRunner,
    tmp_path: Path,
) -> None:
    model = cnn()
    fit(model, "cnn", 1)
    native = str(tmp_path / "native" / "ckpt")
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(native)
    model.save(tmp_path / "cnn.keras")

    csv_path = tmp_path / "state.csv"
    assert csv_state("convert", native, str(csv_path)).returncode == 0
    with open_state(csv_path) as state:
        names = state.names()
    assert {v.path for v in model.weights} <= set(names)  # Keras's own variable paths
    assert not any("ATTRIBUTES" in name for name in names)

    back = str(tmp_path / "back" / "ckpt")
    (tmp_path / "back").mkdir()
    result = csv_state("convert", str(csv_path), back, "--model", str(tmp_path / "cnn.keras"))
    assert result.returncode == 0, result.stderr
    target = cnn()
    target.optimizer.build(target.trainable_variables)
    status = tf.train.Checkpoint(model=target, optimizer=target.optimizer).restore(back)
    status.assert_consumed()
    assert state_bits(target) == state_bits(model)


def test_models_with_code_are_refused_unless_unsafe(csv_state: CliRunner, tmp_path: Path) -> None:
    keras.utils.set_random_seed(2)
    inputs = keras.Input((3,), name="x")
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(doubled), name="lam")
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "lambda.keras")
    tensors = {v.path: variable_value(v) for v in model.weights}
    save_state(tmp_path / "w.csv", tensors)
    out = tmp_path / "out.keras"
    refused = csv_state(
        "apply", str(tmp_path / "w.csv"), str(tmp_path / "lambda.keras"), "-o", str(out)
    )
    assert refused.returncode == 2
    assert "Lambda" in refused.stderr and "--unsafe" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not out.exists()
    allowed = csv_state(
        "apply", str(tmp_path / "w.csv"), str(tmp_path / "lambda.keras"), "-o", str(out), "--unsafe"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert out.exists()
