"""Writer of CSV training states, in the dialect and layout the recipe's loaders read."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any, cast

import numpy as np

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.csv import base64codec, textcodec
from csv_state_viewer.core.csv.csvindex import ENCODINGS, MAX_NAME_BYTES
from csv_state_viewer.core.csv.csvstate import crc32_of
from csv_state_viewer.core.dtypes import dtype_name, is_ml_dtype
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.parallel import ordered_map
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items

HEADER = b"tensor_name,tensor_data,tensor_metadata\n"
TEXT_CHUNK_VALUES = 1 << 20


def _csv_field(text: str) -> bytes:
    """One field quoted exactly as ``csv.writer`` would (minimal quoting, doubled quotes)."""
    buffer = io.StringIO()
    # csv quotes fields holding characters of its lineterminator, so give it CR and LF.
    csv.writer(buffer, lineterminator="\r\n").writerow([text])
    return buffer.getvalue().removesuffix("\r\n").encode("utf-8")


def canonical_nans(array: np.ndarray) -> np.ndarray:
    """The array as text decodes it: every NaN becomes the type's default quiet NaN."""
    if not (array.dtype.kind in "fc" or is_ml_dtype(array.dtype)):
        return array
    if array.dtype.kind == "c":
        real, imag = canonical_nans(array.real), canonical_nans(array.imag)
        if real is array.real and imag is array.imag:
            return array
        out = np.empty_like(array)
        out.real, out.imag = real, imag
        return out
    try:
        with np.errstate(invalid="ignore"):  # signalling NaNs are NaNs too
            mask = np.isnan(array)
    except TypeError:  # integer ml_dtypes have no NaN
        return array
    if not mask.any():
        return array
    out = array.copy()
    out[mask] = np.asarray(np.nan).astype(array.dtype)
    return out


def _metadata(item: TensorItem, array: np.ndarray, encoding: str) -> bytes:
    crc_source = canonical_nans(array) if encoding == "text" else array
    meta: dict[str, Any] = {
        "shape": list(array.shape),
        "dtype": dtype_name(array.dtype),
        "encoding": encoding,
        "crc32": crc32_of(crc_source),
    }
    meta.update(item.metadata)
    # NaN and infinities in metadata (a learning rate that went NaN) are written as
    # Python's json writes them, NaN / Infinity / -Infinity, which our reader, the
    # recipe's json.loads and the npz sidecar read back exactly (strict JSON has no
    # spelling for them).
    return _csv_field(json.dumps(meta, ensure_ascii=False, allow_nan=True, default=str))


def _text_pieces(array: np.ndarray) -> Iterator[bytes]:
    flat = array.reshape(-1)
    starts = range(0, flat.size, TEXT_CHUNK_VALUES)
    first = True
    for piece in ordered_map(
        lambda s: textcodec.format_chunk(flat[s : s + TEXT_CHUNK_VALUES]), starts
    ):
        if not first:
            yield b","
        first = False
        yield piece


def _base64_pieces(array: np.ndarray) -> Iterator[bytes]:
    raw = memoryview(array.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    starts = range(0, len(raw), base64codec.CHUNK_BYTES)
    return ordered_map(
        lambda s: base64codec.encode_chunk(raw[s : s + base64codec.CHUNK_BYTES]), starts
    )


def write_rows(
    out: IO[bytes],
    items: list[TensorItem],
    encoding: str,
    progress: Progress = NO_PROGRESS,
    *,
    skip_bad: bool = False,
) -> int:
    """Write the header and one row per tensor; return how many rows were written."""
    written = 0
    total = sum(int(np.prod(item.shape)) * item.dtype.itemsize for item in items) or 1
    done = 0
    out.write(HEADER)
    for item, array in iter_loaded(items, skip_bad=skip_bad):
        check_cancelled(progress)
        out.write(_csv_field(item.name))
        out.write(b",")
        if encoding == "base64":
            pieces = _base64_pieces(array)
        else:
            quoted = array.size > 1
            pieces = _text_pieces(array)
            out.write(b'"' if quoted else b"")
        for piece in pieces:
            out.write(piece)
            check_cancelled(progress)
        if encoding == "text" and quoted:
            out.write(b'"')
        out.write(b",")
        out.write(_metadata(item, array, encoding))
        out.write(b"\n")
        done += array.nbytes
        written += 1
        progress.report(done, total)
    return written


def save_csv_state(
    path: str,
    tensors: Tensors,
    *,
    encoding: str = "text",
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
) -> int:
    """Write ``tensors`` as a CSV state (gzip-compressed when ``path`` ends in ``.gz``).

    Returns the number of tensors written (fewer than given when ``skip_bad`` skips some).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be 'text' or 'base64', not {encoding!r}")
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    for item in items:  # what the reader would refuse is never written
        size = len(item.name.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise StateWriteError(
                f"{path}: tensor name {item.name[:60]!r}… is {size} bytes long; "
                f"a CSV state holds names of at most {MAX_NAME_BYTES} bytes"
            )
    with atomic_write(path, overwrite=overwrite) as handle:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=6, mtime=0) as zipped:
                stream = cast(IO[bytes], zipped)
                return write_rows(stream, items, encoding, progress, skip_bad=skip_bad)
        return write_rows(handle, items, encoding, progress, skip_bad=skip_bad)
