"""The interface every pane of the viewer implements."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from csv_state_viewer.core.analysis.tree import Node
from csv_state_viewer.gui.context import ViewerContext

if TYPE_CHECKING:  # Matplotlib is imported with the first plot pane, not with every pane
    from csv_state_viewer.gui.plotcanvas import PlotCanvas


class Pane(QWidget):
    """A tab of the viewer showing the current selection.

    The window calls :meth:`show_nodes` with the selected nodes (files, scopes or
    tensors, in selection order) when the pane is visible and the selection changed.
    Slow work goes through the pane's own :attr:`slot`, so a new selection supersedes
    the old work (its late result is dropped) and no other owner can cancel it.
    """

    title = ""

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.nodes: list[Node] = []
        self.slot = context.runner.slot(f"{self.title or type(self).__name__} pane")

    def show_nodes(self, nodes: list[Node]) -> None:
        raise NotImplementedError


def save_canvas(canvas: PlotCanvas, path: str | os.PathLike[str]) -> None:
    """Save the plot of ``canvas`` and keep the canvas drawing what panes request.

    Matplotlib's Qt canvas marks a draw pending after any save and leaves that draw to the
    next paint event; saving PNG repaints, but SVG and PDF do not, and while the mark stands
    every ``draw_idle`` is ignored: the pane stopped following the selection until a tab
    change repainted it. Asking for a repaint lets the pending draw happen.
    """
    try:
        canvas.save(path)
    finally:
        canvas.canvas.update()
