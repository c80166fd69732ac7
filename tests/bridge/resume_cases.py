"""Models and optimizers users bring, for the exact-resume matrix (test_resume_matrix.py).

Importable by the test, by a second Python process (``python resume_cases.py resume CASE
STATE OUT``: build the model fresh there, restore STATE, train one step, save the result)
and by ``csv-state --import`` (it registers the subclassed model's classes). Models are
tiny: 32x32 inputs, 8 samples, batches of 4. The two keras.applications models train
eagerly (``run_eagerly``): tracing their train steps takes 15-25 s each, and what is
compared — the state after restoring and one more step — is the same in both modes; the
small models train as graphs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from csv_state_viewer.bridge import tfimport

keras = tfimport.keras()
BATCH = 4


# ------------------------------------------------------------------- subclassed model
@keras.saving.register_keras_serializable(package="resume_cases")
class Block(keras.layers.Layer):
    """A custom layer with a weight of its own, a nested Dense and a Dropout."""

    def __init__(self, units: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.inner = keras.layers.Dense(units)
        self.drop = keras.layers.Dropout(0.3)

    def build(self, shape: Any) -> None:
        self.inner.build(shape)
        self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.drop(self.inner(x), training=training) * self.scale

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="resume_cases")
class Net(keras.Model):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = Block(6)
        self.head = keras.layers.Dense(3)

    def call(self, x: Any, training: Any = None) -> Any:
        return self.head(self.block(x, training=training))


# ---------------------------------------------------------------------------- models
def _logits() -> Any:
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mobilenet() -> Any:
    model = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=3
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, use_ema=True),
        loss="sparse_categorical_crossentropy",
        run_eagerly=True,  # tracing these train steps costs 15-25 s; the state is the same
    )
    return model


def efficientnet() -> Any:
    model = keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None, classes=3)
    optimizer = keras.optimizers.Adam(1e-3, gradient_accumulation_steps=2)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", run_eagerly=True)
    return model


def transformer() -> Any:
    inputs = keras.Input((8, 16))
    attended = keras.layers.MultiHeadAttention(2, 8)(inputs, inputs)
    x = keras.layers.LayerNormalization()(inputs + attended)
    x = keras.layers.LayerNormalization()(
        x + keras.layers.Dense(16)(keras.layers.Dense(32, activation="gelu")(x))
    )
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adafactor(1e-2), loss=_logits())
    return model


def shared_mixed() -> Any:
    """One Dense applied to both halves of the input, under mixed precision (Keras wraps
    the optimizer in a LossScaleOptimizer)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((12,))
        shared = keras.layers.Dense(5)
        left = shared(inputs[:, :6])
        right = shared(inputs[:, 6:])
        outputs = keras.layers.Dense(3, dtype="float32")(keras.layers.Concatenate()([left, right]))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=_logits())
    finally:
        keras.config.set_dtype_policy(previous)
    return model


def nested_multi() -> Any:
    """A Sequential inside a functional model; the head trained by SGD, the rest by Adam."""
    body = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(8)])
    inputs = keras.Input((10,))
    outputs = keras.layers.Dense(3, name="head")(body(inputs))
    model = keras.Model(inputs, outputs)
    optimizer = keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(
            keras.optimizers.Adam(1e-2), {".*head/.*": keras.optimizers.SGD(0.1, momentum=0.9)}
        )
    )
    model.compile(optimizer=optimizer, loss=_logits())
    return model


def subclassed() -> Any:
    model = Net()
    model(keras.ops.zeros((1, 10)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=_logits())
    return model


CASES: dict[str, tuple[Callable[[], Any], tuple[int, ...]]] = {
    "mobilenet_v2+ema": (mobilenet, (32, 32, 3)),
    "efficientnet_b0+accumulation": (efficientnet, (32, 32, 3)),
    "transformer+adafactor": (transformer, (8, 16)),
    "shared+loss_scale": (shared_mixed, (12,)),
    "nested+multi_optimizer": (nested_multi, (10,)),
    "subclassed+dropout": (subclassed, (10,)),
}


def data(case: str) -> tuple[np.ndarray, np.ndarray]:
    """The case's 8 samples (the same in every process)."""
    shape = CASES[case][1]
    rng = np.random.default_rng(len(case))
    return rng.standard_normal((8, *shape)).astype("float32"), rng.integers(0, 3, 8)


def build(case: str) -> Any:
    return CASES[case][0]()


def train(model: Any, case: str, steps: int) -> None:
    x, y = data(case)
    model.fit(x[: steps * BATCH], y[: steps * BATCH], batch_size=BATCH, verbose=0, shuffle=False)


def main(argv: list[str]) -> int:
    """``resume CASE STATE OUT``: a fresh model of CASE built here, STATE restored into it,
    one more step trained, its whole state saved to OUT."""
    from csv_state_viewer import restore_training_state, save_training_state

    _, case, state, out = argv
    tfimport.tensorflow().config.experimental.enable_op_determinism()
    model = build(case)
    restore_training_state(model, state)
    train(model, case, 1)
    save_training_state(model, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
