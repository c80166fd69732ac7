"""What a heatmap shows of a tensor: a 2-D view, symmetric colour limits, a display stride.

Pure NumPy, so the viewer's heatmap pane only draws. Values are taken as the statistics
take them (:func:`~csv_state_viewer.core.analysis.stats.as_real`): magnitudes for complex tensors,
0/1 for booleans.
"""

from __future__ import annotations

import math

import numpy as np

from csv_state_viewer.core.analysis.stats import as_real, value_range

RESHAPE = "reshape"
SLICE = "slice"
MODES = (RESHAPE, SLICE)


def to_2d(array: np.ndarray, mode: str = RESHAPE, index: tuple[int, ...] = ()) -> np.ndarray:
    """The 2-D map of ``array``.

    1-D gives one row, 2-D itself. For three or more axes, ``"reshape"`` folds every
    leading axis into the rows (a conv kernel ``(kh, kw, in, out)`` becomes
    ``(kh * kw * in, out)``) and ``"slice"`` takes ``array[index]``, ``index`` having
    one entry per leading axis. A scalar has no map: ValueError.
    """
    values = as_real(array)
    if values.ndim == 0:
        raise ValueError("a scalar has no 2-D view")
    if values.ndim == 1:
        return values.reshape(1, -1)
    if values.ndim == 2:
        return values
    if mode == RESHAPE:
        # explicit row count: reshape(-1, 0) is ambiguous for a zero-sized last axis
        return values.reshape(math.prod(values.shape[:-1]), values.shape[-1])
    if mode != SLICE:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    leading = values.shape[:-2]
    if len(index) != len(leading):
        raise ValueError(f"slice needs {len(leading)} indices for shape {values.shape}")
    for axis, (i, size) in enumerate(zip(index, leading, strict=True)):
        if not 0 <= i < size:
            raise ValueError(f"index {i} is out of range for axis {axis} of size {size}")
    return values[tuple(index)]


def symmetric_limits(array: np.ndarray) -> tuple[float, float]:
    """``(-m, m)`` with ``m`` the largest finite magnitude; ``(-1, 1)`` when ``m`` is 0.

    A range centred at 0 makes a diverging colour map show the sign of every value.
    """
    span = value_range([array])
    if span is None:
        return -1.0, 1.0
    # float() first: abs() of the most negative integer overflows in its own dtype
    peak = max(abs(float(span[0])), abs(float(span[1])))
    if peak == 0.0 or not math.isfinite(peak):
        return -1.0, 1.0
    return -peak, peak


def display_stride(shape: tuple[int, ...], max_side: int = 2048) -> tuple[int, int]:
    """Row and column steps so that a ``shape`` map shows at most ``max_side`` per side."""
    if len(shape) != 2:
        raise ValueError(f"expected a 2-D shape, got {shape}")
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    rows, cols = shape
    return max(1, math.ceil(rows / max_side)), max(1, math.ceil(cols / max_side))
