"""Compatibility with the widely copied recipe's CSV writers and loaders, in both directions."""

from __future__ import annotations

import base64
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import load_state, open_state, save_state

RECIPE_FIELD_LIMIT = 131072  # csv's default field_size_limit


@pytest.fixture
def big_csv_fields() -> Iterator[None]:
    """The recipe's users raise csv.field_size_limit for big tensors; so do we, then restore."""
    old = csv.field_size_limit(sys.maxsize)
    yield
    csv.field_size_limit(old)


# ------------------------------------------------------------------ the recipe itself


def recipe_load_text(path: Path) -> list[np.ndarray]:
    weights = []
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            name, data_string, metadata_string = row  # noqa: RUF059 - the recipe's line
            metadata = json.loads(metadata_string)
            data = np.array(list(map(float, data_string.split(","))))
            weight = data.reshape(metadata["shape"]).astype(metadata["dtype"])
            weights.append(weight)
    return weights


def recipe_load_base64(path: Path) -> list[np.ndarray]:
    weights = []
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            name, data_string, metadata_string = row  # noqa: RUF059 - the recipe's line
            metadata = json.loads(metadata_string)
            data = base64.b64decode(data_string)
            weight = np.frombuffer(data, dtype=metadata["dtype"]).reshape(metadata["shape"])
            weights.append(weight)
    return weights


def recipe_save(path: Path, weights: list[np.ndarray], *, use_base64: bool) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for i, w in enumerate(weights):
            if use_base64:
                data = base64.b64encode(w.flatten().tobytes()).decode("ascii")
            else:
                data = ",".join(map(str, w.flatten()))
            metadata = json.dumps({"shape": w.shape, "dtype": str(w.dtype)})
            writer.writerow([f"weight_{i}", data, metadata])


# ------------------------------------------------------------------------- fixtures


def sample_weights() -> list[np.ndarray]:
    rng = np.random.default_rng(1234)
    return [
        rng.standard_normal((4, 5)).astype(np.float32),
        rng.standard_normal(7),
        rng.integers(-1000, 1000, size=(3, 2), dtype=np.int64),
        rng.integers(-(2**31), 2**31 - 1, size=6, dtype=np.int32),
        rng.integers(0, 2, size=(2, 3)).astype(bool),
        np.array([1.5, -0.0, np.inf, -np.inf, 1e-45, 3.4028235e38], dtype=np.float32),
        np.float32(2.5).reshape(()),
        np.arange(6, dtype=">f4").reshape(2, 3),
        rng.standard_normal((128, 128)).astype(np.float32),
    ]


def _as_dict(weights: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"weight_{i}": w for i, w in enumerate(weights)}


def _assert_arrays_equal(expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual, strict=True):
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        assert np.array_equal(got, want)


# ----------------------------------------------------- our output, the recipe's loaders


@pytest.mark.usefixtures("big_csv_fields")
def test_recipe_text_loader_reads_our_text_output(tmp_path: Path) -> None:
    weights = sample_weights()
    path = tmp_path / "ours.csv"
    save_state(path, _as_dict(weights), encoding="text")
    _assert_arrays_equal(weights, recipe_load_text(path))


@pytest.mark.usefixtures("big_csv_fields")
def test_recipe_base64_loader_reads_our_base64_output(tmp_path: Path) -> None:
    weights = sample_weights()
    path = tmp_path / "ours.csv"
    save_state(path, _as_dict(weights), encoding="base64")
    loaded = recipe_load_base64(path)
    _assert_arrays_equal(weights, loaded)
    assert [w.tobytes() for w in loaded] == [w.tobytes() for w in weights]


def test_recipe_loader_reads_names_needing_quotes(tmp_path: Path) -> None:
    path = tmp_path / "ours.csv"
    names = ["a,b", 'say "hi"', "x y"]
    save_state(path, {n: np.arange(3, dtype=np.float32) for n in names})
    with open(path) as f:
        rows = list(csv.reader(f))
    assert [row[0] for row in rows[1:]] == names
    assert all(len(row) == 3 for row in rows)


# ----------------------------------------------------- the recipe's output, our reader


@pytest.mark.parametrize(("use_base64", "encoding"), [(False, "text"), (True, "base64")])
def test_recipe_output_opens_with_detected_encoding(
    tmp_path: Path, use_base64: bool, encoding: str
) -> None:
    weights = sample_weights()
    path = tmp_path / "recipe.csv"
    recipe_save(path, weights, use_base64=use_base64)
    with open_state(path) as state:
        assert [e.name for e in state.entries] == list(_as_dict(weights))
        assert [e.encoding for e in state.entries] == [encoding] * len(weights)
        assert [e.shape for e in state.entries] == [w.shape for w in weights]
        assert state.errors == []
        loaded = [state.read(e) for e in state.entries]
    _assert_arrays_equal(weights, loaded)
    assert [w.tobytes() for w in loaded] == [w.tobytes() for w in weights]


def test_recipe_text_field_over_csv_limit_is_read(tmp_path: Path) -> None:
    big = np.random.default_rng(5).standard_normal((128, 128)).astype(np.float32)
    path = tmp_path / "recipe.csv"
    recipe_save(path, [big], use_base64=False)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        with pytest.raises(csv.Error, match="field larger than field limit"):
            next(reader)  # the csv module itself refuses this row
    loaded = load_state(path)["weight_0"]
    assert loaded.tobytes() == big.tobytes()
    assert len(path.read_bytes()) > RECIPE_FIELD_LIMIT


def test_recipe_scalar_text_is_not_mistaken_for_base64(tmp_path: Path) -> None:
    # Eight-digit int32 and float64 scalars have the length of base64 of their bytes.
    weights = [np.int32(12345678).reshape(()), np.int64(12345678901).reshape(())]
    path = tmp_path / "recipe.csv"
    recipe_save(path, weights, use_base64=False)
    with open_state(path) as state:
        assert [e.encoding for e in state.entries] == ["text", "text"]
        _assert_arrays_equal(weights, [state.read(e) for e in state.entries])


@pytest.mark.parametrize(
    "weight",
    [
        np.float32(2.5).reshape(()),
        np.array([7], dtype=np.int8),
        np.array([1.0, -2.0], dtype=np.float16),
        np.array([1, 2, 3, 4, 5], dtype=np.uint8),
        np.array([1.0, 2.0], dtype=np.float32),
    ],
    ids=["f4-scalar", "i1x1", "f2x2", "u1x5", "f4x2"],
)
def test_recipe_small_base64_tensor_is_detected_as_base64(
    tmp_path: Path, weight: np.ndarray
) -> None:
    path = tmp_path / "recipe.csv"
    recipe_save(path, [weight], use_base64=True)
    with open_state(path) as state:
        (entry,) = state.entries
        assert entry.encoding == "base64"
        assert state.read(entry).tobytes() == weight.tobytes()
