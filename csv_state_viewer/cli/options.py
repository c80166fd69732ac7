"""Options several commands share."""

from __future__ import annotations

import argparse

from csv_state_viewer.core.registry import formats


def add_layout(parser: argparse.ArgumentParser) -> None:
    """``--layout NAME``: read the input(s) with this format instead of recognising it."""
    names = [fmt.name for fmt in formats() if fmt.open is not None]
    parser.add_argument(
        "--layout",
        metavar="NAME",
        choices=names,
        help="read the input as this format when its content fits several "
        f"({', '.join(names)}; see csv-state formats)",
    )
