"""``csv-state hist FILE NAME [--bins N] [--log] [--png OUT] [--csv OUT]``: one tensor's
histogram as text, a PNG and/or a CSV of bin edges and counts.

The counts are the viewer's (:func:`csv_state_viewer.core.analysis.stats.histogram`, the
CSV :mod:`csv_state_viewer.core.analysis.histdata`'s); the PNG is drawn here with
Matplotlib's Agg canvas, imported only when ``--png`` is given (no Qt, no display).
"""

from __future__ import annotations

import argparse
import os

from csv_state_viewer.cli.options import add_input_options, open_input, progress_for
from csv_state_viewer.cli.output import print_error, print_text, shape_text
from csv_state_viewer.core.analysis.histdata import (
    excluded_text,
    format_edge,
    text_histogram,
    write_histogram_csv,
)
from csv_state_viewer.core.analysis.stats import Histogram, histogram
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.atomic import atomic_path
from csv_state_viewer.core.errors import CsvStateError, RowError
from csv_state_viewer.core.progress import Span

MAX_BINS = 100_000  # as the viewer's bins box
EXIT_BAD_ROW = 1


def _bins(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_BINS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_BINS:,}, got {value}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "hist",
        help="histogram of one tensor: text, PNG (--png) and CSV of edges and counts (--csv)",
        description=(
            "Print the histogram of one tensor's finite values (a line per bin: range, "
            "count, share, bar); NaN and ±Inf are counted and left out of the bins, as in "
            "the viewer. Exit 1 when the tensor's data is bad, 2 when the file or the name "
            "is not found."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="state file (.csv, .csv.gz, .npz, ...)")
    parser.add_argument("name", metavar="NAME", help="the tensor's name (see csv-state info)")
    parser.add_argument(
        "--bins", type=_bins, metavar="N", help="number of equal-width bins (default √N, ≤1024)"
    )
    parser.add_argument("--log", action="store_true", help="log counts (bars and PNG axis)")
    parser.add_argument("--png", metavar="OUT", help="also draw the histogram into OUT.png")
    parser.add_argument("--csv", metavar="OUT", help="also write tensor,bin,left,right,count")
    add_input_options(parser)
    parser.set_defaults(run=run)


def header(result: Histogram, shape: tuple[int, ...] | None, dtype: object) -> str:
    """The facts above the bars: name, shape, dtype, values, bins, range, what is left out."""
    series = result.series[0]
    edges = result.edges
    parts = [
        f"{series.label}: {shape_text(shape)} {dtype}",
        plural(series.finite, "finite value"),
        plural(result.bins, "bin"),
    ]
    if series.finite:
        parts.append(f"range [{format_edge(float(edges[0]))}, {format_edge(float(edges[-1]))}]")
    excluded = excluded_text(series)
    if excluded:
        parts.append(f"excluded {excluded}")
    if series.constant is not None:
        parts.append(f"constant {series.constant!r}")
    return ", ".join(parts)


def save_png(path: str, result: Histogram, *, log: bool) -> None:
    """Draw ``result`` as the viewer draws one tensor and write it atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = result.series[0]
    figure = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.stairs(series.counts, result.edges, fill=True, alpha=0.85)
    ax.set_xlim(result.edges[0], result.edges[-1])
    if log:
        ax.set_yscale("log", nonpositive="clip")
        ax.set_ylim(bottom=0.5)
    ax.set_xlabel("value")
    ax.set_ylabel("count (log)" if log else "count")
    ax.set_title(series.label.replace("$", r"\$"), fontsize="medium")
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")


def run(args: argparse.Namespace) -> int:
    if args.png and os.path.splitext(args.png)[1].lower() != ".png":
        raise CsvStateError(f"{args.png}: --png writes PNG; give a name ending in .png")
    with (
        progress_for(args, f"reading {args.name} of {args.file}") as progress,
        open_input(args.file, args, Span(progress, 0, 100)) as state,
    ):
        if args.name not in state:
            raise CsvStateError(f"{state.path}: no tensor named {args.name!r}")
        entry = state.entry(args.name)
        try:
            array = state.read(entry, Span(progress, 100, 1000))
        except RowError as err:
            print_error(str(err.problem))
            return EXIT_BAD_ROW
    result = histogram([array], [args.name], args.bins)
    print_text(header(result, entry.shape, entry.dtype))
    if result.series[0].finite:
        print_text(text_histogram(result, log=args.log))
    if args.csv:
        write_histogram_csv(args.csv, result)
        print_error(f"wrote {args.csv}")
    if args.png:
        save_png(args.png, result, log=args.log)
        print_error(f"wrote {args.png}")
    return 0
