"""The decimal text codec's fast (simdjson) and general (pyarrow) paths agree to the bit."""

from __future__ import annotations

import re

import numpy as np
import pytest

from csv_state_viewer.core.csv import jsonparse
from csv_state_viewer.core.csv.textcodec import DataError, parse_chunk

# Just above the midpoint between 1.0 and the next float32: read as float64 first it
# lands exactly on the midpoint, and rounding that to float32 would give 1.0.
NEAR_MIDPOINT = b"1.00000005960464477550"
# Just above the midpoint between the two smallest positive float32 subnormals.
NEAR_SUBNORMAL_MIDPOINT = (
    b"2.10194769648722560638559437493487419692039291281477365763560242583469e-45"
)


def test_double_rounding_trap_is_parsed_exactly() -> None:
    assert jsonparse.parse_numbers(jsonparse.frame(NEAR_MIDPOINT), np.dtype(np.float32)) is None
    value = parse_chunk(NEAR_MIDPOINT, np.dtype(np.float32))
    assert value[0] == np.nextafter(np.float32(1), np.float32(2))


def test_subnormal_midpoint_trap_is_parsed_exactly() -> None:
    value = parse_chunk(NEAR_SUBNORMAL_MIDPOINT, np.dtype(np.float32))
    assert value.view(np.uint32)[0] == 2  # 2.8e-45; rounding via float64 gives 1.4e-45


def test_fast_path_takes_plain_numbers() -> None:
    values = jsonparse.parse_numbers(jsonparse.frame(b"0.5,-1.25,3e-7,1e-45"), np.dtype(np.float32))
    assert values is not None
    assert values.tolist() == np.array([0.5, -1.25, 3e-7, 1e-45], np.float32).tolist()


@pytest.mark.parametrize("text", [b"-0,1", b"1,-0", b"2,-0,3"])
def test_integer_negative_zero_keeps_its_sign(text: bytes) -> None:
    values = parse_chunk(text, np.dtype(np.float64))
    zero = values[values == 0]
    assert np.signbit(zero).all()


def test_non_json_tokens_fall_back_to_the_general_path() -> None:
    assert (
        jsonparse.parse_numbers(jsonparse.frame(b"nan,inf,-inf,2.5"), np.dtype(np.float32)) is None
    )
    parsed = parse_chunk(b"nan,inf,-inf,2.5", np.dtype(np.float32))
    assert np.isnan(parsed[0]) and parsed[1] == np.inf and parsed[2] == -np.inf
    assert parsed[3] == 2.5


@pytest.mark.parametrize("text", [b"1,[2,3]", b"1]", b"[1", b'"a"', b"{}", b"1 [2]"])
def test_json_that_is_not_a_flat_number_list_takes_the_general_path(text: bytes) -> None:
    assert jsonparse.parse_numbers(jsonparse.frame(text), np.dtype(np.float64)) is None
    with pytest.raises(DataError):
        parse_chunk(text, np.dtype(np.float64))


@pytest.mark.parametrize(
    "text",
    [b"1 2 -0.5", b"1\t2\t-0.5", b"1\n2\r\n-0.5\n", b"1;2;-0.5", b"1; 2 ;-0.5", b" 1, 2,\n-0.5 "],
)
def test_other_separators_give_the_same_values(text: bytes) -> None:
    for dtype in (np.float32, np.float64, np.float16):
        want = np.array([1, 2, -0.5], dtype=dtype)
        assert parse_chunk(text, np.dtype(dtype)).tobytes() == want.tobytes()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"1 ;; 2", "empty value at element 2"),
        (b"1,5;2,5", "mixes ';' and ','"),
        (b"1 x 2", "'x' at element 2"),
    ],
)
def test_other_separators_keep_errors(text: bytes, words: str) -> None:
    with pytest.raises(DataError, match=re.escape(words)):
        parse_chunk(text, np.dtype(np.float32))


def test_brackets_are_list_marks_only_when_the_field_is_a_list() -> None:
    nested = b"[[1.0, 2.0], [3.0, nan]]"
    got = parse_chunk(nested, np.dtype(np.float32), brackets=True)
    assert got[:3].tolist() == [1.0, 2.0, 3.0] and np.isnan(got[3])
    with pytest.raises(DataError):
        parse_chunk(nested, np.dtype(np.float32))
    with pytest.raises(DataError, match="bracket inside a value"):
        parse_chunk(b"[1[2]]", np.dtype(np.float32), brackets=True)


def test_overflow_is_inf_like_a_direct_parse() -> None:
    assert parse_chunk(b"1e39,-1e39", np.dtype(np.float32)).tolist() == [np.inf, -np.inf]


def test_out_of_range_integer_is_reported_by_the_general_path() -> None:
    with pytest.raises(DataError, match=r"bad int8 value '300' at element 6"):
        parse_chunk(b"1,300", np.dtype(np.int8), first_index=4)


def test_integers_written_as_floats_are_accepted_when_exact() -> None:
    assert parse_chunk(b"1.0,2,-3.0", np.dtype(np.int32)).tolist() == [1, 2, -3]
    with pytest.raises(DataError, match=r"bad int32 value '1\.5'"):
        parse_chunk(b"1.5,2", np.dtype(np.int32))


def test_integers_beyond_64_bits_take_the_general_path() -> None:
    text = b"1,123456789012345678901234567890"
    assert jsonparse.parse_numbers(jsonparse.frame(text), np.dtype(np.float64)) is None
    assert parse_chunk(text, np.dtype(np.float64)).tolist() == [1.0, 1.2345678901234568e29]
    with pytest.raises(DataError, match="at element 2"):
        parse_chunk(text, np.dtype(np.int64))
