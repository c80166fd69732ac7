"""The interface every pane of the viewer implements."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from csv_state_viewer.core.analysis.tree import Node
from csv_state_viewer.gui.context import ViewerContext


class Pane(QWidget):
    """A tab of the viewer showing the current selection.

    The window calls :meth:`show_nodes` with the selected nodes (files, scopes or
    tensors, in selection order) when the pane is visible and the selection changed.
    Slow work goes through ``context.runner`` under the pane's own key, so a new
    selection cancels the old work and late results are discarded.
    """

    title = ""

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.nodes: list[Node] = []

    def show_nodes(self, nodes: list[Node]) -> None:
        raise NotImplementedError
