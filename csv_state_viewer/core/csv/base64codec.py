"""Base64 encoding of tensor data: the raw bytes of ``ndarray.tobytes()``, C order."""

from __future__ import annotations

import binascii

from csv_state_viewer.core.csv.textcodec import DataError

# Encoding works on 3-byte groups, decoding on 4-character groups: chunk sizes are
# multiples of both so that chunks concatenate into one valid base64 text.
CHUNK_BYTES = 3 * (1 << 20)
CHUNK_CHARS = 4 * (1 << 20)


def encoded_length(nbytes: int) -> int:
    """Characters of standard padded base64 for ``nbytes`` raw bytes."""
    return 4 * ((nbytes + 2) // 3)


def encode_chunk(raw: bytes | memoryview) -> bytes:
    return binascii.b2a_base64(raw, newline=False)


def decode_chunk(text: bytes, first_char: int = 0) -> bytes:
    """Decode one chunk (a multiple of 4 characters), strictly: no stray characters."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as err:
        at = next(
            (i for i, c in enumerate(text) if c not in _ALPHABET),
            None,
        )
        where = f" at character {first_char + at + 1}" if at is not None else ""
        raise DataError(f"bad base64 data{where}: {err}") from None


_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def looks_like_base64(head: bytes, tail: bytes, length: int, nbytes: int) -> bool:
    """Whether a field of ``length`` characters is base64 of exactly ``nbytes`` bytes.

    Only samples are looked at: ``head`` is the start of the field (the whole field when
    it is short, with ``tail`` empty), ``tail`` its last characters, so the test costs
    nothing on a gigabyte field. Decimal text of more than one value has commas in any
    sample of 64 characters; a single value has no padding ``=``.
    """
    if nbytes == 0 or length != encoded_length(nbytes):
        return False
    padding = (3 - nbytes % 3) % 3
    sample = head + tail
    if padding:
        if not sample.endswith(b"=" * padding):
            return False
        sample = sample[:-padding]
    return all(c in _DIGITS for c in sample)


_DIGITS = _ALPHABET - {ord("=")}
