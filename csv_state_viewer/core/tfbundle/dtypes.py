"""TensorFlow's ``DataType`` enum (``types.proto``) as NumPy dtypes.

Numbers as in TensorFlow 2.21. bfloat16, the float8 and float4 types and int4/uint4/
int2/uint2 are ``ml_dtypes`` types (TensorFlow stores the 4- and 2-bit integers one per
byte, as ``ml_dtypes`` holds them). Quantized types (``qint8``...) are read as their
integer type, their TensorFlow name kept in the metadata. ``*_REF`` types (100 more than
their base type) are their base type. String, resource and variant tensors have no
NumPy type: they are listed, never read. ``ml_dtypes`` (half a second to import) is
imported only when a checkpoint holds one of its types.
"""

from __future__ import annotations

import importlib

import numpy as np

DT_STRING = 7
REF_OFFSET = 100

_PLAIN: dict[int, tuple[str, object]] = {
    1: ("float32", np.float32),
    2: ("float64", np.float64),
    3: ("int32", np.int32),
    4: ("uint8", np.uint8),
    5: ("int16", np.int16),
    6: ("int8", np.int8),
    8: ("complex64", np.complex64),
    9: ("int64", np.int64),
    10: ("bool", np.bool_),
    14: ("bfloat16", "ml_dtypes"),
    17: ("uint16", np.uint16),
    18: ("complex128", np.complex128),
    19: ("float16", np.float16),
    22: ("uint32", np.uint32),
    23: ("uint64", np.uint64),
    24: ("float8_e5m2", "ml_dtypes"),
    25: ("float8_e4m3fn", "ml_dtypes"),
    26: ("float8_e4m3fnuz", "ml_dtypes"),
    27: ("float8_e4m3b11fnuz", "ml_dtypes"),
    28: ("float8_e5m2fnuz", "ml_dtypes"),
    29: ("int4", "ml_dtypes"),
    30: ("uint4", "ml_dtypes"),
    31: ("int2", "ml_dtypes"),
    32: ("uint2", "ml_dtypes"),
    33: ("float4_e2m1fn", "ml_dtypes"),
}
_QUANTIZED: dict[int, tuple[str, object]] = {
    11: ("qint8", np.int8),
    12: ("quint8", np.uint8),
    13: ("qint32", np.int32),
    15: ("qint16", np.int16),
    16: ("quint16", np.uint16),
}
_NOT_NUMERIC = {7: "string", 20: "resource", 21: "variant"}


def base_type(number: int) -> int:
    return number - REF_OFFSET if REF_OFFSET < number < 2 * REF_OFFSET else number


def type_name(number: int) -> str:
    """TensorFlow's name of a DataType number (``float32``, ``qint8``, ``string``...)."""
    number = base_type(number)
    for table in (_PLAIN, _QUANTIZED):
        if number in table:
            return table[number][0]
    return _NOT_NUMERIC.get(number, f"unknown type {number}")


def numpy_dtype(number: int) -> tuple[np.dtype | None, dict[str, str]]:
    """(NumPy dtype or None when it has none, extra metadata) of a DataType number."""
    number = base_type(number)
    if number in _PLAIN:
        name, kind = _PLAIN[number]
        if kind == "ml_dtypes":
            kind = getattr(importlib.import_module("ml_dtypes"), name)
        return np.dtype(kind), {}  # type: ignore[call-overload]
    if number in _QUANTIZED:
        name, kind = _QUANTIZED[number]
        return np.dtype(kind), {"tf_dtype": name}  # type: ignore[call-overload]
    return None, {}
