"""``csv-state stats FILE [NAME...] [--json]``: the viewer's Summary statistics per tensor.

Model parameters and optimizer state are measured apart, each with a totals line;
counters and optimizer scalars (``iteration``, ``learning_rate``) are not measured with
them but printed as values. The same computation as the viewer's Summary
(:func:`csv_state_viewer.ops.statistics.state_statistics`). Exit 1 when a row is bad (each
is printed as ``FILE:LINE: message`` on stderr; the others are measured), 2 for a name that
matches no tensor or a file that is not a state.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from csv_state_viewer.cli.options import add_input_options, open_input, progress_for
from csv_state_viewer.cli.output import print_error, print_text, table
from csv_state_viewer.core.analysis.stats import TensorStats
from csv_state_viewer.core.analysis.summary import (
    GroupStats,
    Measured,
    percent_text,
    plural,
    shape_cell,
    stats_record,
    tensor_record,
)
from csv_state_viewer.core.progress import Span
from csv_state_viewer.core.state import TensorEntry
from csv_state_viewer.ops.statistics import state_statistics

HEADER = ["NAME", "SHAPE", "DTYPE", "ROLE", "PARAMETERS", "MIN", "MAX", "MEAN", "STD", "L2"]
HEADER += ["ZEROS", "NAN", "INF"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "stats",
        help="statistics per tensor (min, max, mean, std, L2, zeros, NaN, Inf), with "
        "parameters and optimizer state apart",
        description=(
            "Decode the tensors and print their statistics, as the viewer's Summary shows "
            "them: one row per tensor, then a totals line for the model's parameters and "
            "one for the optimizer state (counters such as iteration are printed as "
            "values). Exit 1 when a row is bad (the others are still measured)."
        ),
    )
    parser.add_argument("file", help="state file (.csv, .csv.gz, .npz, ...)")
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="only these tensors: exact names or globs (quote them: 'adam/*', '*kernel')",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_input_options(parser)
    parser.set_defaults(run=run)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _row(measured: Measured[TensorEntry]) -> list[str]:
    record, stats = tensor_record(measured), measured.stats
    head = [
        record["name"],
        shape_cell(record["shape"]),
        record["dtype"] or "",
        record["role"],
        f"{record['parameters']:,}",
    ]
    if measured.value is not None:  # a counter: its value, not statistics
        return [*head, measured.value, measured.value, *[""] * 6]
    return [
        *head,
        _number(stats.min),
        _number(stats.max),
        _number(stats.mean),
        _number(stats.std),
        _number(stats.l2),
        percent_text(stats.zeros, stats.count),
        f"{stats.nan:,}",
        f"{stats.inf:,}",
    ]


def totals_line(title: str, tensors: int, stats: TensorStats) -> str:
    """``parameters: 6 tensors, 17,226 values, min -0.3 max 0.4 …``."""
    line = f"{title}: {plural(tensors, 'tensor')}, {plural(stats.count, 'value')}"
    if stats.count:
        line += (
            f", min {_number(stats.min)}, max {_number(stats.max)}, mean {_number(stats.mean)}"
            f", std {_number(stats.std)}, L2 {_number(stats.l2)}"
            f", zeros {percent_text(stats.zeros, stats.count)}"
            f", NaN {stats.nan:,}, Inf {stats.inf:,}"
        )
    return line


def as_text(result: GroupStats[TensorEntry]) -> str:
    rows = [HEADER, *(_row(m) for m in result.tensors)]
    lines = [table(rows, right_aligned=set(range(4, len(HEADER)))), ""]
    lines.append(totals_line("parameters", len(result.parameter_tensors), result.parameters))
    lines.append(totals_line("optimizer state", len(result.optimizer_tensors), result.optimizer))
    if result.other_tensors:
        lines.append(totals_line("other state", len(result.other_tensors), result.other))
    lines += [f"{m.entry.name}: {m.value}" for m in result.values]
    return "\n".join(lines)


def as_json(path: str, result: GroupStats[TensorEntry]) -> dict[str, Any]:
    def group(tensors: int, stats: TensorStats) -> dict[str, Any]:
        return {"tensors": tensors, **stats_record(stats)}

    return {
        "path": path,
        "tensors": [tensor_record(m) for m in result.tensors],
        "parameters": group(len(result.parameter_tensors), result.parameters),
        "optimizer": group(len(result.optimizer_tensors), result.optimizer),
        "other": group(len(result.other_tensors), result.other),
        "values": {m.entry.name: m.value for m in result.values},
        "errors": [
            {"line": err.problem.line, "name": err.problem.name, "message": err.problem.message}
            for _, err in result.failed
        ],
    }


def run(args: argparse.Namespace) -> int:
    with (
        progress_for(args, f"measuring {args.file}") as progress,
        open_input(args.file, args, Span(progress, 0, 100)) as state,
    ):
        result = state_statistics(state, args.names, Span(progress, 100, 1000))
        path = state.path
    if args.json:  # json.dumps escapes what a name holds; names stay exact
        sys.stdout.write(json.dumps(as_json(path, result), indent=2) + "\n")
    else:
        print_text(as_text(result))
    for _, err in result.failed:
        print_error(str(err.problem))
    if result.failed:  # as validate says it: one count of bad rows
        bad, rows = len(result.failed), plural(len(result.failed) + result.measured, "row")
        print_error(f"{args.file}: {bad:,} of {rows} {'is' if bad == 1 else 'are'} bad")
        return 1
    return 0
