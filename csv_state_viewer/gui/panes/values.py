"""The Values tab: the elements of the selected tensor in a lazily paged table."""

from __future__ import annotations

import functools

import numpy as np
from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.tree import TENSOR, Node
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.formatting import display_name, shape_text
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.panes.base import Pane
from csv_state_viewer.gui.safelabel import SafeLabel
from csv_state_viewer.gui.valuesmodel import ValuesModel, check_copy_size

HINT = "Select a tensor to see its values"
_ERROR_STYLE = "color: #c62828; font-weight: bold;"


class ValuesPane(Pane):
    """Shows the first selected tensor's values; Ctrl+C copies the selected cells as TSV."""

    title = "Values"
    values_shown = Signal()  # the array, an error or the hint is on screen

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.node: Node | None = None
        self.label = SafeLabel(HINT)  # names shown escaped, plain text
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = ValuesModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        # Fixed row heights keep scrolling cheap: the view never measures row contents.
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        self.view.horizontalHeader().setDefaultSectionSize(120)

        self.copy_action = QAction("&Copy", self.view)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_action.triggered.connect(self.copy_selection)
        self.view.addAction(self.copy_action)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.view.installEventFilter(self)  # Ctrl+Home/End reach past the fetched pages

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.label)
        layout.addWidget(self.view, 1)
        self.model.rowsInserted.connect(self._update_label)
        self.model.modelReset.connect(self._update_label)

    # ------------------------------------------------------------------ selection
    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self.slot.drop()
        node = nodes[0] if nodes else None
        self.node = node if node is not None and node.kind == TENSOR else None
        self.model.set_array(None)
        if self.node is None:
            self._set_message(HINT)
            self.values_shown.emit()
            return
        if self.node.error is not None:
            self._set_message(f"{display_name(self.node.name)}: {self.node.error}", error=True)
            self.values_shown.emit()
            return
        target = self.node
        self._set_message(f"Loading {display_name(target.name)}…")

        self.slot.submit(
            # the worker's function holds no widget: it may be released on the worker thread
            functools.partial(self.context.load_array, target),
            on_done=lambda array: self._loaded(target, array),
            on_error=lambda error: self._failed(target, error),
            on_progress=lambda done, total: self._progress(target, done, total),
        )

    def _loaded(self, node: Node, array: np.ndarray) -> None:
        if node is not self.node:
            return
        self.model.set_array(array)  # resets the model, which updates the label
        self.values_shown.emit()

    def _failed(self, node: Node, error: BaseException) -> None:
        if node is not self.node:
            return
        message = error.problem.message if isinstance(error, RowError) else describe(error)[0]
        self._set_message(f"{display_name(node.name)}: {message}", error=True)
        self.context.read_failed(node, error)
        self.values_shown.emit()

    def _progress(self, node: Node, done: int, total: int) -> None:
        if node is self.node and total > 0:
            self._set_message(f"Loading {display_name(node.name)}… {100 * done // total}%")

    # ------------------------------------------------------------------ display
    def _set_message(self, text: str, error: bool = False) -> None:
        self.label.setText(text)
        self.label.setStyleSheet(_ERROR_STYLE if error else "")

    def _update_label(self, *_: object) -> None:
        array = self.model.array
        if array is None or self.node is None or self.node.entry is None:
            return
        shown, total = self.model.rowCount(), self.model.total_rows
        rows = f"{total:,} row{'s' if total != 1 else ''}"
        if shown < total:
            rows = f"showing first {shown:,} of {rows} (scroll for more)"
        dtype = self.node.entry.dtype if self.node.entry.dtype is not None else array.dtype
        name = display_name(self.node.name)
        self._set_message(f"{name}   {shape_text(array.shape)}   {dtype}   —   {rows}")

    # ------------------------------------------------------------------ keyboard
    def go_to_end(self, *, select: bool = False) -> None:
        """Make the last element current, fetching the rows it needs (Ctrl+End)."""
        if self.model.columnCount() == 0:
            return
        self.model.fetch_through(self.model.total_rows - 1)
        self._go_to(self.model.rowCount() - 1, self.model.columnCount() - 1, select)

    def go_to_start(self, *, select: bool = False) -> None:
        """Make the first element current (Ctrl+Home)."""
        if self.model.rowCount() and self.model.columnCount():
            self._go_to(0, 0, select)

    def _go_to(self, row: int, column: int, select: bool) -> None:
        index = self.model.index(row, column)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        if select:  # Ctrl+Shift: from the anchor, as Qt's own Shift+moves do
            anchor = self.view.selectionModel().currentIndex()
            if anchor.isValid():
                top, bottom = sorted((anchor.row(), row))
                left, right = sorted((anchor.column(), column))
                self.view.selectionModel().select(
                    QItemSelection(self.model.index(top, left), self.model.index(bottom, right)),
                    flags,
                )
                flags = QItemSelectionModel.SelectionFlag.NoUpdate
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            modifiers = event.modifiers()
            ctrl = Qt.KeyboardModifier.ControlModifier
            shift = Qt.KeyboardModifier.ShiftModifier
            if modifiers & ctrl and not modifiers & ~(ctrl | shift):
                select = bool(modifiers & shift)
                if event.key() == Qt.Key.Key_End:
                    self.go_to_end(select=select)
                    return True
                if event.key() == Qt.Key.Key_Home:
                    self.go_to_start(select=select)
                    return True
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------ copying
    def copy_selection(self) -> str:
        """Put the selected cells on the clipboard as TSV; returns the text copied."""
        selection = self.view.selectionModel().selection()
        if selection.isEmpty():
            return ""
        # Check the bounding rectangle before asking Qt for millions of indexes.
        ranges = [selection.at(i) for i in range(selection.count())]
        top = min(r.top() for r in ranges)
        bottom = max(r.bottom() for r in ranges)
        left = min(r.left() for r in ranges)
        right = max(r.right() for r in ranges)
        try:
            check_copy_size(bottom - top + 1, right - left + 1)
            text = self.model.selection_text(selection.indexes())
        except ValueError as err:
            self._set_message(str(err), error=True)
            return ""
        QGuiApplication.clipboard().setText(text)
        self._update_label()  # replaces an earlier copy error
        return text
