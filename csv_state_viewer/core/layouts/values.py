"""Numbers read from text without a declared dtype: which dtype they get, and why.

Integers (every value written without a fraction or exponent) become int64. Otherwise the
values become float32 when every one of them survives float64 -> float32 -> float64
unchanged (weights exported from a float32 model, at any precision that round-trips), and
float64 when any does not. The reason is kept in the tensor's metadata
(``dtype_decided``) so the viewer's Summary can say how the dtype was chosen.
"""

from __future__ import annotations

import numpy as np

DECIDED_KEY = "dtype_decided"
INTEGERS = "integers: every value is written without a fraction or exponent"
FLOAT32 = "float32: every value round-trips exactly through float32"
FLOAT64 = "float64: some values do not round-trip exactly through float32"
NON_FINITE_ONLY = "float32: only NaN or infinite values"


def decide_dtype(values: np.ndarray, *, integers: bool) -> tuple[np.ndarray, str]:
    """``values`` (float64, or int64 when ``integers``) in their decided dtype, and why."""
    if integers:
        return values.astype(np.int64, copy=False), INTEGERS
    as64 = values.astype(np.float64, copy=False)
    as32 = as64.astype(np.float32)
    finite = np.isfinite(as64)
    if not finite.any():
        return as32, NON_FINITE_ONLY
    # NaN payloads and infinities survive the cast; compare where both are finite
    same = np.array_equal(as32.astype(np.float64)[finite], as64[finite])
    if same and np.isfinite(as32[finite]).all():
        return as32, FLOAT32
    return as64, FLOAT64


def looks_integer(token: bytes) -> bool:
    """A decimal token with no fraction, exponent, NaN or Inf (``-12``, ``+3``, ``0``)."""
    text = token.strip().lstrip(b"+-")
    return bool(text) and text.isdigit()
