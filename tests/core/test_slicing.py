"""The 2-D views, colour limits and display strides behind the heatmap."""

from __future__ import annotations

import numpy as np
import pytest

from csv_state_viewer.core.analysis.slicing import display_stride, symmetric_limits, to_2d

RNG = np.random.default_rng(3)


def test_vector_becomes_one_row_and_matrix_stays() -> None:
    vector = RNG.standard_normal(5)
    matrix = RNG.standard_normal((4, 3))
    np.testing.assert_array_equal(to_2d(vector, "reshape", ()), vector[np.newaxis, :])
    np.testing.assert_array_equal(to_2d(matrix, "slice", ()), matrix)


def test_scalar_has_no_map() -> None:
    with pytest.raises(ValueError, match="scalar"):
        to_2d(np.array(3.0), "reshape", ())


def test_conv_kernel_reshape_folds_leading_axes_into_rows() -> None:
    kernel = RNG.standard_normal((3, 3, 2, 4))
    folded = to_2d(kernel, "reshape", ())
    assert folded.shape == (18, 4)
    # row r is the (kh, kw, in) position r in C order
    np.testing.assert_array_equal(folded[7], kernel[1, 0, 1])


def test_zero_sized_last_axis_reshapes() -> None:
    assert to_2d(np.zeros((2, 3, 0)), "reshape", ()).shape == (6, 0)


def test_slice_takes_the_last_two_axes() -> None:
    kernel = RNG.standard_normal((3, 3, 2, 4))
    np.testing.assert_array_equal(to_2d(kernel, "slice", (2, 1)), kernel[2, 1])


@pytest.mark.parametrize("index", [(0,), (3, 0), (0, -1)])
def test_bad_slice_index_is_refused(index: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        to_2d(np.zeros((3, 3, 2, 4)), "slice", index)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        to_2d(np.zeros((2, 2, 2)), "sideways", ())


def test_complex_as_magnitude_and_bool_as_zero_one() -> None:
    values = np.array([[3 + 4j, -1j]])
    np.testing.assert_array_equal(to_2d(values, "reshape", ()), np.abs(values))
    flags = np.array([True, False, True])
    shown = to_2d(flags, "reshape", ())
    assert shown.dtype.kind in "iu"
    np.testing.assert_array_equal(shown, flags.astype(int)[np.newaxis, :])


def test_symmetric_limits_ignore_nan_and_inf() -> None:
    values = RNG.standard_normal(50)
    peak = float(np.max(np.abs(values)))
    values[[1, 2, 3]] = [np.nan, np.inf, -np.inf]
    assert symmetric_limits(values) == (-peak, peak)


@pytest.mark.parametrize(
    "values",
    [np.zeros(4), np.full(3, np.nan), np.array([], dtype=np.float32)],
    ids=["zeros", "all-nan", "empty"],
)
def test_symmetric_limits_never_collapse(values: np.ndarray) -> None:
    assert symmetric_limits(values) == (-1.0, 1.0)


def test_symmetric_limits_of_the_most_negative_integer() -> None:
    assert symmetric_limits(np.array([-128, 5], dtype=np.int8)) == (-128.0, 128.0)


def test_display_stride() -> None:
    assert display_stride((100, 2048)) == (1, 1)
    assert display_stride((4097, 2049)) == (3, 2)
    assert display_stride((10, 10), max_side=4) == (3, 3)
    rows, cols = display_stride((5000, 7))
    assert cols == 1
    assert len(range(0, 5000, rows)) <= 2048
    with pytest.raises(ValueError):
        display_stride((2, 3, 4))
