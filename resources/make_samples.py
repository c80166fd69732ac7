"""Generate the bundled sample states in resources/samples/ (deterministic, no downloads).

Run from the repository root:  python resources/make_samples.py

Three small Keras models are really trained for a few epochs on data synthesised here, so
the samples hold what a user's training run leaves behind: weights that have learnt
something and the optimizer's actual state. For each model the script writes

* ``<name>.keras``: the trained, compiled model (optimizer included);
* ``<name>.csv`` and ``<name>_base64.csv``: its state as the bridge writes it (Keras 3
  variable paths such as ``sequential/dense/kernel``, optimizer slots with
  ``slot_of``/``slot``, step counter and learning rate), in both data encodings; the same
  values as ``csv-state convert <name>.keras``, and ``csv-state apply`` matches every row;
* ``<family>_recipe.csv``: the weights as the widely copied recipe writes them
  (``weight_N`` names, ``str()`` values, shape and dtype only, no optimizer state).

The models: an MLP 64-128-64-10 with Adam (``mlp_adam``; ``mlp_adam_later.csv`` is the
same run one epoch later, to compare against), a small CNN with Conv2D and
BatchNormalization under SGD with momentum (``cnn_sgd``), and an Embedding + LSTM with
RMSprop (``lstm_rmsprop``). ``damaged.csv`` shows typical damage, to show how bad rows are
reported.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"
SEED = 20261124
BATCH = 32
# Written into every .keras in place of the save time and the zip members' mtimes, so that
# re-running the script reproduces the archives byte for byte (no churn in version control).
FIXED_DATE_SAVED = "2026-11-24@00:00:00"
FIXED_ZIP_TIME = (2026, 11, 24, 0, 0, 0)


@dataclass
class Data:
    x: np.ndarray
    y: np.ndarray


@dataclass
class Sample:
    """One model family: how to build it, its data, how long to train, its file names."""

    name: str  # e.g. "mlp_adam": <name>.keras, <name>.csv, <name>_base64.csv
    recipe: str  # the recipe's file, e.g. "mlp_recipe.csv"
    build: Callable[[Any], Any]
    data: Callable[[np.random.Generator], Data]
    epochs: int
    later: bool = False  # also <name>_later.csv: the same run one epoch further


# ------------------------------------------------------------------- TensorFlow set-up
def quiet_deterministic_keras() -> Any:
    """Keras on TensorFlow, imported without its start-up chatter, with deterministic ops."""
    sys.path.insert(0, str(ROOT))  # run from a checkout without an install too
    # Fixed before TensorFlow loads: the backend, and no oneDNN custom ops, whose results
    # depend on the CPU's instruction set (plain Eigen kernels vary less between machines).
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from csv_state_viewer.bridge import tfimport

    tf = tfimport.tensorflow()
    with tfimport.quiet_native_stderr():
        # A GPU (if any) would give other bits; one thread fixes the order of reductions.
        tf.config.set_visible_devices([], "GPU")
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
    keras = tfimport.keras()
    keras.utils.disable_interactive_logging()
    return keras


# ------------------------------------------------------------------------------ data
def blobs(rng: np.random.Generator) -> Data:
    """10 Gaussian clusters in 64 dimensions, overlapping enough that training takes work."""
    centres = rng.standard_normal((10, 64)) * 0.35
    y = rng.integers(0, 10, size=2048)
    x = centres[y] + rng.standard_normal((2048, 64))
    return Data(x.astype(np.float32), y.astype(np.int32))


def strokes(rng: np.random.Generator) -> Data:
    """16x16 noisy images of one of four strokes: horizontal, vertical, diagonal, anti-diagonal."""
    count, size = 1024, 16
    y = rng.integers(0, 4, size=count)
    x = rng.normal(0.0, 0.4, size=(count, size, size, 1))
    offsets = rng.integers(-5, 6, size=count)
    grid = np.arange(size)
    for index, (label, offset) in enumerate(zip(y, offsets, strict=True)):
        row = np.clip(size // 2 + offset, 0, size - 1)
        if label == 0:
            x[index, row, :, 0] += 1.0
        elif label == 1:
            x[index, :, row, 0] += 1.0
        else:
            cols = np.clip(grid + offset, 0, size - 1)
            rows = grid if label == 2 else grid[::-1]
            x[index, rows, cols, 0] += 1.0
    return Data(x.astype(np.float32), y.astype(np.int32))


def token_sequences(rng: np.random.Generator) -> Data:
    """Sequences of 24 tokens from a 32-word vocabulary; the label says whether token 1
    occurs before the first token 2 (order matters, so a bag of words is not enough)."""
    count, length = 1024, 24
    x = rng.integers(3, 32, size=(count, length))
    for row in x:
        ones, twos = rng.integers(0, length, size=2)
        row[ones], row[twos] = 1, 2
    first_one = np.argmax(x == 1, axis=1)
    first_two = np.argmax(x == 2, axis=1)
    return Data(x.astype(np.int32), (first_one < first_two).astype(np.float32))


# ---------------------------------------------------------------------------- models
# Every model and layer is named explicitly: Keras's automatic names count up within a
# process (sequential_1, dense_3...), and the samples must not depend on what ran before.
def mlp_adam(keras: Any) -> Any:
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dense(64, activation="relu", name="dense_1"),
            layers.Dense(10, activation="softmax", name="dense_2"),
        ],
        name="sequential",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def cnn_sgd(keras: Any) -> Any:
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv2d"),
            layers.BatchNormalization(name="batch_normalization"),
            layers.ReLU(name="re_lu"),
            layers.MaxPooling2D(name="max_pooling2d"),
            layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv2d_1"),
            layers.BatchNormalization(name="batch_normalization_1"),
            layers.ReLU(name="re_lu_1"),
            layers.GlobalAveragePooling2D(name="global_average_pooling2d"),
            layers.Dense(4, activation="softmax", name="dense"),
        ],
        name="sequential",
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def lstm_rmsprop(keras: Any) -> Any:
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((24,), dtype="int32"),
            layers.Embedding(32, 8, name="embedding"),
            layers.LSTM(32, name="lstm"),
            layers.Dense(1, activation="sigmoid", name="dense"),
        ],
        name="sequential",
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(3e-3),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


SAMPLE_MODELS = (
    Sample("mlp_adam", "mlp_recipe.csv", mlp_adam, blobs, epochs=5, later=True),
    Sample("cnn_sgd", "cnn_recipe.csv", cnn_sgd, strokes, epochs=4),
    Sample("lstm_rmsprop", "lstm_recipe.csv", lstm_rmsprop, token_sequences, epochs=6),
)


# ---------------------------------------------------------------------------- writing
def renumber_shared_objects(node: Any, numbers: dict[int, int]) -> Any:
    """``node`` with Keras's ``shared_object_id`` values (``id()`` of live objects, so new
    in every process) replaced by 0, 1, 2... in order of first appearance. Only equality
    between these ids matters when Keras loads the config, and that is kept."""
    if isinstance(node, dict):
        out = {key: renumber_shared_objects(value, numbers) for key, value in node.items()}
        if isinstance(out.get("shared_object_id"), int):
            out["shared_object_id"] = numbers.setdefault(out["shared_object_id"], len(numbers))
        return out
    if isinstance(node, list):
        return [renumber_shared_objects(value, numbers) for value in node]
    return node


def save_keras(model: Any, path: Path) -> None:
    """``model.save``, then the archive rewritten without what changes from run to run: the
    save date, the members' times and the memory addresses in the config."""
    with tempfile.TemporaryDirectory(prefix="make-samples-") as folder:
        raw = Path(folder) / path.name
        model.save(raw)
        with zipfile.ZipFile(raw) as source, zipfile.ZipFile(path, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                if info.filename == "metadata.json":
                    metadata = json.loads(data)
                    metadata["date_saved"] = FIXED_DATE_SAVED
                    data = json.dumps(metadata).encode()
                elif info.filename == "config.json":
                    data = json.dumps(renumber_shared_objects(json.loads(data), {})).encode()
                fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
                # Kept as Keras wrote it (stored): the bridge reads stored weights in place.
                fixed.compress_type = info.compress_type
                fixed.external_attr = info.external_attr
                target.writestr(fixed, data)


def save_model_state(model: Any, destination: Path, encoding: str) -> None:
    """The trained model's state as the bridge names it (weights, then optimizer variables
    with roles and slots): the tensors ``csv-state convert`` writes for a ``.keras``.

    It is taken from the live model, not the saved file, for its names: Keras 3.15 rebuilds
    a loaded Sequential's variables without the model's scope (``dense/kernel`` instead of
    ``sequential/dense/kernel``); ``csv-state apply`` matches either way.
    """
    from csv_state_viewer.bridge.kerasmodel import model_tensors
    from csv_state_viewer.core.api import save_state
    from csv_state_viewer.core.lazystate import LazyState

    with LazyState(str(destination), "keras", model_tensors(model)) as state:
        save_state(destination, state, encoding)


def write_recipe_text(path: Path, weights: list[np.ndarray]) -> None:
    """Exactly what the recipe's saving example writes: weight_N names, str() values."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for index, weight in enumerate(weights):
            data = ",".join(map(str, weight.flatten()))
            meta = json.dumps({"shape": list(weight.shape), "dtype": str(weight.dtype)})
            writer.writerow([f"weight_{index}", data, meta])


# The good kernel of damaged.csv: the values the file has always had, kept as literals so
# the file stays byte-identical now that no synthetic generator precedes it.
DAMAGED_KERNEL = [
    -0.670109, -2.1467996, -1.8698859, -0.25744358, 0.08849344, 0.24082702,
    0.2349473, -0.5076544, -0.2938217, 1.4482225, 0.8369512, -1.3578669,
]  # fmt: skip


def write_damaged(path: Path) -> None:
    good = np.array(DAMAGED_KERNEL, dtype=np.float32)
    meta = json.dumps({"shape": [4, 3], "dtype": "float32"})
    rows = [
        ["tensor_name", "tensor_data", "tensor_metadata"],
        ["dense/kernel", ",".join(map(str, good)), meta],
        ["dense/bias", "0.1,0.2,oops", json.dumps({"shape": [3], "dtype": "float32"})],
        ["dense_1/kernel", "1,2,3", json.dumps({"shape": [100000, 100000], "dtype": "float64"})],
        ["dense_1/bias", "1,2", '{"shape": [2], "dtype": '],
        ["labels", "a,b", json.dumps({"shape": [2], "dtype": "object"})],
        ["dense/kernel", "0,0", json.dumps({"shape": [2], "dtype": "float32"})],
        ["dense_2/bias", "0.5,-0.5", json.dumps({"shape": [2], "dtype": "float32"})],
    ]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


# --------------------------------------------------------------------------- training
def train(keras: Any, sample: Sample, rng: np.random.Generator) -> tuple[Any, Data]:
    """A freshly seeded model of ``sample`` trained for its epochs; also returns its data."""
    data = sample.data(rng)
    keras.utils.set_random_seed(SEED)  # initial weights and shuffling, per model
    model = sample.build(keras)
    model.fit(data.x, data.y, batch_size=BATCH, epochs=sample.epochs, verbose=0)
    return model, data


def report(name: str, model: Any, data: Data, epochs: int) -> None:
    loss, accuracy = model.evaluate(data.x, data.y, batch_size=256, verbose=0)
    steps = int(model.optimizer.iterations.numpy())
    print(f"{name}: {epochs} epochs, {steps} steps, loss {loss:.3f}, accuracy {accuracy:.3f}")


def write_sample(keras: Any, sample: Sample, rng: np.random.Generator) -> None:
    model, data = train(keras, sample, rng)
    report(sample.name, model, data, sample.epochs)
    keras_file = SAMPLES / f"{sample.name}.keras"
    save_keras(model, keras_file)
    save_model_state(model, SAMPLES / f"{sample.name}.csv", "text")
    save_model_state(model, SAMPLES / f"{sample.name}_base64.csv", "base64")
    write_recipe_text(SAMPLES / sample.recipe, model.get_weights())
    if sample.later:
        # The same run one epoch later, to compare against (the viewer's Compare pane).
        model.fit(data.x, data.y, batch_size=BATCH, epochs=1, verbose=0)
        report(f"{sample.name}_later", model, data, sample.epochs + 1)
        save_model_state(model, SAMPLES / f"{sample.name}_later.csv", "text")


def main() -> int:
    start = time.perf_counter()
    keras = quiet_deterministic_keras()
    SAMPLES.mkdir(exist_ok=True)
    for index, sample in enumerate(SAMPLE_MODELS):
        write_sample(keras, sample, np.random.default_rng(SEED + index))
    write_damaged(SAMPLES / "damaged.csv")
    total = 0
    for path in sorted(SAMPLES.iterdir()):
        if path.is_file():
            total += path.stat().st_size
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")
    print(f"total {total:,} bytes; {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
