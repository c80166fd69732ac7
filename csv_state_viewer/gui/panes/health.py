"""The Health pane: what the health check finds in a file's weights and optimizer state.

The first time this tab shows a file, its state is checked in the pane's task slot
(:func:`~csv_state_viewer.core.analysis.health.check_state`: non-finite values, dead
units, batch-norm variances, optimizer moments, kernels far from their initial scale,
heavy-tailed spectra); the findings are kept by the context, so the tree marks each
tensor with a finding (an error, warning or information icon, the message in its
tooltip) from then on. The table lists the findings of the selection (all of a file
when the file is selected); double-clicking a row selects its tensor.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.health import Finding, check_state
from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.analysis.tree import FILE, Node
from csv_state_viewer.core.formatting import safe_text
from csv_state_viewer.core.progress import Progress
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.panes.base import Pane

COLUMNS = ("Severity", "Check", "Tensor", "Message", "Value")
SELECT_HINT = "Select a file, scope or tensor to check its health"
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def covers(node: Node, tensor: str) -> bool:
    """Whether ``tensor`` is ``node`` itself or inside it (a file covers all its tensors)."""
    if node.kind == FILE:
        return True
    name = node.name
    return tensor == name or tensor.startswith(name + "/")


def summary_line(findings: list[Finding]) -> str:
    if not findings:
        return "no findings"
    counts = [
        plural(sum(1 for f in findings if f.severity == severity), word)
        for severity, word in (("error", "error"), ("warning", "warning"), ("info", "note"))
        if any(f.severity == severity for f in findings)
    ]
    return ", ".join(counts)


class HealthPane(Pane):
    title = "Health"
    tensor_chosen = Signal(str)  # a finding's tensor, to select in the tree
    checked = Signal()  # findings (or a message) shown

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.status = QLabel(SELECT_HINT)
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        self.shown: list[Finding] = []

    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self.slot.drop()
        if not nodes:
            self._show([], SELECT_HINT)
            return
        root = nodes[0].root()
        state = root.state
        if state is None:
            self._show([], SELECT_HINT)
            return
        found = self.context.findings.get(state.path)
        if found is not None:
            self._present(found)
            return

        def work(progress: Progress) -> list[Finding]:
            return check_state(state, progress)

        self._show([], f"Checking {safe_text(root.label)}…")
        self.slot.submit(
            work,
            lambda findings: self._checked(state.path, findings),
            self._failed,
            on_progress=lambda done, total: self.status.setText(
                f"Checking… {100 * done // max(total, 1)}%"
            ),
        )

    def _checked(self, path: str, findings: list[Finding]) -> None:
        self.context.set_findings(path, findings)
        self._present(findings)

    def _failed(self, error: BaseException) -> None:
        self._show([], describe(error)[0])

    def _present(self, findings: list[Finding]) -> None:
        chosen = [f for f in findings if any(covers(n, f.tensor) for n in self.nodes)]
        whole = summary_line(findings)
        if len(chosen) == len(findings):
            self._show(chosen, f"{whole} in this file" if findings else "No findings: healthy")
        else:
            self._show(chosen, f"{summary_line(chosen)} in the selection ({whole} in the file)")

    def _show(self, findings: list[Finding], text: str) -> None:
        self.shown = findings
        self.status.setText(text)
        self.table.setRowCount(len(findings))
        for row, finding in enumerate(findings):
            value = "" if finding.value is None else f"{finding.value:.4g}"
            cells = (finding.severity, finding.check, finding.tensor, finding.message, value)
            for column, text_ in enumerate(cells):
                item = QTableWidgetItem(safe_text(str(text_)))
                if column == 4:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, item)
        self.checked.emit()

    def _chosen(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.shown):
            self.tensor_chosen.emit(self.shown[row].tensor)
