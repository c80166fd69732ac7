"""What the panes and dialogs of a window share: workers, the tensor cache, settings, and
the comparison the window holds (once: the tree model and the panes look diffs up in it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from PySide6.QtCore import QObject, Signal

from csv_state_viewer.core.analysis.diff import StateDiff, TensorDiff
from csv_state_viewer.core.analysis.health import Finding
from csv_state_viewer.core.analysis.run import RunMember
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
    _by_name: dict[str, TensorDiff] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name = self.result.by_name()

    def diff_of(self, node: Node) -> TensorDiff | None:
        """How the tensor of ``node`` compares; None for scopes, for tensors of other
        files, and for repeats of a name (only its first row is compared)."""
        entry, state = node.entry, node.state
        if entry is None or state is None or state is not self.root.state:
            return None
        if state.entry(entry.name) is not entry:
            return None
        return self._by_name.get(entry.name)

    def other_entry(self, node: Node) -> TensorEntry | None:
        """B's entry paired with the tensor of ``node`` (by name, or by the diff's pairing
        of renamed tensors), if B has one."""
        found = self.diff_of(node)
        if found is None or node.entry is None:
            return None
        name = found.name_b or node.entry.name
        return self.other.entry(name) if name in self.other else None


class ViewerContext(QObject):
    """Shared by a window's panes. ``load_array``/``load_stats`` run in workers."""

    tensor_failed = Signal(object)  # Node whose data turned out bad when read
    comparison_changed = Signal()
    health_changed = Signal()  # a file's health findings are known (tree badges)

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
        # a run's states in order, by the absolute path of the state shown for it (its last)
        self.runs: dict[str, list[RunMember]] = {}
        # each checked file's health findings, by its state's path; worst first per tensor
        self.findings: dict[str, list[Finding]] = {}

    def load_array(self, node: Node, progress: Progress = NO_PROGRESS) -> np.ndarray:
        """The decoded tensor of a tensor node (worker thread; raises RowError).

        A bad row or bad data is recorded by the node's state, where the tree finds it.
        """
        return self._cached(self.cache.array, node, progress)

    def load_stats(self, node: Node, progress: Progress = NO_PROGRESS) -> TensorStats:
        """The statistics of a tensor node (worker thread; raises RowError)."""
        return self._cached(self.cache.stats, node, progress)

    @staticmethod
    def _cached(
        read: Callable[[State, TensorEntry, Progress], T], node: Node, progress: Progress
    ) -> T:
        assert node.state is not None and node.entry is not None, "not a tensor node"
        return read(node.state, node.entry, progress)

    def read_failed(self, node: Node, error: BaseException) -> None:
        """Panes call this from on_error so the tree repaints the row (UI thread)."""
        if isinstance(error, RowError):
            self.tensor_failed.emit(node)

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.comparison = comparison
        self.comparison_changed.emit()

    def diff_of(self, node: Node) -> TensorDiff | None:
        """The comparison of ``node``'s tensor when its file is being compared."""
        return self.comparison.diff_of(node) if self.comparison is not None else None

    def set_findings(self, path: str, findings: list[Finding]) -> None:
        self.findings[path] = findings
        self.health_changed.emit()

    def worst_finding(self, node: Node) -> Finding | None:
        """The most severe health finding of a tensor node, once its file was checked."""
        if node.entry is None or node.state is None:
            return None
        found = self.findings.get(node.state.path, [])
        return next((f for f in found if f.tensor == node.entry.name), None)

    def shutdown(self) -> bool:
        return self.runner.shutdown()
