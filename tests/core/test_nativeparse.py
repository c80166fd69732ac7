"""The C text accelerator agrees with the general path to the bit, or declines the chunk."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import load_state, open_state, save_state
from csv_state_viewer.core.csv import csvstate, nativeparse
from csv_state_viewer.core.csv.textcodec import parse_chunk

HAS_COMPILER = any(shutil.which(cc) for cc in ("cc", "gcc", "clang"))
ACCELERATED = nativeparse.library() is not None
FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
# Each of these must be declined (None): the general path decides what they mean.
DECLINED = [
    b"nan",
    b"1,nan",
    b"inf",
    b"-inf",
    b"+1",
    b".5",
    b"1.",
    b"01",
    b" 1",
    b"1 ",
    b"1,,2",
    b"1,",
    b",1",
    b"-",
    b"1e",
    b"1e+",
    b"1x",
    b"0x10",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"1" * 200,  # longer than the accelerator copies for strtod
]
TRICKY = [
    b"0",
    b"-0",
    b"-0.0",
    b"0.0e-999",
    b"1e-45",
    b"7e-46",
    b"1.4e-45",
    b"3.4028235e+38",
    b"3.4028234e38",
    b"3.4028236e+38",
    b"1.17549435e-38",
    b"1.1754942e-38",
    b"1.00000005960464477550",  # float32 double-rounding trap
    b"1.0000000596046448",  # exactly the float32 midpoint above 1.0
    b"2.10194769648722560638559437493487419692039291281477365763560242583469e-45",
    b"9007199254740993",  # 2^53 + 1
    b"9007199254740992",
    b"18446744073709551615",
    b"123456789012345678901234567890",
    b"0.000000000000000000000000000000000000000000001401298464324817",
    b"4.9406564584124654e-324",
    b"2.2250738585072014e-308",
    b"1.7976931348623157e308",
    b"1E5",
    b"1e+05",
    b"-12.5E-3",
    b"12345678",
    b"123456789",
    b"0.12345678",
    b"99999999999999999999e-20",
]


@pytest.fixture
def pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the accelerator off, as CSV_STATE_PURE_PYTHON=1 does."""
    monkeypatch.setattr(nativeparse, "library", lambda: None)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Many chunks and windows per tensor, each window parsed on several threads, so chunk
    and part boundaries and per-window fallbacks are exercised."""
    monkeypatch.setattr(csvstate, "NATIVE_CHUNK", 97)
    monkeypatch.setattr(csvstate, "SPAN_WINDOW", 389)
    monkeypatch.setattr(csvstate, "PARALLEL_BYTES", 0)
    yield


def native(text: bytes, dtype: np.dtype) -> np.ndarray | None:
    buffer = bytearray(text + bytes(nativeparse.PADDING))
    return nativeparse.parse(buffer, len(text), dtype)


def test_accelerator_is_built_wherever_a_compiler_is() -> None:
    if HAS_COMPILER:
        assert nativeparse.library() is not None, "the install should have compiled it"
    assert nativeparse.supports(np.dtype(np.float32)) is ACCELERATED


def test_environment_variable_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSV_STATE_PURE_PYTHON", "1")
    nativeparse.library.cache_clear()
    try:
        assert nativeparse.library() is None
        assert not nativeparse.supports(np.dtype(np.float32))
    finally:
        monkeypatch.delenv("CSV_STATE_PURE_PYTHON")
        nativeparse.library.cache_clear()
    assert (nativeparse.library() is not None) is ACCELERATED


needs_library = pytest.mark.skipif(not ACCELERATED, reason="no C compiler: nothing to compare")


@needs_library
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("text", DECLINED, ids=lambda t: t.decode()[:20])
def test_anything_but_plain_numbers_is_declined(text: bytes, dtype: np.dtype) -> None:
    assert native(text, dtype) is None


@needs_library
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("text", TRICKY, ids=lambda t: t.decode()[:24])
def test_tricky_numbers_match_the_general_path(text: bytes, dtype: np.dtype) -> None:
    got = native(text, dtype)
    expected = parse_chunk(text, dtype)
    if got is not None:  # declining is allowed; a different answer is not
        assert got.tobytes() == expected.tobytes()


@needs_library
def test_float32_traps_are_taken_not_declined() -> None:
    got = native(b"1.00000005960464477550,1e-45,1.4e-45,3.4028235e+38", np.dtype(np.float32))
    assert got is not None
    assert got.view(np.uint32).tolist() == [0x3F800001, 1, 1, 0x7F7FFFFF]


@needs_library
@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<f8", ">f8"])
def test_random_bit_patterns_match_numpy(dtype: str) -> None:
    rng = np.random.default_rng(11)
    width = np.dtype(dtype).itemsize
    bits = rng.integers(0, 1 << (8 * width), size=300_000, dtype=f"u{width}")
    values = bits.view(f"<f{width}")
    values = values[np.isfinite(values)].astype(dtype)
    text = ",".join(
        map(repr, values.astype(np.float64).tolist()) if width == 8 else map(str, values)
    )
    got = native(text.encode(), np.dtype(dtype))
    assert got is not None
    assert got.dtype == np.dtype(dtype)
    assert got.tobytes() == values.tobytes()


@needs_library
def test_more_values_than_room_is_declined() -> None:
    lib = nativeparse.library()
    assert lib is not None
    text = b"1,2,3"
    buffer = bytearray(text + bytes(nativeparse.PADDING))
    out = np.empty(2, np.float64)
    address = nativeparse.ctypes.addressof(nativeparse.ctypes.c_char.from_buffer(buffer))
    assert lib.csv_parse_f64(address, len(text), out.ctypes.data, out.size) < 0


@needs_library
def test_a_buffer_without_zero_padding_is_refused() -> None:
    text = b"1.5,2.5"
    assert nativeparse.parse(bytearray(text), len(text), np.dtype(np.float32)) is None
    assert nativeparse.parse(bytearray(text + b"9" * 16), len(text), np.dtype(np.float32)) is None
    assert native(text, np.dtype(np.float32)) is not None


def span(
    tmp_path: Path, text: bytes, dtype: np.dtype, threads: int, room: int | None = None
) -> np.ndarray | None:
    """What parse_span makes of ``text`` written to a file between two other fields."""
    path = tmp_path / "span.bin"
    path.write_bytes(b'x,"' + text + b'",y')
    out = np.full(room if room is not None else len(text) // 2 + 1, 7, dtype)
    with open(path, "rb") as handle:
        count = nativeparse.parse_span(handle.fileno(), 3, len(text), out, threads)
    return None if count is None else out[:count]


@needs_library
@pytest.mark.parametrize("threads", [1, 2, 3, 7, 16, 40])
@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_a_file_span_on_any_number_of_threads_matches_numpy(
    tmp_path: Path, dtype: str, threads: int
) -> None:
    rng = np.random.default_rng(threads)
    width = np.dtype(dtype).itemsize
    bits = rng.integers(0, 1 << (8 * width), size=20_000, dtype=f"u{width}")
    values = bits.view(dtype)
    values = values[np.isfinite(values)]
    text = ",".join(
        map(repr, values.astype(np.float64).tolist()) if width == 8 else map(str, values)
    ).encode()
    got = span(tmp_path, text, np.dtype(dtype), threads)
    assert got is not None
    assert got.tobytes() == values.tobytes()


@needs_library
@pytest.mark.parametrize("threads", [1, 2, 5])
@pytest.mark.parametrize("text", DECLINED, ids=lambda t: t.decode()[:20])
def test_a_file_span_declines_what_a_chunk_declines(
    tmp_path: Path, text: bytes, threads: int
) -> None:
    padded = b"1.5," * 100 + text + b",2.5" * 100  # the odd value in some part
    assert span(tmp_path, padded, np.dtype(np.float32), threads) is None


@needs_library
@pytest.mark.parametrize("threads", [1, 3])
def test_a_file_span_declines_more_values_than_room_and_a_short_file(
    tmp_path: Path, threads: int
) -> None:
    text = b",".join(b"%d" % i for i in range(1000))
    assert span(tmp_path, text, np.dtype(np.float64), threads, room=999) is None
    assert span(tmp_path, text, np.dtype(np.float64), threads, room=1000) is not None
    path = tmp_path / "short.bin"
    path.write_bytes(text)
    out = np.empty(2000, np.float64)
    with open(path, "rb") as handle:  # a span past the end of the file
        assert nativeparse.parse_span(handle.fileno(), 0, len(text) + 50, out, threads) is None


@needs_library
@pytest.mark.parametrize("zeros", [100, 400])
def test_a_file_span_with_long_values_splits_where_it_can(tmp_path: Path, zeros: int) -> None:
    long_value = b"1." + b"0" * zeros + b"1"  # shares with no comma near them
    text = b",".join([long_value, b"2", long_value, b"-0", long_value])
    got = span(tmp_path, text, np.dtype(np.float64), 4)
    if zeros > 120:  # longer than the accelerator copies for strtod: the general path's
        assert got is None
        return
    assert got is not None
    assert got.tolist() == [1.0, 2.0, 1.0, -0.0, 1.0]
    assert np.signbit(got[3])


def _states_with_awkward_chunks(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    noisy = (rng.standard_normal(3000) * 10.0 ** rng.integers(-40, 30, 3000)).astype(np.float32)
    noisy[[5, 1700, 2999]] = [np.nan, np.inf, -np.inf]  # chunks the accelerator declines
    data = {
        "noisy": noisy.reshape(30, 100),
        "wide": rng.standard_normal((7, 11)),
        "scalar": np.float32(-0.0),
        "big_endian": rng.standard_normal(500).astype(">f4"),
    }
    path = tmp_path / "awkward.csv"
    save_state(path, data)
    return path


@needs_library
@pytest.mark.usefixtures("small_chunks")
def test_accelerated_and_pure_loads_are_identical(tmp_path: Path) -> None:
    path = _states_with_awkward_chunks(tmp_path)
    accelerated = load_state(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nativeparse, "library", lambda: None)
        pure = load_state(path)
    assert list(accelerated) == list(pure)
    for name, array in pure.items():
        assert accelerated[name].dtype == array.dtype
        assert accelerated[name].tobytes() == array.tobytes(), name


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("mode", ["accelerated", "pure"])
def test_errors_name_the_same_element_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "pure":
        monkeypatch.setattr(nativeparse, "library", lambda: None)
    values = ",".join(str(float(i)) for i in range(400)).replace("237.0", "23x7", 1)
    path = tmp_path / "bad.csv"
    path.write_text(
        "tensor_name,tensor_data,tensor_metadata\n"
        f'w,"{values}","{{""shape"": [400], ""dtype"": ""float32""}}"\n'
        f'short,"1.5,2.5","{{""shape"": [3], ""dtype"": ""float32""}}"\n'
        f'long,"{values.replace("23x7", "237")}","{{""shape"": [399], ""dtype"": ""float32""}}"\n'
    )
    with open_state(path) as state:
        problems = {p.name: p.message for p in state.validate()}
    assert "bad float32 value '23x7' at element 238" in problems["w"]
    assert "the data has 2 values but shape [3] holds 3" in problems["short"]
    assert "the data has 400 values but shape [399] holds 399" in problems["long"]
