"""safetensors files: the package's files read exactly, ours read by the package, and
hostile headers refused with one line before anything is allocated."""

from __future__ import annotations

import contextlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.errors import CsvStateError, NotAStateError, StateWriteError
from csv_state_viewer.core.formats.safetensors import (
    FORMAT,
    open_safetensors_state,
    save_safetensors_state,
)
from csv_state_viewer.core.state import State, TensorEntry

DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.int16,
    np.uint16,
    np.int32,
    np.uint32,
    np.int64,
    np.uint64,
    np.float16,
    ml_dtypes.bfloat16,
    np.float32,
    np.float64,
    np.complex64,
    ml_dtypes.float8_e4m3fn,
    ml_dtypes.float8_e5m2,
]


def _sample(dtype: Any) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([[True, False, True], [False, False, True]])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array([[info.min, 0, 1], [2, info.max - 1, info.max]], dtype=dtype)
    values = np.array([[1.5, -0.0, np.inf], [-np.inf, np.nan, 0.25]], dtype=np.float64)
    if dtype.kind == "c":
        out = np.empty(values.shape, dtype=dtype)
        out.real, out.imag = values, values[::-1]
        return out
    return values.astype(dtype)


def _bits(array: np.ndarray) -> np.ndarray:
    """The bit patterns of an array (NaN payloads, -0.0), comparable exactly."""
    if array.dtype.kind == "b":
        return array.view(np.uint8)
    flat = np.ascontiguousarray(array).reshape(-1)
    return flat.view(np.uint8).reshape(*array.shape, array.dtype.itemsize)


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(_bits(got), _bits(want))
    if want.dtype.kind != "V" and not np.isnan(want.astype(np.complex128)).any():
        np.testing.assert_array_equal(got, want)


def _package_file(path: Path) -> dict[str, np.ndarray]:
    tensors = {f"t_{np.dtype(d).name}": _sample(d) for d in DTYPES}
    tensors["scalar"] = np.array(3.25, dtype=np.float32)
    tensors["empty"] = np.zeros((0, 3), dtype=np.int16)
    save_file(tensors, str(path), metadata={"format": "np"})
    return tensors


def test_files_of_the_package_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "package.safetensors"
    tensors = _package_file(path)
    with open_safetensors_state(path) as state:
        assert not state.errors
        assert sorted(state.names()) == sorted(tensors)
        assert "safetensors metadata: format=np" in state.notes
        for name, want in tensors.items():
            _assert_same(state.read(name), want)
            entry = state.entry(name)
            assert entry.shape == want.shape
            assert entry.dtype == want.dtype
            assert entry.metadata["shape"] == list(want.shape)


def test_files_of_the_package_are_in_offset_order(tmp_path: Path) -> None:
    path = tmp_path / "order.safetensors"
    save_file({"b": np.ones(2, np.float32), "a": np.ones(2, np.float64)}, str(path))
    with open_state(path) as state:
        assert state.format_name == "safetensors"
        assert state.names() == ["a", "b"]  # the package put float64 first
        assert state.notes == []


def test_nan_and_negative_zero_bit_patterns(tmp_path: Path) -> None:
    path = tmp_path / "bits.safetensors"
    patterns = np.array([0x7FC00001, 0xFFC00000, 0x80000000, 0x7F800000], dtype=np.uint32)
    save_file({"f": patterns.view(np.float32)}, str(path), metadata={"format": "np"})
    with open_state(path) as state:
        np.testing.assert_array_equal(state.read("f").view(np.uint32), patterns)


def test_our_file_loads_with_the_package(tmp_path: Path) -> None:
    path = tmp_path / "ours.safetensors"
    tensors = {f"t_{np.dtype(d).name}": _sample(d) for d in DTYPES}
    tensors["big_endian"] = np.array([1.5, -0.0, np.inf], dtype=">f4")
    tensors["scalar"] = np.array(7, dtype=np.int64)
    tensors["empty"] = np.zeros((0, 3), dtype=np.float32)
    float8 = {k for k in tensors if "float8" in k}  # the package's numpy loader lacks them
    assert save_safetensors_state(str(path), {k: tensors[k] for k in tensors if k not in float8})
    loaded = load_file(str(path))
    assert sorted(loaded) == sorted(set(tensors) - float8)
    for name in loaded:
        _assert_same(loaded[name], tensors[name].astype(tensors[name].dtype.newbyteorder("<")))
    assert save_safetensors_state(str(path), tensors) == len(tensors)
    with safe_open(str(path), framework="numpy") as handle:  # it validates the whole layout
        assert sorted(handle.keys()) == sorted(tensors)
        assert json.loads(handle.metadata()["csv_state"])["order"] == list(tensors)
        _assert_same(handle.get_tensor("t_bfloat16"), tensors["t_bfloat16"])
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    for name in float8:
        begin, end = header[name]["data_offsets"]
        assert raw[8 + length + begin : 8 + length + end] == tensors[name].tobytes()


def test_our_data_is_aligned(tmp_path: Path) -> None:
    path = tmp_path / "aligned.safetensors"
    save_state(
        path, {"u8": np.arange(3, dtype=np.uint8), "f64": np.ones(2), "f32": np.ones(1, np.float32)}
    )
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert length % 8 == 0
    header = json.loads(raw[8 : 8 + length])
    for name in ("u8", "f64", "f32"):
        begin = header[name]["data_offsets"][0]
        assert (8 + length + begin) % {"u8": 1, "f64": 8, "f32": 4}[name] == 0
    assert header["f64"]["data_offsets"][0] == 0


def test_round_trip_keeps_order_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "trip.safetensors"
    tensors = {
        "z": np.arange(4, dtype=np.uint8),
        "dense/kernel": np.ones((2, 2), dtype=ml_dtypes.bfloat16),
        "dense/kernel/m": np.zeros((2, 2), dtype=np.float64),
        "ünïcode": np.array([1, 2], dtype=np.int16),
    }
    meta = {"dense/kernel/m": {"role": "slot", "slot_of": "dense/kernel", "nested": {"a": [1, 2]}}}
    save_state(path, tensors, metadata=meta)
    with open_state(path) as state:
        assert state.names() == list(tensors)
        assert state.notes == []
        for name, want in tensors.items():
            _assert_same(state.read(name), want)
        entry = state.entry("dense/kernel/m").metadata
        assert {k: v for k, v in entry.items() if k not in ("shape", "dtype")} == meta[
            "dense/kernel/m"
        ]
        assert entry["dtype"] == "float64"
        again = tmp_path / "again.safetensors"
        save_state(again, state)
    with open_state(again) as state:
        assert state.names() == list(tensors)
        assert state.entry("dense/kernel/m").metadata["nested"] == {"a": [1, 2]}


def test_csv_to_safetensors_to_csv_is_bit_exact(tmp_path: Path) -> None:
    tensors = {
        "w": _sample(np.float32),
        "b": _sample(ml_dtypes.bfloat16),
        "i": _sample(np.int64),
        "c": _sample(np.complex64),
    }
    meta = {"w": {"role": "slot", "nested": {"a": [1, 2]}}}
    first = tmp_path / "first.csv"
    save_state(first, tensors, metadata=meta)
    middle = tmp_path / "middle.safetensors"
    with open_state(first) as state:
        save_state(middle, state)
    last = tmp_path / "last.csv"
    with open_state(middle) as state:
        save_state(last, state)
    with open_state(first) as a, open_state(last) as b:
        assert a.names() == b.names() == list(tensors)
        for name, want in tensors.items():
            _assert_same(b.read(name), a.read(name))
            _assert_same(b.read(name), want)
            assert b.entry(name).metadata == a.entry(name).metadata
        assert b.entry("w").metadata["nested"] == {"a": [1, 2]}


def test_sniff_recognises_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    save_file({"a": np.ones(2, np.float32)}, str(path))
    head = path.read_bytes()[:4096]
    assert FORMAT.sniff(str(path), head)
    assert not FORMAT.sniff("x", b"PK\x03\x04" + b"\x00" * 8)
    assert not FORMAT.sniff("x", struct.pack("<Q", 2**62) + b"{}")
    with open_state(path) as state:
        assert state.format_name == "safetensors"


def test_malformed_csv_state_metadata_is_a_note(tmp_path: Path) -> None:
    path = tmp_path / "note.safetensors"
    save_file({"a": np.ones(2, np.float32)}, str(path), metadata={"csv_state": "[1"})
    with open_state(path) as state:
        assert state.names() == ["a"]
        assert any("csv_state was ignored" in note for note in state.notes)
    save_file(
        {"a": np.ones(2, np.float32)},
        str(path),
        metadata={"csv_state": json.dumps({"order": ["x"], "tensors": {}})},
    )
    with open_state(path) as state:
        assert state.names() == ["a"]
        assert any("does not list" in note for note in state.notes)


def test_long_metadata_values_are_clipped_in_the_note(tmp_path: Path) -> None:
    path = tmp_path / "long.safetensors"
    save_file({"a": np.ones(1)}, str(path), metadata={"format": "pt", "blob": "x" * 10_000})
    with open_state(path) as state:
        (note,) = state.notes
        assert "format=pt" in note
        assert len(note) < 500


# ------------------------------------------------------------------ malformed files
def _raw(path: Path, header: Any, data: bytes = b"", length: int | None = None) -> Path:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    size = len(text) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + text + data)
    return path


def _refused(path: Path) -> str:
    with pytest.raises(NotAStateError) as caught:
        open_state(path, layout="safetensors")  # the sniff refuses some of them first
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


F32x4 = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}


@pytest.mark.parametrize(
    ("header", "data", "length", "expected"),
    [
        (b"{}", b"", 4096, "header declares 4,096 bytes but the file holds 2"),
        (b"{}", b"", 2**62, "a header is never larger than"),
        (b"{not json}", b"", None, "its header is not JSON"),
        (b'{"a": \xff}', b"", None, "its header is not UTF-8"),
        ([1, 2], b"", None, "its header is a JSON list"),
        (
            {"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}},
            b"\0" * 1024,
            None,
            "tensor 'w' declares bytes 0-4096 past the end of the data (1,024 bytes)",
        ),
        (
            {"a": F32x4, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}},
            b"\0" * 24,
            None,
            "tensors 'a' and 'b' overlap (bytes 8-16)",
        ),
        (
            {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}},
            b"\0" * 16,
            None,
            "but its data_offsets hold 16 bytes",
        ),
        (
            {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 16]}},
            b"\0" * 16,
            None,
            "declares [1099511627776,1099511627776] F32",
        ),
        ({"w": {**F32x4, "shape": [-4]}}, b"\0" * 16, None, "which is not a shape"),
        ({"w": {**F32x4, "shape": [True]}}, b"\0" * 16, None, "which is not a shape"),
        ({"w": {**F32x4, "shape": [1] * 65}}, b"\0" * 16, None, "65 dimensions"),
        ({"w": {**F32x4, "data_offsets": [16, 0]}}, b"\0" * 16, None, "not [begin, end]"),
        ({"w": {**F32x4, "data_offsets": [0.0, 16]}}, b"\0" * 16, None, "not [begin, end]"),
        ({"w": {**F32x4, "dtype": 4}}, b"\0" * 16, None, "not a dtype name"),
        ({"w": [1]}, b"", None, "not described by a JSON object"),
        ({"__metadata__": {"format": 1}, "w": F32x4}, b"\0" * 16, None, "not an object of"),
        ({"__metadata__": ["pt"]}, b"", None, "not an object of strings"),
    ],
)
def test_malformed_files_are_one_line_refusals(
    tmp_path: Path, header: Any, data: bytes, length: int | None, expected: str
) -> None:
    path = _raw(tmp_path / "bad.safetensors", header, data, length)
    assert expected in _refused(path)


def test_a_file_shorter_than_its_length_field(tmp_path: Path) -> None:
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\x02\0\0")
    with pytest.raises(NotAStateError, match="too short"):
        open_safetensors_state(path)


def test_unknown_and_sub_byte_dtypes_are_bad_rows(tmp_path: Path) -> None:
    header = {
        "good": F32x4,
        "f4": {"dtype": "F4", "shape": [8], "data_offsets": [16, 20]},
        "odd": {"dtype": "Q7", "shape": [2], "data_offsets": [20, 24]},
    }
    data = np.arange(4, dtype=np.float32).tobytes() + b"\0" * 8
    path = _raw(tmp_path / "rows.safetensors", header, data)
    with open_state(path) as state:
        assert state.names() == ["good"]
        messages = {problem.name: problem.message for problem in state.errors}
        assert messages["f4"].startswith("dtype F4 is not read")
        assert "Q7" in messages["odd"]
        np.testing.assert_array_equal(state.read("good"), np.arange(4, dtype=np.float32))
    # a bad row's range still counts: it may not overlap a good one
    header["odd"]["data_offsets"] = [12, 16]
    assert "overlap" in _refused(_raw(tmp_path / "overlap.safetensors", header, data))


def test_gaps_between_ranges_still_read(tmp_path: Path) -> None:
    header = {"a": {"dtype": "I32", "shape": [1], "data_offsets": [4, 8]}}
    path = _raw(tmp_path / "gap.safetensors", header, b"\0\0\0\0" + struct.pack("<i", -5) + b"xx")
    with open_state(path) as state:
        _assert_same(state.read("a"), np.array([-5], dtype=np.int32))


def test_truncation_after_opening_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "cut.safetensors"
    save_file({"a": np.ones(1000, np.float32)}, str(path))
    with open_state(path) as state:
        os.truncate(path, os.path.getsize(path) - 100)
        with pytest.raises(CsvStateError, match="truncated"):
            state.read("a")
        assert state.errors


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 9, 20, 60, 100, -1])
def test_truncated_files_raise_only_our_errors(tmp_path: Path, cut: int) -> None:
    whole = tmp_path / "whole.safetensors"
    save_file({"a": np.arange(6, dtype=np.float64), "b": np.ones(3, np.int8)}, str(whole))
    raw = whole.read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(raw[:cut])
    try:
        with open_state(path) as state:
            for entry in state.entries:
                with contextlib.suppress(CsvStateError):
                    state.read(entry)
    except CsvStateError:
        pass


@pytest.mark.parametrize(
    "header",
    [
        b"{" * 100_000,
        b'{"a": 1e999999}',
        b'{"a": ' + b"9" * 5000 + b"}",
        b'{"\\ud800": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}',
        b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": null}, "a": 5}',
        b'{"a": {"dtype": "F8_E8M0", "shape": [2], "data_offsets": [0, 2]}}',
    ],
)
def test_odd_headers_raise_only_our_errors(tmp_path: Path, header: bytes) -> None:
    path = _raw(tmp_path / "odd.safetensors", header, b"\x7f\x80")
    try:
        with open_state(path) as state:
            for entry in state.entries:
                if entry.ok:
                    assert state.read(entry).shape == entry.shape
    except CsvStateError:
        pass


# ------------------------------------------------------------------ writer refusals
@pytest.mark.parametrize(
    ("tensors", "expected"),
    [
        ({"__metadata__": np.ones(2)}, "cannot be named __metadata__"),
        ({"ok": np.ones(2), "c": np.ones(2, np.complex128)}, "has no dtype complex128"),
        ({"i4": np.ones(2, ml_dtypes.int4)}, "has no dtype int4"),
        ({"f8": np.ones(2, ml_dtypes.float8_e4m3fnuz)}, "has no dtype float8_e4m3fnuz"),
        ({"bad\udc80": np.ones(2)}, "not valid Unicode"),
    ],
)
def test_writer_refusals_leave_nothing(tmp_path: Path, tensors: Any, expected: str) -> None:
    path = tmp_path / "out.safetensors"
    with pytest.raises(StateWriteError, match=expected):
        save_state(path, tensors)
    assert os.listdir(tmp_path) == []


class _Source(State):
    """A state whose tensors load as float32 [3], and whose tensor 'bad' fails to load."""

    format_name = "source"

    def __init__(self, path: str, shapes: dict[str, tuple[int, ...]]) -> None:
        float32 = np.dtype(np.float32)
        entries = [
            TensorEntry(name=n, shape=s, dtype=float32, encoding=None) for n, s in shapes.items()
        ]
        super().__init__(path, entries)

    def _decode(self, entry: TensorEntry, progress: Any) -> np.ndarray:
        if entry.name == "bad":
            raise ValueError("damaged")
        return np.arange(3, dtype=np.float32)

    def close(self) -> None:
        pass


def test_a_loaded_array_of_another_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.safetensors"
    save_state(path, {"a": np.ones(5, np.float32)})
    before = path.read_bytes()
    with pytest.raises(StateWriteError, match=r"tensor 'a' loaded as \[3\] float32, not \[5\] F32"):
        save_safetensors_state(str(path), _Source(str(tmp_path / "src"), {"a": (5,)}))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.safetensors"]


def test_rows_skipped_while_writing_leave_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "skipped.safetensors"
    source = _Source(str(tmp_path / "src"), {"z": (3,), "bad": (3,), "a": (3,)})
    assert save_safetensors_state(str(path), source, skip_bad=True) == 2
    loaded = load_file(str(path))
    assert sorted(loaded) == ["a", "z"]
    with open_state(path) as state:
        assert state.names() == ["z", "a"]
        _assert_same(state.read("a"), np.arange(3, dtype=np.float32))
    with pytest.raises(CsvStateError, match="damaged"):
        save_safetensors_state(str(path), _Source(str(tmp_path / "src"), {"bad": (3,)}))


def test_the_file_opened_is_the_file_read(tmp_path: Path) -> None:
    """Reads go to the file opened at the start (pread, no memory map), so a file saved
    over it by another program, or cut short, never crashes the reader."""
    path = tmp_path / "package.safetensors"
    tensors = {"f": np.arange(3, dtype=np.float32), "b": np.ones(2, ml_dtypes.bfloat16)}
    save_file(tensors, str(path))
    with open_state(path) as state:
        other = tmp_path / "other.safetensors"
        save_file({"f": np.zeros(3, np.float32)}, str(other))
        os.replace(other, path)
        for name, want in tensors.items():
            _assert_same(state.read(name), want)


def test_random_damage_raises_only_our_errors(tmp_path: Path) -> None:
    whole = tmp_path / "whole.safetensors"
    save_state(whole, {"a": np.arange(6.0), "b": np.ones((2, 2), ml_dtypes.float8_e5m2)})
    raw = whole.read_bytes()
    rng = np.random.default_rng(7)
    path = tmp_path / "damaged.safetensors"
    for _ in range(300):
        damaged = bytearray(raw)
        for where in rng.integers(0, len(raw), size=int(rng.integers(1, 4))):
            damaged[where] = int(rng.integers(0, 256))
        path.write_bytes(bytes(damaged))
        try:
            with open_state(path, layout="safetensors") as state:
                for entry in state.entries:
                    if entry.ok:
                        assert state.read(entry).shape == entry.shape
        except CsvStateError:
            pass


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.safetensors"
    save_state(path, {"a": np.ones(1)})
    with pytest.raises(StateWriteError, match="already exists"):
        save_state(path, {"a": np.ones(1)}, overwrite=False)


def test_an_empty_state_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    assert save_safetensors_state(str(path), {}) == 0
    assert load_file(str(path)) == {}
    with open_state(path) as state:
        assert state.names() == []
