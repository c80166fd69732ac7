"""The window's tabs: one per pane, each pane built the first time it is needed.

Building every pane at start-up imported Matplotlib (a third of the viewer's start-up
time) before the window could show a tree. Now each tab holds an empty holder until its
pane is first shown or asked for (``panes["histogram"]``), and once the window is up the
plot panes' modules are imported on a background thread (:meth:`PaneTabs.preload`), so
the first switch to a plot tab does not wait for Matplotlib on the UI thread either.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.panes.base import Pane


class PaneKind(NamedTuple):
    name: str
    title: str
    module: str
    cls: str


_PANES = "csv_state_viewer.gui.panes."
KINDS = (
    PaneKind("summary", "Summary", _PANES + "summary", "SummaryPane"),
    PaneKind("histogram", "Histogram", _PANES + "histogram", "HistogramPane"),
    PaneKind("heatmap", "Heatmap", _PANES + "heatmap", "HeatmapPane"),
    PaneKind("values", "Values", _PANES + "values", "ValuesPane"),
    PaneKind("compare", "Compare", _PANES + "compare", "ComparePane"),
    PaneKind("timeline", "Timeline", _PANES + "timeline", "TimelinePane"),
    PaneKind("health", "Health", _PANES + "health", "HealthPane"),
)


class PaneTabs(Mapping[str, Pane]):
    """The panes by name (building one when it is first looked up), in tab order."""

    def __init__(
        self,
        tabs: QTabWidget,
        context: ViewerContext,
        made: Callable[[str, Pane], None] = lambda name, pane: None,
    ) -> None:
        self.tabs = tabs
        self.context = context
        self._made_hook = made
        self._kinds = {kind.name: kind for kind in KINDS}
        self._holders: dict[str, QWidget] = {}
        self._panes: dict[str, Pane] = {}
        self._preloader = QThreadPool()
        self._preloader.setMaxThreadCount(1)
        for kind in KINDS:
            holder = QWidget()
            layout = QVBoxLayout(holder)
            layout.setContentsMargins(0, 0, 0, 0)
            self._holders[kind.name] = holder
            tabs.addTab(holder, kind.title)

    def __getitem__(self, name: str) -> Pane:
        pane = self._panes.get(name)
        if pane is None:
            kind = self._kinds[name]  # KeyError for an unknown pane, as a dict would
            cls = getattr(importlib.import_module(kind.module), kind.cls)
            pane = self._panes[name] = cls(self.context)
            layout = self._holders[name].layout()
            assert layout is not None
            layout.addWidget(pane)
            self._made_hook(name, pane)
        return pane

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def made(self) -> list[Pane]:
        """The panes built so far (looking them up would build the others)."""
        return list(self._panes.values())

    def holder(self, name: str) -> QWidget:
        """The tab page of pane ``name``."""
        return self._holders[name]

    def current_name(self) -> str:
        page = self.tabs.currentWidget()
        return next((n for n, h in self._holders.items() if h is page), KINDS[0].name)

    def preload(self) -> None:
        """Import every pane's module (Matplotlib with the plot panes) and start the plot
        render thread, on a Qt pool thread; building a pane later then only builds its
        widgets. Not a Python thread started here: ``Thread.start`` waits until the new
        thread holds the GIL, which took 45 ms of the UI thread while a file opened."""
        self._preloader.start(_preload)

    def wait_for_preload(self) -> None:
        self._preloader.waitForDone()


def _preload() -> None:
    for kind in KINDS:
        importlib.import_module(kind.module)
    from csv_state_viewer.gui import rendering

    rendering.start_rendering()
