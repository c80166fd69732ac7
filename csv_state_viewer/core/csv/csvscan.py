"""Byte-level scanner that splits a CSV file into rows and field spans without copying.

Python's ``csv`` module copies every field and refuses fields over 128 KiB. Here each
field costs one search for the byte that ends it (C ``memchr``), whatever its size, so a
file of gigabyte rows is indexed at memory speed. Fields are returned as byte spans; data
fields are decoded later, on demand. The dialect is the one Python's ``csv.writer``
writes: ``,`` separator, ``"`` quotes doubled inside quoted fields, LF or CRLF rows.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from csv_state_viewer.core.csv import nativeparse
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled

# Without the accelerator the file's mapping is searched in windows of SCAN_WINDOW bytes
# (``mm.find`` holds the GIL: small windows let the viewer's UI thread run between them),
# and the pages of each window are dropped from the process's resident set once it is
# searched (they stay in the OS page cache), so indexing a file far larger than memory
# keeps a small footprint.
SCAN_WINDOW = 4 << 20
REPORT_STEP = 16 << 20


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
    """Iterates the rows of a mapped CSV file; see :func:`scan_rows`.

    With the file's descriptor and the C accelerator, fields are searched by
    :func:`~csv_state_viewer.core.csv.nativeparse.scan_until`: read with pread, without
    the GIL, never mapped. The mapping serves only the byte or two around each field.
    """

    def __init__(
        self, mm: mmap.mmap, progress: Progress = NO_PROGRESS, fd: int | None = None
    ) -> None:
        self.mm = mm
        self.size = len(mm)
        self.progress = progress
        self.fd = fd if fd is not None and nativeparse.library() is not None else None
        self._reported = 0

    # ------------------------------------------------------------------ helpers
    def _until(self, pos: int, needles: bytes) -> tuple[int, int]:
        """(first position from ``pos`` of a byte of ``needles``, or -1; the line breaks
        before it), in one pass over the bytes."""
        if self.fd is not None:
            found = nativeparse.scan_until(self.fd, pos, self.size, needles)
            if found is not None:
                self._report(self.size if found[0] == -1 else found[0])
                return found
        return self._until_mapped(pos, needles)

    def _closing_quote(self, start: int) -> tuple[int, int, bool]:
        """(the closing quote of the quoted field whose content starts at ``start``, or
        -1; the line breaks inside; whether it holds doubled quotes)."""
        if self.fd is not None:
            found = nativeparse.scan_quoted(self.fd, start, self.size)
            if found is not None:
                self._report(self.size if found[0] == -1 else found[0])
                return found
        close, lines = self._until(start, b'"')
        escaped = False
        while close != -1 and self.mm[close + 1 : close + 2] == b'"':
            escaped = True
            close, more = self._until(close + 2, b'"')
            lines += more
        return close, lines, escaped

    def _until_mapped(self, pos: int, needles: bytes) -> tuple[int, int]:
        mm, lines = self.mm, 0
        count_lines = b"\n" not in needles
        while pos < self.size:
            stop = min(self.size, pos + SCAN_WINDOW)
            hits = [mm.find(needles[i : i + 1], pos, stop) for i in range(len(needles))]
            hit = min((h for h in hits if h != -1), default=-1)
            upto = stop if hit == -1 else hit
            if count_lines and mm.find(b"\n", pos, upto) != -1:
                view = np.frombuffer(mm, dtype=np.uint8, count=upto - pos, offset=pos)
                lines += int(np.count_nonzero(view == 10))
                del view
            self._release(pos, upto)
            if hit != -1:
                return hit, lines
            pos = stop
        return -1, lines

    def _release(self, start: int, stop: int) -> None:
        """Drop the whole pages of [start, stop) from the resident set (if it is large)."""
        if stop - start < SCAN_WINDOW // 2 or not hasattr(self.mm, "madvise"):
            return
        low = start + (-start) % mmap.PAGESIZE
        high = stop - stop % mmap.PAGESIZE
        if high > low:
            self.mm.madvise(mmap.MADV_DONTNEED, low, high - low)
        self._report(stop)

    def _report(self, pos: int) -> None:
        """Progress at most every REPORT_STEP bytes (a report per field of a file of many
        small rows would cost more than the scan)."""
        if pos - self._reported >= REPORT_STEP:
            self._reported = pos
            self.progress.report(pos, self.size)

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
            yield row
        self.progress.report(size, size)

    def _row(self, row: RawRow, pos: int, line: int) -> tuple[int, int]:
        """Parse one row starting at ``pos``; return the position and line after it."""
        mm, size = self.mm, self.size
        while True:
            if pos < size and mm[pos] == 0x22:  # quoted field
                start = pos + 1
                close, lines, escaped = self._closing_quote(start)
                line += lines
                if close == -1:
                    row.fields.append(Field(start, size, True, escaped))
                    row.problem = "unterminated quoted field: the file ends inside quotes"
                    return size, line
                row.fields.append(Field(start, close, True, escaped))
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
                newline, _ = self._until(pos, b"\n")
                return (size, line) if newline == -1 else (newline + 1, line + 1)
            hit, _ = self._until(pos, b",\n")  # an unquoted field ends at either
            if hit != -1 and mm[hit] == 0x2C:
                row.fields.append(Field(pos, hit))
                pos = hit + 1
                continue
            row_end = size if hit == -1 else hit
            end = row_end - 1 if row_end > pos and mm[row_end - 1] == 0x0D else row_end
            row.fields.append(Field(pos, end))
            return (row_end + 1, line + 1) if hit != -1 else (size, line)


def scan_rows(
    mm: mmap.mmap, progress: Progress = NO_PROGRESS, fd: int | None = None
) -> Iterator[RawRow]:
    """Yield every non-blank row of the mapped file (``fd``: the same file, read rather
    than mapped where the accelerator is built), with 1-based starting lines."""
    return Scanner(mm, progress, fd).rows()


def field_bytes(mm: mmap.mmap, fld: Field) -> bytes:
    """The field's content, with doubled quotes undone."""
    raw = mm[fld.start : fld.end]
    return raw.replace(b'""', b'"') if fld.escaped else raw
