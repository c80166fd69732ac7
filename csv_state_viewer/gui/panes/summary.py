"""The Summary tab: what is known about the selected node, and its statistics.

A tensor shows its properties, metadata and statistics; a file or scope shows totals
and statistics over all its readable tensors (computed in a worker, cancellable), a file
also its problems (relative to the file, its path once above them). Statistics of a
tensor come from the shared cache when known. Model parameters and optimizer state are
counted and measured apart; counters and optimizer scalars are shown as values (rows:
:mod:`~csv_state_viewer.gui.panes.summaryrows`). :meth:`SummaryPane.export_summary` (and
the pane's Export… button) writes the statistics per tensor as CSV or JSON.

Names and paths are shown escaped and long names elided in the middle
(:func:`~csv_state_viewer.core.formatting.display_name`), whole in their tooltips; the
metadata is JSON with every non-ASCII character escaped.
"""

from __future__ import annotations

import functools
import json
import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.roles import kind_of
from csv_state_viewer.core.analysis.stats import TensorStats
from csv_state_viewer.core.analysis.summary import (
    Measured,
    plural,
    stats_record,
    tensor_record,
)
from csv_state_viewer.core.analysis.summary import summarize as summarize_group
from csv_state_viewer.core.analysis.tree import FILE, TENSOR, Node, totals
from csv_state_viewer.core.errors import CsvStateError, RowError
from csv_state_viewer.core.formatting import display_name, safe_text
from csv_state_viewer.core.progress import NO_PROGRESS
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe, show_error
from csv_state_viewer.gui.panes.base import Pane
from csv_state_viewer.gui.panes.summaryrows import (  # noqa: F401 - re-exported for tests
    NONE,
    Aggregate,
    Row,
    bytes_text,
    entry_of,
    group_rows,
    group_stats_rows,
    inf_text,
    measure,
    number_text,
    problems_text,
    stats_rows,
    tensor_rows,
    zeros_text,
)
from csv_state_viewer.gui.safelabel import SafeLabel
from csv_state_viewer.ops.statistics import write_table

ERROR = "error"  # field_text key of the error shown instead of statistics
_RED = QColor("#c62828")
_RED_BACKGROUND = QColor("#ffebee")
_ERROR_STYLE = "color: #c62828; font-weight: bold;"


def _table() -> QTableWidget:
    table = QTableWidget(0, 2)
    table.horizontalHeader().hide()
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return table


def _text_box() -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    return box


class SummaryPane(Pane):
    """Properties and statistics of the first selected node; see the module docstring."""

    title = "Summary"
    summary_ready = Signal()  # statistics (or the reason there are none) are on screen

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.node: Node | None = None
        self.result: Aggregate | None = None  # statistics of the file or scope shown
        self.tensor_stats: TensorStats | None = None  # statistics of the tensor shown
        self._rows: dict[str, tuple[QTableWidget, int]] = {}  # key -> its table and row
        self.heading = SafeLabel()
        self.heading.setStyleSheet("font-weight: bold;")
        self.heading.setWordWrap(True)
        self.selection_label = QLabel()
        self.error_label = SafeLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(_ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.properties = _table()
        self.statistics = _table()
        self.status_label = SafeLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the statistics per tensor to a CSV or JSON file")
        self.export_button.clicked.connect(self._export_dialog)
        self.error_boxes: list[QMessageBox] = []  # shown by Export…, kept for tests
        self.metadata = _text_box()
        self.problems = _text_box()
        self.metadata_box = QGroupBox("Metadata")
        QVBoxLayout(self.metadata_box).addWidget(self.metadata)
        self.problems_box = QGroupBox("Problems")
        self.problems_path = SafeLabel()  # the file's whole path, once; lines are relative
        self.problems_path.setWordWrap(True)
        self.problems_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        problems_layout = QVBoxLayout(self.problems_box)
        problems_layout.addWidget(self.problems_path)
        problems_layout.addWidget(self.problems)

        status = QHBoxLayout()
        status.addWidget(self.status_label, 1)
        status.addWidget(self.progress)
        status.addWidget(self.cancel_button)
        status.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignRight)
        content = QWidget()
        layout = QVBoxLayout(content)
        widgets: list[QWidget] = [self.heading, self.selection_label, self.error_label]
        for widget in [*widgets, self.properties]:
            layout.addWidget(widget)
        layout.addLayout(status)
        for widget in [self.statistics, self.metadata_box, self.problems_box]:
            layout.addWidget(widget)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_nodes([])

    # ------------------------------------------------------------------ for tests
    def field_text(self, key: str) -> str:
        """The value shown for ``key`` ("min", "shape", ...); "" when it is not shown.

        ``"error"`` is the error of a bad or unreadable tensor shown instead of statistics.
        """
        if key == ERROR:
            return self.error_label.text()
        item = self._item(key)
        return item.text() if item is not None else ""

    def field_label(self, key: str) -> str:
        """The label of the row of ``key`` ("Parameters", "Optimizer state"...)."""
        table, row = self._rows.get(key, (None, -1))
        item = table.item(row, 0) if table is not None else None
        return item.text() if item is not None else ""

    def field_tooltip(self, key: str) -> str:
        item = self._item(key)
        return item.toolTip() if item is not None else ""

    def has_field(self, key: str) -> bool:
        return key in self._rows

    def is_highlighted(self, key: str) -> bool:
        """True when the row of ``key`` is shown, in bold red."""
        if key == ERROR:
            return bool(self.error_label.text())
        item = self._item(key)
        return item is not None and item.font().bold() and item.foreground().color() == _RED

    def _item(self, key: str) -> QTableWidgetItem | None:
        table, row = self._rows.get(key, (None, -1))
        return table.item(row, 1) if table is not None else None

    # ------------------------------------------------------------------ selection
    def show_nodes(self, nodes: list[Node]) -> None:
        self.nodes = list(nodes)
        self.slot.drop()
        self.node = nodes[0] if nodes else None
        self.result = None
        self.tensor_stats = None
        self.export_button.setEnabled(False)
        self._clear(self.properties)
        self._clear(self.statistics)
        self._set_error(None)
        self._set_busy(None)
        self.statistics.hide()
        self.metadata_box.hide()
        self.problems_box.hide()
        self.selection_label.setText(f"{len(nodes)} selected")
        self.selection_label.setVisible(len(nodes) > 1)
        if self.node is None:
            self.heading.setText("Select a file, scope or tensor to see its summary")
            self.summary_ready.emit()
        elif self.node.kind == TENSOR:
            self._show_tensor(self.node)
        else:
            self._show_group(self.node)

    def cancel(self) -> None:
        """Stop computing statistics; whatever the worker still finds is not shown."""
        if self.slot.running:
            self.slot.drop()
            self._set_busy(None, "Statistics cancelled")

    # ------------------------------------------------------------------ export
    def export_records(self) -> list[dict[str, object]]:
        """The statistics shown, one record per tensor (the columns of ``csv-state stats``):
        every measured tensor of the file or scope, or the one tensor. Raises ValueError
        while there are none (nothing selected, still computing, a bad tensor)."""
        node = self.node
        if node is not None and node.kind == TENSOR and self.tensor_stats is not None:
            assert node.entry is not None
            measured = Measured(node, node.entry, kind_of(node.entry), self.tensor_stats)
            return [tensor_record(measured)]
        if node is not None and node.kind != TENSOR and self.result is not None:
            return [tensor_record(m) for m in self.result.tensors]
        raise ValueError("no statistics to export: select a file, scope or tensor and wait")

    def export_summary(self, path: str | os.PathLike[str]) -> None:
        """Write the Summary's statistics to ``path``: CSV or JSON by its extension (one row
        per tensor: name, shape, dtype, role, parameters, min, max, mean, std, l2, zeros
        as a fraction, nan, inf). JSON adds the selection, the parameter and optimizer
        totals and the counters' values. Raises ValueError when there are no statistics
        or the extension is neither, StateWriteError when writing fails."""
        records = self.export_records()
        node = self.node
        assert node is not None
        extra: dict[str, object] = {
            "file": node.state.path if node.state is not None else None,
            "selection": node.name,
        }
        if self.result is not None:
            result = self.result
            extra["parameters"] = {
                "tensors": len(result.parameter_tensors),
                **stats_record(result.parameters),
            }
            extra["optimizer"] = {
                "tensors": len(result.optimizer_tensors),
                **stats_record(result.optimizer),
            }
            extra["values"] = {m.entry.name: m.value for m in result.values}
        write_table(path, records, extra)

    def _export_dialog(self) -> None:
        label = self.node.label if self.node is not None else "summary"
        stem = os.path.splitext(os.path.basename(label))[0] or "summary"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export summary", f"{stem}-summary.csv", "CSV file (*.csv);;JSON file (*.json)"
        )
        if not path:
            return
        try:
            self.export_summary(path)
        except (CsvStateError, ValueError) as err:
            self.error_boxes.append(show_error(self, "Cannot export the summary", err))

    # ------------------------------------------------------------------ tensors
    def _show_tensor(self, node: Node) -> None:
        entry, state = node.entry, node.state
        assert entry is not None and state is not None
        owner = entry.metadata.get("slot_of")
        slot = f"Optimizer slot {node.slot!r} of {display_name(str(owner))}"
        self.heading.setText(slot if node.slot else f"Tensor {display_name(node.name)}")
        self.heading.setToolTip(safe_text(node.name))
        self._fill(self.properties, tensor_rows(node))
        metadata = json.dumps(entry.metadata, indent=2, sort_keys=True, default=str)
        self.metadata.setPlainText(metadata)
        self.metadata_box.show()
        if node.error is not None:
            self._set_error(node.error)
            self.summary_ready.emit()
            return
        cached = self.context.cache.cached_stats(state, entry)
        if cached is not None:
            self._tensor_done(node, cached)
            return
        self._set_busy(0, "Computing statistics…")
        self.slot.submit(
            # the worker's function holds no widget: it may be released on the worker thread
            functools.partial(self.context.load_stats, node),
            on_done=lambda stats: self._tensor_done(node, stats),
            on_error=lambda error: self._failed(node, error),
            on_progress=self._progressed,
        )

    def _tensor_done(self, node: Node, stats: TensorStats) -> None:
        if node is self.node and node.entry is not None:
            self.tensor_stats = stats
            dtype = node.entry.dtype
            self._show_stats(stats_rows(stats, dtype is not None and dtype.kind in "biu"))

    # ------------------------------------------------------------------ files, scopes
    def _show_group(self, node: Node) -> None:
        self.heading.setText(
            f"{'File' if node.kind == FILE else 'Scope'} {display_name(node.name)}"
        )
        self.heading.setToolTip(safe_text(node.name))
        self._group_properties(node)
        good = [n for n in node.tensors() if n.error is None and n.entry is not None]
        if not good:
            self._set_busy(None, "No readable tensors")
            self.summary_ready.emit()
            return
        cached = [self._cached_stats(n) for n in good]
        known = {id(n): stats for n, stats in zip(good, cached, strict=True) if stats}
        if len(known) == len(good):  # every tensor measured before: no worker needed
            result = summarize_group(good, entry_of, lambda n, _: known[id(n)], NO_PROGRESS)
            self._group_done(node, result)
            return
        self._set_busy(0, f"Computing statistics of {plural(len(good), 'tensor')}…")
        self.slot.submit(
            functools.partial(measure, self.context, good),
            on_done=lambda result: self._group_done(node, result),
            on_error=lambda error: self._failed(node, error),
            on_progress=self._progressed,
        )

    def _cached_stats(self, node: Node) -> TensorStats | None:
        assert node.state is not None and node.entry is not None
        return self.context.cache.cached_stats(node.state, node.entry)

    def _group_properties(self, node: Node) -> None:
        self._fill(self.properties, group_rows(node))
        if node.kind == FILE and node.state is not None:
            # in line order: data errors found while reading are appended as met
            problems = sorted(node.state.errors, key=lambda p: (p.line or 0, p.name or ""))
            path = node.state.path
            # relative to the file, escaped as str(problem) is; the whole path said once
            self.problems.setPlainText(problems_text(problems, path))
            self.problems.setToolTip(safe_text(path))
            self.problems_path.setText(f"In {path}")  # SafeLabel escapes it
            self.problems_box.setTitle(f"Problems ({len(problems):,})")
            self.problems_box.show()

    def _group_done(self, node: Node, result: Aggregate) -> None:
        for failed, error in result.failed:
            self.context.read_failed(failed, error)
        if node is not self.node:
            return
        if result.failed:  # the bad-row count and the problems list have grown
            self._group_properties(node)
        self.result = result
        self._show_stats(group_stats_rows(result, totals(node).tensors))

    # ------------------------------------------------------------------ shared
    def _failed(self, node: Node, error: BaseException) -> None:
        if isinstance(error, RowError):
            self.context.read_failed(node, error)
        if node is not self.node:
            return
        self._set_busy(None)
        message = error.problem.message if isinstance(error, RowError) else describe(error)[0]
        self._set_error(message)
        self.summary_ready.emit()

    def _progressed(self, done: int, total: int) -> None:
        value = 1000 * done // total if total > 0 else None
        if value is not None and value // 10 != self.progress.value() // 10:  # a percent
            self.progress.setValue(value)  # repaints at once: not for every report

    def _show_stats(self, rows: list[Row]) -> None:
        self._set_busy(None)
        self.export_button.setEnabled(True)
        self._fill(self.statistics, rows)
        self.statistics.show()
        self.summary_ready.emit()

    def _fill(self, table: QTableWidget, rows: list[Row]) -> None:
        """Replace the rows of ``table``; highlighted rows are red and bold."""
        self._clear(table)
        table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            cells = (QTableWidgetItem(row.label), QTableWidgetItem(row.text))
            cells[1].setToolTip(repr(row.tip) if row.tip is not None else row.whole or row.text)
            for column, cell in enumerate(cells):
                if row.heading:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                if row.highlight:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                    cell.setForeground(QBrush(_RED))
                    cell.setBackground(QBrush(_RED_BACKGROUND))
                table.setItem(index, column, cell)
            self._rows[row.key] = (table, index)
        # As tall as the rows, so the scroll area scrolls rather than the table.
        table.resizeRowsToContents()
        table.setFixedHeight(table.verticalHeader().length() + 2 * table.frameWidth())

    def _clear(self, table: QTableWidget) -> None:
        table.setRowCount(0)
        self._rows = {k: (t, r) for k, (t, r) in self._rows.items() if t is not table}

    def _set_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(message is not None)

    def _set_busy(self, value: int | None, text: str = "") -> None:
        busy = value is not None
        if value is not None:
            # before showing it: a visible QProgressBar repaints the window at once on a
            # new value, while the layout is changing (6 ms here, 30 ms at a file's open)
            self.progress.setValue(value)
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
