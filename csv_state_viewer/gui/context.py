"""What the panes and dialogs of a window share: workers, the tensor cache, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PySide6.QtCore import QObject, Signal

from csv_state_viewer.core.analysis.diff import StateDiff
from csv_state_viewer.core.analysis.stats import TensorStats
from csv_state_viewer.core.analysis.tree import Node
from csv_state_viewer.core.cache import TensorCache
from csv_state_viewer.core.errors import RowError
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.state import State, TensorEntry
from csv_state_viewer.gui.settings import Settings
from csv_state_viewer.gui.tasks import TaskRunner

T = TypeVar("T")


@dataclass
class Comparison:
    """The current file compared with another state (``other`` is B, the file is A)."""

    root: Node  # the file node being compared (A)
    other: State  # B
    result: StateDiff


class ViewerContext(QObject):
    """Shared by a window's panes. ``load_array``/``load_stats`` run in workers."""

    tensor_failed = Signal(object)  # Node whose data turned out bad when read
    comparison_changed = Signal()

    def __init__(
        self,
        settings: Settings | None = None,
        parent: QObject | None = None,
        cache: TensorCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else Settings()
        self.runner = TaskRunner(self)
        self.cache = cache if cache is not None else TensorCache()
        self.comparison: Comparison | None = None

    def load_array(self, node: Node, progress: Progress = NO_PROGRESS) -> np.ndarray:
        """The decoded tensor of a tensor node (worker thread; raises RowError)."""
        return self._cached(self.cache.array, node, progress)

    def load_stats(self, node: Node, progress: Progress = NO_PROGRESS) -> TensorStats:
        """The statistics of a tensor node (worker thread; raises RowError)."""
        return self._cached(self.cache.stats, node, progress)

    @staticmethod
    def _cached(
        read: Callable[[State, TensorEntry, Progress], T], node: Node, progress: Progress
    ) -> T:
        assert node.state is not None and node.entry is not None, "not a tensor node"
        try:
            return read(node.state, node.entry, progress)
        except RowError as err:  # the tree marks the row once the pane reports it
            node.read_error = err.problem.message
            raise

    def read_failed(self, node: Node, error: BaseException) -> None:
        """Panes call this from on_error so the tree marks the row (UI thread)."""
        if isinstance(error, RowError):
            self.tensor_failed.emit(node)

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.comparison = comparison
        self.comparison_changed.emit()

    def other_entry(self, node: Node) -> tuple[State, object] | None:
        """B's entry of the same name as ``node`` when comparing, else None."""
        comparison = self.comparison
        if comparison is None or node.entry is None or node.root() is not comparison.root:
            return None
        if node.entry.name not in comparison.other:
            return None
        return comparison.other, comparison.other.entry(node.entry.name)

    def shutdown(self) -> bool:
        return self.runner.shutdown()
