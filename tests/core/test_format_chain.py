"""A state travels CSV -> safetensors -> npz -> a folder of .npy -> CSV without losing a
bit, a dtype, a tensor or a user metadata key, each step converting what the last wrote."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.tensors import FORMAT_KEYS

RNG = np.random.default_rng(15)
SPECIAL = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32)
TENSORS: dict[str, np.ndarray] = {
    "model/dense/kernel": RNG.standard_normal((7, 5)).astype(np.float32),
    "model/dense/bias": SPECIAL,
    "model/embed/table": RNG.standard_normal((4, 3)).astype(ml_dtypes.bfloat16),
    "model/quant/scale": RNG.standard_normal(6).astype(ml_dtypes.float8_e4m3fn),
    "model/norm/gamma": RNG.standard_normal(5).astype(np.float16),
    "model/mask": np.array([True, False, True]),
    "model/empty": np.zeros((0, 3), np.float64),
    "adam/iteration": np.array(12, np.int64),
    "adam/model_dense_kernel_momentum": RNG.standard_normal((7, 5)).astype(np.float32),
}
METADATA: dict[str, dict[str, Any]] = {
    "model/dense/kernel": {"role": "weight", "trainable": True},
    "adam/iteration": {"role": "counter"},
    "adam/model_dense_kernel_momentum": {
        "role": "slot",
        "slot_of": "model/dense/kernel",
        "slot": "momentum",
        "nested": {"a": [1, 2.5, None]},
    },
}
# Provenance the per-tensor folder reader adds: where each tensor came from.
FOLDER_KEYS = {"file", "file_format"}


def bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).view(np.uint8)


def user_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in FORMAT_KEYS | FOLDER_KEYS}


@pytest.mark.parametrize("encoding", ["text", "base64"])
def test_csv_safetensors_npz_npy_csv_is_lossless(tmp_path: Path, encoding: str) -> None:
    steps = [
        (tmp_path / "a.csv", None),
        (tmp_path / "b.safetensors", None),
        (tmp_path / "c.npz", None),
        (tmp_path / "d", "npy"),  # a folder of .npy files
        (tmp_path / "e.csv", None),
    ]
    save_state(steps[0][0], TENSORS, encoding, metadata=METADATA)
    for (source, _), (destination, fmt) in itertools.pairwise(steps):
        target = f"{destination}/" if fmt == "npy" else destination
        with open_state(source) as state:
            assert not state.errors, state.errors
            written = save_state(target, state, encoding, format_name=fmt)
        assert written == len(TENSORS), destination
    with open_state(steps[-1][0]) as final:
        assert sorted(final.names()) == sorted(TENSORS)
        for name, want in TENSORS.items():
            got = final.read(name)
            assert got.dtype == want.dtype and got.shape == want.shape, name
            np.testing.assert_array_equal(bits(got), bits(want), err_msg=name)
            entry = final.entry(name)
            assert user_metadata(entry.metadata) == METADATA.get(name, {}), name


def test_each_intermediate_reads_the_same_bits(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    save_state(source, TENSORS, "base64", metadata=METADATA)
    for destination, fmt in ((tmp_path / "s.safetensors", None), (tmp_path / "n", "npy")):
        target = f"{destination}/" if fmt else destination
        with open_state(source) as state:
            save_state(target, state, format_name=fmt)
        with open_state(destination) as written:
            for name, want in TENSORS.items():
                np.testing.assert_array_equal(bits(written.read(name)), bits(want), err_msg=name)
