"""``csv-state formats``: which formats can be read and written."""

from __future__ import annotations

import argparse

from csv_state_viewer.cli.output import print_text, table
from csv_state_viewer.core.registry import formats as registered_formats


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("formats", help="list the formats that can be read and written")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = [["FORMAT", "EXTENSIONS", "READ", "WRITE", "DESCRIPTION"]]
    for fmt in registered_formats():
        rows.append(
            [
                fmt.name,
                " ".join(fmt.extensions),
                "yes" if fmt.open else "no",
                ("with --model" if fmt.needs_model else "yes") if fmt.save else "no",
                fmt.description,
            ]
        )
    print_text(table(rows, right_aligned=set()))
    return 0
