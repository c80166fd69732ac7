"""The view shown when no file is open: Open, recent files and the bundled samples."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.formatting import safe_text

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


class WelcomeView(QWidget):
    open_requested = Signal()  # the Open… button
    file_chosen = Signal(str)  # a recent file or a sample

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h2>csv-state-viewer</h2>")
        intro = QLabel(
            "Inspect the weights and optimizer state of a model saved as CSV, a TensorFlow "
            "checkpoint, a Keras file, safetensors or NumPy .npz/.npy: statistics, "
            "histograms, heatmaps, values, comparisons, health checks and conversions; "
            "follow a whole training run over time (File ▸ Open Run…). Open a file or drop "
            "files on this window."
        )
        intro.setWordWrap(True)
        self.open_button = QPushButton("Open…")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.open_requested)
        self.recent_list = self._list("recent_list")
        self.sample_list = self._list("sample_list")

        lists = QHBoxLayout()
        for heading, widget in (("Recent files", self.recent_list), ("Samples", self.sample_list)):
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{heading}</b>"))
            column.addWidget(widget)
            lists.addLayout(column)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.addWidget(title)
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addLayout(lists, 1)

    def _list(self, name: str) -> QListWidget:
        widget = QListWidget()
        widget.setObjectName(name)
        widget.itemActivated.connect(self._activated)
        return widget

    def set_recent(self, paths: list[str]) -> None:
        self._fill(self.recent_list, [Path(p) for p in paths], "No recent files yet")

    def set_samples(self, paths: list[Path]) -> None:
        self._fill(self.sample_list, paths, "No samples installed")

    @staticmethod
    def _fill(widget: QListWidget, paths: list[Path], empty: str) -> None:
        widget.clear()
        for path in paths:
            item = QListWidgetItem(safe_text(path.name))  # file names shown escaped
            item.setToolTip(safe_text(str(path)))
            item.setData(PATH_ROLE, str(path))
            if not os.path.exists(path):
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(f"{safe_text(str(path))} (not found)")
            widget.addItem(item)
        if not paths:
            placeholder = QListWidgetItem(empty)
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            widget.addItem(placeholder)

    def _activated(self, item: QListWidgetItem) -> None:
        path = item.data(PATH_ROLE)
        if path:
            self.file_chosen.emit(str(path))
