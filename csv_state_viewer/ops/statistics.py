"""Statistics of a state's tensors, and writing a statistics table: for ``csv-state stats``
and the viewer's Summary export.

Both front ends measure with :func:`~csv_state_viewer.core.analysis.summary.summarize`
(parameters and optimizer state apart, counters as values) and write the rows of
:func:`~csv_state_viewer.core.analysis.summary.tensor_record`.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from csv_state_viewer.core.analysis.stats import TensorStats, tensor_stats
from csv_state_viewer.core.analysis.summary import COLUMNS, GroupStats, summarize
from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.state import State, TensorEntry

FORMATS = (".csv", ".json")  # what a statistics table is written as, by extension


class NoSuchTensorError(CsvStateError):
    """A name or glob that matches no tensor of the state."""


def select(state: State, names: Sequence[str] = ()) -> list[TensorEntry]:
    """The entries of ``state`` (bad rows too) named by ``names``, in file order: each an
    exact name or a glob (``*kernel``, ``adam/*``); all entries when ``names`` is empty.
    Raises :class:`NoSuchTensorError` for a name that matches nothing."""
    if not names:
        return list(state.entries)
    wanted: set[int] = set()
    for name in names:
        globbing = any(c in name for c in "*?[")
        found = [
            i
            for i, entry in enumerate(state.entries)
            if entry.name == name or (globbing and fnmatch.fnmatchcase(entry.name, name))
        ]
        if not found:
            raise NoSuchTensorError(f"{state.path}: no tensor named {name!r}")
        wanted.update(found)
    return [entry for i, entry in enumerate(state.entries) if i in wanted]


def state_statistics(
    state: State, names: Sequence[str] = (), progress: Progress = NO_PROGRESS
) -> GroupStats[TensorEntry]:
    """Statistics of the tensors of ``state`` named by ``names`` (see :func:`select`); bad
    rows and bad data are in ``failed``."""

    def measure(entry: TensorEntry, part: Progress) -> TensorStats:
        return tensor_stats(state.read(entry, part), part)

    return summarize(select(state, names), lambda entry: entry, measure, progress)


# ------------------------------------------------------------------------- writing
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def table_text(records: list[dict[str, Any]], fmt: str, extra: dict[str, Any]) -> str:
    """``records`` (rows of :data:`COLUMNS`) as CSV (one row each, a header first) or as
    JSON (``{"tensors": records, **extra}``)."""
    if fmt == ".json":
        return json.dumps({**extra, "tensors": records}, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([_cell(record.get(column)) for column in COLUMNS])
    return out.getvalue()


def write_table(
    path: str | os.PathLike[str],
    records: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> str:
    """Write ``records`` to ``path`` atomically, as CSV or JSON by its extension; returns
    the format (``.csv`` or ``.json``). Raises ValueError for another extension."""
    fmt = os.path.splitext(os.fspath(path))[1].lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: a statistics table is written as .csv or .json")
    data = table_text(records, fmt, extra or {}).encode("utf-8")
    with atomic_write(path) as handle:
        handle.write(data)
    return fmt
