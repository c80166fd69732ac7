"""The tensor tree's column widths: value columns sized to their content, the Name column
taking the rest (its text elides), and a comparison's Difference column kept in view."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QSplitter, QTreeView

from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.treemodel import DIFFERENCE, NAME

MIN_NAME = 160  # px the Name column keeps when the others are sized to their content
MIN_DIFFERENCE, MAX_DIFFERENCE = 140, 280  # px of a comparison's Difference column
TREE_SHARE, COMPARED_TREE_SHARE = 0.5, 0.6  # of the splitter the tree may grow to


class TreeColumns(QObject):
    """Keeps ``tree``'s columns fitted; ``splitter``'s first widget holds the tree."""

    def __init__(self, tree: QTreeView, splitter: QSplitter, context: ViewerContext) -> None:
        super().__init__(tree)
        self.tree = tree
        self.splitter = splitter
        self.context = context
        self._deferred = 0
        tree.header().setSectionHidden(DIFFERENCE, True)  # shown while a comparison is set
        tree.expanded.connect(self._grow)
        tree.viewport().installEventFilter(self)  # a resized tree refits its Name column

    @property
    def compared(self) -> bool:
        return self.context.comparison is not None

    def fit(self) -> None:
        """Size the value columns to their content and give the Name column the rest.
        The tree's side of the splitter grows (up to half the window, 60 % with a
        comparison) so that names and every column show; with a comparison, what still
        does not fit is scrolled so that the Difference column is in view."""
        tree, header = self.tree, self.tree.header()
        compared = self.compared
        header.setSectionHidden(DIFFERENCE, not compared)  # empty without a comparison
        for column in self._value_columns():
            tree.resizeColumnToContents(column)
        if compared:
            wanted = tree.sizeHintForColumn(DIFFERENCE)
            header.resizeSection(DIFFERENCE, min(max(wanted, MIN_DIFFERENCE), MAX_DIFFERENCE))
        missing = MIN_NAME + self._others() - tree.viewport().width()
        sizes = self.splitter.sizes()
        if missing > 0 and len(sizes) == 2 and sum(sizes) > 0:
            total = sum(sizes)
            share = COMPARED_TREE_SHARE if compared else TREE_SHARE
            left = min(sizes[0] + missing, int(total * share))
            if left > sizes[0]:
                self.splitter.setSizes([left, total - left])
        self.fit_name()

    def fit_name(self) -> None:
        """The Name column takes the room the others leave; with a comparison, the
        Difference column elides a little rather than scroll, and when it must scroll the
        view shows its end."""
        header = self.tree.header()
        width = self.tree.viewport().width()
        compared = self.compared
        if compared:
            values = sum(header.sectionSize(c) for c in self._value_columns())
            room = width - MIN_NAME - values
            if MIN_DIFFERENCE <= room < header.sectionSize(DIFFERENCE):
                header.resizeSection(DIFFERENCE, room)
        header.resizeSection(NAME, max(MIN_NAME, width - self._others()))
        if compared:
            end = header.sectionPosition(DIFFERENCE) + header.sectionSize(DIFFERENCE)
            bar = self.tree.horizontalScrollBar()
            bar.setValue(max(0, min(bar.maximum(), end - width)))

    def _value_columns(self) -> list[int]:
        model = self.tree.model()
        return [c for c in range(1, model.columnCount()) if c != DIFFERENCE]

    def _others(self) -> int:
        header = self.tree.header()
        return sum(
            header.sectionSize(c) for c in range(1, header.count()) if not header.isSectionHidden(c)
        )

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Expansions within the block do not widen the columns: the caller fits them
        once at its end (each widening measures every visible row)."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1

    def _grow(self, *_: Any) -> None:
        """Rows an expansion shows may hold longer shapes or sizes: widen, never shrink."""
        if self._deferred:
            return
        header = self.tree.header()
        for column in self._value_columns():
            wanted = self.tree.sizeHintForColumn(column)
            if wanted > header.sectionSize(column):
                header.resizeSection(column, wanted)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize and self.tree.model().rowCount():
            self.fit_name()
        return False
