"""``csv-state convert SRC DST``: between any two registered formats, atomically."""

from __future__ import annotations

import argparse
import sys

from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.atomic import check_destination
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.registry import format_for_writing


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convert",
        help="convert a state to another format (chosen by DST's extension)",
        description=(
            "Convert SRC to DST; the format follows DST's extension. Refuses to overwrite an "
            "existing DST without --force and refuses a SRC with bad rows unless --skip-bad."
        ),
    )
    parser.add_argument("src", help="state to read")
    parser.add_argument(
        "dst",
        help="file to write (.csv, .csv.gz, .npz, a checkpoint prefix, .keras, .weights.h5)",
    )
    parser.add_argument(
        "--encoding",
        choices=("text", "base64"),
        default="text",
        help="data encoding of a CSV destination (default: text)",
    )
    parser.add_argument(
        "--model",
        help="Keras model (.keras) to write the state into: needed for .keras and .weights.h5, "
        "and for a checkpoint that tf.train.Checkpoint(model=..., optimizer=...) restores",
    )
    parser.add_argument(
        "--match",
        choices=("auto", "name", "order"),
        default="auto",
        help="with --model: how tensors find variables (see csv-state apply)",
    )
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="with --model: load a model whose file carries code (Lambda layers)",
    )
    parser.add_argument("--force", action="store_true", help="replace DST if it exists")
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave out bad rows instead of refusing"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    fmt = format_for_writing(args.dst)
    check_destination(args.dst, overwrite=args.force)
    with open_state(args.src) as state:
        if state.errors and not args.skip_bad:
            for problem in state.errors:
                sys.stderr.write(f"{problem}\n")
            sys.stderr.write(
                f"csv-state: {args.src} has {len(state.errors)} bad row(s); nothing written "
                "(use --skip-bad to convert the good rows)\n"
            )
            return 1
        options = None
        if args.model:
            options = {"model": args.model, "match": args.match, "unsafe": args.unsafe}
        try:
            written = save_state(
                args.dst,
                state,
                args.encoding,
                overwrite=args.force,
                skip_bad=args.skip_bad,
                options=options,
            )
        except CsvStateError as err:
            report = getattr(err, "report", None)  # a refused mapping onto --model
            if report is None:
                raise
            from csv_state_viewer.cli.apply import render

            sys.stderr.write(render(report) + f"\ncsv-state: {err}\n")
            return 1
        skipped = state.errors
    for problem in skipped:
        sys.stderr.write(f"{problem} (skipped)\n")
    sys.stdout.write(f"wrote {args.dst} ({written} tensors, {fmt.name})\n")
    return 0
