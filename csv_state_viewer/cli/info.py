"""``csv-state info FILE [--json]``: what a state holds, without decoding any tensor."""

from __future__ import annotations

import argparse
import json
import sys

from csv_state_viewer.cli.options import add_input_options, open_input, progress_for
from csv_state_viewer.cli.output import human_bytes, print_text, shape_text, table
from csv_state_viewer.core.state import State


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "info",
        help="list the tensors of a state (name, shape, dtype, encoding, parameters, bytes)",
        description="List the tensors of a state without decoding their data.",
    )
    parser.add_argument("file", help="state file (.csv, .csv.gz, .npz, ...)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_input_options(parser)
    parser.set_defaults(run=run)


def as_json(state: State) -> dict[str, object]:
    return {
        "path": state.path,
        "tensors": [
            {
                "name": e.name,
                "shape": list(e.shape) if e.shape is not None else None,
                "dtype": str(e.dtype) if e.dtype is not None else None,
                "encoding": e.encoding,
                "line": e.line,
            }
            for e in state.entries
        ],
        "errors": [{"line": p.line, "name": p.name, "message": p.message} for p in state.errors],
    }


def as_table(state: State) -> str:
    rows = [["NAME", "SHAPE", "DTYPE", "ENCODING", "PARAMETERS", "BYTES"]]
    for entry in state.entries:
        if entry.ok:
            rows.append(
                [
                    entry.name,
                    shape_text(entry.shape),
                    str(entry.dtype),
                    entry.encoding or "",
                    f"{entry.size:,}",
                    human_bytes(entry.nbytes),
                ]
            )
        else:
            where = f"line {entry.line}" if entry.line is not None else ""
            rows.append([entry.name or "?", "ERROR", where, "", "", ""])
    good = [e for e in state.entries if e.ok]
    parameters = sum(e.size for e in good)
    decoded = sum(e.nbytes for e in good)
    lines = [table(rows, right_aligned={4, 5}), ""]
    summary = (
        f"{len(good)} tensors, {parameters:,} parameters, {human_bytes(decoded)} decoded "
        f"({state.format_name})"
    )
    if state.errors:
        summary += f"; {len(state.errors)} bad rows (see below)"
    lines.append(summary)
    lines.extend(str(problem) for problem in state.errors)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    with progress_for(args, f"reading {args.file}") as progress:
        state = open_input(args.file, args, progress)
    with state:
        if args.json:  # json.dumps escapes what a name holds; names stay exact
            sys.stdout.write(json.dumps(as_json(state), indent=2) + "\n")
        else:
            print_text(as_table(state))
    return 0
