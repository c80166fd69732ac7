"""Our checkpoint reader (``csv_state_viewer.core.tfbundle``) against TensorFlow's own on every
kind of checkpoint the suite writes, and against hostile checkpoints, read in-process and
without TensorFlow.

TensorFlow is imported here only to write checkpoints and to read them for comparison.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from csv_state_viewer import NotAStateError, RowError, open_state
from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.tfcheckpoint import save_tf_checkpoint
from csv_state_viewer.core.tfbundle import Bundle, open_bundle, parse_graph
from csv_state_viewer.core.tfbundle.crc32c import combine, crc32c, mask, unmask
from csv_state_viewer.core.tfbundle.slices import decode_slice_key
from csv_state_viewer.core.tfbundle.statefile import StateFileError, latest_checkpoint
from csv_state_viewer.core.tfbundle.table import TableError, read_table
from csv_state_viewer.core.tfbundle.wire import WireError, fields

TESTS = str(Path(__file__).resolve().parents[1])
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

tf = tfimport.tensorflow()
keras = tfimport.keras()


@pytest.fixture(scope="module")
def hostile() -> Iterator[ModuleType]:
    sys.path.append(TESTS)
    try:
        import hostile

        yield hostile
    finally:
        sys.path.remove(TESTS)


# ---------------------------------------------------------------- against TensorFlow
def graph_fields(graph: Any) -> list[Any]:
    """An object graph (ours or TensorFlow's protobuf) as plain values."""
    return [
        (
            [(c.node_id, c.local_name) for c in node.children],
            [(a.name, a.full_name, a.checkpoint_key) for a in node.attributes],
            [
                (s.original_variable_node_id, s.slot_name, s.slot_variable_node_id)
                for s in node.slot_variables
            ],
        )
        for node in graph.nodes
    ]


def assert_reads_as_tensorflow(prefix: str) -> Bundle:
    """Same keys, dtypes, shapes, bit-exact values and object graph as TensorFlow's reader."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    with open_bundle(prefix) as bundle:
        entries = {entry.key: entry for entry in bundle.entries}
        assert sorted(entries) == sorted(shapes)
        for key, entry in entries.items():
            assert list(entry.shape or ()) == shapes[key], key
            assert entry.type_name == dtypes[key].name, key
            if entry.type_name == "string":
                assert entry.dtype is None
                value = reader.get_tensor(key)  # bytes, or an object array of them
                expected = [value] if isinstance(value, bytes) else value.ravel().tolist()
                assert bundle.read_strings(entry) == expected, key
                continue
            expected, got = reader.get_tensor(key), bundle.read(entry)
            assert got.dtype == expected.dtype, key
            assert got.shape == expected.shape, key
            assert got.tobytes() == expected.tobytes(), key
        if GRAPH_KEY in entries:
            theirs = trackable_object_graph_pb2.TrackableObjectGraph()
            theirs.ParseFromString(reader.get_tensor(GRAPH_KEY))
            ours = parse_graph(bundle.read_strings(entries[GRAPH_KEY])[0])
            assert graph_fields(ours) == graph_fields(theirs)
    return bundle


class Extras(tf.Module):
    """Variables of the other types a training state holds."""

    def __init__(self) -> None:
        super().__init__()
        self.step = tf.Variable(np.int64(-(2**40)))
        self.flags = tf.Variable([True, False, True])
        self.counts = tf.Variable(np.array([[1, -2], [3, 127]], np.int8))
        self.bytes = tf.Variable(np.array([0, 255], np.uint8))
        self.half = tf.Variable(np.array([1.5, -65504, np.inf], np.float16))
        self.wide = tf.Variable(np.array([1 + 2j], np.complex128))


@pytest.fixture(scope="module")
def keras_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """tf.train.Checkpoint of tiny Keras models with Adam: float32, float16, bfloat16."""
    prefixes = []
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    y = np.linspace(0, 1, 12, dtype=np.float32).reshape(6, 2)
    for dtype in ("float32", "float16", "bfloat16"):
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(3, dtype=dtype), keras.layers.Dense(2)]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, epochs=1, batch_size=3, verbose=0)
        folder = tmp_path_factory.mktemp(f"keras_{dtype}")
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, extras=Extras())
        prefixes.append(checkpoint.save(str(folder / "ckpt")))
    return prefixes


def test_keras_checkpoints_read_as_tensorflow_reads_them(keras_checkpoints: list[str]) -> None:
    seen = set()
    for prefix in keras_checkpoints:
        bundle = assert_reads_as_tensorflow(prefix)
        seen |= {entry.type_name for entry in bundle.entries}
    assert {"float32", "float16", "bfloat16", "int64", "bool", "int8", "uint8"} <= seen


def test_a_tf1_name_based_checkpoint_with_a_partitioned_variable(tmp_path: Path) -> None:
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = tf.constant(np.ones((4, 3), np.float32))
        kernel = v1.get_variable("dense/kernel", initializer=np.full((3, 2), 0.5, np.float32))
        table = v1.get_variable(
            "embedding",
            shape=[7, 3],
            partitioner=v1.fixed_size_partitioner(3),
            initializer=v1.random_uniform_initializer(seed=1),
        )
        loss = tf.reduce_sum(tf.matmul(x, kernel)) + tf.reduce_sum(tf.concat(list(table), 0))
        step = v1.train.get_or_create_global_step()
        train = v1.train.AdamOptimizer(0.1).minimize(loss, global_step=step)
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            session.run(train)
            prefix = v1.train.Saver().save(session, str(tmp_path / "model.ckpt"))
    bundle = assert_reads_as_tensorflow(prefix)
    sliced = [e for e in bundle.entries if e.parts]
    assert {e.key for e in sliced} >= {"embedding", "embedding/Adam"}
    assert all(len(e.parts or ()) == 3 for e in sliced)
    with open_state(str(tmp_path)) as state:  # its folder: the 'checkpoint' file names it
        assert not state.errors
        assert state.entry("embedding/Adam").metadata["slot_of"] == "embedding"


def test_a_saved_models_variables(tmp_path: Path) -> None:
    module = Extras()
    module.table = tf.Variable(tf.constant([[1.5, -2.0]], dtype=tf.bfloat16))
    tf.saved_model.save(module, str(tmp_path / "saved"))
    assert_reads_as_tensorflow(str(tmp_path / "saved" / "variables" / "variables"))


def test_our_writer_in_one_shard_and_in_several(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from csv_state_viewer.bridge.tfcheckpoint import write

    rng = np.random.default_rng(3)
    tensors = {
        "f32": rng.normal(size=(5, 7)).astype(np.float32),
        "bf16": rng.integers(0, 2**16, size=9, dtype=np.uint16).view(ml_dtypes.bfloat16),
        "f8": rng.integers(0, 256, size=4, dtype=np.uint8).view(ml_dtypes.float8_e5m2),
        "i4": np.array([-8, -1, 0, 7], ml_dtypes.int4),
        "u64": np.array([2**64 - 1, 0], np.uint64),
        "c64": np.array([1 - 1j], np.complex64),
        "scalar": np.float64(2.5).reshape(()),
        "empty": np.zeros((0, 3), np.int16),
        "big": rng.normal(size=70_000).astype(np.float32),  # crc32c over many lanes
    }
    save_tf_checkpoint(str(tmp_path / "one"), tensors)
    assert_reads_as_tensorflow(str(tmp_path / "one"))
    monkeypatch.setattr(write, "SHARD_BYTES", 1)
    save_tf_checkpoint(str(tmp_path / "many"), tensors)
    shards = [n for n in os.listdir(tmp_path) if n.startswith("many.data-")]
    bundle = assert_reads_as_tensorflow(str(tmp_path / "many"))
    assert len(shards) > 5
    assert {entry.shard for entry in bundle.entries} == set(range(len(shards)))


def test_tensorflows_sharding_policy_slices_across_shards(tmp_path: Path) -> None:
    module = tf.Module()
    module.a = tf.Variable(np.arange(32 * 24, dtype=np.float32).reshape(32, 24))
    module.b = tf.Variable(np.linspace(-1, 1, 300))
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=1500)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    prefix = tf.train.Checkpoint(m=module).write(str(tmp_path / "ckpt"), options=options)
    assert len([n for n in os.listdir(tmp_path) if ".data-" in n]) > 3
    bundle = assert_reads_as_tensorflow(prefix)
    assert all(entry.parts for entry in bundle.entries if entry.key.startswith("m/"))
    with open_state(prefix) as state:
        np.testing.assert_array_equal(state.read("m/a"), module.a.numpy())


def test_string_tensors_and_the_checkpoint_state_file(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    strings = [b"", b"a", b"\x00\xff" * 200, "é".encode()]
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=["text", "x"],
        shape_and_slices=["", ""],
        tensors=[tf.constant(np.array(strings, object).reshape(2, 2)), tf.constant([1.0])],
    )
    assert_reads_as_tensorflow(prefix)
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=3)
    for _ in range(2):
        manager.save()
    recorded = latest_checkpoint((tmp_path / "checkpoint").read_text())
    assert os.path.join(str(tmp_path), recorded) == tf.train.latest_checkpoint(str(tmp_path))


# -------------------------------------------------------------------------- hostile
def test_hostile_checkpoints_one_line_each(hostile: ModuleType, tmp_path: Path) -> None:
    for kind, spoils in hostile.HOSTILE.items():
        prefix = hostile.write_hostile_checkpoint(tmp_path, kind)
        if spoils == "file":
            with pytest.raises(NotAStateError) as caught:
                open_state(prefix)
            assert str(caught.value).startswith(f"{prefix}: "), kind
            assert "\n" not in str(caught.value), kind
            continue
        with open_state(prefix) as state:
            assert state.names() == ["dense/bias"], kind
            np.testing.assert_array_equal(
                state.read("dense/bias"), hostile.good_arrays()["dense/bias"]
            )
            [problem] = state.errors
            assert problem.name == "dense/kernel"
            assert "\n" not in problem.message
            with pytest.raises(RowError):
                state.read(state.entries[1])


HOSTILE_SCRIPT = """
import json, multiprocessing, sys
sys.path.insert(0, sys.argv[1])
import hostile
from csv_state_viewer import CsvStateError
from csv_state_viewer.ops.opening import open_state

out = {}
for kind in hostile.HOSTILE:
    prefix = hostile.write_hostile_checkpoint(sys.argv[2], kind)
    try:
        with open_state(prefix + ".index") as state:
            state.read("dense/bias")
            out[kind] = [str(p) for p in state.errors]
    except CsvStateError as err:
        out[kind] = str(err)
out["loaded"] = [m for m in ("tensorflow", "keras", "google.protobuf") if m in sys.modules]
out["children"] = len(multiprocessing.active_children())
print(json.dumps(out))
"""


def test_hostile_checkpoints_in_process_without_tensorflow(
    hostile: ModuleType, tmp_path: Path
) -> None:
    """What TensorFlow's reader aborted on is one line here: no worker, no TensorFlow."""
    result = subprocess.run(
        [sys.executable, "-c", HOSTILE_SCRIPT, TESTS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert (seen.pop("loaded"), seen.pop("children")) == ([], 0)
    assert "declares a negative dimension [-1, 4]" in seen["negative-dim"][0]
    assert "300 dimensions (at most 64)" in seen["300-dims"][0]
    assert "more bytes than a file can hold" in seen["overflowing-count"][0]
    assert "past the end of offset-past-shard.data-00000-of-00001" in seen["offset-past-shard"][0]
    assert "slice [[0, 3], [0, 4]] is missing" in seen["sliced-entry"][0]
    assert "magic number" in seen["truncated-index"]
    assert "fails its checksum" in seen["bad-block-crc"]
    assert "magic number" in seen["bad-footer-magic"]
    assert "Snappy" in seen["snappy-block"]
    assert "big-endian" in seen["big-endian-header"]
    for kind, said in seen.items():
        assert all("\n" not in line for line in ([said] if isinstance(said, str) else said)), kind


def test_damaged_data_is_a_bad_row_and_a_damaged_graph_falls_back_to_keys(
    keras_checkpoints: list[str], tmp_path: Path
) -> None:
    prefix = str(tmp_path / "ckpt")
    for name in os.listdir(os.path.dirname(keras_checkpoints[0])):
        if name.startswith(os.path.basename(keras_checkpoints[0]) + "."):
            suffix = name[len(os.path.basename(keras_checkpoints[0])) :]
            Path(prefix + suffix).write_bytes(
                Path(os.path.dirname(keras_checkpoints[0]), name).read_bytes()
            )
    with open_bundle(prefix) as bundle:
        graph = next(e for e in bundle.entries if e.key == GRAPH_KEY)
        kernel = max(bundle.entries, key=lambda e: e.size if e.dtype is not None else -1)
    data = Path(prefix + ".data-00000-of-00001")
    raw = bytearray(data.read_bytes())
    raw[kernel.offset] ^= 1
    raw[graph.offset + graph.size - 1] ^= 1
    data.write_bytes(bytes(raw))
    with open_state(prefix) as state:
        names = state.names()
        assert "save_counter" in names and not any(".ATTRIBUTES" in n for n in names)
        bad = next(e for e in state.entries if e.metadata["checkpoint_key"] == kernel.key)
        with pytest.raises(RowError, match="fail their checksum"):
            state.read(bad)
    with open_state(prefix) as state:
        data.write_bytes(bytes(raw[:8]))  # truncated while open: an error, not SIGBUS
        with pytest.raises(RowError, match="ended after"):
            state.read(bad.name)


# ----------------------------------------------------------------------- the layers
def test_crc32c(hostile: ModuleType) -> None:
    """The lanes and their combination agree with the plain byte loop of hostile.py."""
    assert crc32c(b"123456789") == 0xE3069283
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, 300_007, dtype=np.uint8).tobytes()
    for size in (0, 1, 100, 2047, 2048, 4099, 65_536, 300_007):
        assert crc32c(data[:size]) == hostile.crc32c(data[:size]), size
    assert combine(crc32c(data[:1000]), crc32c(data[1000:]), len(data) - 1000) == crc32c(data)
    assert unmask(mask(0x12345678)) == 0x12345678


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"\x08", "truncated"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "over-long"),
        (b"\x0a\x05abc", "longer than its message"),
        (b"\x0f", "invalid wire type"),
        (b"\x00\x01", "field number 0"),
        (b"\x0b" * 70 + b"\x0c" * 70, "nested too deeply"),
        (b"\x0b\x10\x01", "not closed"),
        (b"\x0c", "without its start"),
    ],
)
def test_wire_errors(message: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        list(fields(message))


def test_wire_skips_unknown_fields_and_groups() -> None:
    message = b"\x0b\x10\x01\x0c" + b"\x15\x01\x02\x03\x04" + b"\x19" + b"\0" * 8 + b"\x20\x07"
    assert [(f.number, f.value) for f in fields(message, frozenset({4}))] == [(4, 7)]


def _block(entries: list[tuple[bytes, bytes]], interval: int) -> bytes:
    """A block with prefix-compressed keys and a restart every ``interval`` entries."""
    body, restarts, last = bytearray(), [], b""
    for index, (key, value) in enumerate(entries):
        shared = 0
        if index % interval:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        else:
            restarts.append(len(body))
        body += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        body += key[shared:] + value
        last = key
    return bytes(body) + struct.pack(f"<{len(restarts) + 1}I", *restarts, len(restarts))


def _table(data_block: bytes, last_key: bytes) -> bytes:
    def trailer(block: bytes) -> bytes:
        return block + b"\0" + struct.pack("<I", mask(crc32c(block + b"\0")))

    out = trailer(data_block)
    handle = bytes([0]) + _varint(len(data_block))
    index = _block([(last_key, handle)], 1)
    index_handle = _varint(len(out)) + _varint(len(index))
    out += trailer(index)
    footer = (b"\0\0" + index_handle).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    return out + footer


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def test_table_prefix_compression_and_key_budget() -> None:
    items = [(f"layer_{i:03d}/kernel".encode(), bytes([i])) for i in range(40)]
    assert read_table(_table(_block(items, 16), items[-1][0])) == items
    growing = [(b"k" * (i + 1), b"") for i in range(2000)]  # each key one byte longer
    with pytest.raises(TableError, match="far more than the file holds"):
        read_table(_table(_block(growing, 10**6), growing[-1][0]))
    unsorted = [items[1], items[0]]
    with pytest.raises(TableError, match="not in increasing order"):
        read_table(_table(_block(unsorted, 16), items[1][0]))


def test_slice_keys() -> None:
    assert decode_slice_key(b"\x00a\x00\xffb\x00\x01\x01\x02\x80\x85\x7f\xc0\x40") == (
        b"a\x00b",
        ((0, 5), (-1, 64)),
    )
    for damaged in (b"\x00abc", b"\x00a\x00\x01\x01\x01\x80", b"\x00a\x00\x01\x01\x01\x80\x80\x80"):
        with pytest.raises(ValueError):
            decode_slice_key(damaged)


def test_state_file() -> None:
    text = (
        'model_checkpoint_path: "dir/ckpt-\\303\\2442"\n'
        "all_model_checkpoint_paths: 'a' \"b\"  # a comment\n"
        "all_model_checkpoint_timestamps: 1.7e9\nlast_preserved_timestamp: -inf\n"
    )
    assert latest_checkpoint(text) == "dir/ckpt-\u00e42"
    assert latest_checkpoint("") == ""
    for bad in ("model_checkpoint_path: 3", "other: 'x'", 'model_checkpoint_path: "open'):
        with pytest.raises(StateFileError):
            latest_checkpoint(bad)
