"""NumPy .npy files: read as NumPy writes them, written alone or as a folder, never unpickled."""

from __future__ import annotations

import os
import pickle
import struct
import time
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from csv_state_viewer.core.api import load_state, open_state, save_state
from csv_state_viewer.core.errors import NotAStateError, RowError, StateWriteError
from csv_state_viewer.core.limits import MAX_NPY_HEADER_BYTES
from csv_state_viewer.core.tensors import FORMAT_KEYS

IGNORED = FORMAT_KEYS | {"file", "file_format"}  # derived from the data, or by the folder

ARRAYS = {
    "float32": np.array([1.5, np.nan, -0.0, np.inf, -np.inf], dtype=np.float32),
    "float64": np.array([[np.nan, -0.0], [1e-310, 2.0]]),
    "float16": np.array([np.nan, -0.0, 65504.0], dtype=np.float16),
    "int8": np.array([-128, 0, 127], dtype=np.int8),
    "int16": np.array([-(2**15), 2**15 - 1], dtype=np.int16),
    "int32": np.array([-(2**31), 2**31 - 1], dtype=np.int32),
    "int64": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max]),
    "uint8": np.arange(6, dtype=np.uint8).reshape(2, 3),
    "uint16": np.array([0, 2**16 - 1], dtype=np.uint16),
    "uint32": np.array([0, 2**32 - 1], dtype=np.uint32),
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "complex64": np.array([1 + 2j, complex(np.nan, -0.0)], dtype=np.complex64),
    "scalar": np.array(3.25),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "fortran": np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
    "bigendian": np.array([1.5, -0.0, np.nan], dtype=">f4"),
}


def bits(array: np.ndarray) -> bytes:
    """The array's bytes in C order, NaN payloads and -0.0 included."""
    contiguous = np.ascontiguousarray(array)
    if contiguous.dtype.itemsize in (1, 2, 4, 8) and contiguous.dtype.kind != "c":
        return contiguous.view(f"u{contiguous.dtype.itemsize}").tobytes()
    return contiguous.tobytes()


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.flags.c_contiguous
    assert bits(got) == bits(want)


def user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in IGNORED}


def refusal(path: Path) -> str:
    with pytest.raises(NotAStateError) as caught:
        open_state(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("name", list(ARRAYS))
def test_files_written_by_np_save_read_exactly(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.npy"
    np.save(path, ARRAYS[name])
    with open_state(path) as state:
        assert state.format_name == "npy"
        assert [e.name for e in state.entries] == [name]
        entry = state.entries[0]
        assert entry.shape == ARRAYS[name].shape
        assert entry.dtype == ARRAYS[name].dtype
        assert not state.errors
        assert_same(state.read(entry), ARRAYS[name])


def test_version_2_header_reads(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.int32).reshape(2, 5)
    path = tmp_path / "v2.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array(handle, array, version=(2, 0))
    assert path.read_bytes()[6:8] == b"\x02\x00"
    assert_same(load_state(path)["v2"], array)


def test_a_single_file_is_one_tensor_named_by_its_stem(tmp_path: Path) -> None:
    np.save(tmp_path / "k.npy", np.eye(3, dtype=np.float32))
    with open_state(tmp_path / "k.npy") as state:
        assert [e.name for e in state.entries] == ["k"]
        assert state.entries[0].metadata["shape"] == [3, 3]


def test_a_file_truncated_after_opening_is_a_bad_row_not_a_crash(tmp_path: Path) -> None:
    """Data is read with pread from the file opened at the start, never memory-mapped: a
    map of a file that shrinks kills the process (SIGBUS) on the next access."""
    path = tmp_path / "m.npy"
    np.save(path, np.arange(100_000, dtype=np.float64))
    with open_state(path) as state:
        with open(path, "r+b") as handle:
            handle.truncate(4096)
        ends = "the file ends after 4 KiB; its header declares 781 KiB"
        with pytest.raises(RowError, match=ends):
            state.read(state.entries[0])
        assert len(state.errors) == 1


def test_the_file_opened_is_the_file_read(tmp_path: Path) -> None:
    path = tmp_path / "m.npy"
    np.save(path, np.arange(10, dtype=np.float32))
    with open_state(path) as state:
        replaced = tmp_path / "other.npy"
        np.save(replaced, np.zeros(10, dtype=np.float32))
        os.replace(replaced, path)  # another program saves over it (atomically)
        np.testing.assert_array_equal(state.read("m"), np.arange(10, dtype=np.float32))


def test_one_tensor_round_trip_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "k.npy"
    array = ARRAYS["float32"]
    assert save_state(path, {"whatever": array}) == 1
    assert_same(np.load(path, allow_pickle=False), array)  # NumPy reads what we write
    assert not os.path.exists(f"{path}.json")  # nothing to record: no sidecar
    assert_same(load_state(path)["k"], array)


MIXED = {
    "dense/kernel": np.array([[1.0, -0.0], [np.nan, 3.5]], dtype=ml_dtypes.bfloat16),
    "dense/bias": np.array([0.5, -448.0, np.nan], dtype=ml_dtypes.float8_e4m3fn),
    "plain": np.arange(6, dtype=np.float32).reshape(2, 3),
    "scalar": np.array(7, dtype=np.int64),
}
MIXED_METADATA = {
    "dense/kernel": {"trainable": True, "lr": 0.001, "tags": ["a", "b"], "nested": {"x": 1}},
    "plain": {"note": "ünïcode"},
}


def test_a_state_round_trips_through_a_folder(tmp_path: Path) -> None:
    folder = f"{tmp_path}/out/"
    assert save_state(folder, MIXED, metadata=MIXED_METADATA, format_name="npy") == len(MIXED)
    assert os.path.isfile(tmp_path / "out" / "dense" / "kernel.npy")
    assert os.path.isfile(tmp_path / "out" / "dense" / "kernel.npy.json")
    assert not os.path.exists(tmp_path / "out" / "scalar.npy.json")
    stored = np.load(tmp_path / "out" / "dense" / "kernel.npy", allow_pickle=False)
    assert stored.dtype == np.uint16  # what other tools see: the raw bits
    with open_state(tmp_path / "out") as state:
        assert sorted(e.name for e in state.entries) == sorted(MIXED)
        assert not state.errors
        assert not state.notes
        for name, array in MIXED.items():
            entry = state.entry(name)
            assert_same(state.read(entry), array)
            assert user_metadata(entry.metadata) == MIXED_METADATA.get(name, {})


def test_sidecars_are_companions_but_a_lone_json_is_a_problem(tmp_path: Path) -> None:
    save_state(f"{tmp_path}/out/", MIXED, metadata=MIXED_METADATA, format_name="npy")
    (tmp_path / "out" / "notes.json").write_text('{"hello": 1}')
    (tmp_path / "out" / "orphan.npy.json").write_text('{"csv_state": 1}')
    with open_state(tmp_path / "out") as state:
        names = [e.name for e in state.entries]
        assert not {f"{name}.npy" for name in MIXED} & set(names)  # no sidecar listed
        assert "notes" in names and "orphan.npy" in names
        problems = {p.name for p in state.errors} | {e.name for e in state.entries if e.error}
        assert {"notes", "orphan.npy"} <= problems
        assert {e.name for e in state.entries if e.ok} == set(MIXED)


def test_csv_to_npy_folder_to_csv_is_bit_exact(tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    save_state(source, MIXED, metadata=MIXED_METADATA)
    with open_state(source) as state:
        save_state(f"{tmp_path}/npy/", state, format_name="npy")
    back = tmp_path / "back.csv"
    with open_state(tmp_path / "npy") as state:
        save_state(back, state)
    with open_state(back) as state:
        assert sorted(e.name for e in state.entries) == sorted(MIXED)
        for name, array in MIXED.items():
            entry = state.entry(name)
            assert_same(state.read(entry), array)
            assert user_metadata(entry.metadata) == MIXED_METADATA.get(name, {})


def test_a_stale_sidecar_is_removed_and_a_wrong_one_ignored(tmp_path: Path) -> None:
    path = tmp_path / "k.npy"
    save_state(path, {"k": MIXED["dense/kernel"]}, metadata={"k": {"a": 1}})
    assert os.path.isfile(f"{path}.json")
    save_state(path, {"k": np.arange(3, dtype=np.float32)})
    assert not os.path.exists(f"{path}.json")
    np.save(path, np.arange(3, dtype=np.float16))  # another tool rewrote the file
    Path(f"{path}.json").write_text('{"csv_state": 1, "dtype": "bfloat16"}')
    with open_state(path) as state:
        assert state.entries[0].dtype == np.float16
        assert state.notes and "k.npy.json was ignored" in state.notes[0]
    Path(f"{path}.json").write_text("{not json")
    with open_state(path) as state:
        assert state.entries[0].dtype == np.float16
        assert "not the JSON" in state.notes[0]


def test_two_tensors_to_one_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.npy"
    with pytest.raises(StateWriteError, match=r"a \.npy file holds one tensor, not 2"):
        save_state(path, {"a": np.ones(2), "b": np.zeros(2)})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["../up", "/abs", "a\\b", "a//b", "nul\x00"])
def test_names_that_are_not_file_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(StateWriteError, match="cannot be a file name"):
        save_state(f"{tmp_path}/out/", {name: np.ones(2)}, format_name="npy")
    assert not os.path.exists(tmp_path / "out")


# ------------------------------------------------------------------ refusals


def test_a_pickled_object_array_is_refused_without_unpickling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)

    def boom(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "load", boom)
    assert "dtype object is refused" in refusal(path)


def test_a_structured_dtype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.npy"
    np.save(path, np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    assert "is refused" in refusal(path)


def test_truncated_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.npy"
    np.save(path, np.arange(100, dtype=np.float64))
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 8)
    assert "but the file holds" in refusal(path)


def test_a_header_longer_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "long.npy"
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", MAX_NPY_HEADER_BYTES + 1))
    assert "a header is never larger" in refusal(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"\xff\x00garbage{[(!!" * 2, "header"),
        (b"\x93NUMPY\x01\x00\x40", "the file ends inside"),
        (b"\x93NUMPY\x07\x07" + b"\x00" * 64, "version 7.7"),
        (b"\x93NUMPY", "the file ends inside its .npy magic"),
    ],
)
def test_garbage_after_the_magic_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(content)
    assert expected in refusal(path)


def test_a_huge_declared_shape_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        header = {"descr": "<f8", "fortran_order": False, "shape": (2**40, 2**40)}
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\x00" * 64)
    start = time.monotonic()
    assert "but the file holds" in refusal(path)
    assert time.monotonic() - start < 2


def test_an_npy_is_no_longer_called_binary_text(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"  # recognised by its magic, whatever its extension
    np.save(path.with_suffix(".npy"), np.ones(2))
    os.replace(path.with_suffix(".npy"), path)
    with open_state(path) as state:
        assert state.format_name == "npy"
