"""The Timeline pane: how the selected tensors evolved over the states of a run.

A run is opened with **File ▸ Open Run…** (or by dropping several states and choosing
*Open as a run*); its last state is the file in the tree, and this pane follows the
selected tensors through every state: L2 norm, mean ± std, max |w| and the update ratio
||w_t - w_(t-1)|| / ||w_(t-1)|| per step; TensorBoard's percentile bands; an offset
histogram per step ("ridge"); and, for the whole run, a tensors-by-steps strip of update
ratios that shows at a glance which layers learn and which froze. Clicking a step opens
that state's tensor. The statistics come from :func:`compute_timeline` in the pane's task
slot, cached on disk per state (a reopened run is drawn without decoding anything).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.backend_bases import MouseEvent
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.run import RunMember
from csv_state_viewer.core.analysis.statscache import default_cache
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.analysis.timeline import PERCENTILES, Timeline
from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.panes.base import Pane, save_canvas
from csv_state_viewer.gui.plotcanvas import MARGINS_EM, PlotCanvas, plot_text
from csv_state_viewer.ops.timeline import member_timeline

MAX_FOLLOWED = 8
STATISTICS, BANDS, RIDGE, STRIP = "Statistics", "Percentile bands", "Ridge", "Update ratios"
VIEWS = (STATISTICS, BANDS, RIDGE, STRIP)
NO_RUN = (
    "Open a run to follow tensors over training: File ▸ Open Run… (a folder of states, one "
    "per epoch or step), or drop several states and choose Open as a run"
)
SELECT_HINT = "Select one or more tensors of the run"
STRIP_ROWS = 60  # tensors shown in the update-ratio strip
LOG_SPAN = 20  # update ratios spanning more than this factor get a log axis


class TimelinePane(Pane):
    title = "Timeline"
    step_chosen = Signal(str, str)  # (a state's path, a tensor name): open it there
    timeline_drawn = Signal()

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.timeline: Timeline | None = None
        self.run: list[RunMember] = []
        self.view = QComboBox()
        self.view.addItems(VIEWS)
        self.view.setToolTip(
            "Statistics per step; percentile bands (0, 7, 16, 50, 84, 93, 100 %) and ridge "
            "of the first tensor; update ratios of every tensor of the run"
        )
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop reading the run (a first pass decodes every state)")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.slot.cancel)
        self.canvas = PlotCanvas(self)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("View:"))
        controls.addWidget(self.view)
        controls.addWidget(self.status, 1)
        controls.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)
        self.view.currentTextChanged.connect(lambda _text: self._compute())
        self.canvas.canvas.mpl_connect("button_press_event", self._clicked)
        self.canvas.show_message(NO_RUN)

    # ------------------------------------------------------------------ public API
    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self._compute()

    def save_plot(self, path: str | os.PathLike[str]) -> None:
        save_canvas(self.canvas, path)

    def followed(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == TENSOR][:MAX_FOLLOWED]

    # ---------------------------------------------------------------- computation
    def _compute(self) -> None:
        self.slot.drop()
        self.timeline = None
        run = self._run()
        self.run = run
        if not run:
            self._message(NO_RUN)
            return
        strip = self.view.currentText() == STRIP
        tensors = self.followed()
        if not tensors and not strip:
            self._message(SELECT_HINT)
            return
        names = None if strip else [n.name for n in tensors]

        def work(progress: Progress) -> Timeline:
            return member_timeline(run, names, progress=progress, cache=default_cache())

        what = "every tensor" if strip else ", ".join(display_name(n.name) for n in tensors[:3])
        self.status.setText(f"Reading {plural(len(run), 'state')}…")
        self.canvas.show_message(f"Following {what} through {plural(len(run), 'state')}…")
        self.cancel_button.show()
        self.slot.submit(
            work,
            self._done,
            self._failed,
            on_progress=self._progress,
            on_cancelled=lambda: self._message("Cancelled; select a tensor to read the run again"),
        )

    def _run(self) -> list[RunMember]:
        roots = {id(n.root()): n.root() for n in self.nodes}
        for root in roots.values():
            if root.state is not None:
                found = self.context.runs.get(os.path.abspath(root.state.path))
                if found:
                    return found
        return []

    def _progress(self, done: int, total: int) -> None:
        self.status.setText(f"Reading the run… {100 * done // max(total, 1)}%")

    def _done(self, timeline: Timeline) -> None:
        self.cancel_button.hide()
        self.timeline = timeline
        steps = timeline.members
        known = all(m.step is not None for m in steps)
        order = "by the optimizer's step" if known else "in file order (no step count saved)"
        self.status.setText(f"{plural(len(steps), 'state')}, {order}")
        view = self.view.currentText()
        if not timeline.tensors:
            self._message("No float tensors to follow in this run")
        elif view == STATISTICS:
            self._draw_statistics(timeline)
        elif view == BANDS:
            self._draw_bands(timeline)
        elif view == RIDGE:
            self._draw_ridge(timeline)
        else:
            self._draw_strip(timeline)
        self.timeline_drawn.emit()

    def _failed(self, error: BaseException) -> None:
        self.cancel_button.hide()
        message = describe(error)[0]
        self.status.setText(message)
        self.canvas.show_message(message, error=True)
        self.timeline_drawn.emit()

    def _message(self, text: str) -> None:
        self.cancel_button.hide()
        self.status.setText("")
        self.canvas.show_message(text)
        self.timeline_drawn.emit()

    # -------------------------------------------------------------------- drawing
    def _fresh(self, **margins_em: float) -> None:
        """An empty figure with the default margins, or wider ones (the strip's names)."""
        self.canvas.margins_em = dict(MARGINS_EM, **margins_em)
        self.canvas.clear()

    def steps(self) -> tuple[list[float], str]:
        """The x of each state: its step when every state has one, else its number."""
        members = self.timeline.members if self.timeline is not None else self.run
        if members and all(m.step is not None for m in members):
            return [float(m.step or 0) for m in members], "step"
        return [float(i + 1) for i in range(len(members))], "state"

    def _draw_statistics(self, timeline: Timeline) -> None:
        self._fresh()
        x, label = self.steps()
        figure = self.canvas.figure
        panels = figure.subplots(4, 1, sharex=True)
        titles = ("L2 norm", "mean ± std", "max |w|", "update ratio")
        for ax, title in zip(panels, titles, strict=True):
            ax.set_ylabel(title, fontsize="small")
            ax.tick_params(labelsize="small")
        for index, series in enumerate(timeline.tensors):
            color = f"C{index % 10}"
            name = plot_text(series.name)
            panels[0].plot(x, _floats(series.l2), "o-", ms=3, color=color, label=name)
            mean, std = np.array(_floats(series.mean)), np.array(_floats(series.std))
            panels[1].plot(x, mean, "o-", ms=3, color=color)
            panels[1].fill_between(x, mean - std, mean + std, color=color, alpha=0.15)
            panels[2].plot(x, _floats(series.max_abs), "o-", ms=3, color=color)
            ratio = _floats(series.update_ratio)
            panels[3].plot(x, ratio, "o-", ms=3, color=color)
        positive = [v for s in timeline.tensors for v in _floats(s.update_ratio) if v > 0]
        if positive and max(positive) > LOG_SPAN * min(positive):  # else linear reads better
            panels[3].set_yscale("log")
        panels[0].legend(fontsize="x-small", loc="best")
        panels[-1].set_xlabel(label)
        self.canvas.request_draw()

    def _draw_bands(self, timeline: Timeline) -> None:
        series = timeline.tensors[0]
        self._fresh()
        x, label = self.steps()
        ax = self.canvas.figure.add_subplot()
        missing = (math.nan,) * len(PERCENTILES)
        table = np.array(  # steps x percentiles
            [s.percentiles if s is not None else missing for s in series.stats], dtype=float
        )
        pairs = ((0, 6, 0.15), (1, 5, 0.25), (2, 4, 0.4))  # 0-100, 7-93, 16-84 %
        for low, high, alpha in pairs:
            ax.fill_between(x, table[:, low], table[:, high], color="C0", alpha=alpha, lw=0)
        ax.plot(x, table[:, 3], color="C0", lw=1.5, label="median")
        ax.set_xlabel(label)
        ax.set_ylabel("value")
        title = f"{plot_text(series.name)}\npercentiles 0, 7, 16, 50, 84, 93, 100 %"
        ax.set_title(title, fontsize="medium")
        self.canvas.request_draw()

    def _draw_ridge(self, timeline: Timeline) -> None:
        series = timeline.tensors[0]
        self._fresh()
        ax = self.canvas.figure.add_subplot()
        x, label = self.steps()
        shown = [(i, s) for i, s in enumerate(series.stats) if s is not None and s.hist_counts.size]
        for order, (_i, stats) in enumerate(shown):
            centers = (stats.hist_edges[:-1] + stats.hist_edges[1:]) / 2
            peak = max(float(stats.hist_counts.max()), 1.0)
            heights = order + 0.9 * stats.hist_counts / peak
            ax.fill_between(centers, order, heights, color=f"C{order % 10}", alpha=0.35, lw=0)
            ax.plot(centers, heights, color=f"C{order % 10}", lw=1)
        ax.set_yticks(range(len(shown)))
        ax.set_yticklabels([f"{x[i]:g}" for i, _ in shown], fontsize="small")
        ax.set_ylabel(label)
        ax.set_xlabel("value")
        ax.set_title(f"{plot_text(series.name)}: histogram per {label}", fontsize="medium")
        self.canvas.request_draw()

    def _draw_strip(self, timeline: Timeline) -> None:
        rows = timeline.tensors[:STRIP_ROWS]
        self._fresh(left=22.0, right=8.0, bottom=6.0)
        x, label = self.steps()
        ratios = np.array([_floats(s.update_ratio) for s in rows], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = np.log10(ratios)  # 0 (unchanged) -> -inf, drawn in the "under" colour
        finite = shown[np.isfinite(shown)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 0.0)
        cmap = matplotlib.colormaps["viridis"].with_extremes(under="black", bad="white")
        ax = self.canvas.figure.add_subplot()
        image = ax.imshow(
            np.where(np.isneginf(shown), low - 1, shown),
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            vmin=low,
            vmax=max(high, low + 1e-9),
        )
        self.canvas.figure.colorbar(image, ax=ax, label="log10 update ratio", extend="min")
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([plot_text(s.name) for s in rows], fontsize="x-small")
        ax.set_xticks(range(len(x)))
        ax.set_xticklabels([f"{v:g}" for v in x], fontsize="small", rotation=90)
        ax.set_xlabel(label)
        title = "update ratio per tensor and step (black: unchanged; blank: not measured)"
        more = len(timeline.tensors) - len(rows)
        if more:
            title += f"; first {len(rows)} of {len(timeline.tensors)}"
        ax.set_title(title, fontsize="small")
        self.canvas.request_draw()

    # ------------------------------------------------------------------- clicking
    def _clicked(self, event: MouseEvent) -> None:
        """Open the state of the clicked step, on the tensor of the line or row."""
        timeline = self.timeline
        if timeline is None or event.inaxes is None or event.xdata is None:
            return
        view = self.view.currentText()
        x, _label = self.steps()
        if view == STRIP:
            step = round(event.xdata)
            row = round(event.ydata or 0)
            if not 0 <= row < len(timeline.tensors):
                return
            series = timeline.tensors[row]
        else:
            step = int(np.argmin([abs(v - event.xdata) for v in x]))
            series = timeline.tensors[0]
        if not 0 <= step < len(timeline.members):
            return
        name = series.names[step] or series.name
        self.step_chosen.emit(timeline.members[step].path, name)


def _floats(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]
