"""Decimal text encoding of tensor data: comma-joined numbers, as ``str()`` writes them.

Parsing and formatting of the common types run in pyarrow's C++ kernels (exact
``fast_float`` parsing, shortest round-trip formatting) on chunks of a field, so the
callers can spread chunks over threads. Rare types (complex, long double) take a
per-value path. Every function here works on one chunk of whole numbers.

Besides commas, values may be separated the way other writers separate them: spaces,
tabs, line breaks or ``;`` (``np.savetxt``, ``" ".join``, a value per line), and a field
may be wrapped in brackets, nested as ``str(arr.tolist())`` writes them. Such a chunk is
first rewritten to plain comma-joined text (:func:`_loosen`), then parsed by the same
exact paths; plain comma-joined chunks never reach that rewrite.

float16 and the ml_dtypes float types (bfloat16, float8, ...) are parsed as float64 and
narrowed with one correct rounding of the text (:mod:`.narrowing`), as are the float32
parts of complex64; float32 itself is parsed straight into float32 (or, by simdjson, as
float64 with its double-rounding traps refused).
"""

from __future__ import annotations

import functools
import io
import os
import re

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from csv_state_viewer.core.csv import jsonparse, narrowing
from csv_state_viewer.core.dtypes import is_ml_dtype, is_small_float


class DataError(ValueError):
    """A data field does not hold what its metadata declares."""


_ARROW_TYPES: dict[str, pa.DataType] = {
    "b1": pa.bool_(),
    "i1": pa.int8(),
    "i2": pa.int16(),
    "i4": pa.int32(),
    "i8": pa.int64(),
    "u1": pa.uint8(),
    "u2": pa.uint16(),
    "u4": pa.uint32(),
    "u8": pa.uint64(),
    "f4": pa.float32(),
    "f8": pa.float64(),
}
_FLOAT64 = np.dtype(np.float64)
_ARROW_ERROR = re.compile(r"Row #(\d+): CSV conversion error to \w+: invalid value '(.*)'$", re.S)
_CONVERT = {
    arrow_type: pa_csv.ConvertOptions(
        column_types={"v": arrow_type},
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    for arrow_type in _ARROW_TYPES.values()
}
_READ = pa_csv.ReadOptions(column_names=["v"], use_threads=False, block_size=1 << 26)
# Empty lines are kept so that an empty value ('1,,2') is a conversion error, not skipped.
_PARSE = pa_csv.ParseOptions(
    quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
)


def _code(dtype: np.dtype) -> str:
    return f"{dtype.kind}{dtype.itemsize}"


# ---------------------------------------------------------------------------- parsing


def count_values(chunk: bytes, *, brackets: bool = False) -> int:
    """Number of values in a chunk (0 for an empty chunk)."""
    loose = _loosen(chunk, brackets)
    if loose is not None:
        chunk = loose
    return chunk.count(b",") + 1 if chunk else 0


_LOOSE = re.compile(rb"[\s;]")
_LOOSE_OR_BRACKETS = re.compile(rb"[\s;\[\]]")
_WHITESPACE = b"\t\n\r\v\f"
_LOOSE_TABLE = bytes.maketrans(_WHITESPACE + b";", b" " * len(_WHITESPACE) + b",")
_BRACKETS_TABLE = bytes.maketrans(_WHITESPACE + b";[]", b" " * len(_WHITESPACE) + b",  ")
_SEPARATOR = re.compile(rb" *, *| +")
# A bracket glued to a value on its outer side: '1[2', '3]4' (brackets only wrap lists).
_GLUED_BRACKET = re.compile(rb"[^\s\[\],;]\[|\][^\s\[\],;]")


def _loosen(chunk: bytes, brackets: bool) -> bytes | None:
    """The chunk as plain comma-joined text, or None when it is plain already.

    Whitespace next to a separator is dropped, whitespace alone separates; ``;`` is a
    separator like ``,``; with ``brackets``, ``[`` and ``]`` are list marks (the field
    starts with ``[``). Without ``brackets`` they are kept, for the parser to refuse.
    """
    if not (_LOOSE_OR_BRACKETS if brackets else _LOOSE).search(chunk):
        return None
    if b";" in chunk and b"," in chunk:
        raise DataError(
            "the data mixes ';' and ',' (decimal commas?): values must be separated by one "
            "of them and use '.' for decimals"
        )
    if brackets:
        glued = _GLUED_BRACKET.search(chunk)
        if glued:
            raise DataError(
                f"a bracket inside a value: {glued.group(0).decode('ascii', 'replace')!r}"
            )
    text = chunk.translate(_BRACKETS_TABLE if brackets else _LOOSE_TABLE).strip(b" ")
    if b"," not in text:
        return b",".join(text.split())
    return _SEPARATOR.sub(b",", text)


def _arrow_parse(chunk: bytes, arrow_type: pa.DataType) -> np.ndarray:
    table = pa_csv.read_csv(
        io.BytesIO(chunk.replace(b",", b"\n")),
        read_options=_READ,
        parse_options=_PARSE,
        convert_options=_CONVERT[arrow_type],
    )
    column = table.column(0)
    if column.num_chunks == 1:
        return column.chunk(0).to_numpy(zero_copy_only=False)
    return column.to_numpy()


def _bad_value_error(err: pa.ArrowInvalid, dtype: np.dtype, first_index: int) -> DataError:
    match = _ARROW_ERROR.search(str(err))
    if match is None:  # pragma: no cover - depends on pyarrow's message wording
        return DataError(f"bad {dtype} value in the data: {err}")
    index = first_index + int(match.group(1)) - 1
    if not match.group(2):
        return DataError(f"empty value at element {index + 1}")
    return DataError(f"bad {dtype} value {match.group(2)[:40]!r} at element {index + 1}")


def _parse_integral_floats(chunk: bytes, dtype: np.dtype) -> np.ndarray | None:
    """Integers written as '3.0' (a float-typed writer): accept when exact and in range."""
    try:
        values = _arrow_parse(chunk, pa.float64())
    except pa.ArrowInvalid:
        return None
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        return None
    if np.any(np.abs(values) > 2.0**53):
        return None
    if info is not None and (np.any(values < info.min) or np.any(values > info.max)):
        return None
    return values.astype(dtype)


def _split_complex(token: str) -> tuple[str, str]:
    text = token.strip().removeprefix("(").removesuffix(")").replace(" ", "")
    if not text.endswith("j"):
        return text, "0"
    body = text[:-1]
    for at in range(len(body) - 1, 0, -1):
        if body[at] in "+-" and body[at - 1] not in "eE":
            return body[:at], body[at:]
    return "0", body


def _parse_slow(chunk: bytes, dtype: np.dtype, first_index: int) -> np.ndarray:
    tokens = chunk.decode("ascii", errors="replace").split(",")
    is_complex = dtype.kind == "c"
    component = np.dtype(f"f{dtype.itemsize // 2}") if is_complex else dtype
    # NumPy reads float32 text through float64 (rounding twice): such parts are read as
    # float64 here and narrowed from their texts.
    narrowed = is_complex and component.itemsize < 8
    wide = _FLOAT64 if narrowed else component
    texts: tuple[list[str], list[str]] = ([], [])
    real = np.empty(len(tokens), dtype=wide)
    imag = np.zeros(len(tokens), dtype=wide)
    for index, token in enumerate(tokens):
        try:
            if is_complex:
                real_text, imag_text = _split_complex(token)
                real[index] = wide.type(real_text)
                imag[index] = wide.type(imag_text)
                if narrowed:
                    texts[0].append(real_text)
                    texts[1].append(imag_text)
            else:
                real[index] = wide.type(token.strip())
        except (ValueError, TypeError, OverflowError):
            raise DataError(
                f"bad {dtype} value {token[:40]!r} at element {first_index + index + 1}"
            ) from None
    if narrowed:
        real, imag = (
            _narrow(part, component, _listed(words), first_index)
            for part, words in zip((real, imag), texts, strict=True)
        )
    if not is_complex:
        return real
    out = np.empty(len(tokens), dtype=dtype)
    out.real, out.imag = real, imag  # not real + 1j*imag: inf * 1j would make a NaN
    return out


def _listed(words: list[str]) -> narrowing.Texts:
    def texts(indices: np.ndarray) -> list[bytes]:
        return [words[i].encode("ascii", "replace") for i in indices.tolist()]

    return texts


def _narrow(
    wide: np.ndarray, dtype: np.dtype, texts: narrowing.Texts, first_index: int
) -> np.ndarray:
    try:
        return narrowing.narrow(wide, dtype, texts, first_index)
    except ValueError as err:  # a text the float64 parser took but Decimal does not
        raise DataError(str(err)) from None


def read_framed(fd: int, offset: int, length: int) -> bytearray:
    """``length`` bytes of a file read straight into ``[...]``, ready for the fast path."""
    framed = bytearray(length + 2)
    framed[0], framed[-1] = 0x5B, 0x5D  # '[' and ']'
    got = os.preadv(fd, [memoryview(framed)[1:-1]], offset)
    if got != length:
        raise DataError(f"the file ended early (read {got} of {length} bytes)")
    return framed


def parse_framed(
    framed: bytearray, dtype: np.dtype, first_index: int = 0, *, brackets: bool = False
) -> np.ndarray:
    """Like :func:`parse_chunk` for a chunk read by :func:`read_framed`."""
    return _parse(framed, dtype, first_index, brackets)


def parse_chunk(
    chunk: bytes, dtype: np.dtype, first_index: int = 0, *, brackets: bool = False
) -> np.ndarray:
    """Parse one chunk of numbers into a 1-D array of ``dtype``.

    ``first_index`` is the element index of the chunk's first value within its tensor,
    so that error messages name the element in the whole tensor. ``brackets`` says the
    field is a (nested) list in brackets, so ``[`` and ``]`` separate values.
    """
    return _parse(jsonparse.frame(chunk), dtype, first_index, brackets)


def _parse(
    framed: bytes | bytearray, dtype: np.dtype, first_index: int, brackets: bool = False
) -> np.ndarray:
    if len(framed) <= 2:
        return np.empty(0, dtype=dtype)
    native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
    if jsonparse.supports(native) and not is_ml_dtype(native):
        fast = jsonparse.parse_numbers(framed, native)
        if fast is not None:
            return fast.astype(dtype, copy=False)
    elif is_small_float(native):
        fast = jsonparse.parse_numbers(framed, _FLOAT64)
        if fast is not None:
            texts = narrowing.comma_texts(framed, 1, len(framed) - 1)
            return _narrow(fast, native, texts, first_index).astype(dtype, copy=False)
    chunk = bytes(framed[1:-1])
    loose = _loosen(chunk, brackets)
    if loose is not None:
        return _parse(jsonparse.frame(loose), dtype, first_index)
    if native.kind == "c" or (native.kind == "f" and native.itemsize > 8):
        values = _parse_slow(chunk, native, first_index)
    elif is_ml_dtype(native) or native == np.float16:
        values = _parse_via_wide(chunk, native, first_index)
    else:
        arrow_type = _ARROW_TYPES[_code(native)]
        try:
            values = _arrow_parse(chunk, arrow_type)
        except pa.ArrowInvalid as err:
            fallback = _parse_integral_floats(chunk, native) if native.kind in "iu" else None
            if fallback is None:
                raise _bad_value_error(err, native, first_index) from None
            values = fallback
    return values.astype(dtype, copy=False)


def _parse_via_wide(chunk: bytes, dtype: np.dtype, first_index: int) -> np.ndarray:
    """Small types: parse as float64 / int64, then round once into the target type."""
    is_int = not is_small_float(dtype)
    wide = pa.int64() if is_int else pa.float64()
    try:
        values = _arrow_parse(chunk, wide)
    except pa.ArrowInvalid as err:
        raise _bad_value_error(err, dtype, first_index) from None
    if not is_int:
        # The chunk is plain comma-joined text here (_loosen ran), one value per comma.
        return _narrow(values, dtype, narrowing.comma_texts(chunk, 0, len(chunk)), first_index)
    import ml_dtypes

    info = ml_dtypes.iinfo(dtype)
    bad = np.flatnonzero((values < int(info.min)) | (values > int(info.max)))
    if bad.size:
        raise DataError(
            f"value {values[bad[0]]} out of range for {dtype} at element "
            f"{first_index + int(bad[0]) + 1}"
        )
    return values.astype(dtype)


# ------------------------------------------------------------------------- formatting


@functools.cache
def _shortest_table(dtype: np.dtype) -> pa.Array:
    """Shortest round-trip text of every bit pattern of a 1- or 2-byte float type."""
    bits = np.arange(1 << (8 * dtype.itemsize), dtype=f"u{dtype.itemsize}")
    values = bits.view(dtype)
    # Some float8 types have no inf: casting a too-large candidate back overflows to NaN,
    # which is simply "not this candidate".
    with np.errstate(over="ignore", invalid="ignore"):
        wide = values.astype(np.float64)
        texts = [
            _shortest(value, original, dtype)
            for value, original in zip(wide.tolist(), values, strict=True)
        ]
    return pa.array(texts, type=pa.string())


def _shortest(value: float, original: np.generic, dtype: np.dtype) -> str:
    if value != value:  # noqa: PLR0124 - NaN test
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    target = np.asarray(original).view(f"u{dtype.itemsize}")
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        back = np.asarray(float(text)).astype(dtype).view(f"u{dtype.itemsize}")
        if back == target:
            return text
    return repr(value)  # pragma: no cover - float64 always round-trips within 17 digits


def _format_slow(values: np.ndarray) -> list[str]:
    def real_text(x: np.generic) -> str:
        return str(x)

    if values.dtype.kind == "c":
        out = []
        for z in values:
            real, imag = real_text(z.real), real_text(z.imag)
            sign = "" if imag.startswith("-") else "+"
            out.append(f"({real}{sign}{imag}j)")
        return out
    return [real_text(x) for x in values]


def _format_strings(values: np.ndarray) -> pa.Array:
    dtype = values.dtype
    if dtype.byteorder not in "=|":
        values = values.astype(dtype.newbyteorder("="))
        dtype = values.dtype
    if dtype.kind == "b":
        return pc.cast(pa.array(values.view(np.uint8)), pa.string())
    if is_ml_dtype(dtype) and dtype.name.startswith(("int", "uint")):
        return pc.cast(pa.array(values.astype(np.int8)), pa.string())
    if is_ml_dtype(dtype) or dtype == np.float16:
        table = _shortest_table(dtype)
        return pc.take(table, pa.array(values.view(f"u{dtype.itemsize}")))
    if _code(dtype) in _ARROW_TYPES:
        return pc.cast(pa.array(values), pa.string())
    return pa.array(_format_slow(values), type=pa.string())


_ORJSON_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _format_with_orjson(values: np.ndarray) -> bytes | memoryview | None:
    """orjson's shortest round-trip text (Ryu) of a finite native float32/float64 chunk,
    about three times Arrow's cast here; None where it does not apply (orjson writes NaN
    and infinities as ``null``, so such chunks take the Arrow path)."""
    if values.dtype not in _ORJSON_FLOATS or not values.flags.c_contiguous:
        return None
    if not np.isfinite(values).all():
        return None
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    if not (np.trunc(values) == values).any():  # 60 times cheaper than the replace below
        return memoryview(text)[1:-1]
    # Whole numbers as the rest of the writer writes them: "12", not orjson's "12.0".
    return (text[1:-1] + b",").replace(b".0,", b",")[:-1]


def format_chunk(values: np.ndarray) -> bytes | memoryview:
    """Comma-joined shortest round-trip text of a 1-D array (NaN as 'nan', bool as 1/0)."""
    if values.size == 0:
        return b""
    fast = _format_with_orjson(values)
    if fast is not None:
        return fast
    # Callers pass chunks of at most a few million values, well within int32 offsets.
    strings = _format_strings(values)
    offsets = pa.array([0, len(strings)], type=pa.int32())
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, strings), ",")
    return joined[0].as_buffer().to_pybytes()
