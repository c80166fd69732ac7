"""``csv-state apply STATE MODEL -o OUT``: write a state into a Keras model, checked first."""

from __future__ import annotations

import argparse
import json
import sys

from csv_state_viewer.bridge.mapping import MATCH_MODES, MATCHED, MappingReport
from csv_state_viewer.cli.options import add_input_options, progress_for, read_options
from csv_state_viewer.cli.output import print_error, print_text, shape_text, table
from csv_state_viewer.core.errors import CsvStateError, StateWriteError
from csv_state_viewer.core.messages import COMMAND_LINE, advice
from csv_state_viewer.ops.writing import WriteRequest, plan_write, write_into_model


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "apply",
        help="write a state (weights and optimizer) into a Keras model",
        description=(
            "Match STATE's tensors to MODEL's variables (and its compiled optimizer's), print "
            "the mapping, and save the model with the state written into it. Any problem in "
            "the mapping refuses the whole write unless --allow-partial."
        ),
    )
    parser.add_argument("state", help="state to write (any format csv-state reads)")
    parser.add_argument("model", help="Keras model: .keras archive or legacy full-model .h5")
    parser.add_argument(
        "-o", "--output", help="where to save: .keras, .weights.h5 or a checkpoint prefix"
    )
    parser.add_argument(
        "--match",
        choices=MATCH_MODES,
        default="auto",
        help="auto (default): by name, or by position for weight_0, weight_1... names",
    )
    parser.add_argument("--no-optimizer", action="store_true", help="write model weights only")
    parser.add_argument("--dry-run", action="store_true", help="print the mapping, write nothing")
    parser.add_argument(
        "--allow-partial", action="store_true", help="write the matched tensors despite problems"
    )
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    add_input_options(parser)
    parser.add_argument("--json", action="store_true", help="print the mapping report as JSON")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="load a model whose file carries code (Lambda layers); only for trusted files",
    )
    parser.set_defaults(run=run)


def render(report: MappingReport) -> str:
    """The report as a table, problems first, then a summary and notes."""
    rows = [["status", "state tensor", "model variable", "shape", "dtype"]]
    ordered = sorted(report.rows, key=lambda r: (r.status == MATCHED, r.role != "weight"))
    for row in ordered:
        shape = shape_text(row.state_shape if row.state_shape is not None else row.target_shape)
        if row.state_shape is not None and row.target_shape not in (None, row.state_shape):
            shape = f"{shape_text(row.state_shape)} vs {shape_text(row.target_shape)}"
            if row.status == MATCHED:  # same size, matched by position
                shape = (
                    f"{shape_text(row.state_shape)} -> {shape_text(row.target_shape)} (reshaped)"
                )
        dtype = row.state_dtype or row.target_dtype or "-"
        if row.cast:
            dtype = f"{row.state_dtype} -> {row.target_dtype}"
        rows.append([row.status, row.state_name or "-", row.target or "-", shape, dtype])
    lines = [table(rows, set()), report.summary()]
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.output is None and not args.dry_run:
        raise StateWriteError("apply: give -o OUTPUT (or --dry-run to only see the mapping)")
    request = WriteRequest(
        state=args.state,
        model=args.model,
        match=args.match,
        optimizer=not args.no_optimizer,
        allow_partial=args.allow_partial,
        unsafe=args.unsafe,
        layout=args.layout,
        like=args.like,
        read_options=read_options(args),
    )
    if args.dry_run:
        with progress_for(args, f"mapping {args.state} onto {args.model}") as progress:
            report = plan_write(request, progress)
        _print(report, args.json)
        return 0 if report.ok else 1
    try:
        with progress_for(args, f"writing {args.state} into {args.output}") as progress:
            written = write_into_model(
                request, args.output, overwrite=args.force, progress=progress
            )
    except CsvStateError as err:
        refused = getattr(err, "report", None)  # a refused mapping: show it, write nothing
        if refused is None:
            raise
        _print(refused, args.json)
        print_error(f"csv-state: {advice(err, COMMAND_LINE)}")
        return 1
    _print(written.report, args.json)
    files = ", ".join(written.files)
    print_error(f"wrote {files} ({written.count} tensors written into the model)")
    variables = {row.target for row in written.report.rows if row.target}
    if written.count < len(variables):  # a partial write: say so last, plainly
        print_error(
            f"{written.count} of {len(variables)} variables written; "
            "the rest keep their initial values"
        )
    return 0


def _print(report: MappingReport, as_json: bool) -> None:
    if as_json:  # json.dumps escapes what a name holds; names stay exact
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        print_text(render(report))
