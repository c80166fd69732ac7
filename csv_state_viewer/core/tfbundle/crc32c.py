"""CRC-32C (Castagnoli), as TensorFlow's tables and tensor bundles checksum their bytes.

No C extension computes it here, so NumPy does, over many lanes at once: the data is cut
into ``K`` equal lanes whose CRCs advance together, one 32-bit word per step (two lookups
in 65536-entry tables), and are then combined pairwise with the linear "append N zero
bytes" operator (``crc(A + B) = shift(crc(A), len(B)) ^ crc(B)``, as zlib's
``crc32_combine``). Small inputs and the few bytes left over take a plain byte loop.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8
_SMALL = 2048  # below this many bytes the byte loop is faster than the lanes
_MAX_LANES = 65536
_CHUNK = 32 << 20  # bytes per lane pass: bounds the transposed copy


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1)
    return table.astype(np.uint32)


_T0 = _byte_table()
_T1 = (_T0 >> 8) ^ _T0[_T0 & 0xFF]
_T2 = (_T1 >> 8) ^ _T0[_T1 & 0xFF]
_T3 = (_T2 >> 8) ^ _T0[_T2 & 0xFF]
_HALF = np.arange(65536, dtype=np.uint32)
# One word step: x = crc ^ word; crc = _LOW[x & 0xFFFF] ^ _HIGH[x >> 16].
_LOW = _T3[_HALF & 0xFF] ^ _T2[_HALF >> 8]
_HIGH = _T1[_HALF & 0xFF] ^ _T0[_HALF >> 8]
_TABLE = [int(v) for v in _T0]


def mask(crc: int) -> int:
    """The masked form TensorFlow stores (a CRC of data that holds CRCs is weak)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _bytewise(data: bytes | memoryview, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ------------------------------------------------------------ the zero-byte operators
# A linear map of the 32-bit register as four 256-entry tables, one per byte of the input.
_Operator = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _apply(op: _Operator, x: np.ndarray) -> np.ndarray:
    return op[0][x & 0xFF] ^ op[1][(x >> 8) & 0xFF] ^ op[2][(x >> 16) & 0xFF] ^ op[3][x >> 24]


@lru_cache(maxsize=64)
def _power(exponent: int) -> _Operator:
    """The operator that appends ``2**exponent`` zero bytes."""
    if exponent == 0:
        byte = np.arange(256, dtype=np.uint32)
        return (_T0, byte, byte << 8, byte << 16)  # x -> T0[x & 0xFF] ^ (x >> 8)
    half = _power(exponent - 1)
    return tuple(_apply(half, table) for table in half)  # type: ignore[return-value]


def _shift(crc: np.ndarray, length: int) -> np.ndarray:
    """``crc`` advanced over ``length`` zero bytes (raw register, element-wise)."""
    exponent = 0
    while length:
        if length & 1:
            crc = _apply(_power(exponent), crc)
        length >>= 1
        exponent += 1
    return crc


def combine(first: int, second: int, second_length: int) -> int:
    """CRC of ``A + B`` from ``crc(A)``, ``crc(B)`` and ``len(B)``."""
    shifted = _shift(np.array([first], dtype=np.uint32), second_length)
    return int(shifted[0]) ^ second


# ----------------------------------------------------------------------- the lanes
def _lanes(words: np.ndarray) -> int:
    """CRC of ``words`` (``(lanes, steps)`` uint32, lanes a power of two)."""
    lanes, steps = words.shape
    by_step = np.ascontiguousarray(words.T)
    crc = np.full(lanes, 0xFFFFFFFF, dtype=np.uint32)
    x = np.empty_like(crc)
    low = np.empty_like(crc)
    high = np.empty_like(crc)
    for step in by_step:
        np.bitwise_xor(crc, step, out=x)
        np.bitwise_and(x, 0xFFFF, out=low)
        np.right_shift(x, 16, out=x)
        np.take(_LOW, low, out=crc)
        np.take(_HIGH, x, out=high)
        crc ^= high
    crc ^= np.uint32(0xFFFFFFFF)
    length = steps * 4
    while crc.size > 1:
        crc = _shift(crc[0::2], length) ^ crc[1::2]
        length *= 2
    return int(crc[0])


def _value(data: np.ndarray) -> int:
    size = data.size
    if size < _SMALL:
        return _bytewise(data.tobytes())
    lanes = min(_MAX_LANES, 1 << ((size // 64).bit_length() - 1))
    steps = min(size // (4 * lanes), _CHUNK // (4 * lanes))
    head = lanes * steps * 4
    crc = _lanes(data[:head].view("<u4").reshape(lanes, steps))
    if head < size:
        crc = combine(crc, _value(data[head:]), size - head)
    return crc


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """The (unmasked) CRC-32C of ``data``'s bytes."""
    array = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    return _value(array.reshape(-1).view(np.uint8))
