"""NumPy .npz archives: round trip, and object members refused without unpickling."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from csv_state_viewer import BadRowsError, RowError, load_state, open_state, save_state

TENSORS = {
    "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
    "be": np.array([1.5, -0.0, np.inf], dtype=">f4"),
    "i64": np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    "u8": np.arange(5, dtype=np.uint8),
    "bool": np.array([[True, False]]),
    "c64": np.array([1 + 2j, -np.inf + 0j], dtype=np.complex64),
    "scalar": np.float64(3.25).reshape(()),
    "empty": np.zeros((3, 0), dtype=np.int16),
    'name, with "odd" chars': np.ones(2),
}


def test_npz_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    save_state(path, TENSORS)
    loaded = load_state(path)
    assert list(loaded) == list(TENSORS)
    for name, array in TENSORS.items():
        assert loaded[name].dtype == array.dtype
        assert loaded[name].shape == array.shape
        assert loaded[name].tobytes() == array.tobytes()


def test_npz_from_numpy_savez_opens(tmp_path: Path) -> None:
    path = tmp_path / "numpy.npz"
    np.savez(path, a=np.arange(3), b=np.eye(2, dtype=np.float32))
    with open_state(path) as state:
        assert [e.name for e in state.entries] == ["a", "b"]
        assert np.array_equal(state.read("b"), np.eye(2, dtype=np.float32))


@pytest.mark.parametrize("name", ["bfloat16", "float8_e5m2"])
def test_npz_round_trip_of_ml_dtypes(tmp_path: Path, name: str) -> None:
    array = np.array([1.0, -2.0, 0.5], dtype=getattr(ml_dtypes, name))
    path = tmp_path / "ml.npz"
    save_state(path, {"t": array})
    loaded = load_state(path)["t"]
    assert loaded.dtype == array.dtype
    assert loaded.tobytes() == array.tobytes()


def _touch(path: str) -> str:
    with open(path, "w") as f:
        f.write("unpickled!")
    return "canary"


class Canary:
    """Unpickling this object creates a file: proof that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return _touch, (self.path,)


def test_object_member_is_an_error_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.txt"
    path = tmp_path / "pickled.npz"
    objects = np.empty(1, dtype=object)
    objects[0] = Canary(marker)
    np.savez(path, good=np.arange(4.0), obj=objects, after=np.ones(2, dtype=np.int8))
    assert not marker.exists()

    with open_state(path) as state:
        assert [e.name for e in state.entries] == ["good", "obj", "after"]
        bad = state.entries[1]
        assert bad.error is not None
        assert "refused" in bad.error
        assert [(p.name, p.line) for p in state.errors] == [("obj", None)]
        with pytest.raises(RowError):
            state.read("obj")
        assert np.array_equal(state.read("good"), np.arange(4.0))
        assert np.array_equal(state.read("after"), np.ones(2, dtype=np.int8))
        assert [p.name for p in state.validate()] == ["obj"]
    with pytest.raises(BadRowsError):
        load_state(path)
    assert list(load_state(path, skip_bad=True)) == ["good", "after"]
    assert not marker.exists()

    # The canary works: numpy with allow_pickle=True does run it.
    with np.load(path, allow_pickle=True) as archive:
        archive["obj"]
    assert marker.exists()
