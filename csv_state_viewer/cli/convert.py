"""``csv-state convert SRC DST``: between any two registered formats, atomically."""

from __future__ import annotations

import argparse

from csv_state_viewer.bridge.mapping import MATCH_MODES
from csv_state_viewer.cli.options import add_input_options, progress_for, read_options
from csv_state_viewer.cli.output import print_error, print_text
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.errors import BadRowsError, CsvStateError
from csv_state_viewer.core.messages import COMMAND_LINE, Hint, advice
from csv_state_viewer.core.registry import formats, write_choices
from csv_state_viewer.ops.convert import ConvertOptions, convert


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
    extensions = ", ".join(dict.fromkeys(c.extension or "a prefix" for c in write_choices()))
    parser.add_argument("dst", help=f"file to write ({extensions})")
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
        choices=MATCH_MODES,
        default="auto",
        help="with --model: how tensors find variables (see csv-state apply)",
    )
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="with --model: load a model whose file carries code (Lambda layers)",
    )
    names = [f.name for f in formats() if f.save is not None]
    parser.add_argument(
        "--layout",
        metavar="NAME",
        choices=names,
        help="write DST in this format instead of the one its extension names: 'matrix' writes "
        "a folder (DST/) of np.savetxt files, 'long' a name,index,value table "
        f"({', '.join(names)})",
    )
    parser.add_argument(
        "--tensor",
        metavar="NAME",
        action="append",
        default=[],
        dest="tensors",
        help="write only this tensor, or every tensor of this scope (repeatable): "
        "export one tensor to a .npy with --tensor dense/kernel",
    )
    add_input_options(parser, "--from", dest="source_layout")
    parser.add_argument("--force", action="store_true", help="replace DST if it exists")
    parser.add_argument(
        "--skip-bad", action="store_true", help="leave out bad rows instead of refusing"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = ConvertOptions(
        save_options={"encoding": args.encoding},
        model=args.model,
        match=args.match,
        unsafe=args.unsafe,
        overwrite=args.force,
        skip_bad=args.skip_bad,
        format_name=args.layout,
        layout=args.source_layout,
        like=args.like,
        read_options=read_options(args),
        tensors=tuple(args.tensors),
    )
    try:
        with progress_for(args, f"converting {args.src}") as progress:
            converted = convert(args.src, args.dst, options, progress)
    except BadRowsError as err:
        for problem in err.problems:
            print_error(str(problem))
        print_error(
            f"csv-state: {args.src} has {len(err.problems)} bad row(s); nothing written "
            f"({COMMAND_LINE[Hint.SKIP_BAD]})"
        )
        return 1
    except CsvStateError as err:
        report = getattr(err, "report", None)  # a refused mapping onto --model
        if report is None:
            raise
        from csv_state_viewer.cli.apply import render

        print_error(render(report) + f"\ncsv-state: {advice(err, COMMAND_LINE)}")
        return 1
    for problem in converted.skipped:
        print_error(f"{problem} (skipped)")
    count = plural(converted.written, "tensor")
    print_text(f"wrote {args.dst} ({count}, {converted.format_name})")
    return 0
