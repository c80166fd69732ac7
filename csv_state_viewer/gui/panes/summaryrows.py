"""The rows the Summary tab shows: properties, counts and statistics as label/text pairs.

Plain functions over core nodes and statistics (no widgets), so the Summary pane only lays
them out; ``measure`` is the pane's worker function.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from csv_state_viewer.core.analysis.roles import (
    COUNTER,
    OPTIMIZER_SCALAR,
    OTHER,
    SLOT,
    WEIGHT,
    kind_of,
)
from csv_state_viewer.core.analysis.stats import TensorStats, combine
from csv_state_viewer.core.analysis.summary import GroupStats, Measured, percent_text, plural
from csv_state_viewer.core.analysis.summary import summarize as summarize_group
from csv_state_viewer.core.analysis.tree import FILE, Node, bad_row_count, totals
from csv_state_viewer.core.errors import RowProblem
from csv_state_viewer.core.formatting import display_name, human_bytes, safe_text, shape_text
from csv_state_viewer.core.layouts.values import DECIDED_KEY
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.core.state import TensorEntry
from csv_state_viewer.gui.context import ViewerContext

NONE = "—"
ROLE_TEXTS = {
    WEIGHT: "model parameter",
    SLOT: "optimizer state",
    OPTIMIZER_SCALAR: "optimizer scalar (a value, not in the statistics of a file)",
    COUNTER: "counter (a value, not in the statistics of a file)",
    OTHER: "other training state",
}
# What a tensor's element count is called: only weights are the model's parameters.
COUNT_LABELS = {
    WEIGHT: "Parameters",
    SLOT: "Optimizer state",
    OPTIMIZER_SCALAR: "Optimizer state",
    COUNTER: "Elements",
    OTHER: "Elements",
}


def number_text(value: float | None, integer: bool = False) -> str:
    """Six significant digits (the exact value goes into the tooltip); "—" for None."""
    if value is None:
        return NONE
    return f"{int(value):,}" if integer else f"{value:.6g}"


def bytes_text(count: int) -> str:
    return human_bytes(count) if count < 1024 else f"{human_bytes(count)} ({count:,} B)"


def zeros_text(zeros: int, count: int) -> str:
    return f"{percent_text(zeros, count)} ({zeros:,} of {count:,})"


def inf_text(posinf: int, neginf: int) -> str:
    if not posinf + neginf:
        return "0"
    return f"{posinf + neginf:,} (+Inf {posinf:,}, -Inf {neginf:,})"


class Row(NamedTuple):
    """One line of a properties or statistics table."""

    key: str
    label: str
    text: str
    highlight: bool = False  # red and bold: NaN, Inf, bad rows
    tip: float | None = None  # exact value for the tooltip
    whole: str = ""  # the tooltip of a text shown shortened (a long name)
    heading: bool = False  # bold: the title of a section of statistics


Aggregate = GroupStats[Node]  # statistics over the tensors of a file or scope


def problem_text(problem: RowProblem, path: str) -> str:
    """A problem of the file at ``path`` said relative to it: ``line 3: 'dense/bias': …``
    (a problem of another file, as in a folder state, starts with that file's relative path).
    Escaped like ``str(problem)``."""
    where = f"line {problem.line}" if problem.line is not None else ""
    if problem.path != path:
        inner = os.path.relpath(problem.path, path) if problem.path else ""
        where = f"{inner}:{problem.line}" if problem.line is not None else inner
    message = safe_text(problem.message)
    what = f"{problem.name!r}: {message}" if problem.name else message
    return f"{safe_text(where)}: {what}" if where else what


def problems_text(problems: list[RowProblem], path: str) -> str:
    return "\n".join(problem_text(p, path) for p in problems) or "No problems found"


def tensor_rows(node: Node) -> list[Row]:
    entry, state = node.entry, node.state
    assert entry is not None and state is not None
    span = entry.span
    return [
        _name_row(entry.name),
        Row("file", "File", safe_text(_file_of(state.path, entry))),
        Row("format", "Format", state.format_name or NONE),
        Row("encoding", "Encoding", entry.encoding or NONE),
        Row("line", "Line in file", str(entry.line or NONE)),
        Row("bytes", "Bytes in file", bytes_text(span[1] - span[0]) if span else NONE),
        Row("shape", "Shape", shape_text(entry.shape)),
        Row("dtype", "Dtype", _dtype_text(entry)),
        Row("role", "Role", ROLE_TEXTS[kind_of(entry)]),
        Row("parameters", COUNT_LABELS[kind_of(entry)], f"{entry.size:,}"),
        Row("decoded", "Decoded size", bytes_text(entry.nbytes)),
    ]


def _name_row(name: str) -> Row:
    """The Name row: escaped, elided when long, whole (escaped) in its tooltip."""
    return Row("name", "Name", display_name(name) if name else NONE, whole=safe_text(name))


def _file_of(path: str, entry: TensorEntry) -> str:
    """The file a tensor comes from: for a folder state, the file inside the folder."""
    inner = entry.metadata.get("file")
    return os.path.join(path, inner) if isinstance(inner, str) and os.path.isdir(path) else path


def _dtype_text(entry: TensorEntry) -> str:
    """The dtype, and for numbers read from text without one, how it was decided."""
    text = str(entry.dtype) if entry.dtype is not None else "?"
    decided = entry.metadata.get(DECIDED_KEY)
    return f"{text} (decided from the text: {decided})" if decided else text


def group_rows(node: Node) -> list[Row]:
    """A file's or scope's counts: model parameters apart from optimizer state."""
    counts = totals(node)
    spans = [n.entry.span for n in node.tensors() if n.entry is not None and n.entry.span]
    in_file = sum(end - start for start, end in spans)
    rows = [_name_row(node.name)]
    if node.kind == FILE and node.state is not None:
        rows.append(Row("format", "Format", node.state.format_name or NONE))
    bad = bad_row_count(node.state) if node.kind == FILE and node.state else counts.errors
    rows += [
        Row("tensors", "Tensors", f"{counts.tensors:,}"),
        Row(
            "parameters",
            "Parameters",
            f"{counts.parameters:,}",
            whole=f"model parameters (weights), in {plural(counts.parameter_tensors, 'tensor')}",
        ),
        Row(
            "optimizer",
            "Optimizer state",
            f"{counts.optimizer_state:,} in {plural(counts.optimizer_tensors, 'tensor')}"
            if counts.optimizer_tensors
            else "0",
            whole="elements of the optimizer's slots and scalars, not model parameters",
        ),
    ]
    if counts.other:
        rows.append(Row("other", "Other state", f"{counts.other:,}"))
    return [
        *rows,
        Row("bytes", "Bytes in file", bytes_text(in_file) if spans else NONE),
        Row("decoded", "Decoded size", bytes_text(counts.nbytes)),
        Row("errors", "Bad rows", f"{bad:,}", bad > 0),
    ]


def stats_rows(stats: TensorStats, integer: bool = False, prefix: str = "") -> list[Row]:
    """``integer``: min and max of an integer tensor are shown in full; ``prefix`` starts
    every key (``optimizer_min``...)."""
    whole = integer and stats.finite > 0
    return [
        Row(f"{prefix}min", "Minimum", number_text(stats.min, whole), tip=stats.min),
        Row(f"{prefix}max", "Maximum", number_text(stats.max, whole), tip=stats.max),
        Row(f"{prefix}mean", "Mean", number_text(stats.mean), tip=stats.mean),
        Row(f"{prefix}std", "Standard deviation", number_text(stats.std), tip=stats.std),
        Row(f"{prefix}l2", "L2 norm", number_text(stats.l2), tip=stats.l2),
        Row(f"{prefix}zeros", "Zeros", zeros_text(stats.zeros, stats.count)),
        Row(f"{prefix}nan", "NaN", f"{stats.nan:,}", stats.nan > 0),
        Row(f"{prefix}inf", "Inf", inf_text(stats.posinf, stats.neginf), stats.inf > 0),
    ]


PARAMETER_HEADING = "parameters_heading"
OPTIMIZER_HEADING = "optimizer_heading"
OPTIMIZER_PREFIX = "optimizer_"
OTHER_PREFIX = "other_"
VALUES_HEADING = "values_heading"
VALUE_PREFIX = "value:"  # + a counter's or scalar's name


def group_stats_rows(result: Aggregate, tensors: int) -> list[Row]:
    """Statistics of a file or scope: parameters, then optimizer state, each over its own
    tensors; counters and optimizer scalars as values (``adam/iteration: 320``)."""
    skipped = tensors - result.measured
    rows = [
        Row("measured", "Tensors measured", f"{result.measured:,}"),
        Row("skipped", "Tensors skipped (bad or unreadable)", f"{skipped:,}", skipped > 0),
    ]
    sections = [
        (PARAMETER_HEADING, "Parameters", "", result.parameter_tensors, True),
        (OPTIMIZER_HEADING, "Optimizer state", OPTIMIZER_PREFIX, result.optimizer_tensors, False),
        ("other_heading", "Other state", OTHER_PREFIX, result.other_tensors, False),
    ]
    for key, title, prefix, measured, always in sections:
        if not measured and not always:
            continue
        over = f"over {plural(len(measured), 'tensor')}"
        rows.append(Row(key, f"{title} statistics", over, heading=True))
        rows += stats_rows(_combined(measured), prefix=prefix)
    if result.values:
        note = "counters and optimizer scalars: shown, not measured"
        rows.append(Row(VALUES_HEADING, "Values", note, heading=True))
    for value in result.values:
        name = value.entry.name
        rows.append(Row(f"{VALUE_PREFIX}{name}", display_name(name), value.value or NONE))
    return rows


def _combined(measured: list[Measured[Node]]) -> TensorStats:
    return combine([m.stats for m in measured])


def entry_of(node: Node) -> TensorEntry:
    assert node.entry is not None
    return node.entry


def measure(context: ViewerContext, nodes: list[Node], progress: Progress) -> Aggregate:
    """Worker: statistics over ``nodes``, skipping (and listing) unreadable ones."""
    return summarize_group(nodes, entry_of, context.load_stats, progress)
