"""The histogram pane: the value distribution of up to eight tensors, overlaid."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import StepPatch
from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.histdata import write_histogram_csv
from csv_state_viewer.core.analysis.stats import Histogram, Series, histogram
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.errors import CsvStateError, RowError
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe, show_error
from csv_state_viewer.gui.panes.base import Pane, save_canvas
from csv_state_viewer.gui.plotcanvas import PlotCanvas, SpacedLocator, plot_text
from csv_state_viewer.gui.safelabel import SafeLabel

MAX_OVERLAY = 8
MAX_BINS = 100_000
SELECT_HINT = "Select one or more tensors"
SCOPE_HINT = "Select tensors (not a file or a scope) to see their histogram"
_HISTOGRAM_AXES = "histogram axes"  # keys of PlotCanvas.kept
_HISTOGRAM_PATCHES = "histogram patches"


def format_value(value: float) -> str:
    """Short, but a float still reads as one (``0.0`` rather than ``0``)."""
    text = f"{value:.7g}"
    return text if any(c in text for c in ".enai") else f"{text}.0"


def series_notes(series: Series) -> list[str]:
    """What a reader must know beyond the bars: values left out, constant tensors."""
    notes = []
    excluded = [
        f"{count} {what}"
        for count, what in ((series.nan, "NaN"), (series.posinf, "+Inf"), (series.neginf, "-Inf"))
        if count
    ]
    if excluded:
        notes.append(f"excluded {', '.join(excluded)}")
    if series.finite == 0:
        notes.append("no finite values to plot")
    elif series.constant is not None:
        notes.append(
            f"constant: the only finite value is {format_value(series.constant)}"
            if series.finite == 1
            else f"constant: all {series.finite:,} finite values are "
            f"{format_value(series.constant)}"
        )
    return notes


def plot_histogram(
    canvas: PlotCanvas, result: Histogram, *, log: bool, xlabel: str, title: str = ""
) -> None:
    """Draw ``result`` with ``stairs``: filled for one series, outlines for an overlay.

    The axes of the previous histogram on ``canvas`` are reused when they are still there
    (hidden by a message shown with ``keep_axes``): new axes and their ticks cost ~10 ms of
    the UI thread per selection.
    """
    drawable = [s for s in result.series if s.finite > 0]
    if not drawable:
        names = ", ".join(display_name(s.label) for s in result.series)
        canvas.show_message(f"{names}: no finite values to plot")
        return
    ax = canvas.kept.get(_HISTOGRAM_AXES)
    if isinstance(ax, Axes) and canvas.figure.axes == [ax]:
        canvas.show_plot()
        for old in canvas.kept.get(_HISTOGRAM_PATCHES, []):
            old.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        if ax.get_yscale() != "linear":
            ax.set_yscale("linear")  # back to the linear scale's own locator: replaced below
    else:
        canvas.clear()
        ax = canvas.figure.add_subplot()
        ax.xaxis.set_major_locator(SpacedLocator())  # labels that fit a narrow plot
        canvas.kept[_HISTOGRAM_AXES] = ax
    single = len(result.series) == 1
    patches = []
    for index, series in enumerate(drawable):
        # a StepPatch added as an artist: Axes.stairs/add_patch walk its 2N vertices in
        # Python to update the data limits, which are known here anyway
        patch = StepPatch(
            series.counts,
            result.edges,
            label=plot_text(series.label),
            fill=single,
            alpha=0.85 if single else 1.0,
            linewidth=1.0 if single else 1.5,
            color=f"C{index % 10}",
        )
        ax.add_artist(patch)
        patches.append(patch)
    canvas.kept[_HISTOGRAM_PATCHES] = patches
    if not isinstance(ax.yaxis.get_major_locator(), SpacedLocator):
        ax.yaxis.set_major_locator(SpacedLocator(integer=True))  # counts are whole
    top = max(int(s.counts.max()) for s in drawable)
    ax.set_xlim(result.edges[0], result.edges[-1])
    ax.set_ylim(0, max(top, 1) * 1.05)
    if len(drawable) > 1:
        ax.legend(handles=patches, fontsize="small")
    if log:
        # empty bins have no logarithm: clip them to just below a count of one
        ax.set_yscale("log", nonpositive="clip")
        ax.set_ylim(bottom=0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count (log)" if log else "count")
    ax.set_title(plot_text(title) if title else "", fontsize="medium")
    canvas.request_draw()


@dataclass
class _Result:
    """A worker's histogram and the tensors whose data could not be read."""

    histogram: Histogram | None
    failures: list[tuple[Node, RowError]] = field(default_factory=list)


class HistogramPane(Pane):
    """Histograms of the selected tensors; bins and log scale are remembered."""

    title = "Histogram"
    histogram_drawn = Signal()  # the selection's histogram (or the message instead) is shown

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.histogram: Histogram | None = None  # the last one drawn
        self.tensors: list[Node] = []  # the tensors shown (at most MAX_OVERLAY)
        self._skipped = 0  # selected tensors beyond MAX_OVERLAY
        self._notes: list[str] = []

        self.bins_spin = QSpinBox()
        self.bins_spin.setRange(0, MAX_BINS)
        self.bins_spin.setSpecialValueText("auto")
        self.bins_spin.setValue(min(context.settings.bins(), MAX_BINS))
        self.bins_spin.setKeyboardTracking(False)  # recompute once typing is done
        self.bins_spin.setToolTip("Number of equal-width bins; auto is √N, at most 1024")
        self.log_check = QCheckBox("Log counts")
        self.log_check.setChecked(context.settings.log_counts())
        self.status = SafeLabel()
        self.status.setWordWrap(True)
        self.canvas = PlotCanvas(self)
        self.export_action = QAction("Export CSV…", self)
        self.export_action.setToolTip("Save the bin edges and counts of each tensor as CSV")
        self.export_action.setEnabled(False)
        self.export_action.triggered.connect(self._export_dialog)
        self.canvas.toolbar.addAction(self.export_action)
        self.error_boxes: list[QWidget] = []  # error dialogs shown, for tests to close

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Bins:"))
        controls.addWidget(self.bins_spin)
        controls.addWidget(self.log_check)
        controls.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)

        self.bins_spin.valueChanged.connect(self._bins_changed)
        self.log_check.toggled.connect(self._log_toggled)
        self.canvas.show_message(SELECT_HINT)

    # ------------------------------------------------------------------ public API
    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        tensors = [n for n in self.nodes if n.kind == TENSOR]
        self.tensors = tensors[:MAX_OVERLAY]
        self._skipped = len(tensors) - len(self.tensors)
        self._compute()

    def save_plot(self, path: str | os.PathLike[str]) -> None:
        save_canvas(self.canvas, path)

    def export_histogram_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the shown histogram's bins as CSV: ``tensor,bin,left,right,count``.

        Raises ValueError when no histogram is shown, StateWriteError when writing fails.
        """
        if self.histogram is None:
            raise ValueError("no histogram to export: select one or more tensors")
        write_histogram_csv(path, self.histogram)

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export histogram data", "histogram.csv", "CSV file (*.csv)"
        )
        if not path:
            return
        try:
            self.export_histogram_csv(path)
        except (CsvStateError, ValueError) as err:
            self.error_boxes.append(show_error(self, "Cannot export the histogram", err))

    # ---------------------------------------------------------------- computation
    def _compute(self) -> None:
        self.slot.drop()
        self.histogram = None
        self.export_action.setEnabled(False)
        self._notes = []
        if not self.tensors:
            self._set_status([])
            self._message(SCOPE_HINT if self.nodes else SELECT_HINT)
            return
        tensors = list(self.tensors)
        bins = self.bins_spin.value() or None
        context = self.context

        def work(progress: Progress) -> _Result:
            arrays: list[np.ndarray] = []
            labels: list[str] = []
            failures: list[tuple[Node, RowError]] = []
            for node in tensors:
                try:
                    arrays.append(context.load_array(node, progress))
                    labels.append(node.name)
                except RowError as err:  # one bad tensor must not hide the others
                    failures.append((node, err))
            found = histogram(arrays, labels, bins, progress) if arrays else None
            return _Result(found, failures)

        self._set_status(["Loading…"])
        # never the previous selection's bars (or a "select" hint) beside this progress
        names = ", ".join(display_name(n.name) for n in tensors[:3])
        more = f" and {plural(len(tensors) - 3, 'more tensor')}" if len(tensors) > 3 else ""
        self.canvas.show_message(f"Loading {names}{more}…", keep_axes=True)
        self.slot.submit(work, self._done, self._failed, on_progress=self._progress)

    def _progress(self, done: int, total: int) -> None:
        self.status.setText(f"Loading… {100 * done // max(total, 1)}%")

    def _done(self, result: _Result) -> None:
        notes = []
        for node, err in result.failures:
            notes.append(f"{display_name(node.name)}: {describe(err)[0]}")
            self.context.read_failed(node, err)
        if result.histogram is None:
            self._set_status(notes)
            self._message("\n".join(notes) or SELECT_HINT, error=True)
            return
        self.histogram = result.histogram
        self._notes = notes
        self._draw()

    def _failed(self, error: BaseException) -> None:
        message = describe(error)[0]
        self._set_status([message])
        self._message(message, error=True)

    def _message(self, text: str, *, error: bool = False) -> None:
        self.canvas.show_message(text, error=error)
        self.histogram_drawn.emit()

    # -------------------------------------------------------------------- drawing
    def _draw(self) -> None:
        result = self.histogram
        if result is None:
            return
        lines = [plural(result.bins, "bin")]
        if self._skipped:
            total = len(self.tensors) + self._skipped
            lines[0] += f"; showing the first {MAX_OVERLAY} of {total} selected tensors"
        single = len(result.series) == 1
        for series in result.series:
            notes = series_notes(series)
            if notes:
                name = display_name(series.label)
                lines.append("; ".join(notes) if single else f"{name}: {'; '.join(notes)}")
        self._set_status(lines + self._notes)
        title = result.series[0].label if single else ""
        plot_histogram(
            self.canvas, result, log=self.log_check.isChecked(), xlabel="value", title=title
        )
        self.export_action.setEnabled(True)
        self.histogram_drawn.emit()

    def _set_status(self, lines: list[str]) -> None:
        self.status.setText("\n".join(lines))

    # ------------------------------------------------------------------- controls
    def _bins_changed(self, value: int) -> None:
        self.context.settings.set_bins(value)
        if self.tensors:
            self._compute()

    def _log_toggled(self, on: bool) -> None:
        self.context.settings.set_log_counts(on)
        self._draw()  # the counts do not change, only the axis
