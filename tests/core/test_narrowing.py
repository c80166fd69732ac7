"""Decimal text read into float16, bfloat16, float8/6/4 and float32 is rounded once, exactly.

The reference here rounds the exact rational value of a text to the target's value set,
enumerated bit pattern by bit pattern (float32 by arithmetic), with ties to even; past the
largest value and for the rules ml_dtypes has for types without inf, zero or sign, it
takes ml_dtypes' own cast of a value that is exact in float64. The reference is checked
against that cast on float64 inputs first, then the parsers are checked against the
reference on decimals that land on rounding boundaries when read as float64: through the
C accelerator, the pure-Python path (simdjson and pyarrow) and whole files.
"""

from __future__ import annotations

import bisect
import csv
import functools
import itertools
import json
import math
import re
import zlib
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csv_state_viewer import load_state, open_state
from csv_state_viewer.core.csv import csvstate, narrowing, nativeparse
from csv_state_viewer.core.csv.textcodec import format_chunk, parse_chunk
from csv_state_viewer.core.dtypes import resolve_dtype
from csv_state_viewer.core.layouts.values import FLOAT64, float32_faithful

SMALL_NAMES = [
    "float16",
    "bfloat16",
    *sorted(n for n in dir(ml_dtypes) if re.fullmatch(r"float\d+_\w+", n)),
]
SMALL = [resolve_dtype(name) for name in SMALL_NAMES]  # every small float the project reads
FLOAT32 = np.dtype(np.float32)
ALL = [*SMALL, FLOAT32]
ACCELERATED = nativeparse.library() is not None
needs_library = pytest.mark.skipif(not ACCELERATED, reason="the C accelerator is not built")


def _bits(values: np.ndarray) -> np.ndarray:
    return values.view(f"u{values.dtype.itemsize}")


def _cast_bits(value: float, dtype: np.dtype) -> int:
    with np.errstate(all="ignore"):
        return int(_bits(np.array([value]).astype(dtype))[0])


# ------------------------------------------------------------------------ the reference


@dataclass(frozen=True)
class Spec:
    """A small float type's values and rules, from its bit patterns and ml_dtypes."""

    magnitudes: dict[bool, list[Fraction]]  # sorted, per sign (True: negative)
    patterns: dict[bool, list[int]]  # their bits
    overflow: dict[bool, int] | None  # bits past the largest value; None: saturates
    beyond: Fraction  # the next value of the type's grid above the largest
    ties_away: bool  # float8_e8m0fnu rounds ties up, not to even
    nan: int
    # Per sign, what a nonzero value rounds to: (magnitude, bits) sorted, with the zero
    # of that sign when the type has one and the value past the largest (bits -1 when
    # that pattern would be odd, -2 when even) when the type does not saturate.
    candidates: dict[bool, list[tuple[Fraction, int]]]
    keys: dict[bool, list[Fraction]]


@functools.cache
def spec(dtype: np.dtype) -> Spec:
    width = dtype.itemsize
    patterns = np.arange(1 << (8 * width), dtype=np.uint64).astype(f"u{width}")
    with np.errstate(all="ignore"):
        values = patterns.view(dtype).astype(np.float64)
        canonical = _bits(values.astype(dtype)) == patterns  # float4/6: unused high bits
    values, patterns = values[canonical], patterns[canonical]
    magnitudes: dict[bool, list[Fraction]] = {}
    bits: dict[bool, list[int]] = {}
    for negative in (False, True):
        keep = np.isfinite(values) & ((values < 0) if negative else (values > 0))
        pairs = sorted(
            (abs(Fraction(v)), int(b))
            for v, b in zip(values[keep].tolist(), patterns[keep].tolist(), strict=True)
        )
        magnitudes[negative] = [m for m, _ in pairs]
        bits[negative] = [b for _, b in pairs]
    zero = {}
    for negative in (False, True):
        with np.errstate(all="ignore"):
            cast = np.array([-0.0 if negative else 0.0]).astype(dtype).astype(np.float64)[0]
        zero[negative] = _cast_bits(-0.0 if negative else 0.0, dtype) if cast == 0 else None
    huge = {
        negative: _cast_bits(-(2.0**1000) if negative else 2.0**1000, dtype)
        for negative in (False, True)
    }
    largest = magnitudes[False][-1]
    with np.errstate(all="ignore"):
        saturates = np.isfinite(np.array([2.0**1000]).astype(dtype).astype(np.float64)[0])
    info = ml_dtypes.finfo(dtype)
    beyond = largest + Fraction(2) ** (math.floor(math.log2(largest)) - info.nmant)
    beyond_bits = -1 if (bits[False][-1] + 1) % 2 == 1 else -2
    candidates = {}
    for negative in (False, True):
        listed = list(zip(magnitudes[negative], bits[negative], strict=True))
        found = zero[negative]
        if found is not None:
            listed.insert(0, (Fraction(0), found))
        if not saturates:
            listed.append((beyond, beyond_bits))
        candidates[negative] = listed
    return Spec(
        magnitudes,
        bits,
        None if saturates else huge,
        beyond,
        dtype.name == "float8_e8m0fnu",
        _cast_bits(np.nan, dtype),
        candidates,
        {negative: [c[0] for c in listed] for negative, listed in candidates.items()},
    )


def reference(text: str, dtype: np.dtype) -> int:
    """The bits of ``dtype`` nearest to the exact value of ``text``."""
    value = Fraction(text.strip())
    negative = text.strip().startswith("-")
    if dtype == FLOAT32:
        return _reference_float32(value, negative)
    rules = spec(dtype)
    if value == 0:
        return _cast_bits(-0.0 if negative else 0.0, dtype)
    if negative and not rules.magnitudes[True]:
        return rules.nan  # an unsigned type: ml_dtypes' cast of any negative number
    candidates, keys = rules.candidates[negative], rules.keys[negative]
    magnitude = abs(value)
    above = bisect.bisect_left(keys, magnitude)
    if above < len(keys) and keys[above] == magnitude:
        chosen = candidates[above]
    elif above == 0:
        chosen = candidates[0]
    elif above == len(keys):
        chosen = candidates[-1]
    else:
        low, high = candidates[above - 1], candidates[above]
        below_gap, above_gap = magnitude - low[0], high[0] - magnitude
        if below_gap != above_gap:
            chosen = low if below_gap < above_gap else high
        elif rules.ties_away:
            chosen = high
        else:
            chosen = low if low[1] % 2 == 0 else high  # -1 and -2 have the parity meant
    if chosen[1] < 0:  # the value past the largest
        assert rules.overflow is not None
        return rules.overflow[negative]
    return chosen[1]


def _reference_float32(value: Fraction, negative: bool) -> int:
    sign = 0x80000000 if negative else 0
    if value == 0:
        return sign
    magnitude = abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    quantum = Fraction(2) ** (max(exponent, -126) - 23)
    steps = magnitude / quantum
    whole = math.floor(steps)
    rest = steps - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1):
        whole += 1
    rounded = whole * quantum
    if rounded >= Fraction(2) ** 128:
        return sign | 0x7F800000
    return sign | int(np.array([float(rounded)], np.float32).view(np.uint32)[0])


def midpoints(dtype: np.dtype) -> list[Fraction]:
    """Every positive rounding boundary of a small type: between zero and the smallest
    value, between neighbours, and between the largest value and the next one."""
    rules = spec(dtype)
    points = [Fraction(0), *rules.magnitudes[False], rules.beyond]
    return [(a + b) / 2 for a, b in itertools.pairwise(points)]


# ------------------------------------------------------------------- decimal texts


def decimal_text(value: Fraction, style: int = 0) -> str:
    """The exact decimal of a value whose denominator divides a power of ten."""
    if value == 0:
        return "0"
    with localcontext() as context:
        context.prec = 2000
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    assert Fraction(exact) == value
    sign, digits, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    body = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(body)
    head = "-" if sign else ""
    if style == 1:  # digits and an exponent: 100048828125000001e-17
        return f"{head}{body}e{exponent}"
    if style == 2 and -30 < exponent + len(body) < 30:  # plain: 0.000123, 65520
        return format(Decimal(f"{head}{body}e{exponent}"), "f")
    point = exponent + len(body) - 1  # scientific: 1.00048828125000001e+00
    mantissa = body[0] + ("." + body[1:] if len(body) > 1 else "")
    return f"{head}{mantissa}e{point:+03d}"


def near(point: Fraction, offset: int, digits: int) -> Fraction:
    """``point`` moved by ``offset`` units of its ``digits``-th significant decimal place."""
    if point == 0 or offset == 0:
        return point
    place = math.floor(math.log10(point)) - digits
    return point + offset * Fraction(10) ** place


def texts_near_boundaries(dtype: np.dtype, rng: np.random.Generator, count: int) -> list[str]:
    """Decimals on and next to rounding boundaries, both signs, read as float64 on them."""
    if dtype == FLOAT32:
        points = _float32_midpoints(rng, count)
    else:
        every = midpoints(dtype)
        points = [every[i] for i in rng.integers(0, len(every), count)]
        points += every[:3] + every[-3:]  # subnormal and overflow edges
    out = []
    for point in points:
        sign = -1 if rng.random() < 0.5 else 1
        offset = int(rng.choice([-3, -1, 0, 1, 2]))
        digits = int(rng.integers(17, 45))
        out.append(decimal_text(sign * near(point, offset, digits), int(rng.integers(0, 3))))
    return out


def _float32_midpoints(rng: np.random.Generator, count: int) -> list[Fraction]:
    exponents = rng.integers(-149, 128, count)
    mantissas = rng.integers(0, 1 << 23, count)
    points = []
    for exponent, mantissa in zip(exponents.tolist(), mantissas.tolist(), strict=True):
        if exponent < -126:  # subnormal: odd multiples of 2^-150
            points.append(Fraction(2 * (mantissa % (1 << (exponent + 149))) + 1, 2**150))
        else:
            points.append(Fraction((1 << 24) + 2 * mantissa + 1, 1 << 24) * Fraction(2) ** exponent)
    largest = Fraction((1 << 24) - 1, 1 << 23) * Fraction(2) ** 127
    return [*points, largest + Fraction(2) ** 103, Fraction(1, 2**150), Fraction(3, 2**150)]


def expected(texts: list[str], dtype: np.dtype) -> np.ndarray:
    return np.array([reference(t, dtype) for t in texts], dtype=f"u{dtype.itemsize}")


def native(text: bytes, dtype: np.dtype) -> np.ndarray | None:
    buffer = bytearray(text + bytes(nativeparse.PADDING))
    return nativeparse.parse(buffer, len(text), dtype)


@pytest.fixture
def pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the accelerator off for whole files, as CSV_STATE_PURE_PYTHON=1 does
    (parse_chunk is the pure-Python path whatever the accelerator)."""
    monkeypatch.setattr(nativeparse, "library", lambda: None)


# ------------------------------------------------------------ the reference's checks


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_reference_agrees_with_the_cast_of_exact_float64_values(dtype: np.dtype) -> None:
    """On values that are exact in float64 the cast rounds once: the two must agree,
    at every boundary, one float64 step on either side and past the largest value."""
    rng = np.random.default_rng(5)
    every = midpoints(dtype) if dtype != FLOAT32 else _float32_midpoints(rng, 600)
    points = every if len(every) < 600 else [every[i] for i in rng.integers(0, len(every), 600)]
    points = [*points, *every[:4], *every[-4:]]
    values = np.array([float(p) for p in points])
    values = np.concatenate([values, np.nextafter(values, np.inf), np.nextafter(values, 0)])
    values = np.concatenate([values, -values, [0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300]])
    with np.errstate(all="ignore"):
        cast = _bits(values.astype(dtype))
    ours = [reference(decimal_text(Fraction(v)) if v else repr(v), dtype) for v in values.tolist()]
    assert cast.tolist() == ours


@pytest.mark.parametrize("dtype", SMALL, ids=str)
def test_boundaries_are_midpoints_or_special_zeros(dtype: np.dtype) -> None:
    """What the narrowing relies on: between neighbouring midpoints (of the type's grid,
    which goes on past its largest value) the cast is constant, so only float64 values
    on a midpoint, or a zero the type has no sign or value for, can be rounded twice;
    and boundary_indices finds exactly the values where the cast changes."""
    every = [float(m) for m in midpoints(dtype)]
    top = every[-1]
    step = top - every[-2]
    every += [top + step * k for k in range(1, 4)]  # past the largest value: still constant
    points = np.array(every)
    points = np.concatenate([-points[::-1], [-0.0, 0.0], points])
    first, last = np.nextafter(points[:-1], np.inf), np.nextafter(points[1:], -np.inf)
    inside = (points[:-1] + points[1:]) / 2
    with np.errstate(all="ignore"):
        a, b, c = (_bits(x.astype(dtype)) for x in (first, last, inside))
    between = points[:-1] != points[1:]  # not the (empty) interval from -0 to 0
    assert (a == b)[between].all() and (b == c)[between].all()

    rng = np.random.default_rng(9)
    values = np.concatenate(
        [points, np.nextafter(points, np.inf), np.nextafter(points, -np.inf), [np.inf, -np.inf]]
    )
    values = np.concatenate([values, rng.standard_normal(2000) * float(top) / 4])
    with np.errstate(all="ignore"):
        here = _bits(values.astype(dtype))
        up = _bits(np.nextafter(values, np.inf).astype(dtype))
        down = _bits(np.nextafter(values, -np.inf).astype(dtype))
    # A decimal that reads as +0.0 is not negative (and -0.0 not positive): a zero is
    # a boundary only towards its own sign.
    positive = ~np.signbit(values)
    up[(values == 0) & ~positive] = here[(values == 0) & ~positive]
    down[(values == 0) & positive] = here[(values == 0) & positive]
    # Next to a midpoint the cast changes one float64 step away, but no decimal that
    # reads as that neighbour lies across the midpoint: only midpoints and zeros count.
    on_grid = np.isin(np.abs(values), points)
    changes = np.flatnonzero(on_grid & ((up != here) | (down != here)))
    assert narrowing.boundary_indices(values, dtype).tolist() == changes.tolist()


# ------------------------------------------------------------------ named examples


@pytest.mark.parametrize(
    ("dtype", "text", "value"),
    [
        ("float16", "1.00048828125000001", 1.0009765625),  # float64 lands on the midpoint
        ("float16", "1.00048828124999999", 1.0),
        ("float16", "1.00048828125", 1.0),  # the midpoint itself: ties to even
        ("float16", "1.00146484375", 1.001953125),  # ... which here is up
        ("float16", "65520", np.inf),  # the overflow threshold ties to inf
        ("float16", "65519.99999999999999999", 65504.0),
        ("float16", "-65519.99999999999999999", -65504.0),
        ("float16", "2.98023223876953125e-8", 0.0),  # half the smallest subnormal: to 0
        ("float16", "2.980232238769531250001e-8", 2.0**-24),
        ("float16", "-2.980232238769531250001e-8", -(2.0**-24)),
        ("float16", "-2.98023223876953124999e-8", -0.0),
        ("bfloat16", "1.00390625000000001", 1.0078125),
        # just below bfloat16's overflow threshold 2^128 - 2^119: the largest value
        ("bfloat16", "339617752923046005526922703901628039167.9999", 3.3895313892515355e38),
        ("bfloat16", "339617752923046005526922703901628039168", np.inf),
        ("float8_e4m3fn", "464", 448.0),  # no inf: the tie goes to 448 (even)
        ("float8_e4m3fn", "464.0000000000000001", np.nan),  # above it: NaN, as ml_dtypes
        ("float8_e4m3fn", "463.9999999999999999", 448.0),
        ("float8_e5m2", "61440.000000000000001", np.inf),
        ("float8_e5m2", "61439.999999999999999", 57344.0),
        ("float4_e2m1fn", "1e300", 6.0),  # neither inf nor NaN: saturates
        ("float8_e8m0fnu", "0", np.nan),  # no zero
        ("float8_e8m0fnu", "1e-400", 2.0**-127),  # a positive value: the smallest
        ("float8_e8m0fnu", "1.5", 2.0),  # ties round up
        ("float8_e8m0fnu", "1.49999999999999999999", 1.0),
        ("float8_e5m3fnu", "-0", 0.0),
        ("float8_e5m3fnu", "-1e-400", np.nan),  # unsigned: any negative number is NaN
        ("float32", "1.00000005960464477539062500001", 1.0000001192092896),
        ("float32", "3.40282356779733661637539395458142568447e38", 3.4028234663852886e38),
        ("float32", "3.40282356779733661637539395458142568448e38", np.inf),
    ],
)
def test_named_examples(dtype: str, text: str, value: float) -> None:
    target = resolve_dtype(dtype)
    got = parse_chunk(text.encode(), target).astype(np.float64)[0]
    if np.isnan(value):
        assert np.isnan(got)
    else:
        assert got == value and np.signbit(got) == np.signbit(value)
    assert int(_bits(parse_chunk(text.encode(), target))[0]) == reference(text, target)


def test_exponents_too_long_for_decimal_are_read() -> None:
    dtype = resolve_dtype("float8_e8m0fnu")  # zero is a boundary of its cast
    text = b"0e99999999999999999999,1e-99999999999999999999,-0e-99999999999999999999"
    got = parse_chunk(text, dtype)
    assert _bits(got).tolist() == [spec(dtype).nan, 0x00, spec(dtype).nan]


# ------------------------------------------------------------- parsers vs reference


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_pure_path_rounds_once(dtype: np.dtype) -> None:
    rng = np.random.default_rng(zlib.crc32(dtype.name.encode()))
    texts = texts_near_boundaries(dtype, rng, 250)
    want = expected(texts, dtype)
    plain = ",".join(texts).encode()
    assert _bits(parse_chunk(plain, dtype)).tolist() == want.tolist()  # simdjson, then narrowed
    loose = "; ".join(texts).encode()  # rewritten to commas first
    assert _bits(parse_chunk(loose, dtype)).tolist() == want.tolist()
    with_nan = plain + b",nan"  # simdjson declines: pyarrow's float64, then narrowed
    got = _bits(parse_chunk(with_nan, dtype))
    assert got[:-1].tolist() == want.tolist()


@needs_library
@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_accelerated_path_rounds_once(dtype: np.dtype) -> None:
    assert nativeparse.supports(dtype)
    rng = np.random.default_rng(zlib.crc32(dtype.name.encode()) + 1)
    texts = [t for t in texts_near_boundaries(dtype, rng, 250) if len(t) < 100]
    if dtype == FLOAT32:  # float32 overflow and underflow to zero are left to Python
        texts = [t for t in texts if 0 < abs(float(Fraction(t))) < 3.4028235e38]
        texts = [t for t in texts if reference(t, dtype) & 0x7FFFFFFF not in (0, 0x7F800000)]
    got = native(",".join(texts).encode(), dtype)
    assert got is not None  # taken, not declined
    assert _bits(got).tolist() == expected(texts, dtype).tolist()


@pytest.mark.parametrize("dtype", ALL, ids=str)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_decimals_near_boundaries(dtype: np.dtype, data: st.DataObject) -> None:
    points = (
        midpoints(dtype)
        if dtype != FLOAT32
        else _float32_midpoints(np.random.default_rng(data.draw(st.integers(0, 99))), 50)
    )
    texts = []
    for _ in range(data.draw(st.integers(1, 12))):
        point = points[data.draw(st.integers(0, len(points) - 1))]
        offset = data.draw(st.sampled_from([0, 1, -1, 7, -9]))
        digits = data.draw(st.integers(16, 60))
        sign = data.draw(st.sampled_from([1, -1]))
        style = data.draw(st.integers(0, 2))
        texts.append(decimal_text(sign * near(point, offset, digits), style))
    text = ",".join(texts).encode()
    want = expected(texts, dtype).tolist()
    assert _bits(parse_chunk(text, dtype)).tolist() == want  # the pure-Python path
    got = native(text, dtype)
    if got is not None:  # declining (a long token) is allowed, a different value is not
        assert _bits(got).tolist() == want


@pytest.mark.parametrize("dtype", SMALL, ids=str)
def test_written_text_of_every_value_reads_back(dtype: np.dtype) -> None:
    """The shortest text of every finite bit pattern (as the writer writes it) reads back,
    through both paths."""
    patterns = [b for negative in (False, True) for b in spec(dtype).patterns[negative]]
    values = np.array(patterns, dtype=f"u{dtype.itemsize}").view(dtype)  # finite, nonzero
    zeros = np.array([0.0, -0.0]).astype(dtype)
    values = np.concatenate([values, zeros[zeros.astype(np.float64) == 0]])  # e8m0fnu: none
    text = format_chunk(values)
    assert parse_chunk(text, dtype).tobytes() == values.tobytes()
    if ACCELERATED:
        got = native(text, dtype)
        assert got is not None
        assert got.tobytes() == values.tobytes()


def test_complex64_parts_round_once() -> None:
    text = b"(1.00000005960464477539062500001-1.00000005960464477539062499999j)"
    got = parse_chunk(text, np.dtype(np.complex64))[0]
    assert got.real == np.nextafter(np.float32(1), np.float32(2))
    assert got.imag == np.float32(-1)


# -------------------------------------------------------------------- whole files


def _recipe_file(path: Path, rows: dict[str, tuple[list[str], str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for name, (texts, dtype) in rows.items():
            writer.writerow(
                [name, ",".join(texts), json.dumps({"shape": [len(texts)], "dtype": dtype})]
            )
    return path


@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "pure"])
def test_recipe_csv_rows_round_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accelerated: bool
) -> None:
    if accelerated and not ACCELERATED:
        pytest.skip("the C accelerator is not built")
    if not accelerated:
        monkeypatch.setattr(nativeparse, "library", lambda: None)
    monkeypatch.setattr(csvstate, "NATIVE_CHUNK", 997)  # many chunks, boundaries inside
    monkeypatch.setattr(csvstate, "TEXT_CHUNK", 997)
    rng = np.random.default_rng(21)
    rows = {
        name: (
            [t for t in texts_near_boundaries(resolve_dtype(name), rng, 300) if len(t) < 90],
            name,
        )
        for name in ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float32")
    }
    rows["float16_special"] = (
        ["1.00048828125000001", "65520", "-0", "nan", "-inf", "65519.999999999999999"],
        "<dtype: 'float16'>",
    )
    path = _recipe_file(tmp_path / "state.csv", rows)
    loaded = load_state(path)
    for name, (texts, dtype_name) in rows.items():
        dtype = resolve_dtype(dtype_name)
        assert loaded[name].dtype == dtype
        got = _bits(loaded[name])
        finite = [not re.search("nan|inf", t) for t in texts]
        want = [reference(t, dtype) for t, keep in zip(texts, finite, strict=True) if keep]
        assert got[np.array(finite)].tolist() == want, name
    special = loaded["float16_special"].astype(np.float64)
    assert np.isnan(special[3]) and special[4] == -np.inf


def test_long_and_rows_tables_round_once(tmp_path: Path, pure: None) -> None:
    rng = np.random.default_rng(22)
    texts = texts_near_boundaries(np.dtype(np.float16), rng, 200)
    long_path = tmp_path / "long.csv"
    with open(long_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "index", "value", "dtype"])
        for index, text in enumerate(texts):
            writer.writerow(["dense/kernel", index, text, "float16" if index == 0 else ""])
    rows_path = tmp_path / "rows.csv"
    with open(rows_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "shape", "dtype", "values"])
        writer.writerow(
            ["dense/kernel", f"({len(texts)},)", "float16", "[" + ", ".join(texts) + "]"]
        )
    want = expected(texts, np.dtype(np.float16)).tolist()
    for path, layout in ((long_path, "long"), (rows_path, "rows")):
        with open_state(path) as state:
            assert state.format_name == layout
            got = state.read("dense/kernel")
        assert got.dtype == np.float16
        assert _bits(got).tolist() == want, layout


@pytest.mark.parametrize("accelerated", [True, False], ids=["accelerated", "pure"])
def test_matrix_files_decide_and_read_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accelerated: bool
) -> None:
    """A savetxt matrix has no declared dtype: float32 texts (%.9g) read as float32
    exactly; decimals on float32 boundaries are no float32's text and stay float64."""
    if accelerated and not ACCELERATED:
        pytest.skip("the C accelerator is not built")
    if not accelerated:
        monkeypatch.setattr(nativeparse, "library", lambda: None)
    rng = np.random.default_rng(23)
    values = (rng.standard_normal((40, 6)) * 10.0 ** rng.integers(-30, 30, (40, 6))).astype(
        np.float32
    )
    faithful = tmp_path / "faithful.csv"
    np.savetxt(faithful, values, fmt="%.9g", delimiter=",")
    assert _bits(load_state(faithful)["faithful"]).tolist() == _bits(values).tolist()
    texts = texts_near_boundaries(FLOAT32, rng, 60)
    near_path = tmp_path / "near.csv"
    near_path.write_text("\n".join(",".join(texts[i : i + 6]) for i in range(0, 60, 6)) + "\n")
    with open_state(near_path) as state:
        got = state.read("near")
    assert got.dtype == np.float64
    assert got.ravel().tolist() == [float(Fraction(t)) for t in texts[:60]]


def test_float32_midpoints_are_not_faithful_float32_text() -> None:
    """1073752000 is exactly halfway between two float32 values: no float32's decimal."""
    assert not float32_faithful(np.array([1073752000.0, 0.5]))
    assert float32_faithful(np.array([1073752064.0, 0.5]))
    from csv_state_viewer.core.layouts.values import decide_dtype

    assert decide_dtype(np.array([1073752000.0, 0.25]), integers=False)[1] == FLOAT64
