"""The row scanner: the same rows read through the accelerator (pread) or the mapping,
and the fields Python's csv module reads."""

from __future__ import annotations

import csv
import io
import mmap
from pathlib import Path

import pytest

from csv_state_viewer.core.csv import csvscan, nativeparse
from csv_state_viewer.core.csv.csvscan import RawRow, field_bytes, scan_rows

WELL_FORMED = [
    b"a,b,c\n1,2,3\n",
    b"a,b,c\r\n1,2,3\r\n",
    b'\xef\xbb\xbfname,data\nw,"1,2,3"\n',
    b'w,"1,\n2,\n3","{""shape"": [3]}"\nx,4,5',
    b"\n\nw,1\n\n\r\nx,2\n",
    b'w,,""\n,,\n',
    b"w," + b"7" * 100_000 + b'\nx,"' + b"1,\n" * 30_000 + b'"\n',  # fields over blocks
    b'w,"' + b'""' * 5000 + b'",end\n',
]
DAMAGED = [
    b'w,"1,2\nx,3\n',  # unterminated quote
    b'w,"1"x,2\ny,3\n',  # characters after a closing quote
    b'w,"1"x',
]


def rows_of(
    tmp_path: Path, data: bytes, *, native: bool
) -> list[tuple[int, list[bytes], str | None]]:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        rows: list[RawRow] = list(scan_rows(mm, fd=handle.fileno() if native else None))
        return [(r.line, [field_bytes(mm, f) for f in r.fields], r.problem) for r in rows]


@pytest.fixture
def tiny_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvscan, "SCAN_WINDOW", 8)


@pytest.mark.usefixtures("tiny_windows")
@pytest.mark.parametrize("data", WELL_FORMED + DAMAGED, ids=lambda d: repr(d[:16]))
def test_read_and_mapped_scans_agree(tmp_path: Path, data: bytes) -> None:
    mapped = rows_of(tmp_path, data, native=False)
    if nativeparse.library() is not None:
        assert rows_of(tmp_path, data, native=True) == mapped


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("data", WELL_FORMED, ids=lambda d: repr(d[:16]))
def test_fields_are_those_python_csv_reads(tmp_path: Path, data: bytes, native: bool) -> None:
    text = data.decode("utf-8-sig")
    expected = [
        [f.encode() for f in row] for row in csv.reader(io.StringIO(text, newline="")) if row
    ]
    got = rows_of(tmp_path, data, native=native)
    assert [fields for _, fields, _ in got] == expected
    assert all(problem is None for _, _, problem in got)


@pytest.mark.parametrize("native", [False, True])
def test_lines_count_the_breaks_inside_quoted_fields(tmp_path: Path, native: bool) -> None:
    data = b'w,"1,\n2\n",m\n\nx,"3",m\r\ny,4,m'
    assert [(line, problem) for line, _, problem in rows_of(tmp_path, data, native=native)] == [
        (1, None),  # lines 1-3
        (5, None),  # after the blank line 4
        (6, None),
    ]


@pytest.mark.parametrize("native", [False, True])
def test_damaged_rows_are_named(tmp_path: Path, native: bool) -> None:
    unterminated = rows_of(tmp_path, DAMAGED[0], native=native)
    assert unterminated[-1][2] == "unterminated quoted field: the file ends inside quotes"
    after = rows_of(tmp_path, DAMAGED[1], native=native)
    assert after[0][2] == "unexpected characters after a closing quote"
    assert after[1] == (2, [b"y", b"3"], None)


def test_the_mapping_is_not_read_when_the_accelerator_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if nativeparse.library() is None:
        pytest.skip("no accelerator")
    monkeypatch.setattr(
        csvscan.Scanner, "_until_mapped", lambda *a: pytest.fail("the mapping was searched")
    )
    data = b'name,data\nw,"' + b"1.5," * 300_000 + b'2"\n'
    assert rows_of(tmp_path, data, native=True)[1][1][0] == b"w"
