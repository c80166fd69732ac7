"""The "Convert files" dialog: a queue of states converted one after the other.

Each file is one run of the convert operation (:func:`csv_state_viewer.ops.convert.convert`)
in the dialog's own task slot; the next file starts when the previous one has reported
back, so rows update on the UI thread and a cancel stops the queue at the running file.
The operation checks each destination (never a file of the list, never one this queue
just wrote, never an existing one without Overwrite); writers are atomic, so a cancelled
or failed file leaves no output. The target formats come from the registry.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from PySide6.QtCore import QMimeData, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.core.analysis.summary import plural
from csv_state_viewer.core.atomic import check_folder
from csv_state_viewer.core.errors import BadRowsError, CsvStateError
from csv_state_viewer.core.format import WriteChoice
from csv_state_viewer.core.formatting import safe_lines, safe_text
from csv_state_viewer.core.registry import file_stem, format_named, write_choices
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe
from csv_state_viewer.gui.safelabel import SafeLabel
from csv_state_viewer.ops.convert import Converted, ConvertOptions, convert

WAITING, CONVERTING, DONE, FAILED = "waiting", "converting", "done", "failed"
CANCELLED, NOT_CONVERTED = "cancelled", "not converted"
COL_FILE, COL_STATUS, COL_RESULT = 0, 1, 2
STATUS_COLORS = {
    DONE: QColor(0x1B, 0x7F, 0x2A),
    FAILED: QColor(0xC6, 0x28, 0x28),
    CANCELLED: QColor(0xB2, 0x6A, 0x00),
}
STEPS = 1000  # a file's progress bar: the operation reports in thousandths


def format_choices() -> list[WriteChoice]:
    """Every registered way to write a state that needs no model."""
    return write_choices(with_model=False)


def destination_for(source: str, folder: str, choice: WriteChoice) -> str:
    """Where ``source`` is written in ``folder``: its stem plus the choice's extension, or
    a folder named after its stem for formats that write a file per tensor."""
    if format_named(choice.format_name).writes_folder:
        return os.path.join(folder, file_stem(source)) + os.sep
    return os.path.join(folder, file_stem(source) + choice.extension)


def error_line(paths: tuple[str, ...], error: BaseException) -> tuple[str, str]:
    """(one line naming ``file:line`` or the file, details) for a failed file."""
    if isinstance(error, BadRowsError):
        problems = [dataclasses.replace(p, path=os.path.basename(p.path)) for p in error.problems]
        more = len(problems) - 1
        line = str(problems[0]) + (f" (and {more} more bad row{'s' * (more != 1)})" if more else "")
        return line, "\n".join(map(str, problems))
    message, details = describe(error)
    for path in paths:  # the row already names the file: keep its name only
        if message.startswith(path):
            return os.path.basename(path) + message[len(path) :], details
    return message, details


def _local_paths(mime: QMimeData) -> list[str]:
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


@dataclass(frozen=True)
class _Run:
    folder: str
    choice: WriteChoice
    overwrite: bool
    skip_bad: bool


class ConvertDialog(QDialog):
    """Convert a queue of files to one format; files are added, browsed for or dropped."""

    # The queue has ended (done, failed or cancelled) and no worker runs.
    queue_done = Signal()
    file_progressed = Signal(int, int)  # row, thousandths done

    def __init__(self, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Convert files")
        self.setAcceptDrops(True)
        self.context = context
        self.files: list[str] = []
        self.results: list[str | None] = []
        self._run: _Run | None = None
        self._new_folder: str | None = None  # the output folder this run creates
        self._index = -1  # the row being converted while running
        self._slot = context.runner.slot("convert dialog")
        self._cancelling = False
        self._produced: list[str] = []  # destinations this run wrote
        self._build()
        self._update_buttons()

    def _build(self) -> None:
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Status", "Result"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.add_button = QPushButton("Add files…")
        self.clear_button = QPushButton("Clear list")
        self.add_button.clicked.connect(self._browse_files)
        self.clear_button.clicked.connect(self.clear)
        self.folder_edit = QLineEdit()
        self.folder_note = SafeLabel("")  # says when the folder will be created
        self.folder_edit.textChanged.connect(self._update_folder_note)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        self.format_combo = QComboBox()
        for choice in format_choices():
            self.format_combo.addItem(choice.label, choice)
        self.overwrite_check = QCheckBox("Overwrite existing")
        self.skip_bad_check = QCheckBox("Skip bad rows")
        self.status_label = SafeLabel("Add files, or drop them here.")
        self.convert_button = QPushButton("Convert")
        self.cancel_button = QPushButton("Cancel")
        close_button = QPushButton("Close")
        for button in (self.add_button, self.clear_button, self.cancel_button, close_button):
            button.setAutoDefault(False)
        self.convert_button.setDefault(True)
        self.convert_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        close_button.clicked.connect(self.reject)

        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.clear_button)
        list_buttons.addStretch(1)
        folder = QHBoxLayout()
        folder.addWidget(self.folder_edit, 1)
        folder.addWidget(browse)
        form = QFormLayout()
        form.addRow("Output folder:", folder)
        form.addRow("", self.folder_note)
        form.addRow("Format:", self.format_combo)
        form.addRow("", self.overwrite_check)
        form.addRow("", self.skip_bad_check)
        buttons = QHBoxLayout()
        buttons.addWidget(self.convert_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(list_buttons)
        layout.addLayout(form)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.resize(800, 450)

    # ------------------------------------------------------------------ the queue
    @property
    def running(self) -> bool:
        return self._run is not None

    def add_files(self, paths: list[str]) -> None:
        """Queue files (duplicates skipped); the first one's folder becomes the default."""
        for given in paths:
            path = os.path.abspath(given)
            if path in self.files:
                continue
            self.files.append(path)
            self.results.append(None)
            row = self.table.rowCount()
            self.table.insertRow(row)
            item = QTableWidgetItem(safe_text(os.path.basename(path)))
            item.setToolTip(safe_text(path))
            self.table.setItem(row, COL_FILE, item)
            self._set_row(row, WAITING, "")
        if self.files and not self.folder_edit.text().strip():
            self.folder_edit.setText(os.path.dirname(self.files[0]))
        self._update_buttons()

    def clear(self) -> None:
        if self.running:
            return
        self.files.clear()
        self.results.clear()
        self.table.setRowCount(0)
        self._update_buttons()

    def row_status(self, row: int) -> str:
        item = self.table.item(row, COL_STATUS)
        return item.text() if item is not None else ""

    def result_text(self, row: int) -> str:
        item = self.table.item(row, COL_RESULT)
        return item.text() if item is not None else ""

    def progress_bar(self, row: int) -> QProgressBar | None:
        widget = self.table.cellWidget(row, COL_STATUS)
        return widget if isinstance(widget, QProgressBar) else None

    def _set_row(self, row: int, status: str, result: str, details: str = "") -> None:
        bar = self.progress_bar(row)
        if bar is not None and status != CONVERTING:
            bar.hide()  # its deletion is deferred; it must not linger until then
            self.table.removeCellWidget(row, COL_STATUS)
        item = QTableWidgetItem(status)
        if status in STATUS_COLORS:
            item.setForeground(STATUS_COLORS[status])
        self.table.setItem(row, COL_STATUS, item)
        item = QTableWidgetItem(safe_text(result))
        item.setToolTip(safe_lines(details or result))
        self.table.setItem(row, COL_RESULT, item)

    def _update_buttons(self) -> None:
        self.convert_button.setEnabled(not self.running and bool(self.files))
        self.cancel_button.setEnabled(self.running and not self._cancelling)
        self.clear_button.setEnabled(not self.running)

    def start(self) -> None:
        """Convert every queued file, one after the other; ``queue_done`` when all ended."""
        if self.running or not self.files:
            return
        folder = os.path.abspath(os.path.expanduser(self.folder_edit.text().strip() or "."))
        try:
            check_folder(folder)  # a missing output folder is made by the first write
        except CsvStateError as err:
            self.status_label.setText(str(err))
            return
        choice = self.format_combo.currentData()
        assert isinstance(choice, WriteChoice)
        self._new_folder = folder if not os.path.isdir(folder) else None
        self._run = _Run(
            folder, choice, self.overwrite_check.isChecked(), self.skip_bad_check.isChecked()
        )
        self.results = [None] * len(self.files)
        for row in range(len(self.files)):
            self._set_row(row, WAITING, "")
        self._produced = []
        self._index = -1
        into = f" into the new folder {folder}" if self._new_folder else ""
        self.status_label.setText(f"Converting {len(self.files)} file(s) to {choice.label}{into}…")
        self._update_buttons()
        self._next()

    def _next(self) -> None:
        run = self._run
        assert run is not None
        self._index += 1
        row = self._index
        if row >= len(self.files):
            self._finish()
            return
        source = self.files[row]
        destination = destination_for(source, run.folder, run.choice)
        options = ConvertOptions(
            format_name=run.choice.format_name,
            save_options=run.choice.options,
            overwrite=run.overwrite,
            skip_bad=run.skip_bad,
        )
        keep = tuple(f for f in self.files if f != source)
        produced = tuple(self._produced)
        self._set_row(row, CONVERTING, "")
        bar = QProgressBar()
        bar.setRange(0, STEPS)
        self.table.setCellWidget(row, COL_STATUS, bar)
        self._slot.submit(
            lambda progress: convert(
                source, destination, options, progress, keep=keep, produced=produced
            ),
            on_done=lambda result: self._file_done(row, result),
            on_error=lambda error: self._file_failed(row, (source, destination), error),
            on_progress=lambda done, total: self._progressed(row, done, total),
            on_cancelled=self._finish,
        )

    def _progressed(self, row: int, done: int, total: int) -> None:
        bar = self.progress_bar(row)
        value = STEPS * done // max(total, 1)
        if bar is not None:
            bar.setValue(value)
        self.file_progressed.emit(row, value)

    def _file_done(self, row: int, result: Converted) -> None:
        """A file is written (also when a cancel came too late to stop it)."""
        self._produced.append(result.destination)
        self.results[row] = result.destination
        text = f"{result.destination} ({plural(result.written, 'tensor')}"
        skipped = len(result.skipped)
        if skipped:
            text += f", {plural(skipped, 'bad row')} skipped"
        self._set_row(row, DONE, text + ")")
        self._advance()

    def _file_failed(self, row: int, paths: tuple[str, ...], error: BaseException) -> None:
        line, details = error_line(paths, error)
        self._set_row(row, FAILED, line, details)
        self._advance()

    def _advance(self) -> None:
        if self._cancelling:
            self._finish()
        else:
            self._next()

    def cancel(self) -> None:
        """Cancel the running file (its row says cancelled) and leave the rest unconverted."""
        if not self.running or self._cancelling:
            return
        self._cancelling = True
        self._slot.cancel()
        self._set_row(self._index, CANCELLED, "")
        for row in range(self._index + 1, len(self.files)):
            self._set_row(row, NOT_CONVERTED, "")
        self.status_label.setText("Cancelling…")
        self._update_buttons()

    def _finish(self) -> None:
        done = sum(result is not None for result in self.results)
        cancelled = self._cancelling
        self._run = None
        self._cancelling = False
        self._index = -1
        text = f"Converted {done} of {len(self.files)} file(s)"
        created, self._new_folder = self._new_folder, None
        if created is not None and os.path.isdir(created):
            text += f"; created the folder {created}"
        self.status_label.setText(text + (" (cancelled)." if cancelled else "."))
        self._update_folder_note()
        self._update_buttons()
        self.queue_done.emit()

    def done(self, result: int) -> None:
        """Closing the dialog cancels the queue."""
        self.cancel()
        super().done(result)

    # ------------------------------------------------------------------ files in
    def _browse_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Files to convert", self.folder_edit.text())
        self.add_files(paths)

    def _update_folder_note(self, *_: object) -> None:
        text = self.folder_edit.text().strip()
        folder = os.path.abspath(os.path.expanduser(text)) if text else ""
        missing = bool(folder) and not os.path.isdir(folder)
        self.folder_note.setText(
            "This folder does not exist: converting creates it." if missing else ""
        )

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        _accept_files(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        _accept_files(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = _local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        self.add_files(paths)
        event.acceptProposedAction()


def _accept_files(event: QDragMoveEvent) -> None:
    """Accept a drag that carries local files (QDragEnterEvent is a QDragMoveEvent)."""
    if _local_paths(event.mimeData()):
        event.acceptProposedAction()
    else:
        event.ignore()
