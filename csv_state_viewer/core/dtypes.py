"""Which element types a state may declare, and how their names are spelled.

Only plain numeric types are accepted: bool, signed and unsigned integers, floats and
complex numbers of NumPy (either byte order), and the small float/int types of
``ml_dtypes`` (bfloat16, float8, int4, ...). Object, string, void, datetime and
structured types are refused, so no value is ever unpickled or evaluated.
"""

from __future__ import annotations

import re

import numpy as np

NUMERIC_KINDS = frozenset("biufc")
_ML_DTYPE_NAME = re.compile(r"^(bfloat16|float[0-9]+_[a-z0-9]+|u?int[24])$")


class DtypeError(ValueError):
    """The declared dtype is unknown or refused; the message says which and why."""


def _ml_dtype(name: str) -> np.dtype | None:
    if not _ML_DTYPE_NAME.match(name):
        return None
    import ml_dtypes  # imported only when a file uses one of its types

    scalar_type = getattr(ml_dtypes, name, None)
    if scalar_type is None:
        return None
    return np.dtype(scalar_type)


def is_ml_dtype(dtype: np.dtype) -> bool:
    """True for the extension types of ``ml_dtypes`` (bfloat16, float8_*, int4, ...)."""
    # Not by kind: ml_dtypes reports float8_e5m2 as kind 'f', the others as 'V'.
    return dtype.type.__module__ == "ml_dtypes"


def resolve_dtype(name: object) -> np.dtype:
    """Turn a metadata ``dtype`` value into a NumPy dtype, or raise :class:`DtypeError`."""
    if not isinstance(name, str) or not name.strip():
        raise DtypeError(f"dtype must be a non-empty string, not {name!r}")
    text = name.strip()
    if len(text) > 64:
        raise DtypeError(f"dtype name is too long ({len(text)} characters)")
    ml = _ml_dtype(text)
    if ml is not None:
        return ml
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError, SyntaxError):
        raise DtypeError(f"unknown dtype {text!r}") from None
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in NUMERIC_KINDS:
        raise DtypeError(
            f"dtype {text!r} is refused: only numeric and bool tensors are read "
            "(object, string, void and datetime types are not tensors and may carry code)"
        )
    return dtype


def dtype_name(dtype: np.dtype) -> str:
    """The name written to metadata: ``str(dtype)`` as the recipe writes it ('float32', '>f4')."""
    return str(dtype)
