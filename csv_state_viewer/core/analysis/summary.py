"""The statistics of a file or scope, with model parameters and optimizer state apart.

One computation for every front end: the viewer's Summary (its loaders read through the
tensor cache) and ``csv-state stats`` (its loaders read the state) both call
:func:`summarize`, and both write a tensor's row with :func:`tensor_record`.

Statistics of model parameters and of optimizer state are taken separately; counters and
optimizer scalars (``iteration``, ``learning_rate``) are not measured with them but shown
as values (``iteration: 320``): one step counter would otherwise be the maximum and most
of the L2 norm of a small model. See :mod:`~csv_state_viewer.core.analysis.roles`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from csv_state_viewer.core.analysis.roles import (
    OTHER,
    Kind,
    is_optimizer_state,
    is_parameter,
    kind_of,
    shown_as_value,
)
from csv_state_viewer.core.analysis.stats import TensorStats, combine
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.formatting import shape_text
from csv_state_viewer.core.progress import Progress, check_cancelled
from csv_state_viewer.core.state import TensorEntry

T = TypeVar("T")

# The columns of a per-tensor statistics table (Summary export, ``csv-state stats``).
COLUMNS = (
    "name",
    "shape",
    "dtype",
    "role",
    "parameters",
    "min",
    "max",
    "mean",
    "std",
    "l2",
    "zeros",
    "nan",
    "inf",
)
PARAMETERS = "parameters"
OPTIMIZER = "optimizer"
VALUES = "values"
_ROLE_NAMES = {"weight": "parameter", "slot": "optimizer", "optimizer scalar": "optimizer"}


# ------------------------------------------------------------------------- wording
def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 tensor``, ``2 tensors``, ``1,024 bad rows`` (thousands separated)."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def format_percent(percent: float) -> str:
    """A percentage a reader takes in at once: ``0 %``, ``< 0.001 %``, ``0.0125 %``,
    ``12.5 %``, ``> 99.999 %``, ``100 %`` (never ``1.19209e-05 %``)."""
    if math.isnan(percent):
        return "n/a"
    if percent == 0:
        return "0 %"
    if percent == 100:
        return "100 %"
    if 0 < percent < 0.001:
        return "< 0.001 %"
    if 99.999 < percent < 100:
        return "> 99.999 %"
    if percent < 1:
        return f"{percent:.3g} %"
    return f"{percent:.4g} %" if percent < 100 else f"{percent:.5g} %"


def percent_text(part: int, whole: int) -> str:
    """``part`` of ``whole`` as :func:`format_percent` words it; ``0 %`` and ``100 %``
    only when exact."""
    if not whole:
        return "0 %"
    if part not in (0, whole):  # never say none or all when it is neither
        return format_percent(min(max(100.0 * part / whole, 1e-9), 100 - 1e-9))
    return format_percent(100.0 * part / whole)


def value_text(stats: TensorStats, integer: bool) -> str:
    """The one value of a counter or scalar, from its statistics: ``320``, ``0.001``."""
    if stats.nan:
        return "nan"
    if stats.posinf:
        return "inf"
    if stats.neginf:
        return "-inf"
    if stats.min is None:
        return "—"
    if stats.count != 1:
        return f"{stats.min:.6g} … {stats.max:.6g}"
    return f"{int(stats.min):,}" if integer else f"{stats.min:.6g}"


def role_name(kind: Kind) -> str:
    """What a table calls a tensor of ``kind``: parameter, optimizer, counter, other."""
    return _ROLE_NAMES.get(kind, kind)


# ------------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Measured(Generic[T]):
    """One tensor and its statistics."""

    item: T
    entry: TensorEntry
    kind: Kind
    stats: TensorStats

    @property
    def integer(self) -> bool:
        dtype = self.entry.dtype
        return dtype is not None and dtype.kind in "biu"

    @property
    def value(self) -> str | None:
        """A counter's or scalar's value as text; None for the tensors that are measured."""
        return value_text(self.stats, self.integer) if shown_as_value(self.kind) else None


@dataclass(frozen=True)
class GroupStats(Generic[T]):
    """Statistics of several tensors, parameters and optimizer state apart."""

    tensors: list[Measured[T]] = field(default_factory=list)
    failed: list[tuple[T, RowError]] = field(default_factory=list)

    def _of(self, wanted: Callable[[Kind], bool]) -> list[Measured[T]]:
        return [m for m in self.tensors if wanted(m.kind) and not shown_as_value(m.kind)]

    @property
    def parameter_tensors(self) -> list[Measured[T]]:
        return self._of(is_parameter)

    @property
    def optimizer_tensors(self) -> list[Measured[T]]:
        return self._of(is_optimizer_state)

    @property
    def other_tensors(self) -> list[Measured[T]]:
        return self._of(lambda kind: kind == OTHER)

    @property
    def parameters(self) -> TensorStats:
        return combine([m.stats for m in self.parameter_tensors])

    @property
    def optimizer(self) -> TensorStats:
        return combine([m.stats for m in self.optimizer_tensors])

    @property
    def other(self) -> TensorStats:
        return combine([m.stats for m in self.other_tensors])

    @property
    def values(self) -> list[Measured[T]]:
        """Counters and optimizer scalars, shown as values."""
        return [m for m in self.tensors if shown_as_value(m.kind)]

    @property
    def measured(self) -> int:
        return len(self.tensors)


class _Part:
    """The progress of one tensor as a slice of the whole (cancelling stops the whole)."""

    def __init__(self, outer: Progress, start: int, weight: int, total: int) -> None:
        self._outer, self._start, self._weight, self._total = outer, start, weight, total

    def report(self, done: int, total: int) -> None:
        if total > 0:
            self._outer.report(self._start + self._weight * min(done, total) // total, self._total)

    def cancelled(self) -> bool:
        return self._outer.cancelled()


def summarize(
    items: Sequence[T],
    entry_of: Callable[[T], TensorEntry],
    stats_of: Callable[[T, Progress], TensorStats],
    progress: Progress,
) -> GroupStats[T]:
    """Statistics of ``items`` (tensors of one state), each measured by ``stats_of``;
    an item whose read raises :class:`RowError` is listed in ``failed`` and skipped.
    Progress is reported in decoded bytes; cancelling raises ``Cancelled``."""
    weights = [max(entry_of(item).nbytes, 1) for item in items]
    total, done = sum(weights), 0
    result: GroupStats[T] = GroupStats()
    for item, weight in zip(items, weights, strict=True):
        check_cancelled(progress)
        entry = entry_of(item)
        try:
            stats = stats_of(item, _Part(progress, done, weight, total))
        except RowError as err:
            result.failed.append((item, err))
        else:
            result.tensors.append(Measured(item, entry, kind_of(entry), stats))
        done += weight
        progress.report(done, total)
    return result


# ------------------------------------------------------------------------- records
def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def tensor_record(measured: Measured[Any]) -> dict[str, Any]:
    """One tensor's row of a statistics table (:data:`COLUMNS`), as JSON-ready values:
    numbers stay numbers (None where there is none), ``zeros`` is a fraction of 1."""
    entry = measured.entry
    values = stats_record(measured.stats)
    del values["elements"]
    return {
        "name": entry.name,
        "shape": list(entry.shape) if entry.shape is not None else None,
        "dtype": str(entry.dtype) if entry.dtype is not None else None,
        "role": role_name(measured.kind),
        "parameters": entry.size,
        **values,
    }


def stats_record(stats: TensorStats) -> dict[str, Any]:
    """Totals of several tensors, JSON-ready (like :func:`tensor_record`)."""
    return {
        "elements": stats.count,
        "min": _number(stats.min),
        "max": _number(stats.max),
        "mean": _number(stats.mean),
        "std": _number(stats.std),
        "l2": stats.l2,
        "zeros": stats.zeros / stats.count if stats.count else 0.0,
        "nan": stats.nan,
        "inf": stats.inf,
    }


def shape_cell(shape: list[int] | None) -> str:
    """A record's shape as a table cell: ``[64,128]``."""
    return shape_text(tuple(shape)) if shape is not None else ""
