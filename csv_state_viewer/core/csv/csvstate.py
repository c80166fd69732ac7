"""Lazy reader of CSV training states (``.csv`` and ``.csv.gz``)."""

from __future__ import annotations

import functools
import gzip
import itertools
import mmap
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO

import numpy as np

from csv_state_viewer.core import limits
from csv_state_viewer.core.csv import base64codec, nativeparse, textcodec
from csv_state_viewer.core.csv.csvindex import EntryBuilder, detect_columns
from csv_state_viewer.core.csv.csvscan import scan_rows
from csv_state_viewer.core.csv.textcodec import DataError
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.layouts.describe import describe_text
from csv_state_viewer.core.openfiles import register, unregister
from csv_state_viewer.core.parallel import ordered_map, worker_count
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.state import State, TensorEntry

GZIP_MAGIC = b"\x1f\x8b"
TEXT_CHUNK = 256 << 10  # serial simdjson path: small chunks stay in the CPU cache
NATIVE_CHUNK = 2 << 20  # accelerator path: chunks spread over the codec threads
SPAN_WINDOW = 8 << 20  # float32/float64: one call parses this much text on every core
PARALLEL_BYTES = 256 << 10  # smaller windows are parsed on the calling thread alone
_SNIFF = 64 << 10
_BRACKET_PEEK = 64
_OTHER_SEPARATOR = re.compile(rb"\s*;\s*|\s+")


def _value_bytes(array: np.ndarray) -> np.ndarray:
    """The bytes that carry the values: C order, declared byte order, no padding."""
    flat = np.ascontiguousarray(array).reshape(-1)
    raw = flat.view(np.uint8)
    component = flat.dtype.itemsize // (2 if flat.dtype.kind == "c" else 1)
    if flat.dtype.kind in "fc" and component > 8 and np.finfo(np.longdouble).nmant == 63:
        # x87 80-bit long double in a 12/16-byte slot: the rest is undefined padding.
        raw = np.ascontiguousarray(raw.reshape(-1, component)[:, :10])
    return raw


def crc32_of(array: np.ndarray) -> str:
    """CRC32 of the tensor's value bytes (see :func:`_value_bytes`), 8 hex digits."""
    return f"{zlib.crc32(memoryview(_value_bytes(array))) & 0xFFFFFFFF:08x}"  # type: ignore[arg-type]


class CsvState(State):
    """A CSV state opened with :func:`open_csv_state`; data is decoded on :meth:`read`."""

    format_name = "csv"
    concurrent_reads = True  # every read is a pread of its own span

    def __init__(
        self,
        path: str,
        handle: IO[bytes],
        mm: mmap.mmap,
        progress: Progress,
        *,
        decode_ahead: bool = False,
    ) -> None:
        self._handle = handle
        self._fd = handle.fileno()
        self._mm = mm
        self._open_key = register(path)
        start, ahead = self.decode_ahead(self._decode) if decode_ahead else (None, None)
        self._ahead = ahead or {}  # for close() if indexing fails
        try:
            rows = scan_rows(mm, progress, self._fd)
            first = next(rows, None)
            if first is None:
                raise NotAStateError(path, "no rows (the file holds only blank lines)")
            columns = detect_columns(mm, first, path)
            builder = EntryBuilder(mm, columns)
            first_rows = [] if columns.has_header else [first]
            entries = builder.build(itertools.chain(first_rows, rows), start)
        except BaseException:
            self.close()
            raise
        self.columns = columns
        super().__init__(path, entries, ahead)

    def close(self) -> None:
        self._stop_ahead()  # no decode may read the file once it is closed
        if self._mm is not None:
            self._mm.close()
            self._mm = None  # type: ignore[assignment]
            self._handle.close()
            unregister(self._open_key)
            self._open_key = None

    # --------------------------------------------------------------------- decoding
    def _pread(self, offset: int, length: int) -> bytes:
        if self._mm is None:
            raise ValueError("the state is closed")
        return os.pread(self._fd, length, offset)

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        assert entry.span is not None and entry.dtype is not None and entry.shape is not None
        if entry.encoding == "base64":
            flat = self._decode_base64(entry, progress)
        else:
            flat = self._decode_text(entry, progress)
        array = flat.reshape(entry.shape)
        expected = entry.metadata.get("crc32")
        if isinstance(expected, str):
            actual = crc32_of(array)
            if actual != expected.lower():
                raise DataError(
                    f"CRC32 of the data is {actual} but the metadata says {expected}: "
                    "the data was changed after it was written"
                )
        return array

    def _decode_base64(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        assert entry.span is not None and entry.dtype is not None
        start, end = entry.span
        out = np.empty(entry.nbytes, dtype=np.uint8)
        if end - start == base64codec.encoded_length(entry.nbytes):
            offsets = range(start, end, base64codec.CHUNK_CHARS)

            def decode(offset: int) -> bytes:
                text = self._pread(offset, min(base64codec.CHUNK_CHARS, end - offset))
                return base64codec.decode_chunk(text, offset - start)

            pieces: Iterator[bytes] = ordered_map(decode, offsets)
        else:
            pieces = self._decode_wrapped_base64(start, end)
        filled = 0
        for raw in pieces:
            check_cancelled(progress)
            if filled + len(raw) > out.size:
                raise DataError(f"base64 data decodes to more than {out.size} bytes")
            out[filled : filled + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
            filled += len(raw)
            progress.report(filled, out.size)
        if filled != out.size:
            raise DataError(f"base64 data decodes to {filled} bytes; the shape needs {out.size}")
        return out.view(entry.dtype)

    def _decode_wrapped_base64(self, start: int, end: int) -> Iterator[bytes]:
        """Base64 broken into lines: line breaks dropped, 4-character groups carried over
        chunk boundaries (one thread: rare, and the codec is fast)."""
        carry, decoded_chars = b"", 0
        for offset in range(start, end, base64codec.CHUNK_CHARS):
            raw = self._pread(offset, min(base64codec.CHUNK_CHARS, end - offset))
            text = carry + base64codec.strip_line_breaks(raw)
            last = offset + base64codec.CHUNK_CHARS >= end
            whole = len(text) if last else len(text) - len(text) % 4
            carry = text[whole:]
            yield base64codec.decode_chunk(text[:whole], decoded_chars)
            decoded_chars += whole

    def _text_spans(self, start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
        """Spans of about ``size`` bytes that end on a value boundary.

        The boundary is a comma; where there is none nearby (values separated by spaces,
        line breaks or ';'), the first such separator, whole chunks staying parseable.
        """
        pos = start
        while end - pos > size:
            probe = pos + size
            window = self._pread(probe, min(256, end - probe))
            cut = window.find(b",")
            after = cut + 1
            if cut < 0:
                other = _OTHER_SEPARATOR.search(window)
                if other is None:
                    break  # a 256-character "value": let the parser report the whole rest
                cut, after = other.span()
            yield pos, probe + cut
            pos = probe + after
        yield pos, end

    def _in_brackets(self, start: int, end: int) -> bool:
        """Whether a text field is a list in brackets (``[1.0, 2.0]``, ``str(a.tolist())``)."""
        head = self._pread(start, min(_BRACKET_PEEK, end - start)).lstrip()
        if not head.startswith(b"["):
            return False
        tail_start = max(start, end - _BRACKET_PEEK)
        if not self._pread(tail_start, end - tail_start).rstrip().endswith(b"]"):
            raise DataError("the data starts with '[' but does not end with ']'")
        return True

    def _decode_text(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        assert entry.span is not None and entry.dtype is not None
        dtype, count = entry.dtype, entry.size
        start, end = entry.span
        out = np.empty(count, dtype=dtype)
        if count == 0:
            return out
        if self._mm is None:
            raise ValueError("the state is closed")
        brackets = self._in_brackets(start, end)
        if nativeparse.supports_span(dtype) and not brackets:
            pieces = self._span_pieces(start, end, dtype, out)
        elif nativeparse.supports(dtype):
            # The accelerator releases the GIL: chunks are read and parsed on the pool.
            spans = self._text_spans(start, end, NATIVE_CHUNK)
            chunks = ordered_map(functools.partial(self._parse_native, dtype), spans)
            pieces = self._parsed_pieces(chunks, dtype, brackets)
        else:
            # One thread on purpose: the simdjson fast path holds the GIL, and measured with
            # a pool (or a pool mixing simdjson and pyarrow workers) it was slower, not faster.
            spans = self._text_spans(start, end, TEXT_CHUNK)
            chunks = ((span, None, self._read_framed(span)) for span in spans)
            pieces = self._parsed_pieces(chunks, dtype, brackets)
        filled = 0
        for span_end, values in pieces:
            check_cancelled(progress)
            if isinstance(values, int):  # parsed in place, into out[filled:]
                filled += values
            elif filled + values.size > count:
                rest = sum(
                    textcodec.count_values(self._pread(s, e - s), brackets=brackets)
                    for s, e in self._text_spans(span_end + 1, end, TEXT_CHUNK)
                    if span_end < end
                )
                raise DataError(
                    f"the data has {filled + values.size + rest} values but shape "
                    f"{list(entry.shape or ())} holds {count}"
                )
            else:
                out[filled : filled + values.size] = values
                filled += values.size
            progress.report(filled, count)
        if filled != count:
            raise DataError(
                f"the data has {filled} values but shape {list(entry.shape or ())} holds {count}"
            )
        return out

    def _span_pieces(
        self, start: int, end: int, dtype: np.dtype, out: np.ndarray
    ) -> Iterator[tuple[int, int | np.ndarray]]:
        """(end, count) of windows the accelerator parsed into ``out`` on every core, or
        (end, values) of the general path's chunks where it declined a window."""
        filled = 0
        for window in self._text_spans(start, end, SPAN_WINDOW):
            length = window[1] - window[0]
            threads = worker_count() if length >= PARALLEL_BYTES else 1
            got = nativeparse.parse_span(self._fd, window[0], length, out[filled:], threads)
            if got is not None:
                filled += got
                yield window[1], got
                continue
            for span in self._text_spans(window[0], window[1], TEXT_CHUNK):
                values = textcodec.parse_framed(self._read_framed(span), dtype, filled)
                filled += values.size
                yield span[1], values

    def _parsed_pieces(
        self,
        chunks: Iterator[tuple[tuple[int, int], np.ndarray | None, bytearray | None]],
        dtype: np.dtype,
        brackets: bool,
    ) -> Iterator[tuple[int, int | np.ndarray]]:
        """(end, values) of chunks, the general path parsing those the accelerator left."""
        filled = 0
        for (_, span_end), parsed, raw in chunks:
            values = parsed
            if values is None:
                assert raw is not None
                values = textcodec.parse_framed(raw, dtype, filled, brackets=brackets)
            filled += values.size
            yield span_end, values

    def _read_framed(self, span: tuple[int, int]) -> bytearray:
        return textcodec.read_framed(self._fd, span[0], span[1] - span[0])

    def _parse_native(
        self, dtype: np.dtype, span: tuple[int, int]
    ) -> tuple[tuple[int, int], np.ndarray | None, bytearray | None]:
        """A chunk parsed by the accelerator, or its framed text for the general path."""
        length = span[1] - span[0]
        if self._mm is None:
            raise ValueError("the state is closed")
        try:
            buffer = nativeparse.read_padded(self._fd, span[0], length)
        except EOFError as err:
            raise DataError(str(err)) from None
        values = nativeparse.parse(buffer, length, dtype)
        if values is not None:
            return span, values, None
        framed = bytearray(b"[") + buffer[:length] + b"]"
        return span, None, framed


def _decompress(path: str, handle: IO[bytes], progress: Progress) -> IO[bytes]:
    """Inflate a ``.csv.gz`` into an anonymous temporary file so it can be mapped.

    Streamed in pieces: the first :data:`~csv_state_viewer.core.limits.SNIFF_BYTES` are
    looked at before anything else is inflated, so binary data is refused at once; the
    output stops at :func:`~csv_state_viewer.core.limits.inflation_ceiling` of the
    compressed size (a decompression bomb). The temporary file has no name: closing it,
    as every failure does, removes it.
    """
    out = tempfile.TemporaryFile(prefix="csv-state-")  # noqa: SIM115 - returned to the caller
    total = os.fstat(handle.fileno()).st_size
    ceiling = limits.inflation_ceiling(total)
    try:
        with gzip.GzipFile(fileobj=handle) as stream:
            head = stream.read(limits.SNIFF_BYTES)
            if b"\x00" in head:  # text never holds NUL: binary, refused before inflating more
                raise NotAStateError(path, describe_text(path, head))
            out.write(head)
            written = len(head)
            while block := stream.read(limits.READ_PIECE * 8):
                written += len(block)
                if written > ceiling:
                    raise NotAStateError(
                        path,
                        f"the gzip data inflates to more than {limits.size_text(ceiling)}, "
                        f"over {limits.MAX_COMPRESSION_RATIO} times its "
                        f"{limits.size_text(total)} (a decompression bomb?)",
                    )
                out.write(block)
                check_cancelled(progress)
                progress.report(handle.tell(), total)
    except (OSError, EOFError, zlib.error) as err:
        out.close()
        raise NotAStateError(path, f"corrupt gzip data ({err})") from None
    except BaseException:
        out.close()
        raise
    out.flush()
    return out


def open_csv_state(
    path: str | os.PathLike[str], progress: Progress = NO_PROGRESS, *, decode_ahead: bool = False
) -> CsvState:
    """Index a CSV state without decoding tensor data. See :func:`csv_state_viewer.open_state`.

    ``decode_ahead`` (for ``load_state``) starts decoding each tensor as soon as its row is
    indexed, for :meth:`~csv_state_viewer.core.state.State.read_all` to take."""
    path = os.fspath(path)
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - owned by the state
    except OSError as err:
        raise NotAStateError(path, err.strerror or str(err)) from None
    try:
        if handle.read(2) == GZIP_MAGIC:
            handle.seek(0)
            inflated = _decompress(path, handle, progress)
            handle.close()
            handle = inflated
        handle.seek(0)
        head = handle.read(_SNIFF)
        if not head.strip(b" \t\r\n\xef\xbb\xbf") or b"\x00" in head:
            raise NotAStateError(path, describe_text(path, head))  # empty, or binary
        mm = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except BaseException:
        handle.close()
        raise
    return CsvState(path, handle, mm, progress, decode_ahead=decode_ahead)
