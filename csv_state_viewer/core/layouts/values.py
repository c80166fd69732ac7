"""Numbers read from text without a declared dtype: which dtype they get, and why.

Integers (every value written without a fraction or exponent) become int64. Otherwise the
values become float32 when every one of them is a float32 written exactly (``%.18e``) or
written as the float32's shortest or 9-digit decimal (``repr``, ``%.9g``: ``0.1``) —
weights exported from a float32 model — and float64 when any is not. The reason is kept
in the tensor's metadata (``dtype_decided``) so the viewer's Summary says how the dtype
was chosen.
"""

from __future__ import annotations

import numpy as np

from csv_state_viewer.core.csv.narrowing import boundary_indices

DECIDED_KEY = "dtype_decided"
INTEGERS = "integers: every value is written without a fraction or exponent"
FLOAT32 = "float32: every value round-trips exactly through float32"
FLOAT64 = "float64: some values do not round-trip exactly through float32"
FLOAT32_DIGITS = (
    "float32: every value is a float32 written exactly or to at most 9 significant digits"
)
_FLOAT32 = np.dtype(np.float32)
_FLT_MIN = float(np.finfo(np.float32).tiny)
_POW10 = 10.0 ** np.arange(-330, 300, dtype=np.float64)  # 10^k at k + 330
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
    if float32_faithful(as64):  # shortest or %.9g text of float32 weights ("0.1")
        return as32, FLOAT32_DIGITS
    return as64, FLOAT64


def looks_integer(token: bytes) -> bool:
    """A decimal token with no fraction, exponent, NaN or Inf (``-12``, ``+3``, ``0``)."""
    text = token.strip().lstrip(b"+-")
    return bool(text) and text.isdigit()


def float32_faithful(values: np.ndarray) -> bool:
    """Whether every decimal these float64 values were read from denotes a float32.

    A value qualifies when it is a float32 exactly (``%.18e`` of a float32), or when its
    text has at most 9 significant digits and is the float32 nearest to it rounded to
    that many digits (``repr``/shortest and ``%.9g`` of a float32: ``0.1``, ``0.100000001``).
    The digit count is recovered from the value: beyond 15 digits the test can be fooled
    (``0.1000000000000001`` passes), which no float32 writer produces.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        near = values.astype(np.float32).astype(np.float64)  # beyond float32's range: inf
        finite = np.isfinite(values)
        if not finite.all():
            values, near = values[finite], near[finite]
        distance = np.abs(near - values)
    exact = distance == 0
    if exact.all():
        return True
    magnitude = np.abs(values)
    if not np.isfinite(near).all() or ((magnitude < _FLT_MIN) & ~exact).any():
        return False  # too large for float32, or a subnormal float32 that is not exact
    # The 9th significant digit's unit; log10 is lowered a little so that the exponent is
    # never one too large (one too small only puts a 9-digit value on a 10-digit grid).
    exponent = np.floor(np.log10(np.maximum(magnitude, _FLT_MIN)) - 1e-9).astype(np.intp)
    unit = _POW10[exponent + 322]
    digits = values / unit
    whole = np.rint(digits)
    if ((np.abs(digits - whole) > 1e-6) & ~exact).any():  # arithmetic error is below 4e-7
        return False  # more than 9 significant digits
    # Ties (%.9g of ...0625 is ...062) sit on the bound; the value read is off the decimal
    # by ~1e-7 units, hence the slack. Most values are within half a unit: done.
    units = distance / unit
    loose = np.flatnonzero(units > 0.5 + 1e-6)
    if loose.size == 0:
        return True
    # A value on a float32 midpoint (half a float32 step off, so always loose) is no
    # float32's text, and casting it would round a second time without its text to say
    # which way: such values stay float64.
    if boundary_indices(values[loose], _FLOAT32).size:
        return False
    # Fewer digits (trailing zeros on the 9-digit grid) allow 5, 50, ... units.
    mantissa = whole[loose]
    allowed = np.where(
        np.fmod(mantissa, 1000) == 0,
        np.inf,
        np.where(np.fmod(mantissa, 100) == 0, 50.0, np.where(np.fmod(mantissa, 10) == 0, 5.0, 0.5)),
    )
    return bool((units[loose] <= allowed + 1e-6).all())
