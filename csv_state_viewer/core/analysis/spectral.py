"""Spectral measures of a weight matrix, as WeightWatcher defines them.

A trained layer's weight matrix ``W`` (N x M, N >= M after transposing) has an
empirical spectral density (ESD): the eigenvalues of ``X = WᵀW / N``. Martin & Mahoney
observed that well-trained layers have a heavy-tailed ESD whose tail follows a power law
``p(λ) ∝ λ^-alpha`` with alpha roughly between 2 and 6; a random (untrained) matrix has
the Marchenko-Pastur bulk and no tail, which the fit reports as a large alpha, and an
alpha below 2 hints at an over-fitted or collapsed layer. The fit is the one of Clauset,
Shalizi & Newman (2009) that WeightWatcher uses (through ``powerlaw``): for each
candidate ``xmin`` among the eigenvalues the maximum-likelihood exponent of the tail
``λ >= xmin``, keeping the candidate whose fitted CDF is closest (Kolmogorov-Smirnov) to
the tail's empirical CDF.

The stable rank ``‖W‖_F² / ‖W‖_2²`` is a smooth count of the directions a layer uses (N
for an identity, 1 for a rank-1 matrix).

Pure NumPy in float64. The Gram matrix is accumulated a block of rows at a time, so a
tall float32 matrix is never copied whole into float64; callers bound the cost with
:data:`MAX_SIDE`.
"""

from __future__ import annotations

import numpy as np

MIN_SIDE = 16  # smaller matrices have too few eigenvalues to fit a tail
MAX_SIDE = 2048  # eigvalsh of a larger Gram matrix takes seconds to minutes: not measured
MIN_TAIL = 5  # fewest eigenvalues a fitted tail may have
_ROWS = 4096  # rows of W converted to float64 at a time
_ZERO = 1e-12  # eigenvalues below this times the largest are numerical zeros


def as_matrix(weights: np.ndarray) -> np.ndarray:
    """A kernel as a matrix in Keras layout: ``(prod(shape[:-1]), shape[-1])`` (a conv
    kernel's output channels are its columns)."""
    weights = np.asarray(weights)
    if weights.ndim < 2:
        raise ValueError(f"a {weights.ndim}-D tensor is not a matrix")
    return weights.reshape(-1, weights.shape[-1])


def measurable(shape: tuple[int, ...]) -> bool:
    """True when a kernel of ``shape`` is measured: 2-D or more, with a matrix
    (:func:`as_matrix`) whose smaller side is between :data:`MIN_SIDE` and
    :data:`MAX_SIDE`."""
    if len(shape) < 2:
        return False
    rows = int(np.prod(shape[:-1]))
    return MIN_SIDE <= min(rows, shape[-1]) <= MAX_SIDE


def esd(weights: np.ndarray) -> np.ndarray:
    """The eigenvalues (ascending, float64) of ``WᵀW / N`` for a matrix ``W``, N its
    larger side and M (the count of eigenvalues) its smaller side."""
    matrix = np.asarray(weights)
    if matrix.ndim != 2:
        raise ValueError(f"esd needs a matrix, not a {matrix.ndim}-D array")
    if matrix.shape[0] < matrix.shape[1]:
        matrix = matrix.T
    rows, cols = matrix.shape
    gram = np.zeros((cols, cols), dtype=np.float64)
    for start in range(0, rows, _ROWS):
        block = np.asarray(matrix[start : start + _ROWS], dtype=np.float64)
        gram += block.T @ block
    eigenvalues = np.linalg.eigvalsh(gram / max(rows, 1))
    return np.clip(eigenvalues, 0.0, None)  # rounding makes zeros slightly negative


def stable_rank_of(eigenvalues: np.ndarray) -> float:
    """``‖W‖_F² / ‖W‖_2²`` from the ESD of ``W`` (sum over largest); 0 for a zero matrix."""
    values = np.asarray(eigenvalues, dtype=np.float64)
    largest = float(values.max()) if values.size else 0.0
    return float(values.sum() / largest) if largest > 0 else 0.0


def stable_rank(weights: np.ndarray) -> float:
    """The stable rank ``‖W‖_F² / ‖W‖_2²`` of a matrix (0 for a zero matrix)."""
    return stable_rank_of(esd(weights))


def power_law_alpha(eigenvalues: np.ndarray) -> tuple[float, float, float]:
    """``(alpha, xmin, ks)``: the power-law exponent of the tail of ``eigenvalues``, the
    start of that tail, and the Kolmogorov-Smirnov distance of the fit.

    Every eigenvalue that leaves at least :data:`MIN_TAIL` above it is a candidate
    ``xmin``; its tail's exponent is the maximum-likelihood ``1 + n / Σ ln(λ_i / xmin)``;
    the candidate with the smallest KS distance wins. Zeros (up to rounding) are left out.
    ``(nan, nan, nan)`` when fewer than :data:`MIN_TAIL` eigenvalues remain.
    """
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64).reshape(-1))
    values = values[np.isfinite(values)]
    if values.size:
        values = values[values > values[-1] * _ZERO]
    nan = float("nan")
    best = (nan, nan, np.inf)
    if values.size < MIN_TAIL:
        return nan, nan, nan
    logs = np.log(values)
    # Σ ln λ over the tail that starts at each index, by a reversed cumulative sum.
    tail_log_sums = np.cumsum(logs[::-1])[::-1]
    count = values.size
    tried: set[float] = set()
    for start in range(count - MIN_TAIL + 1):
        xmin = values[start]
        if xmin in tried:  # a repeated eigenvalue: the same tail as its first copy
            continue
        tried.add(xmin)
        n = count - start
        spread = tail_log_sums[start] - n * logs[start]
        if spread <= 0:
            continue
        alpha = 1.0 + n / spread
        tail = values[start:]
        fitted = 1.0 - (tail / xmin) ** (1.0 - alpha)
        above = np.arange(1, n + 1) / n
        ks = float(max(np.max(np.abs(above - fitted)), np.max(np.abs(above - 1.0 / n - fitted))))
        if ks < best[2]:
            best = (alpha, float(xmin), ks)
    if not np.isfinite(best[2]):
        return nan, nan, nan
    return float(best[0]), best[1], float(best[2])
