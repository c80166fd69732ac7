"""A histogram as data and text: CSV of edges and counts, a text chart, counted words.

Shared by the viewer's histogram pane (its CSV export) and ``csv-state hist``; the counts
come from :func:`csv_state_viewer.core.analysis.stats.histogram`.
"""

from __future__ import annotations

import csv
import io
import math
import os

from csv_state_viewer.core.analysis.stats import Histogram, Series
from csv_state_viewer.core.analysis.summary import format_percent
from csv_state_viewer.core.atomic import atomic_write

CSV_HEADER = ("tensor", "bin", "left", "right", "count")
BAR_WIDTH = 40


def format_edge(value: float) -> str:
    """A bin edge, short but distinct: 6 significant digits."""
    return f"{value:.6g}"


def csv_rows(result: Histogram) -> list[tuple[str, int, str, str, int]]:
    """One row per tensor and bin: name, bin index, left and right edge, count.

    Edges are written with ``repr`` (the shortest text that reads back to the same float),
    so a reader recomputes exactly the same bins.
    """
    edges = result.edges
    rows = []
    for series in result.series:
        for index, count in enumerate(series.counts):
            rows.append(
                (
                    series.label,
                    index,
                    repr(float(edges[index])),
                    repr(float(edges[index + 1])),
                    int(count),
                )
            )
    return rows


def histogram_csv(result: Histogram) -> str:
    """The CSV text of :func:`csv_rows` under the header ``tensor,bin,left,right,count``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(result))
    return out.getvalue()


def write_histogram_csv(path: str | os.PathLike[str], result: Histogram) -> None:
    """Write :func:`histogram_csv` atomically (StateWriteError when that fails)."""
    with atomic_write(path) as handle:
        handle.write(histogram_csv(result).encode("utf-8"))


def excluded_text(series: Series) -> str:
    """``2 NaN, 1 +Inf`` for the values left out of the bins, or empty."""
    return ", ".join(
        f"{count:,} {what}"
        for count, what in ((series.nan, "NaN"), (series.posinf, "+Inf"), (series.neginf, "-Inf"))
        if count
    )


def text_histogram(result: Histogram, series_index: int = 0, *, log: bool = False) -> str:
    """A text chart of one series: a line per bin with its range, count, share and bar.

    ``log`` scales the bars by ``log(1 + count)``.
    """
    series = result.series[series_index]
    edges = result.edges
    counts = [int(c) for c in series.counts]
    total = series.finite
    scale = [math.log1p(c) if log else float(c) for c in counts]
    top = max(scale, default=0.0) or 1.0
    lefts = [format_edge(float(e)) for e in edges[:-1]]
    rights = [format_edge(float(e)) for e in edges[1:]]
    left_width = max((len(t) for t in lefts), default=0)
    right_width = max((len(t) for t in rights), default=0)
    count_width = max((len(f"{c:,}") for c in counts), default=1)
    shares = [format_percent(100 * c / total) if total else "n/a" for c in counts]
    share_width = max((len(s) for s in shares), default=0)
    lines = []
    for index, count in enumerate(counts):
        closing = "]" if index == len(counts) - 1 else ")"  # the last bin holds its right edge
        bar = "#" * round(BAR_WIDTH * scale[index] / top)
        if count and not bar:
            bar = "."  # a bin that is not empty never looks empty
        lines.append(
            f"[{lefts[index]:>{left_width}}, {rights[index]:>{right_width}}{closing}  "
            f"{count:>{count_width},}  {shares[index]:>{share_width}}  {bar}"
        )
    return "\n".join(lines)
