"""Round trips through save_state / load_state: names, shapes, dtypes and exact bits."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from csv_state_viewer import load_state, open_state, save_state

ML_DTYPES = {
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float8_e4m3fn": np.dtype(ml_dtypes.float8_e4m3fn),
    "float8_e5m2": np.dtype(ml_dtypes.float8_e5m2),
}
# float8_e5m2 is left out of the property test: its text path is broken (see the
# deterministic tests below), and one always-failing dtype would hide everything else.
PROPERTY_DTYPES = [
    np.dtype("float32"),
    np.dtype(">f4"),
    np.dtype("float64"),
    np.dtype("float16"),
    np.dtype(">i8"),
    np.dtype("int8"),
    np.dtype("uint64"),
    np.dtype("int32"),
    np.dtype("bool"),
    np.dtype("complex64"),
    np.dtype("complex128"),
    ML_DTYPES["bfloat16"],
    ML_DTYPES["float8_e4m3fn"],
]
SHAPES = st.one_of(
    st.sampled_from([(), (0,), (3, 0), (1,), (2, 3)]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
SPECIAL_FLOATS = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1e-45, 6e-8]
NAME_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
NAMES = st.one_of(
    st.sampled_from(["a,b", 'say "hi"', "line\nbreak", "two\r\nlines", " spaced name ", "Ä€日本"]),
    st.text(NAME_CHARS, min_size=1, max_size=12),
).filter(lambda name: name.strip() != "")


def _float_elements(dtype: np.dtype) -> st.SearchStrategy[float]:
    extremes = [float(np.finfo(dtype).max), float(np.finfo(dtype).min)]
    extremes += [float(np.finfo(dtype).smallest_subnormal)]
    with np.errstate(over="ignore"):
        specials = [float(np.asarray(v).astype(dtype)) for v in SPECIAL_FLOATS + extremes]
    return st.one_of(hnp.from_dtype(dtype), st.sampled_from(specials))


@st.composite
def tensors(draw: st.DrawFn, dtype: np.dtype) -> np.ndarray:
    shape = draw(SHAPES)
    if dtype.kind == "V" or dtype in ML_DTYPES.values():  # ml_dtypes: draw raw bit patterns
        bits = draw(hnp.arrays(np.dtype(f"u{dtype.itemsize}"), shape))
        return bits.view(dtype)
    if dtype.kind == "f":
        return draw(hnp.arrays(dtype, shape, elements=_float_elements(dtype)))
    if dtype.kind == "c":
        part = np.dtype(f"f{dtype.itemsize // 2}")
        real = draw(hnp.arrays(part, shape, elements=_float_elements(part)))
        imag = draw(hnp.arrays(part, shape, elements=_float_elements(part)))
        out = np.empty(shape, dtype=dtype)
        out.real, out.imag = real, imag
        return out
    return draw(hnp.arrays(dtype, shape))


@st.composite
def states(draw: st.DrawFn, names_strategy: st.SearchStrategy[str]) -> dict[str, np.ndarray]:
    names = draw(st.lists(names_strategy, min_size=1, max_size=4, unique=True))
    return {name: draw(tensors(draw(st.sampled_from(PROPERTY_DTYPES)))) for name in names}


def _is_float_like(dtype: np.dtype) -> bool:
    return dtype.kind in "fc" or (dtype.kind == "V" and dtype.itemsize <= 2)


def assert_same_floats(expected: np.ndarray, actual: np.ndarray) -> None:
    """Non-NaN positions bit for bit; NaN positions only need to stay NaN."""
    with np.errstate(invalid="ignore"):  # signalling NaNs are NaNs for this comparison
        nan = np.isnan(expected)
        assert np.array_equal(np.isnan(actual), nan)
    assert expected[~nan].tobytes() == actual[~nan].tobytes()


def assert_same_tensor(expected: np.ndarray, actual: np.ndarray, *, exact: bool) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    if exact or not _is_float_like(expected.dtype):
        assert actual.tobytes() == expected.tobytes()
    elif expected.dtype.kind == "c":
        assert_same_floats(expected.real, actual.real)
        assert_same_floats(expected.imag, actual.imag)
    else:
        assert_same_floats(expected, actual)


def assert_same_state(
    expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], *, exact: bool
) -> None:
    assert list(actual) == list(expected)
    for name, array in expected.items():
        assert_same_tensor(array, actual[name], exact=exact)


def _check_round_trip(
    directory: Path, data: dict[str, np.ndarray], encoding: str, suffix: str
) -> None:
    path = directory / f"state{suffix}"
    save_state(path, data, encoding=encoding)
    assert_same_state(data, load_state(path), exact=encoding == "base64")
    with open_state(path) as state:
        assert [e.name for e in state.entries] == list(data)
        assert [e.encoding for e in state.entries] == [encoding] * len(data)
        assert [e.shape for e in state.entries] == [a.shape for a in data.values()]
        assert state.validate() == []


PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENCODINGS = st.sampled_from(["text", "base64"])
SUFFIXES = st.sampled_from([".csv", ".csv.gz"])


@PROPERTY_SETTINGS
@given(data=states(NAMES), encoding=ENCODINGS, suffix=SUFFIXES)
def test_property_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    data: dict[str, np.ndarray],
    encoding: str,
    suffix: str,
) -> None:
    _check_round_trip(tmp_path_factory.mktemp("rt"), data, encoding, suffix)


@pytest.mark.parametrize("name", ["line\nbreak", "two\r\nlines", "carriage\rreturn"])
def test_names_with_line_breaks_round_trip(tmp_path: Path, name: str) -> None:
    data = {"before": np.arange(3.0), name: np.float32(1.5), "after": np.arange(2)}
    expected = {key: np.asarray(value) for key, value in data.items()}
    _check_round_trip(tmp_path, expected, "text", ".csv")


def _round_trip(tmp_path: Path, array: np.ndarray, encoding: str = "text") -> np.ndarray:
    path = tmp_path / "state.csv"
    save_state(path, {"t": array}, encoding=encoding)
    return load_state(path)["t"]


def _all_bit_patterns(dtype: np.dtype) -> np.ndarray:
    return np.arange(1 << (8 * dtype.itemsize), dtype=f"u{dtype.itemsize}").view(dtype)


# Signalling NaNs make the writer warn; that is tested on its own below.
@pytest.mark.filterwarnings("ignore:invalid value encountered in isnan:RuntimeWarning")
@pytest.mark.parametrize("name", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_every_small_float_bit_pattern_round_trips_as_text(tmp_path: Path, name: str) -> None:
    dtype = ML_DTYPES.get(name, np.dtype(name))
    array = _all_bit_patterns(dtype)
    assert_same_tensor(array, _round_trip(tmp_path, array), exact=False)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_every_small_float_bit_pattern_round_trips_as_base64(tmp_path: Path, name: str) -> None:
    dtype = ML_DTYPES.get(name, np.dtype(name))
    array = _all_bit_patterns(dtype)
    assert_same_tensor(array, _round_trip(tmp_path, array, "base64"), exact=True)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32"])
def test_saving_signalling_nans_emits_no_warning(tmp_path: Path, name: str) -> None:
    """The project turns warnings into errors: a save must not raise a RuntimeWarning."""
    dtype = ML_DTYPES.get(name, np.dtype(name))
    finfo = ml_dtypes.finfo(dtype)
    quiet_bit = 1 << (finfo.nmant - 1)
    exponent_all_ones = ((1 << finfo.nexp) - 1) << finfo.nmant
    bits = np.array([exponent_all_ones | 1, exponent_all_ones | quiet_bit], f"u{dtype.itemsize}")
    array = bits.view(dtype)
    assert_same_tensor(array, _round_trip(tmp_path, array), exact=False)


@pytest.mark.parametrize("dtype", ["<f4", ">f4"])
def test_random_float32_bit_patterns_round_trip_as_text(tmp_path: Path, dtype: str) -> None:
    bits = np.random.default_rng(20240601).integers(0, 1 << 32, size=2_000_000, dtype=np.uint32)
    array = bits.view(np.float32).astype(dtype)
    assert_same_tensor(array, _round_trip(tmp_path, array), exact=False)


def test_random_float64_bit_patterns_round_trip_as_text(tmp_path: Path) -> None:
    bits = np.random.default_rng(7).integers(0, 1 << 64, size=500_000, dtype=np.uint64)
    array = bits.view(np.float64)
    assert_same_tensor(array, _round_trip(tmp_path, array), exact=False)


def test_integer_extremes_round_trip_as_text(tmp_path: Path) -> None:
    for dtype in ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", ">i8"]:
        info = np.iinfo(dtype)
        array = np.array([info.min, info.max, 0, 1, info.max - 1], dtype=dtype)
        assert_same_tensor(array, _round_trip(tmp_path, array), exact=True)


@pytest.mark.parametrize("name", ["int4", "uint4"])
def test_small_int_ml_dtypes_round_trip_as_text(tmp_path: Path, name: str) -> None:
    dtype = np.dtype(getattr(ml_dtypes, name))
    info = ml_dtypes.iinfo(dtype)
    array = np.arange(int(info.min), int(info.max) + 1).astype(dtype)
    assert_same_tensor(array, _round_trip(tmp_path, array), exact=True)


def _longdouble_with_padding(values: list[float]) -> np.ndarray:
    """Long doubles whose unused padding bytes are not zero, as numpy leaves them."""
    array = np.array(values, dtype=np.longdouble)
    raw = array.view(np.uint8).reshape(len(values), -1).copy()
    significant = np.finfo(np.longdouble).nexp + np.finfo(np.longdouble).nmant + 1
    raw[:, (significant + 7) // 8 :] = 0xAB
    return raw.reshape(-1).view(np.longdouble)


def test_longdouble_round_trips_as_text(tmp_path: Path) -> None:
    array = _longdouble_with_padding([1.1, -0.0, 3.0, 1e300])
    loaded = _round_trip(tmp_path, array)  # the library's own output must load
    assert loaded.dtype == np.longdouble
    assert np.array_equal(loaded, array)


def test_longdouble_round_trips_as_base64(tmp_path: Path) -> None:
    array = _longdouble_with_padding([1.1, -0.0, 3.0, 1e300])
    assert_same_tensor(array, _round_trip(tmp_path, array, "base64"), exact=True)
