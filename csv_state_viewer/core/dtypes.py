"""Which element types a state may declare, and how their names are spelled.

Only plain numeric types are accepted: bool, signed and unsigned integers, floats and
complex numbers of NumPy (either byte order), and the small float/int types of
``ml_dtypes`` (bfloat16, float8, int4, ...). Object, string, void, datetime and
structured types are refused, so no value is ever unpickled or evaluated.

Names are accepted as the common libraries print them (:func:`normalize_dtype_name`):
``<dtype: 'float32'>`` and ``float32_ref`` (TensorFlow), ``torch.float32`` and torch's
``torch.half``/``torch.float``/``torch.double``, ``np.float32``, ``<class 'numpy.float32'>``
and ``dtype('float32')``. Spelling is all that is normalised: the type itself is decided by
NumPy or ml_dtypes from the plain name, and refused types stay refused.
"""

from __future__ import annotations

import re

import numpy as np

NUMERIC_KINDS = frozenset("biufc")
_ML_DTYPE_NAME = re.compile(r"^(bfloat16|float[0-9]+_[a-z0-9]+|u?int[24])$")


# What torch calls its types where the plain NumPy name means something else
# (NumPy's 'float' is float64 and its 'int' is int64; torch's are 32-bit).
_TORCH_NAMES = {
    "half": "float16",
    "float": "float32",
    "double": "float64",
    "cfloat": "complex64",
    "cdouble": "complex128",
    "short": "int16",
    "int": "int32",
    "long": "int64",
}
# Names NumPy 2 dropped but older code still prints or writes.
_OLD_NUMPY_NAMES = {"float_": "float64", "complex_": "complex128", "cfloat": "complex128"}
# TensorFlow's non-numeric types, which NumPy does not know by these names.
_NOT_TENSOR_NAMES = frozenset({"string", "resource", "variant"})
_WRAPPERS = (
    re.compile(r"^<dtype:\s*'([^']*)'>$"),  # str(tf.float32)
    re.compile(r"^<class\s+'([^']*)'>$"),  # str(np.float32), str(ml_dtypes.bfloat16)
    re.compile(r"""^dtype\(\s*['"]?([^'"()]*)['"]?\s*\)$"""),  # repr(np.dtype(...))
)
_MODULES = (
    "tensorflow.",
    "tf.",
    "torch.",
    "numpy.",
    "np.",
    "jax.numpy.",
    "jnp.",
    "ml_dtypes.",
)


def normalize_dtype_name(name: str) -> str:
    """The plain NumPy/ml_dtypes name of a dtype as a library or a user spelled it.

    ``"<dtype: 'float32_ref'>"``, ``"tf.float32"``, ``"torch.float"``, ``"np.float32"``,
    ``"<class 'numpy.float32'>"`` and ``"dtype('float32')"`` all give ``"float32"``;
    byte-order codes pass unchanged (``"dtype('>f4')"`` gives ``">f4"``). Anything not
    recognised comes back stripped, for :func:`resolve_dtype` to judge.
    """
    text = name.strip()
    for wrapper in _WRAPPERS:
        match = wrapper.match(text)
        if match:
            text = match.group(1).strip()
            break
    torch = text.startswith("torch.")
    for module in _MODULES:
        if text.startswith(module):
            text = text[len(module) :]
            break
    if text.startswith("_ml_dtypes_ext."):  # str(ml_dtypes.bfloat16) in some versions
        text = text[len("_ml_dtypes_ext.") :]
    text = text.removesuffix("_ref")  # TensorFlow 1 reference variables
    if torch:
        return _TORCH_NAMES.get(text, text)
    return _OLD_NUMPY_NAMES.get(text, text)


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


def is_small_float(dtype: np.dtype) -> bool:
    """True for float16 and the float types of ``ml_dtypes`` (bfloat16, float8_*, float6_*,
    float4_*): decimal text is read as float64 first and narrowed exactly into them."""
    if is_ml_dtype(dtype):
        return not dtype.name.startswith(("int", "uint"))
    return dtype.kind == "f" and dtype.itemsize == 2


def resolve_dtype(name: object) -> np.dtype:
    """Turn a metadata ``dtype`` value into a NumPy dtype, or raise :class:`DtypeError`.

    Library spellings are accepted (see :func:`normalize_dtype_name`); messages quote
    the name as written.
    """
    if not isinstance(name, str) or not name.strip():
        raise DtypeError(f"dtype must be a non-empty string, not {name!r}")
    if len(name.strip()) > 64:
        raise DtypeError(f"dtype name is too long ({len(name.strip())} characters)")
    written = name.strip()
    text = normalize_dtype_name(written)
    if not text:
        raise DtypeError(f"unknown dtype {written!r}")
    if text in _NOT_TENSOR_NAMES:
        raise DtypeError(_refused(written))
    ml = _ml_dtype(text)
    if ml is not None:
        return ml
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError, SyntaxError):
        raise DtypeError(f"unknown dtype {written!r}") from None
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in NUMERIC_KINDS:
        raise DtypeError(_refused(written))
    return dtype


def _refused(written: str) -> str:
    return (
        f"dtype {written!r} is refused: only numeric and bool tensors are read "
        "(object, string, void and datetime types are not tensors and may carry code)"
    )


def dtype_name(dtype: np.dtype) -> str:
    """The name written to metadata: ``str(dtype)`` as the recipe writes it ('float32', '>f4')."""
    return str(dtype)
