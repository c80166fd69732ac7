"""Optimizers whose variables Keras names oddly or wraps, custom classes and RNG states,
through the formats users save them in and the command line.

* Adafactor names its factored accumulators after the bare variable (``adafactor/kernel``
  for every kernel): every tensor keeps a distinct, stable name (``..._r``, ``..._c``) and
  converts, diffs and applies;
* LossScaleOptimizer (mixed precision) saved as ``.keras``: real names, not structural
  ones (the model's dtype policy comes from its file);
* ``--import`` loads subclassed models; without it the refusal says what to do;
* RNG states: what a destination or a source cannot carry is said.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import (
    open_state,
    restore_training_state,
    save_state,
    save_training_state,
)
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.apply import apply_state
from csv_state_viewer.bridge.kerasmodel import GLOBAL_RNG, named_variables, variable_value

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
keras = tfimport.keras()
tf = tfimport.tensorflow()
CASES_FILE = Path(__file__).with_name("resume_cases.py")
RNG = np.random.default_rng(11)
X = RNG.standard_normal((16, 6)).astype("float32")
Y = RNG.integers(0, 3, 16)


def dense(optimizer: Any, *, dropout: float = 0.0) -> Any:
    layers = [keras.Input((6,)), keras.layers.Dense(5)]
    layers += [keras.layers.Dropout(dropout)] if dropout else []
    model = keras.Sequential([*layers, keras.layers.Dense(3)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss)
    return model


def trained(optimizer: Callable[[], Any], **kwargs: Any) -> Any:
    model = dense(optimizer(), **kwargs)
    model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model


def state_bytes(path: Path) -> dict[str, bytes]:
    with open_state(path) as state:
        return {name: state.read(name).tobytes() for name in state.names()}


def live_bytes(model: Any) -> list[bytes]:
    return [variable_value(i.variable).tobytes() for i in named_variables(model)]


def test_adafactor_keeps_every_accumulator_through_keras_csv_npz_diff_and_apply(
    tmp_path: Path, csv_state: CliRunner
) -> None:
    model = trained(lambda: keras.optimizers.Adafactor(0.01))
    keras_paths = [v.path for v in model.optimizer.variables]
    assert len(set(keras_paths)) < len(keras_paths)  # Keras's own paths collide
    model.save(tmp_path / "ada.keras")
    total = len(model.weights) + len(model.optimizer.variables)

    assert csv_state("convert", tmp_path / "ada.keras", tmp_path / "ada.csv").returncode == 0
    assert csv_state("convert", tmp_path / "ada.csv", tmp_path / "ada.npz").returncode == 0
    back = csv_state("convert", tmp_path / "ada.npz", tmp_path / "back.csv")
    assert back.returncode == 0 and f"({total} tensors" in back.stdout, back.stdout
    names = state_bytes(tmp_path / "back.csv")
    assert len(names) == total
    assert state_bytes(tmp_path / "ada.csv") == names
    with open_state(tmp_path / "ada.csv") as state:
        kernel = [n for n in state.names() if n.endswith("_kernel_r")]
        assert kernel, state.names()
        meta = state.entry(kernel[0]).metadata
        assert meta["slot"] == "r" and meta["slot_of"].endswith("/kernel")
        assert meta["keras_path"].endswith("kernel")

    diff = csv_state("diff", tmp_path / "ada.keras", tmp_path / "ada.csv")
    assert diff.returncode == 0, diff.stdout + diff.stderr

    dense(keras.optimizers.Adafactor(0.01)).save(tmp_path / "fresh.keras")  # auto-numbered
    applied = csv_state(
        "apply", tmp_path / "ada.csv", tmp_path / "fresh.keras", "-o", tmp_path / "out.keras"
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "auto-numbering" in applied.stdout
    restored = keras.saving.load_model(tmp_path / "out.keras")
    assert live_bytes(restored) == live_bytes(model)


def test_adafactor_in_a_tensorflow_checkpoint_links_r_and_c_to_their_variables(
    tmp_path: Path,
) -> None:
    model = trained(lambda: keras.optimizers.Adafactor(0.01))
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(tmp_path / "ckpt"))
    with open_state(tmp_path / "ckpt") as state:
        slots = {
            (e.metadata.get("slot_of"), e.metadata.get("slot")): e.name
            for e in state.entries
            if e.metadata.get("role") == "optimizer"
        }
        for variable in model.trainable_variables:
            for slot in ("r", "c", "velocity"):
                assert (variable.path, slot) in slots, (variable.path, slot, sorted(slots))
        fresh = dense(keras.optimizers.Adafactor(0.01))
        report = apply_state(state, fresh)
    assert report.ok
    assert live_bytes(fresh) == live_bytes(model)


def test_a_mixed_precision_keras_file_keeps_its_loss_scale_with_real_names(
    tmp_path: Path, csv_state: CliRunner
) -> None:
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = trained(lambda: keras.optimizers.Adam(0.01))
    finally:
        keras.config.set_dtype_policy(previous)
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    model.save(tmp_path / "mixed.keras")
    result = csv_state("convert", tmp_path / "mixed.keras", tmp_path / "mixed.csv")
    assert result.returncode == 0, result.stderr
    with open_state(tmp_path / "mixed.csv") as state:
        metadata = {name: state.entry(name).metadata for name in state.names()}
    assert not any(meta.get("names") == "structural" for meta in metadata.values())
    scale = [name for name in metadata if name.endswith("dynamic_scale")]
    assert scale and metadata[scale[0]]["optimizer"] == "LossScaleOptimizer"
    momentum = [m for m in metadata.values() if m.get("slot") == "momentum"]
    assert momentum and all(m["sub_optimizer"] == "Adam" for m in momentum)
    assert len(metadata) == len(model.weights) + len(model.optimizer.variables)


def test_import_loads_subclassed_models_and_its_absence_is_explained(
    tmp_path: Path, csv_state: CliRunner
) -> None:
    sys.path.insert(0, str(CASES_FILE.parent))
    import resume_cases

    model = resume_cases.build("subclassed+dropout")
    resume_cases.train(model, "subclassed+dropout", 2)
    model.save(tmp_path / "net.keras")
    resume_cases.build("subclassed+dropout").save(tmp_path / "fresh.keras")

    structural = csv_state("info", tmp_path / "net.keras")
    assert structural.returncode == 0 and "vars/0" in structural.stdout
    named = csv_state("info", tmp_path / "net.keras", "--import", CASES_FILE)
    assert named.returncode == 0 and "block/scale" in named.stdout, named.stdout

    csv_state("convert", tmp_path / "net.keras", tmp_path / "net.csv", "--import", CASES_FILE)
    refused = csv_state(
        "apply", tmp_path / "net.csv", tmp_path / "fresh.keras", "-o", tmp_path / "o.keras"
    )
    assert refused.returncode == 2
    assert "'Net' is not registered" in refused.stderr and "--import" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    applied = csv_state(
        "apply",
        tmp_path / "net.csv",
        tmp_path / "fresh.keras",
        "-o",
        tmp_path / "o.keras",
        "--import",
        CASES_FILE,
    )
    assert applied.returncode == 0, applied.stderr
    assert live_bytes(keras.saving.load_model(tmp_path / "o.keras")) == live_bytes(model)

    missing = csv_state("info", tmp_path / "net.keras", "--import", tmp_path / "nowhere.py")
    assert missing.returncode == 2 and "cannot import" in missing.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('half-written module')\n")
    failed = csv_state("info", tmp_path / "net.keras", "--import", broken)
    assert failed.returncode == 2 and "half-written module" in failed.stderr, failed.stderr


def test_rng_state_makes_dropout_resume_exact_and_its_absence_is_said(
    tmp_path: Path, csv_state: CliRunner
) -> None:
    tf.config.experimental.enable_op_determinism()
    original = trained(lambda: keras.optimizers.Adam(0.01), dropout=0.5)
    save_training_state(original, tmp_path / "full.csv", counters={"epoch": 1})
    with open_state(tmp_path / "full.csv") as state:
        roles = [state.entry(n).metadata.get("role") for n in state.names()]
        without = {
            n: state.read(n) for n in state.names() if state.entry(n).metadata.get("role") != "rng"
        }
        kept = {n: state.entry(n).metadata for n in without}
    assert "rng" in roles and "counter" in roles
    save_state(tmp_path / "no_rng.csv", without, metadata=kept)

    exact, blind = (
        dense(keras.optimizers.Adam(0.01), dropout=0.5),
        dense(keras.optimizers.Adam(0.01), dropout=0.5),
    )
    restored = restore_training_state(exact, tmp_path / "full.csv")
    assert restored.counters == {"epoch": 1}
    assert any(row.role == "rng" for row in restored.report.matched())
    lacking = restore_training_state(blind, tmp_path / "no_rng.csv")
    assert any("carries no RNG state" in note for note in lacking.report.notes)
    for model in (original, exact, blind):
        model.fit(X[:8], Y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)

    def everything(model: Any) -> list[bytes]:
        items = named_variables(model, include_rng=True)
        return [variable_value(i.variable).tobytes() for i in items if i.name != GLOBAL_RNG]

    assert everything(exact) == everything(original)
    assert everything(blind) != everything(original)  # other dropout masks

    # a .keras destination cannot carry RNG state: apply says so
    dense(keras.optimizers.Adam(0.01), dropout=0.5).save(tmp_path / "fresh.keras")
    applied = csv_state(
        "apply", tmp_path / "full.csv", tmp_path / "fresh.keras", "-o", tmp_path / "o.keras"
    )
    assert applied.returncode == 0, applied.stderr
    assert "cannot carry RNG state" in applied.stdout + applied.stderr


def test_a_checkpoint_that_would_miss_sub_optimizers_is_refused(
    tmp_path: Path, csv_state: CliRunner
) -> None:
    def multi() -> Any:
        return keras.optimizers.MultiOptimizer(
            keras.optimizers.OptimizerMap(
                keras.optimizers.Adam(0.01),
                {".*dense_1/.*": keras.optimizers.SGD(0.1, momentum=0.9)},
            )
        )

    model = trained(multi)
    model.save(tmp_path / "multi.keras")
    assert csv_state("convert", tmp_path / "multi.keras", tmp_path / "multi.csv").returncode == 0
    with open_state(tmp_path / "multi.csv") as state:
        subs = {state.entry(n).metadata.get("sub_optimizer") for n in state.names()}
    assert {"Adam", "SGD"} <= subs
    refused = csv_state(
        "apply", tmp_path / "multi.csv", tmp_path / "multi.keras", "-o", tmp_path / "new" / "ckpt"
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "holds only" in refused.stderr and "MultiOptimizer" in refused.stderr
    assert not (tmp_path / "new").exists()  # the folder made for it is gone again
    kept = csv_state(
        "apply", tmp_path / "multi.csv", tmp_path / "multi.keras", "-o", tmp_path / "o.keras"
    )
    assert kept.returncode == 0, kept.stderr
    assert live_bytes(keras.saving.load_model(tmp_path / "o.keras")) == live_bytes(model)


WRAPPERS: dict[str, Callable[[], Any]] = {
    "loss_scale": lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01)),
    "ema": lambda: keras.optimizers.Adam(0.01, use_ema=True),
    "accumulation": lambda: keras.optimizers.Adam(0.01, gradient_accumulation_steps=2),
}


@pytest.mark.parametrize("source", ["checkpoint", "legacy.h5"])
@pytest.mark.parametrize("kind", sorted(WRAPPERS))
def test_wrapped_optimizers_resume_exactly_from_checkpoints_and_legacy_h5(
    tmp_path: Path, kind: str, source: str
) -> None:
    original = trained(WRAPPERS[kind])
    if source == "checkpoint":
        path = tmp_path / "ckpt"
        tf.train.Checkpoint(model=original, optimizer=original.optimizer).write(str(path))
    else:
        path = tmp_path / "model.h5"
        original.save(path)
    fresh = dense(WRAPPERS[kind]())  # built again here: auto-numbered names
    with open_state(path) as state:
        assert len(state.names()) == len(original.weights) + len(original.optimizer.variables)
        report = apply_state(state, fresh)
    assert report.ok, report.summary()
    for model in (original, fresh):
        model.fit(X[:8], Y[:8], batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert live_bytes(fresh) == live_bytes(original)
