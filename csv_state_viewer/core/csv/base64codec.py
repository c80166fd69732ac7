"""Base64 encoding of tensor data: the raw bytes of ``ndarray.tobytes()``, C order.

Besides one unbroken line (``base64.b64encode``), the text may be broken into lines of a
fixed width with LF or CRLF (``base64.encodebytes`` breaks every 76 characters and ends
with a line break); :func:`line_wrapping` tells the width from the field's first line.

The codec is ``pybase64`` (SIMD): about ten times ``binascii`` here, and it lets other
threads run while it works, where ``binascii`` holds the GIL for each chunk (5 ms per
4 MB, which kept the viewer's event loop waiting while two threads decoded a tensor).
Its strict decoding rejects what ``binascii``'s strict mode rejects.
"""

from __future__ import annotations

import binascii

import pybase64

from csv_state_viewer.core.csv.textcodec import DataError

# Encoding works on 3-byte groups, decoding on 4-character groups: chunk sizes are
# multiples of both so that chunks concatenate into one valid base64 text.
CHUNK_BYTES = 3 * (1 << 20)
CHUNK_CHARS = 4 * (1 << 20)


def encoded_length(nbytes: int) -> int:
    """Characters of standard padded base64 for ``nbytes`` raw bytes."""
    return 4 * ((nbytes + 2) // 3)


def encode_chunk(raw: bytes | memoryview) -> bytes:
    return pybase64.b64encode(raw)


def decode_chunk(text: bytes, first_char: int = 0) -> bytes:
    """Decode one chunk (a multiple of 4 characters), strictly: no stray characters."""
    try:
        return pybase64.b64decode(text, validate=True)
    except binascii.Error as err:
        at = next(
            (i for i, c in enumerate(text) if c not in _ALPHABET),
            None,
        )
        where = f" at character {first_char + at + 1}" if at is not None else ""
        raise DataError(f"bad base64 data{where}: {err}") from None


_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


MAX_LINE = 1024
Wrapping = tuple[int, int]  # (characters per line, line-break length: 1 for LF, 2 for CRLF)


def line_wrapping(head: bytes) -> Wrapping | None:
    """How a field's base64 is broken into lines, from its first characters; None when
    the first line is not a whole number of 4-character groups (not wrapped base64)."""
    at = head.find(b"\n", 0, MAX_LINE + 2)
    if at <= 0:
        return None
    width, newline = (at - 1, 2) if head[at - 1] == 0x0D else (at, 1)
    if width < 4 or width % 4:
        return None
    return width, newline


def wrapped_lengths(nbytes: int, wrapping: Wrapping) -> tuple[int, int]:
    """Field lengths of ``nbytes`` bytes wrapped so: without and with a final line break."""
    width, newline = wrapping
    chars = encoded_length(nbytes)
    lines = -(-chars // width)
    return chars + newline * (lines - 1), chars + newline * lines


def strip_line_breaks(text: bytes) -> bytes:
    return text.translate(None, b"\r\n")


def looks_like_base64(
    head: bytes, tail: bytes, length: int, nbytes: int, wrapping: Wrapping | None = None
) -> bool:
    """Whether a field of ``length`` characters is base64 of exactly ``nbytes`` bytes.

    Only samples are looked at: ``head`` is the start of the field (the whole field when
    it is short, with ``tail`` empty), ``tail`` its last characters, so the test costs
    nothing on a gigabyte field. Decimal text of more than one value has commas in any
    sample of 64 characters; a single value has no padding ``=``.
    """
    if nbytes == 0:
        return False
    if wrapping is None:
        if length != encoded_length(nbytes):
            return False
    elif length not in wrapped_lengths(nbytes, wrapping):
        return False
    padding = (3 - nbytes % 3) % 3
    sample = strip_line_breaks(head + tail)
    if padding:
        if not sample.endswith(b"=" * padding):
            return False
        sample = sample[:-padding]
    return all(c in _DIGITS for c in sample)


_DIGITS = _ALPHABET - {ord("=")}
