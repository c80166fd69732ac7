"""Writing a state into a real Keras model: exact resume, refusals, outputs, the CLI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import open_state, save_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.apply import (
    MappingError,
    apply_state,
    load_model,
    save_model,
)
from csv_state_viewer.bridge.kerasmodel import model_tensors, variable_value
from csv_state_viewer.core.errors import StateWriteError

CliRunner = Callable[..., subprocess.CompletedProcess[str]]  # the csv_state fixture

keras = tfimport.keras()
tf = tfimport.tensorflow()

RNG = np.random.default_rng(0)
X = RNG.standard_normal((256, 8)).astype("float32")
Y = RNG.standard_normal((256, 3)).astype("float32")


OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "adamw": lambda: keras.optimizers.AdamW(1e-2, weight_decay=0.01),
    "rmsprop": lambda: keras.optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
    "sgd_momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9, nesterov=True),
}


def build(hidden: int = 16, optimizer: str = "adam") -> Any:
    """The same architecture, names and optimizer every time, fresh variables."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dense(3, name="out"),
        ],
        name="mlp",
    )
    model.compile(optimizer=OPTIMIZERS[optimizer](), loss="mse")
    return model


def fit(model: Any, epochs: int) -> None:
    model.fit(X, Y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)


def weights_of(model: Any) -> list[np.ndarray]:
    return [variable_value(v) for v in model.weights]


def same_bits(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))


def export(model: Any, path: Path, encoding: str = "text") -> Path:
    tensors = model_tensors(model)
    save_state(
        path,
        {t.name: t.load() for t in tensors},
        encoding,
        metadata={t.name: t.metadata for t in tensors},
    )
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    model = build()
    fit(model, 2)
    return model, export(model, tmp_path_factory.mktemp("state") / "state.csv")


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_full_state_resumes_training_bit_for_bit_and_weights_only_does_not(
    tmp_path: Path, optimizer: str
) -> None:
    original = build(optimizer=optimizer)
    fit(original, 2)
    path = export(original, tmp_path / "state.csv")

    resumed, weights_only = build(optimizer=optimizer), build(optimizer=optimizer)
    with open_state(path) as state:
        report = apply_state(state, resumed)
        assert report.ok and report.match == "name"
        assert len(report.matched()) == len(resumed.weights) + len(resumed.optimizer.variables)
        apply_state(state, weights_only, optimizer=False)
    assert same_bits(weights_of(resumed), weights_of(original))

    for model in (original, resumed, weights_only):
        fit(model, 1)
    assert same_bits(weights_of(resumed), weights_of(original))
    assert not same_bits(weights_of(weights_only), weights_of(original))
    assert int(variable_value(resumed.optimizer.iterations)) == int(
        variable_value(original.optimizer.iterations)
    )


def test_recipe_file_with_positional_names_is_applied_by_order(
    trained: tuple[Any, Path], tmp_path: Path
) -> None:
    source, _ = trained
    path = tmp_path / "recipe.csv"
    with open(path, "w", newline="") as handle:  # the widely copied recipe's writer
        writer = csv.writer(handle)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for i, weight in enumerate(source.get_weights()):
            data = ",".join(map(str, weight.flatten()))
            meta = json.dumps({"shape": list(weight.shape), "dtype": str(weight.dtype)})
            writer.writerow([f"weight_{i}", data, meta])
    target = build()
    with open_state(path) as state:
        report = apply_state(state, target)
    assert report.match == "order" and report.ok
    assert any("optimizer starts fresh" in note for note in report.notes)
    assert same_bits(weights_of(target), weights_of(source))


def test_a_mismatch_refuses_everything_and_leaves_the_model_untouched(
    trained: tuple[Any, Path],
) -> None:
    _, path = trained
    other = build(hidden=12)  # same names, other shapes
    before = weights_of(other)
    with open_state(path) as state, pytest.raises(MappingError) as caught:
        apply_state(state, other)
    problems = caught.value.report.problems
    assert {p.state_name for p in problems} >= {"mlp/hidden/kernel", "mlp/hidden/bias"}
    assert all(p.status == "shape mismatch" for p in problems)
    assert same_bits(weights_of(other), before)
    assert "nothing written" in str(caught.value)


def test_allow_partial_writes_only_the_matched_tensors(trained: tuple[Any, Path]) -> None:
    source, path = trained
    other = build(hidden=12)
    before = {v.path: variable_value(v) for v in other.weights}
    with open_state(path) as state:
        report = apply_state(state, other, allow_partial=True)
    assert report.problems
    after = {v.path: variable_value(v) for v in other.weights}
    src = {v.path: variable_value(v) for v in source.weights}
    for row in report.rows:
        if row.target in after:
            expected = src[row.target] if row.status == "matched" else before[row.target]
            assert after[row.target].tobytes() == expected.tobytes(), row


def test_dry_run_reports_and_writes_nothing(trained: tuple[Any, Path]) -> None:
    _, path = trained
    target = build()
    before = weights_of(target)
    with open_state(path) as state:
        report = apply_state(state, target, dry_run=True)
    assert report.ok
    assert same_bits(weights_of(target), before)


def test_values_are_cast_to_the_variable_dtype_and_reported(tmp_path: Path) -> None:
    source = build()
    tensors = {v.path: variable_value(v).astype(np.float64) for v in source.weights}
    save_state(tmp_path / "f64.csv", tensors)
    target = build()
    with open_state(tmp_path / "f64.csv") as state:
        report = apply_state(state, target, optimizer=False)
    assert all(row.cast for row in report.rows)
    assert same_bits(weights_of(target), weights_of(source))


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5", ""])
def test_outputs_restore_the_state(trained: tuple[Any, Path], tmp_path: Path, suffix: str) -> None:
    source, path = trained
    target = build()
    with open_state(path) as state:
        apply_state(state, target)
    out = str(tmp_path / f"applied{suffix or '-ckpt'}")
    written = save_model(target, out)
    assert all(os.path.exists(p) for p in written)
    if suffix == ".keras":
        back = load_model(out)
    else:
        back = build()
        if suffix == ".weights.h5":
            back.optimizer.build(back.trainable_variables)
            back.load_weights(out)
        else:
            back.optimizer.build(back.trainable_variables)
            tf.train.Checkpoint(model=back, optimizer=back.optimizer).restore(out).assert_consumed()
    assert same_bits(weights_of(back), weights_of(source))
    if suffix != ".weights.h5":
        assert same_bits(
            [variable_value(v) for v in back.optimizer.variables],
            [variable_value(v) for v in source.optimizer.variables],
        )
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "temporary files left"
    with pytest.raises(StateWriteError, match="exists"):
        save_model(target, out)


def test_output_kind_must_be_a_model_format(trained: tuple[Any, Path], tmp_path: Path) -> None:
    source, _ = trained
    written_as = "a model is written as one of: TensorFlow checkpoint, Keras model, Keras weights"
    with pytest.raises(StateWriteError, match=written_as):
        save_model(source, str(tmp_path / "model.csv"))


# --------------------------------------------------------------------------- CLI
def test_cli_apply_dry_run_then_write(
    csv_state: CliRunner, trained: tuple[Any, Path], tmp_path: Path
) -> None:
    source, path = trained
    model_file = tmp_path / "fresh.keras"
    build().save(model_file)
    dry = csv_state("apply", str(path), str(model_file), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr == ""  # no TensorFlow start-up or device-probing chatter
    assert "mlp/hidden/kernel" in dry.stdout and "match by name: 22 matched" in dry.stdout
    out = tmp_path / "resumed.keras"
    done = csv_state("apply", str(path), str(model_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert same_bits(weights_of(load_model(str(out))), weights_of(source))
    again = csv_state("apply", str(path), str(model_file), "-o", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr
    for result in (dry, done, again):
        assert "Traceback" not in result.stdout + result.stderr


def test_cli_apply_mismatch_exits_1_and_writes_nothing(
    csv_state: CliRunner, trained: tuple[Any, Path], tmp_path: Path
) -> None:
    _, path = trained
    model_file = tmp_path / "other.keras"
    build(hidden=12).save(model_file)
    out = tmp_path / "never.keras"
    result = csv_state("apply", str(path), str(model_file), "-o", str(out), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {r["status"] for r in report["rows"]} >= {"shape mismatch", "matched"}
    assert "nothing written" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_apply_names_a_model_file_that_is_not_an_archive(
    csv_state: CliRunner, trained: tuple[Any, Path], tmp_path: Path
) -> None:
    _, path = trained
    fake = tmp_path / "fake.keras"
    fake.write_text("not a zip")
    result = csv_state("apply", str(path), str(fake), "-o", str(tmp_path / "o.keras"))
    assert result.returncode == 2
    assert (
        result.stderr == f"csv-state: {fake}: its content is not a Keras 3 model archive (.keras)\n"
    )


def test_cli_apply_refuses_to_overwrite_its_sources(
    csv_state: CliRunner, trained: tuple[Any, Path], tmp_path: Path
) -> None:
    _, path = trained
    model_file = tmp_path / "m.keras"
    build().save(model_file)
    result = csv_state("apply", str(path), str(model_file), "-o", str(model_file), "--force")
    assert result.returncode == 2 and "refusing to overwrite a source" in result.stderr
