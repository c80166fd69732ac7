"""Unnamed numeric rows: one row per kernel row and per bias element, no names, no shapes.

Such files (common for microcontroller and FPGA ports) can only be read with the shapes
of the model they belong to: :func:`split_rows` walks the rows in order and cuts one
tensor per given shape — ``prod(shape[:-1])`` rows of ``shape[-1]`` values (Keras's
``(kh*kw*in, out)`` flattening), or ``shape[0]`` rows of the rest (PyTorch's
``(out, -1)``); a 1-D tensor is one row of its length or that many one-value rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from csv_state_viewer.core.csv.textcodec import parse_chunk
from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.layouts.values import DECIDED_KEY, decide_dtype, looks_integer
from csv_state_viewer.core.lazystate import LazyState, LazyTensor, tensor_from_array

MAX_BYTES = 256 << 20  # parsed whole: these files are small by nature
_SEPARATORS = re.compile(rb"[,;\t ]+")


@dataclass(frozen=True)
class Row:
    line: int
    values: np.ndarray  # float64
    integers: bool


def read_rows(path: str) -> list[Row]:
    """Every non-empty, non-comment row of numbers; NotAStateError names a bad line."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise NotAStateError(path, f"larger than {MAX_BYTES >> 20} MiB for unnamed rows")
    rows = []
    for number, raw in enumerate(data.splitlines(), start=1):
        text = raw.strip().strip(b"[]")
        if not text or text.startswith(b"#"):
            continue
        tokens = [t for t in _SEPARATORS.split(text.replace(b"][", b",")) if t]
        try:
            values = parse_chunk(b",".join(tokens), np.dtype(np.float64))
        except ValueError as err:
            raise NotAStateError(f"{path}:{number}", f"not a row of numbers ({err})") from None
        rows.append(Row(number, values, all(looks_integer(t) for t in tokens)))
    return rows


def _take(rows: list[Row], start: int, count: int, width: int) -> list[Row] | None:
    chosen = rows[start : start + count]
    if len(chosen) == count and all(row.values.size == width for row in chosen):
        return chosen
    return None


def _cut(rows: list[Row], start: int, shape: tuple[int, ...]) -> list[Row] | None:
    """The rows that make a tensor of ``shape`` from ``start``, or None."""
    size = math.prod(shape)
    if len(shape) == 0:
        return _take(rows, start, 1, 1)
    ways = [(1, size), (size, 1)] if len(shape) == 1 else []
    ways += [(math.prod(shape[:-1]), shape[-1]), (shape[0], size // max(shape[0], 1))]
    for count, width in ways:
        found = _take(rows, start, count, width)
        if found is not None:
            return found
    return None


def split_rows(
    path: str, targets: Sequence[tuple[str, tuple[int, ...]]], format_name: str = "unnamed-rows"
) -> LazyState:
    """Cut the rows of ``path`` into tensors named and shaped as ``targets``, in order."""
    rows = read_rows(path)
    tensors: list[LazyTensor] = []
    start = 0
    for name, shape in targets:
        chosen = _cut(rows, start, tuple(shape))
        if chosen is None:
            line = rows[start].line if start < len(rows) else "the end"
            raise NotAStateError(
                f"{path}:{line}" if start < len(rows) else path,
                f"the rows from here do not make {name} of shape {list(shape)}",
            )
        values, why = decide_dtype(
            np.concatenate([row.values for row in chosen]),
            integers=all(row.integers for row in chosen),
        )
        tensor = tensor_from_array(name, values.reshape(shape), {DECIDED_KEY: why})
        tensor.line = chosen[0].line
        tensors.append(tensor)
        start += len(chosen)
    if start < len(rows):
        raise NotAStateError(
            f"{path}:{rows[start].line}",
            f"{len(rows) - start} rows are left after the {len(targets)} tensors of the model",
        )
    return LazyState(path, format_name, tensors)
