"""The malformed-file zoo: every bad row is named by its physical line, the rest stays readable."""

from __future__ import annotations

import gzip
import json
import resource
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import (
    BadRowsError,
    NotAStateError,
    RowError,
    State,
    load_state,
    open_state,
    save_state,
)

HEADER = b"tensor_name,tensor_data,tensor_metadata"
LF, CRLF = b"\n", b"\r\n"


def quoted(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return b'"' + raw.replace(b'"', b'""') + b'"'


def meta(shape: object, dtype: object = "float32", **extra: object) -> bytes:
    return quoted(json.dumps({"shape": shape, "dtype": dtype, **extra}))


def row(name: bytes, data: bytes, metadata: bytes) -> bytes:
    return b",".join([name, data, metadata])


# A good row whose quoted name spans two physical lines, then plain good rows.
MULTILINE_ROW = row(quoted("multi\nline"), b"7", meta([]))
GOOD_BEFORE = row(b"good_before", quoted("1,2,3"), meta([3]))
GOOD_AFTER = row(b"good_after", quoted("4.5,-0.0"), meta([2], "float64"))
EXPECTED_GOOD = {
    "multi\nline": np.array(7, dtype=np.float32),
    "good_before": np.array([1, 2, 3], dtype=np.float32),
    "good_after": np.array([4.5, -0.0]),
}
BAD_LINE = 5  # header, the two-line row, good_before, then the bad row


def write_rows(path: Path, rows: list[bytes], newline: bytes = LF) -> Path:
    """Rows joined by ``newline``; line breaks inside quoted fields are kept as written."""
    path.write_bytes(b"".join(r + newline for r in rows))
    return path


def write_zoo_file(path: Path, bad: bytes, newline: bytes, *, last: bool = False) -> Path:
    rows = [HEADER, MULTILINE_ROW, GOOD_BEFORE, bad] + ([] if last else [GOOD_AFTER])
    return write_rows(path, rows, newline)


def assert_good_rows_read(state: State, names: list[str]) -> None:
    for name in names:
        got = state.read(name)
        want = EXPECTED_GOOD[name]
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()


@dataclass(frozen=True)
class Case:
    bad: bytes
    words: tuple[str, ...]
    at_open: bool  # found while indexing (else by read/validate)
    name: str = "bad"
    last: bool = False  # the bad row swallows the rest of the file


CASES = {
    "truncated": Case(
        row(b"bad", b'"1,2,\n3', b""), ("unterminated", "quoted"), at_open=True, last=True
    ),
    "too_many_fields": Case(row(b"bad", b"1", meta([1])) + b",extra", ("4 fields", "3"), True),
    "too_few_fields": Case(b"bad," + meta([1]), ("2 fields", "3"), True),
    "fewer_values": Case(
        row(b"bad", quoted("10,20"), meta([3])), ("2 values", "shape [3] holds 3"), False
    ),
    "more_values": Case(
        row(b"bad", quoted("1,2,3,4,5"), meta([4])), ("5 values", "shape [4] holds 4"), False
    ),
    "too_short_for_shape": Case(
        row(b"bad", quoted("1,2"), meta([4])), ("declares", "4 values"), True
    ),
    "bad_number": Case(
        row(b"bad", quoted("1.5,abc,3"), meta([3])),
        ("bad float32 value", "'abc'", "element 2"),
        False,
    ),
    "empty_value": Case(
        row(b"bad", quoted("1.5,,2"), meta([3])), ("empty value", "element 2"), False
    ),
    "bad_base64": Case(
        row(b"bad", b"AAAAAAAA*AA=", meta([2], encoding="base64")),
        ("bad base64", "character 9"),
        False,
    ),
    "bad_json": Case(row(b"bad", b"1", b"{not json}"), ("not valid JSON",), True),
    "deep_json": Case(row(b"bad", b"1", b"[" * 100_000), ("nested too deeply",), True),
    "object_dtype": Case(row(b"bad", b"1", meta([1], "object")), ("'object'", "refused"), True),
    "str_dtype": Case(row(b"bad", b"1", meta([1], "<U3")), ("'<U3'", "refused"), True),
    "negative_dim": Case(
        row(b"bad", quoted("1,2"), meta([2, -1])), ("negative dimension -1",), True
    ),
    "memory_bomb": Case(
        row(b"bad", quoted("1,2"), meta([100_000] * 3, "float64")),
        ("declares", "1000000000000000 values"),
        True,
    ),
    "non_utf8_name": Case(
        row(b"bad\xff", b"1", meta([1])),
        ("tensor name", "not valid UTF-8", "0xff"),
        True,
        name="bad\ufffd",
    ),
}


@pytest.mark.parametrize("newline", [LF, CRLF], ids=["lf", "crlf"])
@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_row_is_named_by_line_and_the_rest_reads(
    tmp_path: Path, case_id: str, newline: bytes
) -> None:
    case = CASES[case_id]
    path = write_zoo_file(tmp_path / "zoo.csv", case.bad, newline, last=case.last)
    with open_state(path) as state:
        names = [e.name for e in state.entries]
        expected_names = ["multi\nline", "good_before", case.name]
        assert names == expected_names + ([] if case.last else ["good_after"])
        assert [e.line for e in state.entries][:3] == [2, 4, BAD_LINE]
        bad = state.entries[2]
        if case.at_open:
            assert bad.error is not None
            assert [(p.line, p.name) for p in state.errors] == [(BAD_LINE, case.name)]
        else:
            assert bad.error is None
            assert state.errors == []
            with pytest.raises(RowError) as caught:
                state.read(bad)
            assert caught.value.problem.line == BAD_LINE
        problems = state.validate()
        assert [(p.line, p.name) for p in problems] == [(BAD_LINE, case.name)]
        for word in case.words:
            assert word in problems[0].message
        assert str(problems[0]).startswith(f"{path}:{BAD_LINE}: {case.name!r}: ")
        assert_good_rows_read(state, [n for n in names if n in EXPECTED_GOOD])
    with pytest.raises(BadRowsError) as caught_all:
        load_state(path)
    assert caught_all.value.problems[0].line == BAD_LINE
    loaded = load_state(path, skip_bad=True)
    assert list(loaded) == [n for n in names if n in EXPECTED_GOOD]


def test_memory_bomb_is_refused_at_open_without_allocating(tmp_path: Path) -> None:
    bomb = row(b"bomb", quoted("1,2"), meta([100_000, 100_000, 100_000], "float64"))
    b64_bomb = row(b"bomb64", b"AAAA", meta([100_000] * 3, "float64", encoding="base64"))
    path = write_rows(tmp_path / "bomb.csv", [HEADER, bomb, b64_bomb, GOOD_AFTER])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    tracemalloc.start()
    try:
        state = open_state(path)
        traced_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    with state:
        elapsed = time.perf_counter() - started
        assert [e.error is not None for e in state.entries] == [True, True, False]
        assert "declares" in state.entries[0].error  # type: ignore[operator]
        assert "needs 8000000000000000 bytes" in state.entries[1].error  # type: ignore[operator]
        with pytest.raises(RowError):
            state.read("bomb")
        assert_good_rows_read(state, ["good_after"])
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert elapsed < 2.0
    assert traced_peak < 50 << 20
    assert grown < 50 * 1024


@pytest.mark.parametrize("encoding", ["text", "base64"])
def test_crc_mismatch_is_reported_on_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "crc.csv"
    save_state(
        path,
        {"first": np.arange(3.0), "changed": np.array([12.0, 34.0]), "last": np.ones(2)},
        encoding=encoding,
    )
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if encoding == "text":
        lines[2] = lines[2].replace(b"12", b"13", 1)
    else:
        lines[2] = lines[2].replace(b"AAAAAAA", b"AAAAAAB", 1)
    assert lines[2] != raw.split(b"\n")[2]
    path.write_bytes(b"\n".join(lines))
    with open_state(path) as state:
        assert state.errors == []
        problems = state.validate()
        assert [(p.line, p.name) for p in problems] == [(3, "changed")]
        assert "CRC32" in problems[0].message
        assert np.array_equal(state.read("first"), np.arange(3.0))
        assert np.array_equal(state.read("last"), np.ones(2))


@pytest.mark.parametrize("newline", [LF, CRLF], ids=["lf", "crlf"])
def test_duplicate_names_keep_both_rows(tmp_path: Path, newline: bytes) -> None:
    again = row(b"good_before", quoted("9,9,9"), meta([3]))
    path = write_rows(
        tmp_path / "dup.csv", [HEADER, MULTILINE_ROW, GOOD_BEFORE, again, GOOD_AFTER], newline
    )
    with open_state(path) as state:
        first, second = state.entries[1], state.entries[2]
        assert (first.name, second.name) == ("good_before", "good_before")
        assert first.error is None
        assert second.error is not None
        assert "duplicate" in second.error
        assert "line 4" in second.error
        assert [(p.line, p.name) for p in state.errors] == [(5, "good_before")]
        assert_good_rows_read(state, ["good_before", "good_after"])
        assert state.read(first).tobytes() == EXPECTED_GOOD["good_before"].tobytes()
        with pytest.raises(RowError):
            state.read(second)


# --------------------------------------------------------------------- not a state


NOT_STATES = {
    "empty": (b"", "empty file"),
    "whitespace": (b"  \n\t\r\n  \n", "empty file"),
    "binary": (b"\x89BIN\x00\x01\x02\xff" + bytes(range(256)) * 4, "binary"),
    "unrelated_columns": (b"a,b,c\n1,2,3\n", "a 1\u00d73 numeric matrix with a header"),
    "plain_text": (b"hello\n", "plain text, not CSV (one line: 'hello')"),
    "json": (b'{"w": [1, 2]}', "JSON, not CSV (an object with keys w)"),
    "npy": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}", "a NumPy .npy array (binary)"),
    "header_without_metadata": (b"tensor_name,tensor_data\nw,1\n", "tensor_metadata"),
}


@pytest.mark.parametrize("case_id", list(NOT_STATES))
def test_not_a_state_is_one_line(tmp_path: Path, case_id: str) -> None:
    content, reason = NOT_STATES[case_id]
    path = tmp_path / "thing.csv"
    path.write_bytes(content)
    with pytest.raises(NotAStateError) as caught:
        open_state(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert reason in message


# ----------------------------------------------------------------- layout variants


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "bom.csv", [HEADER, GOOD_BEFORE, GOOD_AFTER], CRLF)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with open_state(path) as state:
        assert [e.line for e in state.entries] == [2, 3]
        assert state.validate() == []
        assert_good_rows_read(state, ["good_before", "good_after"])


def test_header_columns_in_another_order_and_extra_columns(tmp_path: Path) -> None:
    rows = [
        b"note,tensor_metadata,tensor_name,tensor_data",
        b"hello," + meta([2]) + b",w," + quoted("1,2"),
        b"bye," + meta([]) + b",v,5",
    ]
    path = write_rows(tmp_path / "order.csv", rows)
    with open_state(path) as state:
        assert [e.name for e in state.entries] == ["w", "v"]
        assert [e.extra for e in state.entries] == [{"note": "hello"}, {"note": "bye"}]
        assert state.read("w").tolist() == [1.0, 2.0]
        assert state.read("v").tolist() == 5.0


def test_rows_without_header(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "nohead.csv", [GOOD_BEFORE, MULTILINE_ROW, GOOD_AFTER])
    with open_state(path) as state:
        assert [e.line for e in state.entries] == [1, 2, 4]
        assert state.validate() == []
        assert_good_rows_read(state, list(EXPECTED_GOOD))


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    bad = row(b"bad", quoted("1,x"), meta([2]))
    path = write_rows(tmp_path / "blank.csv", [HEADER, b"", GOOD_BEFORE, b"", b"", bad, b""])
    with open_state(path) as state:
        assert [e.line for e in state.entries] == [3, 6]
        assert [p.line for p in state.validate()] == [6]
        assert_good_rows_read(state, ["good_before"])


def test_gzip_file_reports_lines_of_the_inflated_text(tmp_path: Path) -> None:
    plain = write_zoo_file(tmp_path / "zoo.csv", CASES["bad_json"].bad, LF)
    path = tmp_path / "zoo.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    with open_state(path) as state:
        assert [(p.line, p.name) for p in state.errors] == [(BAD_LINE, "bad")]
        assert_good_rows_read(state, list(EXPECTED_GOOD))


def test_corrupt_gzip_is_not_a_state(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(HEADER + b"\n" + GOOD_BEFORE + b"\n")[:-12])
    with pytest.raises(NotAStateError, match="gzip"):
        open_state(path)
