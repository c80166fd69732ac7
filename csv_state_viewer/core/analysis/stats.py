"""Statistics and histograms of tensors, computed in chunks so they can be cancelled.

Everything is measured in float64 over the finite values; NaN and ±Inf are counted and
left out of min/max/mean/std/L2 and out of every histogram bin. Complex tensors are
measured by magnitude, booleans as 0/1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from csv_state_viewer.core.csv import nativeparse
from csv_state_viewer.core.parallel import ordered_map
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

CHUNK = 1 << 20  # elements widened to float64 at a time
MAX_AUTO_BINS = 1024


@dataclass(frozen=True)
class TensorStats:
    """Statistics of one tensor, or of several taken together (:func:`combine`)."""

    count: int  # all elements
    finite: int
    nan: int
    posinf: int
    neginf: int
    zeros: int
    min: float | None  # None when no value is finite
    max: float | None
    mean: float | None
    m2: float  # sum of squared deviations from the mean (finite values)
    sumsq: float  # sum of squares (finite values)

    @property
    def inf(self) -> int:
        return self.posinf + self.neginf

    @property
    def std(self) -> float | None:
        """Population standard deviation of the finite values."""
        return math.sqrt(self.m2 / self.finite) if self.finite else None

    @property
    def l2(self) -> float:
        return math.sqrt(self.sumsq)

    @property
    def zeros_percent(self) -> float:
        return 100.0 * self.zeros / self.count if self.count else 0.0


EMPTY = TensorStats(0, 0, 0, 0, 0, 0, None, None, None, 0.0, 0.0)


def as_real(array: np.ndarray) -> np.ndarray:
    """The values statistics are taken of: magnitudes for complex, 0/1 for bool."""
    array = np.asarray(array)
    if array.dtype.kind == "c":
        return np.abs(array)
    if array.dtype.kind == "b":
        return array.astype(np.uint8)
    if array.dtype.kind not in "iuf":  # ml_dtypes (bfloat16, float8...) widen exactly
        return array.astype(np.float32)
    return array


def _chunks(flat: np.ndarray) -> range:
    return range(0, flat.size, CHUNK)


def tensor_stats(array: np.ndarray, progress: Progress = NO_PROGRESS) -> TensorStats:
    """Statistics of ``array``; reports progress in elements and honours cancellation."""
    flat = as_real(array).reshape(-1)
    total = EMPTY
    for start in _chunks(flat):
        check_cancelled(progress)
        total = combine([total, _chunk_stats(flat[start : start + CHUNK])])
        progress.report(min(start + CHUNK, flat.size), flat.size)
    return total


def _chunk_stats(chunk: np.ndarray) -> TensorStats:
    values = chunk.astype(np.float64, copy=False)
    zeros = int(np.count_nonzero(values == 0))
    finite_mask = np.isfinite(values)
    finite = values[finite_mask] if not finite_mask.all() else values
    nan = int(np.count_nonzero(np.isnan(values))) if finite.size != values.size else 0
    posinf = int(np.count_nonzero(values == np.inf)) if finite.size != values.size else 0
    neginf = values.size - finite.size - nan - posinf
    if finite.size == 0:
        return TensorStats(values.size, 0, nan, posinf, neginf, zeros, None, None, None, 0.0, 0.0)
    mean = float(finite.mean())
    deviations = finite - mean
    return TensorStats(
        count=values.size,
        finite=finite.size,
        nan=nan,
        posinf=posinf,
        neginf=neginf,
        zeros=zeros,
        min=float(finite.min()),
        max=float(finite.max()),
        mean=mean,
        m2=float(np.dot(deviations, deviations)),
        sumsq=float(np.dot(finite, finite)),
    )


def combine(parts: Sequence[TensorStats]) -> TensorStats:
    """Statistics of the union of the parts (Chan's parallel variance update)."""
    count = finite = nan = posinf = neginf = zeros = 0
    low: float | None = None
    high: float | None = None
    mean = m2 = sumsq = 0.0
    for part in parts:
        count += part.count
        nan += part.nan
        posinf += part.posinf
        neginf += part.neginf
        zeros += part.zeros
        sumsq += part.sumsq
        if not part.finite or part.mean is None:
            continue
        assert part.min is not None and part.max is not None
        low = part.min if low is None else min(low, part.min)
        high = part.max if high is None else max(high, part.max)
        joined = finite + part.finite
        delta = part.mean - mean
        mean += delta * part.finite / joined
        m2 += part.m2 + delta * delta * finite * part.finite / joined
        finite = joined
    return TensorStats(
        count, finite, nan, posinf, neginf, zeros, low, high, mean if finite else None, m2, sumsq
    )


# --------------------------------------------------------------------- histograms
def auto_bins(count: int) -> int:
    """Default number of bins: ``min(1024, sqrt(N))``, at least 1."""
    return max(1, min(MAX_AUTO_BINS, math.isqrt(max(count, 1))))


@dataclass(frozen=True)
class Series:
    """One tensor's counts over the shared edges, and what was left out of them."""

    label: str
    counts: np.ndarray  # int64, len(edges) - 1
    finite: int
    nan: int
    posinf: int
    neginf: int
    constant: float | None  # the value, when every finite value is the same


@dataclass(frozen=True)
class Histogram:
    edges: np.ndarray  # float64, shared by every series
    series: list[Series]

    @property
    def bins(self) -> int:
        return len(self.edges) - 1


def _finite_part(chunk: np.ndarray) -> tuple[np.ndarray, float | None, float | None]:
    """(finite values, their min, their max); no copy when every value is finite."""
    if chunk.size == 0:
        return chunk, None, None
    low, high = chunk.min(), chunk.max()
    if chunk.dtype.kind != "f" or (np.isfinite(low) and np.isfinite(high)):
        return chunk, float(low), float(high)  # min/max are NaN or inf if any value is
    finite = chunk[np.isfinite(chunk)]
    if finite.size == 0:
        return finite, None, None
    return finite, float(finite.min()), float(finite.max())


def _chunk_range(values: np.ndarray, start: int) -> tuple[float | None, float | None]:
    _, lo, hi = _finite_part(values[start : start + CHUNK])
    return lo, hi


def value_range(arrays: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """(min, max) over the finite values of every array, or None when there are none.

    Chunks are reduced on the codec threads (NumPy releases the GIL)."""
    low: float | None = None
    high: float | None = None
    for array in arrays:
        values = as_real(array).reshape(-1)
        for lo, hi in ordered_map(functools.partial(_chunk_range, values), _chunks(values)):
            if lo is not None and hi is not None:
                low = lo if low is None else min(low, lo)
                high = hi if high is None else max(high, hi)
    return None if low is None or high is None else (low, high)


def histogram_edges(low: float, high: float, bins: int) -> np.ndarray:
    """``bins`` equal bins over [low, high]; a single value gets a unit-wide bin around it."""
    if high <= low:
        half = max(abs(low) * 1e-3, 0.5) if low != 0 else 0.5
        low, high = low - half, low + half
    return np.linspace(low, high, bins + 1)


def _tally(
    values: np.ndarray, edges: np.ndarray, start: int
) -> tuple[np.ndarray, int, int, int, float | None, float | None]:
    """(counts, finite, nan, +inf, min, max) of one chunk: a codec-thread task."""
    bins = edges.size - 1
    chunk = values[start : start + CHUNK]
    part, lo, hi = _finite_part(chunk)
    nan = posinf = 0
    if part.size != chunk.size:
        nan = int(np.count_nonzero(np.isnan(chunk)))
        posinf = int(np.count_nonzero(chunk == np.inf))
    if not part.size:
        return np.zeros(bins, dtype=np.int64), 0, nan, posinf, None, None
    counts = nativeparse.histogram_counts(part, edges)  # in C, without the GIL
    if counts is None:
        # bins + range takes NumPy's uniform fast path; its edges are the histogram's edges
        counts = np.histogram(part, bins=bins, range=(edges[0], edges[-1]))[0]
    return counts, part.size, nan, posinf, lo, hi


def histogram(
    arrays: Sequence[np.ndarray],
    labels: Sequence[str],
    bins: int | None = None,
    progress: Progress = NO_PROGRESS,
) -> Histogram:
    """Histograms of the finite values of ``arrays`` over shared equal-width edges.

    ``bins=None`` picks :func:`auto_bins` of the largest array. The counts equal
    ``numpy.histogram(finite_values, bins=histogram.edges)``. Chunks are counted on the
    codec threads, so this must not be called from a codec task.
    """
    largest = max((np.asarray(a).size for a in arrays), default=0)
    bins = bins or auto_bins(largest)
    span = value_range(arrays)
    low, high = span if span is not None else (0.0, 0.0)
    edges = histogram_edges(low, high, bins)
    total = sum(np.asarray(a).size for a in arrays) or 1
    done = 0
    series = []
    for array, label in zip(arrays, labels, strict=True):
        values = as_real(array).reshape(-1)
        counts = np.zeros(bins, dtype=np.int64)
        finite = nan = posinf = 0
        lo: float | None = None
        hi: float | None = None
        tally = functools.partial(_tally, values, edges)
        for start, (part_counts, part_finite, part_nan, part_posinf, part_lo, part_hi) in zip(
            _chunks(values), ordered_map(tally, _chunks(values)), strict=True
        ):
            check_cancelled(progress)
            counts += part_counts
            finite += part_finite
            nan += part_nan
            posinf += part_posinf
            if part_lo is not None and part_hi is not None:
                lo = part_lo if lo is None else min(lo, part_lo)
                hi = part_hi if hi is None else max(hi, part_hi)
            done += min(CHUNK, values.size - start)
            progress.report(done, total)
        neginf = values.size - finite - nan - posinf
        constant = lo if lo is not None and lo == hi else None
        series.append(Series(label, counts, finite, nan, posinf, neginf, constant))
    return Histogram(edges, series)
