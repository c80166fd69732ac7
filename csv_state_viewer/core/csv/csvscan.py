"""Byte-level scanner that splits a CSV file into rows and field spans without copying.

Python's ``csv`` module copies every field and refuses fields over 128 KiB. Here each
row costs a handful of ``mmap.find`` calls (C ``memchr``), whatever its size, so a file
of gigabyte rows is indexed at memory speed. Fields are returned as byte spans; data
fields are decoded later, on demand. The dialect is the one Python's ``csv.writer``
writes: ``,`` separator, ``"`` quotes doubled inside quoted fields, LF or CRLF rows.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

# Pages behind the scan position are dropped from the process's resident set every
# RELEASE_STEP bytes (they stay in the OS page cache), so indexing a file far larger
# than memory keeps a small footprint.
RELEASE_STEP = 64 << 20
_NEWLINE_COUNT_BLOCK = 16 << 20


@dataclass(frozen=True)
class Field:
    start: int
    end: int
    quoted: bool = False
    escaped: bool = False  # contains doubled quotes that must be undone

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class RawRow:
    line: int  # 1-based physical line on which the row starts
    fields: list[Field] = field(default_factory=list)
    problem: str | None = None


class Scanner:
    """Iterates the rows of a mapped CSV file; see :func:`scan_rows`."""

    def __init__(self, mm: mmap.mmap, progress: Progress = NO_PROGRESS) -> None:
        self.mm = mm
        self.size = len(mm)
        self.progress = progress
        self._released = 0

    # ------------------------------------------------------------------ helpers
    def _release_behind(self, pos: int) -> None:
        if pos - self._released < RELEASE_STEP or not hasattr(self.mm, "madvise"):
            return
        upto = pos - pos % mmap.PAGESIZE
        self.mm.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
        self._released = upto
        self.progress.report(pos, self.size)

    def _find(self, needle: bytes, start: int, end: int | None = None) -> int:
        """``mm.find`` in windows, releasing pages as it goes (for gigabyte fields)."""
        stop = self.size if end is None else end
        pos = start
        while pos < stop:
            window_end = min(stop, pos + RELEASE_STEP)
            hit = self.mm.find(needle, pos, window_end + len(needle) - 1)
            if hit != -1 and hit < stop:
                return hit
            pos = window_end
            self._release_behind(pos)
        return -1

    def count_newlines(self, start: int, end: int) -> int:
        if start >= end or self.mm.find(b"\n", start, end) == -1:
            return 0
        count = 0
        for block in range(start, end, _NEWLINE_COUNT_BLOCK):
            stop = min(end, block + _NEWLINE_COUNT_BLOCK)
            view = np.frombuffer(self.mm, dtype=np.uint8, count=stop - block, offset=block)
            count += int(np.count_nonzero(view == 10))
            del view
            self._release_behind(stop)
        return count

    # --------------------------------------------------------------------- rows
    def rows(self) -> Iterator[RawRow]:
        mm, size = self.mm, self.size
        pos = 3 if mm[:3] == b"\xef\xbb\xbf" else 0
        line = 1
        while pos < size:
            check_cancelled(self.progress)
            if mm[pos] == 0x0A:  # blank line
                pos, line = pos + 1, line + 1
                continue
            if mm[pos : pos + 2] == b"\r\n":
                pos, line = pos + 2, line + 1
                continue
            row = RawRow(line)
            pos, line = self._row(row, pos, line)
            self._release_behind(pos)
            yield row
        self.progress.report(size, size)

    def _row(self, row: RawRow, pos: int, line: int) -> tuple[int, int]:
        """Parse one row starting at ``pos``; return the position and line after it."""
        mm, size = self.mm, self.size
        while True:
            if pos < size and mm[pos] == 0x22:  # quoted field
                start = pos + 1
                close = self._find(b'"', start)
                escaped = False
                while close != -1 and mm[close + 1 : close + 2] == b'"':
                    escaped = True
                    close = self._find(b'"', close + 2)
                if close == -1:
                    row.fields.append(Field(start, size, True, escaped))
                    row.problem = "unterminated quoted field: the file ends inside quotes"
                    return size, line + self.count_newlines(start, size)
                row.fields.append(Field(start, close, True, escaped))
                line += self.count_newlines(start, close)
                pos = close + 1
                if pos >= size:
                    return pos, line
                after = mm[pos : pos + 2]
                if after[:1] == b",":
                    pos += 1
                    continue
                if after[:1] == b"\n":
                    return pos + 1, line + 1
                if after == b"\r\n":
                    return pos + 2, line + 1
                row.problem = "unexpected characters after a closing quote"
                newline = self._find(b"\n", pos)
                return (size, line) if newline == -1 else (newline + 1, line + 1)
            newline = self._find(b"\n", pos)
            row_end = size if newline == -1 else newline
            comma = self._find(b",", pos, row_end)
            if comma != -1:
                row.fields.append(Field(pos, comma))
                pos = comma + 1
                continue
            end = row_end - 1 if row_end > pos and mm[row_end - 1] == 0x0D else row_end
            row.fields.append(Field(pos, end))
            return (row_end + 1, line + 1) if newline != -1 else (size, line)


def scan_rows(mm: mmap.mmap, progress: Progress = NO_PROGRESS) -> Iterator[RawRow]:
    """Yield every non-blank row of the mapped file, with 1-based starting lines."""
    return Scanner(mm, progress).rows()


def field_bytes(mm: mmap.mmap, fld: Field) -> bytes:
    """The field's content, with doubled quotes undone."""
    raw = mm[fld.start : fld.end]
    return raw.replace(b'""', b'"') if fld.escaped else raw
