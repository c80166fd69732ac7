"""diff_states on real files: statuses, exact numbers computed independently, streaming."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from csv_state_viewer import Cancelled, State, open_state, save_state
from csv_state_viewer.core.analysis import diff as diff_module
from csv_state_viewer.core.analysis.diff import (
    STATUSES,
    StateDiff,
    TensorDiff,
    diff_states,
    differences,
)

MIXED: dict[str, np.ndarray] = {
    "f32": np.array([[1.5, -0.0, np.inf], [np.nan, 1e-30, -2.25]], dtype=np.float32),
    "be": np.array([1.5, -3.0, np.nan], dtype=">f4"),
    "f64": np.array([0.1, 1 / 3, -1e300]),
    "i64": np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    "bool": np.array([True, False, True]),
    "c64": np.array([1 + 2j, -np.inf + 0j], dtype=np.complex64),
    "scalar": np.array(3.25),
    "empty": np.zeros((2, 0), dtype=np.int16),
}

HEADER = b"tensor_name,tensor_data,tensor_metadata\n"
JSON_KEYS = {
    "name",
    "status",
    "shape_a",
    "shape_b",
    "dtype_a",
    "dtype_b",
    "max_abs_diff",
    "rel_l2",
    "changed",
    "nan_mismatches",
    "message",
}

if TYPE_CHECKING:
    from tests.conftest import ProgressRecorder


def saved(path: Path, tensors: dict[str, np.ndarray], encoding: str = "text") -> Path:
    save_state(path, tensors, encoding)
    return path


def compare(a: Path, b: Path) -> StateDiff:
    with open_state(a) as state_a, open_state(b) as state_b:
        return diff_states(state_a, state_b)


def compare_arrays(tmp_path: Path, a: np.ndarray, b: np.ndarray) -> TensorDiff:
    result = compare(saved(tmp_path / "a.csv", {"t": a}), saved(tmp_path / "b.npz", {"t": b}))
    [tensor] = result.tensors
    return tensor


def csv_row(name: str, data: str, shape: list[int], dtype: str) -> bytes:
    meta = json.dumps({"shape": shape, "dtype": dtype}).replace('"', '""')
    return f'{name},"{data}","{meta}"\n'.encode()


@pytest.mark.parametrize(
    ("name_a", "enc_a", "name_b", "enc_b"),
    [
        ("a.csv", "text", "b.csv", "base64"),
        ("a.csv", "text", "b.npz", "text"),
        ("a.csv.gz", "base64", "b.npz", "text"),
    ],
)
def test_same_arrays_in_any_format_are_identical(
    tmp_path: Path, name_a: str, enc_a: str, name_b: str, enc_b: str
) -> None:
    result = compare(saved(tmp_path / name_a, MIXED, enc_a), saved(tmp_path / name_b, MIXED, enc_b))
    assert result.identical
    assert [t.name for t in result.tensors] == list(MIXED)
    for t in result.tensors:
        assert t.status == "identical", t
        assert (t.changed, t.max_abs_diff, t.rel_l2, t.nan_mismatches) == (0, 0.0, 0.0, 0)
        assert t.shape_a == t.shape_b == MIXED[t.name].shape
    assert result.counts() == {"identical": len(MIXED)}


def test_one_changed_value_gives_exact_numbers(tmp_path: Path) -> None:
    a = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    b = a.copy()
    b[2, 3] += np.float32(0.25)
    t = compare_arrays(tmp_path, a, b)
    wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)
    assert t.status == "different"
    assert t.changed == 1
    assert t.nan_mismatches == 0
    assert t.max_abs_diff == abs(wide_b[2, 3] - wide_a[2, 3])
    expected_rel = np.linalg.norm(wide_b - wide_a) / np.linalg.norm(wide_a)
    assert t.rel_l2 == pytest.approx(expected_rel, rel=1e-12)
    assert expected_rel > 0


def test_many_changes_counted(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal(1000)
    b = a.copy()
    picked = rng.choice(1000, size=37, replace=False)
    b[picked] += rng.uniform(1, 2, size=37)
    t = compare_arrays(tmp_path, a, b)
    assert t.changed == 37
    assert t.max_abs_diff == np.max(np.abs(b - a))
    assert t.rel_l2 == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a), rel=1e-12)


def test_one_sided_tensors_keep_a_then_b_order(tmp_path: Path) -> None:
    one = np.ones(3)
    a = saved(tmp_path / "a.csv", {"p": one, "q": one, "r": one})
    b = saved(tmp_path / "b.csv", {"s": one, "r": one, "t": one, "p": one})
    result = compare(a, b)
    assert [(t.name, t.status) for t in result.tensors] == [
        ("p", "identical"),
        ("q", "only_in_a"),
        ("r", "identical"),
        ("s", "only_in_b"),
        ("t", "only_in_b"),
    ]
    only_a = result.tensors[1]
    assert (only_a.shape_a, only_a.shape_b, only_a.changed) == ((3,), None, None)
    assert not result.identical
    assert result.counts() == {"identical": 2, "only_in_a": 1, "only_in_b": 2}


def test_shape_differs_is_not_measured(tmp_path: Path) -> None:
    t = compare_arrays(tmp_path, np.zeros((2, 3)), np.zeros((3, 2)))
    assert t.status == "shape_differs"
    assert (t.shape_a, t.shape_b) == ((2, 3), (3, 2))
    assert (t.max_abs_diff, t.rel_l2, t.changed) == (None, None, None)


def test_float32_against_float64_is_measured(tmp_path: Path) -> None:
    exact = np.array([0.1, 1 / 3, 2.5, -7.0])
    narrowed = exact.astype(np.float32)
    t = compare_arrays(tmp_path, exact, narrowed)
    widened = narrowed.astype(np.float64)
    assert t.status == "dtype_differs"
    assert (t.dtype_a, t.dtype_b) == (np.dtype("float64"), np.dtype("float32"))
    assert t.changed == int(np.count_nonzero(widened != exact)) == 2
    assert t.max_abs_diff == np.max(np.abs(widened - exact))
    assert t.rel_l2 == pytest.approx(
        np.linalg.norm(widened - exact) / np.linalg.norm(exact), rel=1e-12
    )


def test_dtype_differs_with_equal_values_is_still_not_identical(tmp_path: Path) -> None:
    t = compare_arrays(tmp_path, np.array([1.0, 0.5]), np.array([1.0, 0.5], dtype=np.float32))
    assert (t.status, t.changed, t.max_abs_diff) == ("dtype_differs", 0, 0.0)


def test_dtype_differs_counts_sign_of_zero_and_treats_nan_as_equal(tmp_path: Path) -> None:
    a = np.array([-0.0, np.nan, 1.0, 0.0])
    b = np.array([0.0, np.nan, 1.0, 0.0], dtype=np.float32)
    t = compare_arrays(tmp_path, a, b)
    assert (t.status, t.changed, t.nan_mismatches, t.max_abs_diff) == ("dtype_differs", 1, 0, 0.0)


def test_nan_in_the_same_place_is_identical(tmp_path: Path) -> None:
    values = np.array([1.0, np.nan, 3.0], dtype=np.float32)
    t = compare_arrays(tmp_path, values, values.copy())
    assert t.status == "identical"
    assert (t.changed, t.nan_mismatches, t.max_abs_diff) == (0, 0, 0.0)


def test_nan_against_a_number_is_a_mismatch(tmp_path: Path) -> None:
    a = np.array([1.0, np.nan, 3.0, 4.0, np.nan])
    b = np.array([1.0, 2.0, np.nan, 6.0, np.nan])
    t = compare_arrays(tmp_path, a, b)
    assert t.status == "different"
    assert t.nan_mismatches == 2
    assert t.changed == 3
    assert t.max_abs_diff == 2.0  # NaN positions are left out of the numbers
    assert t.rel_l2 == pytest.approx(2.0 / math.sqrt(1.0**2 + 4.0**2), rel=1e-12)


def test_negative_zero_is_different_but_zero_apart(tmp_path: Path) -> None:
    t = compare_arrays(tmp_path, np.array([1.0, -0.0]), np.array([1.0, 0.0]))
    assert (t.status, t.changed, t.max_abs_diff, t.rel_l2) == ("different", 1, 0.0, 0.0)


def test_byte_order_compares_by_value(tmp_path: Path) -> None:
    little = np.array([1.5, -2.0, 1e-3], dtype="<f4")
    assert compare_arrays(tmp_path, little, little.astype(">f4")).status == "identical"
    changed = little.astype(">f4")
    changed[1] = 4.0
    t = compare_arrays(tmp_path, little, changed)
    assert (t.status, t.changed, t.max_abs_diff) == ("different", 1, 6.0)


def test_large_int64_changes_are_counted_exactly(tmp_path: Path) -> None:
    big = 2**62
    assert float(big) == float(big + 1)  # float64 alone could not tell them apart
    t = compare_arrays(tmp_path, np.array([big, 5]), np.array([big + 1, 5]))
    assert (t.status, t.changed) == ("different", 1)
    across = compare_arrays(
        tmp_path, np.array([big, -1]), np.array([big + 1, 2**64 - 1], dtype=np.uint64)
    )
    assert (across.status, across.changed) == ("dtype_differs", 2)


def test_complex_uses_magnitude_of_difference(tmp_path: Path) -> None:
    a = np.array([1 + 1j, 2 - 2j])
    b = np.array([4 + 5j, 2 - 2j])
    t = compare_arrays(tmp_path, a, b)
    assert (t.status, t.changed, t.max_abs_diff) == ("different", 1, 5.0)
    assert t.rel_l2 == pytest.approx(5.0 / math.sqrt(2 + 8), rel=1e-12)


def test_zero_norm_reference(tmp_path: Path) -> None:
    assert compare_arrays(tmp_path, np.zeros(3), np.array([0.0, 1.0, 0.0])).rel_l2 == math.inf
    assert compare_arrays(tmp_path, np.zeros(3), np.zeros(3)).rel_l2 == 0.0


def test_bad_rows_are_unreadable_and_the_rest_compared(tmp_path: Path) -> None:
    a = saved(tmp_path / "a.csv", {"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    b = tmp_path / "b.csv"
    b.write_bytes(
        HEADER
        + csv_row("a", "1,x", [2], "float32")  # bad data: found when read
        + csv_row("b", "1,1", [2], "float32")
        + csv_row("c", "1,1", [2], "object")  # refused dtype: found when opened
    )
    result = compare(a, b)
    assert [(t.name, t.status) for t in result.tensors] == [
        ("a", "unreadable"),
        ("b", "identical"),
        ("c", "unreadable"),
    ]
    bad_data, _, bad_dtype = result.tensors
    assert bad_data.message is not None
    assert bad_data.message.startswith(f"{b}:2: 'a': bad float32 value 'x'")
    assert bad_dtype.message is not None
    assert bad_dtype.message.startswith(f"{b}:4: 'c': dtype 'object' is refused")
    assert bad_data.changed is None
    assert not result.identical


def test_rows_no_name_can_match_are_listed_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_bytes(HEADER + csv_row("x", "1", [1], "float32") + csv_row("x", "2", [1], "float32"))
    result = compare(path, path)
    assert [(t.name, t.status) for t in result.tensors] == [
        ("x", "identical"),
        ("x", "unreadable"),
        ("x", "unreadable"),
    ]
    assert all("duplicate name" in (t.message or "") for t in result.tensors[1:])
    assert not result.identical


def test_to_json_is_strict_json_with_documented_keys(tmp_path: Path) -> None:
    a = saved(tmp_path / "a.csv", {"zero": np.zeros(2), "gone": np.ones(1)})
    b = saved(tmp_path / "b.npz", {"zero": np.array([0.0, np.inf])})
    document = json.loads(json.dumps(compare(a, b).to_json(), allow_nan=False))
    assert set(document) == {"a", "b", "identical", "tensors"}
    assert (document["a"], document["b"], document["identical"]) == (str(a), str(b), False)
    zero, gone = document["tensors"]
    assert all(set(t) == JSON_KEYS for t in document["tensors"])
    assert zero["max_abs_diff"] == "inf"
    assert zero["rel_l2"] == "inf"
    assert zero["shape_a"] == [2]
    assert zero["dtype_b"] == "float64"
    assert gone["status"] == "only_in_a"
    assert gone["shape_b"] is None
    assert gone["max_abs_diff"] is None
    assert {t["status"] for t in document["tensors"]} <= set(STATUSES)


def test_differences_is_b_minus_a_with_nan_only_for_mismatches() -> None:
    a = np.array([1.0, np.nan, np.nan, np.inf, 2.0, -0.0], dtype=np.float32)
    b = np.array([3.0, np.nan, 1.0, np.inf, np.nan, 0.0])
    got = differences(a, b)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [2.0, 0.0, np.nan, 0.0, np.nan, 0.0])
    complex_ = differences(np.array([1 + 1j]), np.array([4 + 5j], dtype=np.complex64))
    assert complex_.dtype == np.float64
    np.testing.assert_array_equal(complex_, [5.0])
    # |inf + NaN j| would be inf: a NaN part on one side only is still a mismatch.
    one_nan_part = differences(np.array([1 + 0j]), np.array([complex(np.inf, np.nan)]))
    np.testing.assert_array_equal(one_nan_part, [np.nan])
    with pytest.raises(ValueError, match="shapes differ"):
        differences(np.zeros(2), np.zeros(3))


def test_differences_of_scalars_keep_their_shape() -> None:
    """0-d arrays subtract to a NumPy scalar, which took no item assignment (TypeError)."""
    got = differences(np.array(320, np.int64), np.array(384, np.int64))
    assert isinstance(got, np.ndarray) and got.shape == () and got.dtype == np.float64
    assert got == 64.0
    assert differences(np.array(np.nan), np.array(np.nan)) == 0.0
    assert np.isnan(differences(np.array(1.0), np.array(np.nan)))
    assert differences(np.array(1 + 0j), np.array(4 + 4j)) == 5.0


def test_chunks_add_up_to_whole_array_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal(50) * 1e3
    b = a + rng.standard_normal(50) * (rng.random(50) < 0.3)
    a[[4, 20]] = np.nan
    b[[4, 33]] = np.nan
    monkeypatch.setattr(diff_module, "CHUNK", 7)
    t = compare_arrays(tmp_path, a, b)
    both = ~(np.isnan(a) | np.isnan(b))
    assert t.nan_mismatches == 2
    assert t.changed == int(np.count_nonzero(a != b)) - 1  # NaN at 4 on both sides is equal
    assert t.max_abs_diff == np.max(np.abs(b - a)[both])
    assert t.rel_l2 == pytest.approx(
        np.linalg.norm((b - a)[both]) / np.linalg.norm(a[both]), rel=1e-12
    )


def test_huge_values_do_not_overflow_the_norm(tmp_path: Path) -> None:
    t = compare_arrays(tmp_path, np.array([1e300, 1e300]), np.array([1e300, 2e300]))
    assert t.rel_l2 == pytest.approx(1 / math.sqrt(2), rel=1e-12)


def test_progress_per_tensor_and_cancel(tmp_path: Path, recorder: type[ProgressRecorder]) -> None:
    a = saved(tmp_path / "a.csv", {"x": np.ones(2), "y": np.ones(2), "z": np.ones(2)})
    b = saved(tmp_path / "b.csv", {"x": np.ones(2), "w": np.ones(2)})
    with open_state(a) as state_a, open_state(b) as state_b:
        progress = recorder()
        diff_states(state_a, state_b, progress)
        assert progress.reports == [(1, 4), (2, 4), (3, 4), (4, 4)]
        stopping = recorder(cancel_after=2)
        with pytest.raises(Cancelled):
            diff_states(state_a, state_b, stopping)
        assert stopping.reports == [(1, 4), (2, 4)]


def test_streams_one_tensor_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("diff_states must not load whole states")

    monkeypatch.setattr(State, "read_all", refuse)
    reads: list[str] = []
    original = State.read

    def counting(self: State, which: object, *args: object) -> np.ndarray:
        reads.append(self.path)
        return original(self, which)  # type: ignore[arg-type]

    monkeypatch.setattr(State, "read", counting)
    a = saved(tmp_path / "a.csv", {"x": np.ones(2), "only_a": np.ones(2)})
    b = saved(tmp_path / "b.npz", {"x": np.ones(2), "only_b": np.ones(2)})
    assert [t.status for t in compare(a, b).tensors] == ["identical", "only_in_a", "only_in_b"]
    assert reads == [str(a), str(b)]  # one-sided tensors are not decoded


def test_renamed_tensors_are_paired_and_keep_both_names(tmp_path: Path) -> None:
    ones = np.ones(3, np.float32)
    a = saved(tmp_path / "a.csv", {"sequential/dense/kernel": ones, "step": np.array(1)})
    b = saved(tmp_path / "b.npz", {"dense/kernel": ones * 2, "step": np.array(1)})
    result = compare(a, b)
    assert [(t.name, t.name_b, t.status) for t in result.tensors] == [
        ("sequential/dense/kernel", "dense/kernel", "different"),
        ("step", None, "identical"),
    ]
    assert result.pairing_note == (
        "names paired exactly (1), without a leading prefix (sequential/) (1)"
    )
    assert result.tensors[0].to_json()["name_b"] == "dense/kernel"
    assert "name_b" not in result.tensors[1].to_json()
    assert result.by_name()["sequential/dense/kernel"].max_abs_diff == 1.0


def test_match_modes_reach_diff_states(tmp_path: Path) -> None:
    a = saved(tmp_path / "a.csv", {"x": np.zeros(2), "y": np.ones(2)})
    b = saved(tmp_path / "b.csv", {"p": np.zeros(2), "q": np.ones(2)})
    with open_state(a) as state_a, open_state(b) as state_b:
        by_order = diff_states(state_a, state_b, match="order")
        by_name = diff_states(state_a, state_b, match="name")
    assert [(t.name, t.name_b, t.status) for t in by_order.tensors] == [
        ("x", "p", "identical"),
        ("y", "q", "identical"),
    ]
    assert by_order.identical
    assert [t.status for t in by_name.tensors] == ["only_in_a"] * 2 + ["only_in_b"] * 2
    assert by_name.pairing_note == "no names paired"
