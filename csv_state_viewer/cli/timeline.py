"""``csv-state timeline FILES_OR_FOLDER_OR_GLOB... [--tensor NAME ...] [--json] [--png OUT]
[--no-cache]``: how each tensor evolves over a run of saved states.

Per tensor a table of step, L2, mean, std, max |w| and update ratio
``‖w_t - w_(t-1)‖ / ‖w_(t-1)‖`` (:mod:`csv_state_viewer.core.analysis.timeline`); the
states are ordered by their optimizer step when they all have one. Statistics are cached
per file (:mod:`csv_state_viewer.core.analysis.statscache`, ``$CSV_STATE_CACHE``), so a
second look at a long run is immediate. The PNG is drawn with Matplotlib's Agg canvas,
imported only when ``--png`` is given (no Qt, no display).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from csv_state_viewer.cli.options import progress_for
from csv_state_viewer.cli.output import print_error, print_text, table
from csv_state_viewer.core.analysis.statscache import default_cache
from csv_state_viewer.core.analysis.timeline import TensorSeries, Timeline
from csv_state_viewer.core.atomic import atomic_path
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.ops.timeline import run_timeline

HEADER = ["STEP", "STATE", "L2", "MEAN", "STD", "MAX|W|", "UPDATE"]
MAX_LEGEND = 12  # more lines than this are drawn without a legend


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "timeline",
        help="how each tensor evolves over a run of saved states (L2, mean, std, max|w|, "
        "update ratio)",
        description=(
            "Read a run of states saved during training (files, a folder or a glob), "
            "ordered by their optimizer step when every state has one, and print per "
            "tensor its L2 norm, mean, std, max |w| and update ratio "
            "‖w_t - w_(t-1)‖ / ‖w_(t-1)‖ at each step. Tensors are followed by their "
            "name in the last state, through Keras's renumbering. Statistics are cached "
            "per file ($CSV_STATE_CACHE, else ~/.cache/csv-state-viewer/stats)."
        ),
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="FILES_OR_FOLDER_OR_GLOB",
        help="state files, folders of states or glob patterns (quote them: 'run/*.npz')",
    )
    parser.add_argument(
        "--tensor",
        dest="tensors",
        action="append",
        metavar="NAME",
        help="follow this tensor, named as in the last state (repeatable; default: every "
        "float tensor)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--png", metavar="OUT", help="also draw L2 and update ratio into OUT.png")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.set_defaults(run=run)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _step_labels(result: Timeline) -> list[str]:
    return [str(m.step) if m.step is not None else f"#{i}" for i, m in enumerate(result.members)]


def series_table(result: Timeline, series: TensorSeries) -> str:
    """One tensor's table: a row per state; empty cells where it is absent or bad."""
    rows = [HEADER]
    columns = zip(series.l2, series.mean, series.std, series.max_abs, strict=True)
    for label, member, values, ratio in zip(
        _step_labels(result), result.members, columns, series.update_ratio, strict=True
    ):
        rows.append([label, os.path.basename(member.path), *map(_number, values), _number(ratio)])
    return table(rows, right_aligned={0, 2, 3, 4, 5, 6})


def as_text(result: Timeline) -> str:
    blocks = []
    for series in result.tensors:
        title = series.name
        renamed = sorted({n for n in series.names if n is not None and n != series.name})
        if renamed:
            title += f" (also named {', '.join(renamed)})"
        blocks.append(f"{title}\n{series_table(result, series)}")
    return "\n\n".join(blocks) if blocks else "no float tensors to follow"


def save_png(path: str, result: Timeline) -> None:
    """L2 (top) and update ratio (bottom, log scale) over the steps, written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [m.step for m in result.members]
    by_step = all(s is not None for s in steps)
    x = [float(s) if by_step and s is not None else float(i) for i, s in enumerate(steps)]
    figure = Figure(figsize=(9, 7), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)

    def points(values: list[float | None]) -> list[float]:
        return [math.nan if v is None or not math.isfinite(v) else v for v in values]

    for series in result.tensors:
        label = series.name.replace("$", r"\$")
        top.plot(x, points(series.l2), marker=".", label=label)
        ratios = [None if r is None or r <= 0 else r for r in series.update_ratio]
        bottom.plot(x, points(ratios), marker=".", label=label)
    top.set_ylabel("L2 norm")
    bottom.set_ylabel("update ratio ‖Δw‖/‖w‖")
    if any(r is not None and r > 0 for s in result.tensors for r in s.update_ratio):
        bottom.set_yscale("log")
    bottom.set_xlabel("step" if by_step else "state")
    if 0 < len(result.tensors) <= MAX_LEGEND:
        top.legend(fontsize="small")
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")


def run(args: argparse.Namespace) -> int:
    if args.png and os.path.splitext(args.png)[1].lower() != ".png":
        raise CsvStateError(f"{args.png}: --png writes PNG; give a name ending in .png")
    cache = None if args.no_cache else default_cache()
    with progress_for(args, "measuring the run") as progress:
        result = run_timeline(args.inputs, args.tensors, progress=progress, cache=cache)
    if args.json:  # json.dumps escapes what a name holds; names stay exact
        sys.stdout.write(json.dumps(result.to_json(), indent=2, allow_nan=False) + "\n")
    else:
        print_text(as_text(result))
    if args.png:
        save_png(args.png, result)
        print_error(f"wrote {args.png}")
    return 0
