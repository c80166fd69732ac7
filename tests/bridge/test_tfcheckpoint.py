"""TensorFlow checkpoints and SavedModels as states, and states written as checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from csv_state_viewer import NotAStateError, RowError, StateWriteError, open_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.tfcheckpoint import (
    looks_like_saved_model,
    looks_like_tf_checkpoint,
    open_tf_checkpoint,
    save_tf_checkpoint,
)
from csv_state_viewer.bridge.tfcheckpoint import write as checkpoint_write
from csv_state_viewer.bridge.tfcheckpoint.naming import _object_specs
from csv_state_viewer.core.csv.csvwrite import save_csv_state

tf = tfimport.tensorflow()
keras = tfimport.keras()


def same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------ Keras 3 checkpoint
@pytest.fixture(scope="module")
def keras_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """A small trained Keras 3 model (Dense + BatchNormalization, Adam) and its checkpoint."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.normal(size=(32, 2)).astype(np.float32)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    folder = tmp_path_factory.mktemp("keras_ckpt")
    prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(str(folder / "ckpt"))
    return model, prefix


@pytest.mark.parametrize("form", ["prefix", "index", "data", "directory"])
def test_keras_checkpoint_opens_in_every_form(keras_checkpoint: tuple[Any, str], form: str) -> None:
    model, prefix = keras_checkpoint
    path = {
        "prefix": prefix,
        "index": prefix + ".index",
        "data": prefix + ".data-00000-of-00001",
        "directory": os.path.dirname(prefix),
    }[form]
    with open_tf_checkpoint(path) as state:
        assert state.format_name == "tf-checkpoint"
        assert state.path == path
        assert not state.errors
        names = state.names()
    expected = [v.path for v in model.weights] + [v.path for v in model.optimizer.variables]
    assert names == [*expected, "save_counter"]


def test_keras_checkpoint_names_values_and_roles(keras_checkpoint: tuple[Any, str]) -> None:
    model, prefix = keras_checkpoint
    with open_tf_checkpoint(prefix) as state:
        for entry in state:
            assert ".ATTRIBUTES" not in entry.name
            assert entry.metadata["checkpoint_key"].endswith("/.ATTRIBUTES/VARIABLE_VALUE")
        assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in state
        for variable in model.weights:
            assert same_bits(state.read(variable.path), variable.numpy()), variable.path
            meta = state.entry(variable.path).metadata
            assert meta["role"] == "weight"
        for variable in model.optimizer.variables:
            assert same_bits(state.read(variable.path), variable.numpy()), variable.path
        optimizer = model.optimizer.name  # "adam", or "adam_1" if other tests ran first
        for variable in model.trainable_variables:
            flat = variable.path.replace("/", "_")
            for slot in ("momentum", "velocity"):
                meta = state.entry(f"{optimizer}/{flat}_{slot}").metadata
                assert meta["role"] == "optimizer"
                assert meta["slot_of"] == variable.path
                assert meta["slot"] == slot
        iteration = state.entry(model.optimizer.iterations.path)
        assert iteration.name == f"{optimizer}/iteration"
        assert iteration.metadata["role"] == "optimizer"
        assert iteration.metadata["optimizer_variable"] == "iteration"
        assert "slot_of" not in iteration.metadata
        assert int(state.read(iteration)) == 8  # 2 epochs of 4 batches
        assert state.entry("save_counter").metadata["role"] == "checkpoint"
        moving = [v.path for v in model.weights if "moving_" in v.path]
        assert len(moving) == 2
        assert all(state.entry(name).metadata["role"] == "weight" for name in moving)


def test_object_paths_and_positional_slots_without_recorded_names(
    keras_checkpoint: tuple[Any, str],
) -> None:
    """Rule 2 and the positional slot link, on the same graph with its full names erased."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    model, prefix = keras_checkpoint
    reader = tf.train.load_checkpoint(prefix)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    for node in graph.nodes:
        for attribute in node.attributes:
            attribute.full_name = ""
    keys = sorted(reader.get_variable_to_shape_map())
    specs = {s.name: s.metadata for s in _object_specs(graph, keys)}
    assert len(specs) == len(keys) - 1
    assert not any(".ATTRIBUTES" in name for name in specs)
    kernel = "model/_functional/_operations/1/_kernel"
    assert specs[kernel]["role"] == "weight"  # by the model's path, not the optimizer's
    assert specs["model/_functional/_operations/2/moving_mean"]["role"] == "weight"
    assert specs["optimizer/_iterations"]["optimizer_variable"] == "_iterations"
    slots = {(m["slot_of"], m["slot"]) for m in specs.values() if "slot_of" in m}
    assert (kernel, "momentum") in slots and (kernel, "velocity") in slots
    assert len(slots) == 2 * len(model.trainable_variables)


def test_open_state_blocks_writes_over_it(keras_checkpoint: tuple[Any, str]) -> None:
    _, prefix = keras_checkpoint
    with open_tf_checkpoint(prefix), pytest.raises(StateWriteError, match="open for reading"):
        save_tf_checkpoint(prefix, {"x": np.ones(2)})
    with open_tf_checkpoint(prefix) as state:
        pass
    with pytest.raises(RowError, match="closed"):
        state.read("save_counter")


# -------------------------------------------------------- other object-based checkpoints
class _Module(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
        self.b = tf.Variable(np.zeros(3, np.float32))
        self.named = tf.Variable(np.float64(2.5), name="my/named")
        self.h = tf.Variable(tf.constant([1.5, -2.0], dtype=tf.bfloat16))


def test_saved_model_opens(tmp_path: Path) -> None:
    module = _Module()
    folder = tmp_path / "saved"
    tf.saved_model.save(module, str(folder))
    for path in (folder, folder / "saved_model.pb"):
        with open_tf_checkpoint(str(path)) as state:
            assert state.format_name == "savedmodel"
            # Unnamed variables all record "Variable": they get their object paths.
            assert sorted(state.names()) == ["b", "h", "my/named", "w"]
            assert same_bits(state.read("w"), module.w.numpy())
            assert same_bits(state.read("my/named"), np.float64(2.5))
            assert state.entry("h").dtype == np.dtype(ml_dtypes.bfloat16)
            assert same_bits(state.read("h"), module.h.numpy())
            assert all(e.metadata["role"] == "weight" for e in state)


def test_slot_variables_of_a_tf1_optimizer_in_an_object_graph(tmp_path: Path) -> None:
    module = _Module()
    optimizer = tf.compat.v1.train.AdamOptimizer(0.1)
    optimizer.minimize(
        lambda: tf.reduce_sum(tf.ones((1, 2)) @ module.w + module.b),
        var_list=[module.w, module.b],
    )
    prefix = tf.train.Checkpoint(model=module, optimizer=optimizer).save(str(tmp_path / "c"))
    with open_tf_checkpoint(prefix) as state:
        assert "model/w" in state and "model/b" in state
        for owner, variable in (("model/w", module.w), ("model/b", module.b)):
            for slot in ("m", "v"):
                entry = state.entry(f"optimizer/{owner}/{slot}")
                assert entry.metadata["slot_of"] == owner
                assert entry.metadata["slot"] == slot
                assert entry.metadata["role"] == "optimizer"
                expected = optimizer.get_slot(variable, slot).numpy()
                assert same_bits(state.read(entry), expected)
        assert state.entry("beta1_power").metadata["optimizer_variable"] == "beta1_power"
        assert not any(".OPTIMIZER_SLOT" in name or ".ATTRIBUTES" in name for name in state.names())


# --------------------------------------------------------------- TF 1 name-based
def test_tf1_name_based_checkpoint(tmp_path: Path) -> None:
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = tf.constant(np.ones((4, 3), np.float32))
        with v1.variable_scope("dense"):
            kernel = v1.get_variable("kernel", initializer=np.full((3, 2), 0.5, np.float32))
            bias = v1.get_variable("bias", initializer=np.zeros(2, np.float32))
        loss = tf.reduce_sum(tf.matmul(x, kernel) + bias)
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            session.run(train)
            values = dict(
                zip(["dense/kernel", "dense/bias"], session.run([kernel, bias]), strict=True)
            )
            prefix = v1.train.Saver().save(session, str(tmp_path / "model.ckpt"))
    for path in (prefix, str(tmp_path)):
        with open_tf_checkpoint(path) as state:
            assert sorted(state.names()) == sorted(
                tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
            )
            for name, value in values.items():
                assert same_bits(state.read(name), value)
                assert state.entry(name).metadata["role"] == "weight"
                assert state.entry(name + "/Adam").metadata == {
                    "role": "optimizer",
                    "slot_of": name,
                    "slot": "m",
                    "checkpoint_key": name + "/Adam",
                }
                assert state.entry(name + "/Adam_1").metadata["slot"] == "v"
            for name in ("global_step", "beta1_power", "beta2_power"):
                assert state.entry(name).metadata["role"] == "optimizer"
                assert state.entry(name).metadata["optimizer_variable"] == name


# ------------------------------------------------------------------------ writing
def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    payload_nans = np.array([0x7FA00001, 0xFFC12345, 0x7F800000, 0x80000000], np.uint32)
    return {
        "f32": np.concatenate([rng.normal(size=6).astype(np.float32), payload_nans.view("f4")]),
        "f64": rng.normal(size=(2, 3)),
        "i64": np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max]),
        "u32": np.array([0, 1, 2**32 - 1], np.uint32),
        "bool": np.array([[True, False], [False, True]]),
        "bf16": rng.integers(0, 2**16, size=(3, 5), dtype=np.uint16).view(ml_dtypes.bfloat16),
        "f8": rng.integers(0, 256, size=7, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn),
        "c64": np.array([1 + 2j, -np.inf + 0j], np.complex64),
        "scalar": np.float32(3.25).reshape(()),
        "empty": np.zeros((3, 0), np.int16),
        "layer/kernel/with spaces, and é": np.ones((2, 2), np.float16),
    }


def test_save_round_trip_is_bit_exact(tmp_path: Path) -> None:
    tensors = _tensors()
    prefix = str(tmp_path / "out" / "ckpt")
    os.mkdir(tmp_path / "out")
    assert save_tf_checkpoint(prefix, tensors) == len(tensors)
    assert sorted(os.listdir(tmp_path / "out")) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    reader = tf.train.load_checkpoint(prefix)
    assert sorted(reader.get_variable_to_shape_map()) == sorted(tensors)
    for name, value in tensors.items():
        assert same_bits(reader.get_tensor(name), value), name
    with open_tf_checkpoint(prefix) as state:
        assert state.format_name == "tf-checkpoint"
        assert state.names() == sorted(tensors)
        for name, value in tensors.items():
            assert state.entry(name).shape == value.shape
            assert same_bits(state.read(name), value), name


def test_big_endian_input_is_stored_by_value(tmp_path: Path) -> None:
    prefix = str(tmp_path / "be")
    save_tf_checkpoint(prefix, {"be": np.array([1.5, -0.0, np.inf], ">f4")})
    stored = tf.train.load_checkpoint(prefix).get_tensor("be")
    assert same_bits(stored, np.array([1.5, -0.0, np.inf], np.float32))


def test_csv_to_checkpoint_to_csv_keeps_names_and_bits(tmp_path: Path) -> None:
    tensors = _tensors()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    save_csv_state(str(first), tensors, encoding="base64")
    with open_state(first) as state:
        save_tf_checkpoint(str(tmp_path / "ckpt"), state)
    with open_tf_checkpoint(str(tmp_path / "ckpt")) as state:
        save_csv_state(str(second), state, encoding="base64")
    with open_state(first) as a, open_state(second) as b:
        assert sorted(a.names()) == sorted(b.names()) == sorted(tensors)
        for name in tensors:
            assert same_bits(a.read(name), b.read(name)), name


def test_multi_shard_write_and_stale_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = str(tmp_path / "ckpt")
    tensors = {f"t{i}": np.full(100, i, np.float64) for i in range(3)}
    monkeypatch.setattr(checkpoint_write, "SHARD_BYTES", 1)
    assert save_tf_checkpoint(prefix, tensors) == 3
    shards = sorted(p for p in os.listdir(tmp_path) if ".data-" in p)
    assert shards == [f"ckpt.data-0000{i}-of-00003" for i in range(3)]
    with open_tf_checkpoint(prefix) as state:
        assert all(same_bits(state.read(k), v) for k, v in tensors.items())
    monkeypatch.undo()
    save_tf_checkpoint(prefix, {"only": np.arange(3)})  # one shard replaces three
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert sorted(tf.train.load_checkpoint(prefix).get_variable_to_shape_map()) == ["only"]


def test_overwrite_refused_and_allowed(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    save_tf_checkpoint(prefix, {"a": np.ones(2)})
    with pytest.raises(StateWriteError, match="exists"):
        save_tf_checkpoint(prefix, {"b": np.zeros(2)}, overwrite=False)
    assert sorted(tf.train.load_checkpoint(prefix).get_variable_to_shape_map()) == ["a"]
    save_tf_checkpoint(prefix + ".index", {"b": np.zeros(2)}, overwrite=True)
    assert sorted(tf.train.load_checkpoint(prefix).get_variable_to_shape_map()) == ["b"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    with pytest.raises(StateWriteError, match="is a directory"):
        save_tf_checkpoint(str(tmp_path), {"a": np.ones(2)})


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"": np.ones(1)}, "empty name"),  # TensorFlow would abort the process
        ({"_CHECKPOINTABLE_OBJECT_GRAPH": np.ones(1)}, "reserved"),
        ({"ok": np.ones(1), "e8": np.zeros(2, ml_dtypes.float8_e8m0fnu)}, "cannot be stored"),
        ({"q": np.zeros(2, np.longdouble)}, "cannot be stored"),
        ({}, "no tensors"),
    ],
)
def test_refused_before_anything_is_written(
    tmp_path: Path, tensors: dict[str, np.ndarray], message: str
) -> None:
    with pytest.raises(StateWriteError, match=message):
        save_tf_checkpoint(str(tmp_path / "ckpt"), tensors)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ bad input
def test_not_a_checkpoint(tmp_path: Path) -> None:
    garbage = tmp_path / "g.index"
    garbage.write_bytes(b"this is not an index\n" * 20)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    (tmp_path / "empty").mkdir()
    bad_state = tmp_path / "bad"
    bad_state.mkdir()
    (bad_state / "checkpoint").write_text('model_checkpoint_path: "missing-3"\n')
    for path in (
        garbage,
        tmp_path / "g",
        other,
        tmp_path / "nothing",
        tmp_path / "empty",
        bad_state,
    ):
        with pytest.raises(NotAStateError) as caught:
            open_tf_checkpoint(str(path))
        text = str(caught.value)
        assert "\n" not in text and text.startswith(f"{path}: "), text
        assert "Traceback" not in text


def test_truncated_data_and_string_tensors_are_row_errors(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=["big", "text"],
        shape_and_slices=["", ""],
        tensors=[tf.constant(np.arange(1000, dtype=np.float32)), tf.constant([b"a", b"b"])],
    )
    data = Path(prefix + ".data-00000-of-00001")
    with open_tf_checkpoint(prefix) as state:
        assert state.names() == ["big"]
        assert state.entry("text").error is not None
        assert "string" in state.entry("text").error
        assert [p.name for p in state.errors] == ["text"]
        assert same_bits(state.read("big"), np.arange(1000, dtype=np.float32))
    data.write_bytes(data.read_bytes()[:100])
    with open_tf_checkpoint(prefix) as state, pytest.raises(RowError) as caught:
        state.read("big")
    assert "\n" not in str(caught.value)
    data.unlink()
    with pytest.raises(NotAStateError, match="data- files are missing"):
        open_tf_checkpoint(prefix)


# --------------------------------------------------------------------- sniffing
def test_sniffers(keras_checkpoint: tuple[Any, str], tmp_path: Path) -> None:
    _, prefix = keras_checkpoint
    folder = os.path.dirname(prefix)
    for path in (prefix, prefix + ".index", prefix + ".data-00000-of-00001", folder):
        assert looks_like_tf_checkpoint(path, b""), path
        assert not looks_like_saved_model(path, b""), path
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert looks_like_saved_model(str(tmp_path), b"")
    assert looks_like_saved_model(str(tmp_path / "saved_model.pb"), b"")
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    for path in (tmp_path / "x.data-00000-of-00001", tmp_path / "x", tmp_path / "nothing"):
        assert not looks_like_tf_checkpoint(str(path), b""), path
    assert not looks_like_tf_checkpoint(str(tmp_path), b"")


def test_sniffing_and_reading_do_not_import_tensorflow(keras_checkpoint: tuple[Any, str]) -> None:
    model, prefix = keras_checkpoint
    code = (
        "import sys\n"
        "import csv_state_viewer.bridge.tfcheckpoint as m\n"
        f"p = {prefix!r}\n"
        "assert m.looks_like_tf_checkpoint(p, b'')\n"
        "assert m.looks_like_tf_checkpoint(p + '.index', b'')\n"
        "assert not m.looks_like_saved_model(p, b'')\n"
        "import os\n"
        "with m.open_tf_checkpoint(os.path.dirname(p)) as state:\n"
        "    assert not state.errors\n"
        f"    assert state.read({model.weights[0].path!r}).shape == "
        f"{tuple(model.weights[0].shape)!r}\n"
        "for name in ('tensorflow', 'keras', 'google.protobuf'):\n"
        "    assert name not in sys.modules, name + ' was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
