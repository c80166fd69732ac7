"""The main window's status bar: the one place that knows what the window is doing.

The window's operations (opening files, compare, save, export) each run in their own
:class:`~csv_state_viewer.gui.tasks.TaskSlot` through :meth:`StatusProgress.run`. While
any is in flight the progress bar and the Cancel button show; they hide when the last one
has ended. Each operation's end sets the status text: what its ``on_done`` or ``on_error``
returns, or "Cancelled". Cancel cancels every operation in flight; each still reports how
it really ended (a save that finished before the cancel arrived says what it wrote).

Following the window's tree model (:meth:`StatusProgress.follow`), the text about an
opened file (:meth:`StatusProgress.opened`) keeps its bad-row count true as reads find
bad data (the one count: :func:`~csv_state_viewer.core.analysis.tree.bad_row_count`), and
is cleared when that file, or the last file, is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex
from PySide6.QtWidgets import QProgressBar, QStatusBar, QToolButton

from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.analysis.tree import Node, bad_row_count
from csv_state_viewer.core.formatting import safe_lines
from csv_state_viewer.gui.safelabel import SafeLabel
from csv_state_viewer.gui.tasks import Job, TaskFn, TaskSlot

CANCELLED = "Cancelled"
STEPS = 1000  # resolution of the bar


def opened_text(root: Node) -> str:
    """``Opened damaged.csv: 7 tensors, 5 bad rows`` (and the notes of a reshaped open)."""
    state = root.state
    if state is None:
        return f"Opened {root.label}"
    bad = bad_row_count(state)
    note = f", {plural(bad, 'bad row')}" if bad else ""
    notes = "".join(f"; {text}" for text in state.notes)  # reshapes taken from a model
    return f"Opened {root.label}: {plural(len(state.entries), 'tensor')}{note}{notes}"


class StatusProgress(QObject):
    """A status bar's text, progress bar and Cancel button, shared by the operations."""

    def __init__(self, status_bar: QStatusBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = SafeLabel()  # texts name files: shown escaped, plain text
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        status_bar.addWidget(self.label, 1)
        status_bar.addPermanentWidget(self.bar)
        status_bar.addPermanentWidget(self.cancel_button)
        self.bar.hide()
        self.cancel_button.hide()
        self._done: dict[TaskSlot, float | None] = {}  # in flight: fraction done, if known
        self._about: Node | None = None  # the opened file the text is about
        self._about_text = ""  # that text, as the label shows it
        self._model: QAbstractItemModel | None = None

    def follow(self, model: QAbstractItemModel) -> None:
        """Keep the text true to ``model`` (the window's tree model, one root row per
        file): an opened file's bad-row count follows its rows' changes, and the text is
        cleared when its file, or the last file, is closed."""
        self._model = model
        model.dataChanged.connect(self._data_changed)
        model.rowsRemoved.connect(self._rows_removed)
        model.modelReset.connect(lambda: self._rows_removed(QModelIndex(), 0, 0))

    def opened(self, root: Node) -> str:
        """The text saying ``root``'s file opened (:func:`opened_text`), remembered so it
        follows the file: return it from an ``on_done``."""
        text = opened_text(root)
        self._about = root
        self._about_text = safe_lines(text)  # what the label shows
        return text

    def _speaks_of_about(self) -> bool:
        return self._about is not None and self.label.text() == self._about_text

    def _data_changed(self, *_: object) -> None:
        if self._about is not None and self._speaks_of_about():
            text = self.opened(self._about)
            if self.label.text() != self._about_text:
                self.label.setText(text)

    def _rows_removed(self, parent: QModelIndex | QPersistentModelIndex, *_: object) -> None:
        if parent.isValid() or self._model is None:
            return
        empty = self._model.rowCount() == 0
        closed = self._about is not None and self._about not in _roots(self._model)
        if (closed and self._speaks_of_about()) or (empty and not self._done):
            self.label.setText("")
        if closed or empty:
            self._about = None

    @property
    def count(self) -> int:
        """Operations in flight."""
        return len(self._done)

    def run(
        self,
        slot: TaskSlot,
        text: str,
        fn: TaskFn,
        *,
        on_done: Callable[[Any], str],
        on_error: Callable[[BaseException], str],
        on_cancelled: Callable[[], None] | None = None,
    ) -> Job:
        """Run ``fn`` in ``slot`` as one of the window's operations, saying ``text`` now.

        ``on_done(result)`` and ``on_error(exception)`` return the status text to end with;
        a cancelled operation ends with "Cancelled" (after ``on_cancelled()``, if given).
        A new run in the same slot replaces the one before (it is still one operation).
        """
        self._done[slot] = None
        self.label.setText(text)
        self.cancel_button.setEnabled(True)
        self._update()
        return slot.submit(
            fn,
            lambda result: self._end(slot, lambda: on_done(result)),
            lambda error: self._end(slot, lambda: on_error(error)),
            on_progress=lambda done, total: self._progressed(slot, done, total),
            on_cancelled=lambda: self._end(slot, lambda: _cancelled(on_cancelled)),
        )

    def cancel(self) -> None:
        """Cancel every operation in flight; each ends when its worker has stopped."""
        for slot in self._done:
            slot.cancel()
        if self._done:
            self.label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def set_text(self, text: str) -> None:
        self.label.setText(text)

    def _end(self, slot: TaskSlot, final: Callable[[], str]) -> None:
        text = None
        try:
            text = final()
        finally:  # an operation whose callback failed has still ended
            self._done.pop(slot, None)
            if text is not None:
                self.label.setText(text)
            self._update()

    def _progressed(self, slot: TaskSlot, done: int, total: int) -> None:
        if slot in self._done and total > 0:
            self._done[slot] = min(done / total, 1.0)
            self._update()

    def _update(self) -> None:
        """Show the mean progress of the operations in flight, or hide when there are none."""
        if not self._done:
            self.bar.hide()
            self.cancel_button.hide()
            self.cancel_button.setEnabled(True)
            return
        known = [fraction for fraction in self._done.values() if fraction is not None]
        if known:
            value = int(STEPS * sum(known) / len(self._done))
            # QProgressBar repaints at once on a new value (~0.7 ms): at most once a percent
            if self.bar.maximum() != STEPS or value // 10 != self.bar.value() // 10:
                self.bar.setRange(0, STEPS)
                self.bar.setValue(value)
        else:
            self.bar.setRange(0, 0)  # busy until the first report
        self.bar.show()
        self.cancel_button.show()


def _roots(model: QAbstractItemModel) -> list[Node]:
    found = (model.index(row, 0).internalPointer() for row in range(model.rowCount()))
    return [node for node in found if isinstance(node, Node)]


def _cancelled(then: Callable[[], None] | None) -> str:
    if then is not None:
        then()
    return CANCELLED
