"""A heatmap's image: a 2-D map pooled down to a pixel budget, with its colour limits.

Pure NumPy, run in a worker, so the heatmap pane only draws a small array. A map larger
than the budget is cut into equal blocks and each block becomes one pixel, by a stated
reduction: ``max_abs`` (the value of largest magnitude, sign kept, so a single outlier in a
block stays visible) or ``mean``. NaN is ignored inside a block; a block of only NaN stays
NaN (drawn blank).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from csv_state_viewer.core.analysis.stats import value_range
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

MAX_ABS = "max_abs"
MEAN = "mean"
REDUCTIONS = (MAX_ABS, MEAN)
REDUCTION_TEXT = {MAX_ABS: "max |x|", MEAN: "mean"}
MAX_SIDE = 2048
TIMES = "\u00d7"  # the multiplication sign of "4096 x 4096"
_ROW_CHUNK_ELEMENTS = 1 << 21  # rows pooled per step: progress and cancel between steps


@dataclass(frozen=True)
class HeatmapImage:
    """What the heatmap pane draws, and what its title and status say about it."""

    image: np.ndarray  # float, at most the budget per side
    shape: tuple[int, int]  # the 2-D map it was pooled from
    block: tuple[int, int]  # rows and columns of the map per image pixel
    reduction: str  # MAX_ABS or MEAN (irrelevant when block is (1, 1))
    limits: tuple[float, float]  # colour range, symmetric around 0
    constant: float | None  # the value, when every finite value is the same
    nan: int
    inf: int

    @property
    def reduced(self) -> bool:
        return self.block != (1, 1)

    def description(self) -> str:
        """``4096x4096 shown as 1024x1024, max |x| per 4x4 block`` (or just the shape),
        with multiplication signs."""
        rows, cols = self.shape
        text = f"{rows}{TIMES}{cols}"
        return f"{text} shown as {self.pooling()}" if self.reduced else text

    def pooling(self) -> str:
        """``1024x1024, max |x| per 4x4 block``: the image and how it was reduced."""
        shown_rows, shown_cols = self.image.shape
        block_rows, block_cols = self.block
        return (
            f"{shown_rows}{TIMES}{shown_cols}, {REDUCTION_TEXT[self.reduction]} "
            f"per {block_rows}{TIMES}{block_cols} block"
        )


def block_size(shape: tuple[int, int], max_rows: int, max_cols: int) -> tuple[int, int]:
    """Rows and columns per pixel so that ``shape`` fits ``max_rows`` x ``max_cols``."""
    if max_rows < 1 or max_cols < 1:
        raise ValueError("the pixel budget must be at least 1x1")
    rows, cols = shape
    return max(1, math.ceil(rows / max_rows)), max(1, math.ceil(cols / max_cols))


def _as_float(values: np.ndarray) -> np.ndarray:
    return values if values.dtype.kind == "f" else values.astype(np.float64)


def _strided(values: np.ndarray, block: tuple[int, int], op: np.ufunc) -> np.ndarray:
    """``op`` folded over each block: column offsets first, then row offsets.

    Element-wise ufuncs over strided slices; a reduction over a short inner axis (the
    reshaped block) runs without SIMD and was 4-5 times slower.
    """
    block_rows, block_cols = block
    folded = values[:, 0::block_cols].copy()
    for k in range(1, block_cols):
        op(folded, values[:, k::block_cols], out=folded)
    result = folded[0::block_rows].copy()
    for k in range(1, block_rows):
        op(result, folded[k::block_rows], out=result)
    return result


def _pool(values: np.ndarray, block: tuple[int, int], reduction: str) -> np.ndarray:
    """Pool a band of rows; the last block row and column may be partial."""
    block_rows, block_cols = block
    rows, cols = values.shape
    out_rows, out_cols = math.ceil(rows / block_rows), math.ceil(cols / block_cols)
    pad_rows, pad_cols = out_rows * block_rows - rows, out_cols * block_cols - cols
    values = _as_float(values)
    if pad_rows or pad_cols:  # NaN padding: ignored by the NaN-skipping reductions below
        values = np.pad(values, ((0, pad_rows), (0, pad_cols)), constant_values=np.nan)
    if reduction == MAX_ABS:
        high = _strided(values, block, np.fmax)  # fmax and fmin skip NaN
        low = _strided(values, block, np.fmin)
        return np.where(-low > high, low, high)
    missing = np.isnan(values)
    total = _strided(np.where(missing, 0.0, values.astype(np.float64)), block, np.add)
    count = _strided((~missing).astype(np.float64), block, np.add)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def pool(
    data: np.ndarray,
    block: tuple[int, int],
    reduction: str = MAX_ABS,
    progress: Progress = NO_PROGRESS,
) -> np.ndarray:
    """``data`` (2-D, real) with each ``block`` of values pooled into one."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; expected one of {REDUCTIONS}")
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {data.shape}")
    if block == (1, 1):
        return _as_float(data)
    block_rows = block[0]
    rows, cols = data.shape
    band = block_rows * max(1, _ROW_CHUNK_ELEMENTS // max(cols * block_rows, 1))
    parts = []
    for start in range(0, rows, band):
        check_cancelled(progress)
        parts.append(_pool(data[start : start + band], block, reduction))
        progress.report(min(start + band, rows), rows)
    return np.concatenate(parts, axis=0)


def color_limits(data: np.ndarray) -> tuple[tuple[float, float], float | None]:
    """A colour range centred at 0 and, for a constant map, its value.

    ``(-m, m)`` with ``m`` the largest finite magnitude, so a diverging colour map shows
    every value's sign; ``(-1, 1)`` when every finite value is 0 (or there is none).
    """
    span = value_range([data])
    if span is None:
        return (-1.0, 1.0), None
    low, high = span
    constant = low if low == high else None
    peak = max(abs(low), abs(high))
    if peak == 0.0 or not math.isfinite(peak):
        return (-1.0, 1.0), constant
    return (-peak, peak), constant


def heatmap_image(
    data: np.ndarray,
    max_rows: int = MAX_SIDE,
    max_cols: int = MAX_SIDE,
    reduction: str = MAX_ABS,
    progress: Progress = NO_PROGRESS,
) -> HeatmapImage:
    """The image of the 2-D real map ``data`` in at most ``max_rows`` x ``max_cols`` pixels.

    Limits and counts are of ``data`` itself, so the colours of a pooled image mean what
    they would mean unpooled.
    """
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {data.shape}")
    shape = (int(data.shape[0]), int(data.shape[1]))
    block = block_size(shape, min(max_rows, MAX_SIDE), min(max_cols, MAX_SIDE))
    nan = inf = 0
    if data.dtype.kind == "f":
        check_cancelled(progress)
        nan = int(np.count_nonzero(np.isnan(data)))
        inf = int(np.count_nonzero(np.isinf(data)))
    limits, constant = color_limits(data)
    image = pool(data, block, reduction, progress)
    return HeatmapImage(image, shape, block, reduction, limits, constant, nan, inf)
