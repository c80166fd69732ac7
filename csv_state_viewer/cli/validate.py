"""``csv-state validate FILE``: decode every row; report each problem as FILE:LINE: message."""

from __future__ import annotations

import argparse

from csv_state_viewer.cli.options import add_input_options, open_input, progress_for
from csv_state_viewer.cli.output import print_error, print_text
from csv_state_viewer.core.progress import Span


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "validate",
        help="check every row; exit 1 and print FILE:LINE: message for each bad one",
        description=(
            "Decode every tensor and check it against its metadata. Exit 0 when every row is "
            "valid, 1 when any row is bad, 2 when the file is not a state at all."
        ),
    )
    parser.add_argument("file", help="state file")
    add_input_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with (
        progress_for(args, f"validating {args.file}") as progress,
        open_input(args.file, args, Span(progress, 0, 100)) as state,
    ):
        problems = state.validate(Span(progress, 100, 1000))
        count = len(state.entries)
    for problem in problems:
        print_text(str(problem))
    if problems:
        rows = len({(p.line, p.name) for p in problems})
        print_error(f"{args.file}: {rows} of {count} rows are bad")
        return 1
    print_error(f"{args.file}: OK, {count} tensors")
    return 0
