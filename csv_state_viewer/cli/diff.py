"""``csv-state diff A B [--json]``: compare two states tensor by tensor; exit 1 if they differ."""

from __future__ import annotations

import argparse
import json
import sys

from csv_state_viewer.cli.options import add_input_options, open_input, progress_for
from csv_state_viewer.cli.output import print_text, shape_text, table
from csv_state_viewer.core.analysis.diff import DiffStatus, StateDiff, TensorDiff
from csv_state_viewer.core.analysis.names import MODES
from csv_state_viewer.core.progress import Span
from csv_state_viewer.ops.compare import compare

_LABELS = {DiffStatus.ONLY_IN_A: "only in A", DiffStatus.ONLY_IN_B: "only in B"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "diff",
        help="compare two states tensor by tensor (exit 0 identical, 1 different)",
        description=(
            "Compare state B with state A tensor by tensor, reading one tensor of each at a "
            "time. Exit 0 when every tensor is bit-for-bit identical, 1 when anything "
            "differs (values, dtypes, shapes, missing or unreadable tensors), 2 when a file "
            "is missing or not a state."
        ),
    )
    parser.add_argument("a", metavar="A", help="first state (.csv, .csv.gz, .npz, ...)")
    parser.add_argument("b", metavar="B", help="second state, compared with A")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--match",
        choices=MODES,
        default="auto",
        help=(
            "how tensor names are paired: auto (exact names, then past :0 device suffixes, "
            "a model-name prefix such as sequential/, Keras auto-numbering such as dense_1, "
            "and positional weight_0, weight_1, ...; never between two candidates), name "
            "(exact names and a prefix on one side only) or order (by position in the "
            "files); default auto"
        ),
    )
    add_input_options(parser)
    parser.set_defaults(run=run)


def _sides(a: str | None, b: str | None) -> str:
    """One value when both sides agree or one is absent, else ``A -> B``."""
    if a is None or b is None:
        return a or b or "?"
    return a if a == b else f"{a} -> {b}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _changed(diff: TensorDiff) -> str:
    if diff.changed is None:
        return "-"
    nans = f" ({diff.nan_mismatches:,} NaN)" if diff.nan_mismatches else ""
    return f"{diff.changed:,}{nans}"


def as_table(result: StateDiff) -> str:
    rows = [["NAME", "STATUS", "SHAPE", "DTYPE", "CHANGED", "MAX |DIFF|", "REL L2"]]
    for t in result.tensors:
        rows.append(
            [
                _sides(t.name or "?", t.name_b),
                t.status.value,
                _sides(
                    shape_text(t.shape_a) if t.shape_a is not None else None,
                    shape_text(t.shape_b) if t.shape_b is not None else None,
                ),
                _sides(
                    str(t.dtype_a) if t.dtype_a is not None else None,
                    str(t.dtype_b) if t.dtype_b is not None else None,
                ),
                _changed(t),
                _number(t.max_abs_diff),
                _number(t.rel_l2),
            ]
        )
    counts = ", ".join(
        f"{count} {_LABELS.get(status, status.value.replace('_', ' '))}"
        for status, count in result.counts().items()
    )
    verdict = "identical" if result.identical else "different"
    lines = [table(rows, right_aligned={4, 5, 6}), ""]
    lines.append(f"{len(result.tensors)} tensors: {counts or 'none'}; the states are {verdict}")
    lines.extend(t.message for t in result.tensors if t.message)
    if result.pairing_note:
        lines.append(result.pairing_note)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with (
        progress_for(args, f"comparing {args.a} and {args.b}") as progress,
        open_input(args.a, args, Span(progress, 0, 100)) as a,
    ):
        compared = compare(
            a, args.b, layout=args.layout, match=args.match, progress=Span(progress, 100, 1000)
        )
        compared.other.close()
    result = compared.diff
    if args.json:  # json.dumps escapes what a name holds; names stay exact
        sys.stdout.write(json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n")
    else:
        print_text(as_table(result))
    return 0 if result.identical else 1
