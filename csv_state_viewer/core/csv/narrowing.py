"""Decimal text into a float type narrower than float64, rounded once, not twice.

Every parser here (simdjson, pyarrow, the C accelerator) rounds text correctly to float64;
casting that float64 to float16, bfloat16, a float8/float6/float4 type or float32 rounds a
second time. That is wrong exactly where the float64 value lands *on a boundary* of the
cast, a point where its result changes: ``1.00048828125000001`` reads as the float64
``1.00048828125``, the midpoint between the float16 values 1 and 1.0009765625, and the
tie goes to 1 although the decimal lies above it.

Why only those values: the cast is monotone and constant between neighbouring
boundaries, and every boundary is a float64 (a midpoint needs one significand bit more than
the narrow type has, and its exponent is well inside float64's). Rounding to float64 is
monotone and leaves float64 values where they are, so a decimal strictly between two
boundaries reads as a float64 between them or on one of them: it cannot cross a boundary
without landing on it. Off the boundaries the cast already gives the decimal's own result.

For the values on a boundary, :func:`narrow` compares the text, exactly, with the
float64: a decimal above it takes the cast of the next float64 up, one below it the cast of
the next float64 down (both strictly inside the neighbouring interval, whose result is the
decimal's), one equal to it the cast of the boundary itself. So the narrow type's own cast
(NumPy's for float16 and float32, ml_dtypes' for the others) decides every rule, as it does
for that exact value: ties to even, subnormals, and what lies past the largest finite value.
There the types differ (ml_dtypes 0.7): float16, bfloat16, float32, float8_e5m2,
float8_e4m3 and float8_e3m4 round to ±inf (``65520`` is float16 inf, ``65519.99...`` is
65504); the ``fn``/``fnuz``/``fnu`` float8 types, which have no inf, give NaN (float8_e4m3fn:
from 464 up; 464 itself ties to 448); float6 and float4, with neither inf nor NaN, saturate
to their largest value. float8_e8m0fnu (powers of two only) rounds ties upwards and has no
zero: ``0`` is NaN but ``1e-400`` is its smallest value, 2**-127; the unsigned types give
NaN for any negative number, ``-1e-400`` included, while ``-0`` is 0.

Boundaries are found from the float64 bits (a few vectorised passes, a small part of the
parse); only those elements' texts are looked up and read with :class:`decimal.Decimal`,
whose comparisons with a float are exact.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np

from csv_state_viewer.core.dtypes import is_ml_dtype

# Texts of the elements at the given (sorted) indices of a parsed chunk.
Texts = Callable[[np.ndarray], Sequence[bytes]]

_DOUBLE_MAX = float(np.finfo(np.float64).max)
_DOUBLE_TINY = float(np.finfo(np.float64).smallest_subnormal)
_COMMA = ord(",")
_DECIMAL = re.compile(r"\s*([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?)0*(\d+)\s*\Z")
_HUGE_EXPONENT = 10**17  # beyond any text's digit count, far beyond float64's range


@dataclass(frozen=True)
class _Boundaries:
    """Where the cast of a float64 to one narrow type changes its result."""

    low_mask: np.uint64  # float64 significand bits below the narrow type's precision
    half: np.uint64  # ... and their pattern on a midpoint: the highest set, the rest clear
    smallest_normal: float  # 2**min_exponent; below it the spacing is fixed (subnormals)
    below_normal: np.uint64  # (bits of smallest_normal << 1) - 1, see _boundary_candidates
    subnormal_scale: float  # 2**(precision - min_exponent): subnormal midpoints to odd integers
    specials: tuple[float, ...]  # of ±0.0 and ±inf, where the cast differs right next to them


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return values.astype(dtype)


def _bits(values: np.ndarray) -> np.ndarray:
    return values.view(f"u{values.dtype.itemsize}")


@functools.cache
def _boundaries(dtype: np.dtype) -> _Boundaries:
    if is_ml_dtype(dtype):
        import ml_dtypes

        info: np.finfo = ml_dtypes.finfo(dtype)
    else:
        info = np.finfo(dtype)
    precision = info.nmant + 1  # significand bits, the leading one included
    extra = 53 - precision  # float64 significand bits the narrow type does not have
    smallest_normal = 2.0**info.minexp
    below_normal = np.uint64((int(np.array(smallest_normal).view(np.uint64)) << 1) - 1)
    specials = []
    for special, neighbour in (
        (0.0, _DOUBLE_TINY),
        (-0.0, -_DOUBLE_TINY),
        (np.inf, _DOUBLE_MAX),
        (-np.inf, -_DOUBLE_MAX),
    ):
        pair = _bits(_cast(np.array([special, neighbour]), dtype))
        if pair[0] != pair[1]:
            specials.append(special)
    return _Boundaries(
        low_mask=np.uint64((1 << extra) - 1),
        half=np.uint64(1 << (extra - 1)),
        smallest_normal=smallest_normal,
        below_normal=below_normal,
        subnormal_scale=2.0 ** (precision - info.minexp),
        specials=tuple(specials),
    )


def boundary_indices(wide: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Sorted indices of the float64 values that lie on a rounding boundary of ``dtype``
    (a midpoint of two neighbouring values, or a special zero or infinity), where the
    cast may differ from the exact rounding of the text the value was read from."""
    found = _boundary_candidates(wide, _boundaries(dtype))
    if found.size == 0:
        return found
    # Keep those where the cast really changes right next to the value (none are lost: a
    # boundary is where it changes), so that moving one float64 step is always right.
    at = wide[found]
    here = _bits(_cast(at, dtype))
    up = _bits(_cast(np.nextafter(at, np.inf), dtype))
    down = _bits(_cast(np.nextafter(at, -np.inf), dtype))
    return found[(up != here) | (down != here)]


def _boundary_candidates(wide: np.ndarray, grid: _Boundaries) -> np.ndarray:
    """A superset of the boundaries among ``wide``, sorted (a few passes over the bits)."""
    bits = wide.view(np.uint64)
    scratch = np.bitwise_and(bits, grid.low_mask)
    # Normal range of the narrow type: the significand ends in the midpoint pattern.
    found = np.flatnonzero(scratch == grid.half)
    if found.size:
        magnitude = np.abs(wide[found])
        found = found[(magnitude >= grid.smallest_normal) & (magnitude <= _DOUBLE_MAX)]
    # Below it the spacing is fixed: midpoints are odd multiples of half the smallest
    # subnormal. The sign shifted out, bits - 1 is below below_normal exactly for the
    # nonzero values under smallest_normal (zero wraps around to the largest integer).
    np.left_shift(bits, np.uint64(1), out=scratch)
    np.subtract(scratch, np.uint64(1), out=scratch)
    tiny = np.flatnonzero(scratch < grid.below_normal)
    parts = [found]
    if tiny.size:
        scaled = np.abs(wide[tiny]) * grid.subnormal_scale  # exact: a power of two
        parts.append(tiny[np.fmod(scaled, 2.0) == 1.0])
    for special in grid.specials:
        parts.append(np.flatnonzero(bits == np.array(special).view(np.uint64)))
    if len(parts) == 1:
        return found
    return np.unique(np.concatenate(parts))


def narrow(wide: np.ndarray, dtype: np.dtype, texts: Texts, first_index: int = 0) -> np.ndarray:
    """Float64 values read from decimal text, as ``dtype`` (native byte order), each the
    correctly rounded value of its text.

    ``texts(indices)`` gives the texts of those elements; it is called only when some
    values lie on a rounding boundary, which text written for ``dtype`` never does.
    A text that is not a decimal raises ValueError naming element ``first_index + i + 1``.
    """
    out = _cast(wide, dtype)
    at = boundary_indices(wide, dtype)
    if at.size == 0:
        return out
    values = wide[at]
    for index, value, text in zip(at.tolist(), values.tolist(), texts(at), strict=True):
        side = _exact(text, dtype, first_index + index).compare(Decimal(value))
        if side:
            step = np.nextafter(value, np.inf if side > 0 else -np.inf)
            out[index] = _cast(np.array([step]), dtype)[0]
    return out


def _exact(raw: bytes | str, dtype: np.dtype, index: int) -> Decimal:
    """The exact value of a decimal text (exponents of any length)."""
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    try:
        return Decimal(text)
    except InvalidOperation:
        pass
    # Decimal refuses exponents of 19 digits or more; such a value is 0 or far beyond
    # float64's range, which a smaller exponent of the same sign says as well.
    match = _DECIMAL.match(text)
    if match is None or not (match.group(2) or match.group(3)):
        raise ValueError(f"bad {dtype} value {text[:40]!r} at element {index + 1}")
    sign, whole, fraction, exponent_sign, exponent = match.groups()
    exponent_value = _HUGE_EXPONENT if len(exponent) > 17 else int(exponent)
    return Decimal(f"{sign}{whole or '0'}.{fraction or ''}e{exponent_sign}{exponent_value}")


def comma_texts(buffer: bytes | bytearray | memoryview, start: int, stop: int) -> Texts:
    """:data:`Texts` of comma-separated values in ``buffer[start:stop]`` (spaces around
    a value are dropped)."""

    def texts(indices: np.ndarray) -> list[bytes]:
        view = np.frombuffer(buffer, np.uint8, count=stop - start, offset=start)
        commas = np.flatnonzero(view == _COMMA)
        starts = np.concatenate(([0], commas + 1))[indices] + start
        stops = np.concatenate((commas, [stop - start]))[indices] + start
        return [
            bytes(buffer[a:b]).strip() for a, b in zip(starts.tolist(), stops.tolist(), strict=True)
        ]

    return texts
