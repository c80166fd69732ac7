"""The compare pane: how the selected tensor differs in the compared state."""

from __future__ import annotations

import math
import os

from PySide6.QtWidgets import QVBoxLayout, QWidget

from csv_state_viewer.core.analysis.diff import DiffStatus, TensorDiff, differences
from csv_state_viewer.core.analysis.stats import Histogram, histogram
from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.panes.base import Pane, save_canvas
from csv_state_viewer.gui.panes.histogram import plot_histogram, series_notes
from csv_state_viewer.gui.plotcanvas import PlotCanvas
from csv_state_viewer.gui.safelabel import SafeLabel

NO_COMPARISON = "Use File ▸ Compare with… to compare this state with another"
STATUS_TEXT = {
    DiffStatus.IDENTICAL: "identical (same shape, dtype and bits)",
    DiffStatus.DIFFERENT: "values differ",
    DiffStatus.DTYPE_DIFFERS: "dtypes differ",
    DiffStatus.SHAPE_DIFFERS: "shapes differ",
    DiffStatus.ONLY_IN_A: "only in this file (A)",
    DiffStatus.ONLY_IN_B: "only in the compared state (B)",
    DiffStatus.UNREADABLE: "unreadable",
}


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def summary(diff: TensorDiff) -> str:
    """The numbers of a tensor's comparison, one fact per line."""
    lines = [f"{display_name(diff.name)}: {STATUS_TEXT[diff.status]}"]
    for side, shape, dtype in (
        ("A", diff.shape_a, diff.dtype_a),
        ("B", diff.shape_b, diff.dtype_b),
    ):
        if shape is not None or dtype is not None:
            lines.append(f"{side}: shape {shape}, dtype {dtype}")
    if diff.changed is not None:
        size = math.prod(diff.shape_a or ())
        lines.append(
            f"changed elements: {diff.changed} of {size}; "
            f"max |B - A| = {_number(diff.max_abs_diff)}; "
            f"relative L2 = {_number(diff.rel_l2)}; "
            f"NaN mismatches: {diff.nan_mismatches}"
        )
    if diff.message:
        lines.append(diff.message)
    return "\n".join(lines)


class ComparePane(Pane):
    """The selected tensor's :class:`TensorDiff` and a histogram of ``B - A``."""

    title = "Compare"

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.histogram: Histogram | None = None
        self.diff: TensorDiff | None = None
        self.summary = SafeLabel()  # names shown escaped, plain text
        self.summary.setWordWrap(True)
        self.canvas = PlotCanvas(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.canvas, 1)
        context.comparison_changed.connect(self._comparison_changed)
        self.show_nodes([])

    # ------------------------------------------------------------------ public API
    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self.slot.drop()
        self.histogram = self.diff = None
        self.summary.clear()
        comparison = self.context.comparison
        if comparison is None:
            self.canvas.show_message(NO_COMPARISON)
            return
        node = next((n for n in self.nodes if n.kind == TENSOR), None)
        if node is None:
            self.canvas.show_message("Select a tensor to see how it differs")
            return
        if node.root() is not comparison.root:
            self.canvas.show_message(
                f"{display_name(node.name)} is not in the compared file "
                f"{display_name(comparison.root.name)}"
            )
            return
        diff = comparison.diff_of(node)
        if diff is None:
            self.canvas.show_message(f"{display_name(node.name)} was not compared")
            return
        self.diff = diff
        self.summary.setText(summary(diff))
        if not diff.status.measured:
            self.canvas.show_message(self._why_no_plot(diff))
            return
        self._compute(node)

    def save_plot(self, path: str | os.PathLike[str]) -> None:
        save_canvas(self.canvas, path)

    # ---------------------------------------------------------------- computation
    def _compute(self, node: Node) -> None:
        comparison = self.context.comparison
        entry_b = comparison.other_entry(node) if comparison is not None else None
        if comparison is None or entry_b is None:
            self.canvas.show_message(f"{display_name(node.name)} is not in the compared state")
            return
        state_b = comparison.other
        context = self.context
        bins = context.settings.bins() or None

        def work(progress: Progress) -> Histogram | str:
            a = context.load_array(node, progress)
            try:
                b = context.cache.array(state_b, entry_b, progress)
            except RowError as err:  # B's bad row is not this tree's to mark
                return f"The compared state: {describe(err)[0]}"
            return histogram([differences(a, b)], ["B - A"], bins, progress)

        def failed(error: BaseException) -> None:
            self.canvas.show_message(describe(error)[0], error=True)
            self.context.read_failed(node, error)

        self.canvas.show_message("Computing differences…")
        self.slot.submit(work, self._done, failed)

    def _done(self, result: Histogram | str) -> None:
        if isinstance(result, str):
            self.canvas.show_message(result, error=True)
            return
        self.histogram = result
        notes = series_notes(result.series[0])
        if notes:
            self.summary.setText(f"{self.summary.text()}\ndifferences: {'; '.join(notes)}")
        plot_histogram(
            self.canvas,
            result,
            log=self.context.settings.log_counts(),
            xlabel="B - A",
            title=f"{self.diff.name if self.diff else ''}: differences ({result.bins} bins)",
        )

    # -------------------------------------------------------------------- helpers
    def _comparison_changed(self) -> None:
        self.show_nodes(self.nodes)

    @staticmethod
    def _why_no_plot(diff: TensorDiff) -> str:
        if diff.status is DiffStatus.SHAPE_DIFFERS:
            return (
                f"Shapes differ ({diff.shape_a} in A, {diff.shape_b} in B): "
                "no element-wise comparison"
            )
        if diff.status is DiffStatus.ONLY_IN_A:
            return f"{display_name(diff.name)} is only in this file"
        if diff.status is DiffStatus.ONLY_IN_B:
            return f"{display_name(diff.name)} is only in the compared state"
        return diff.message or f"{display_name(diff.name)} could not be compared"
