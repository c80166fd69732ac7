"""The "Write into Keras model" dialog: check the mapping, then write the state into a model.

Nothing is written before the user has seen the mapping report for exactly the current
model file (as it is on disk), match mode and optimizer choice. The write loads the model
afresh in its worker, so a refused or cancelled write never leaves a half-applied model
in memory, and a model file that changed after the check is noticed before writing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
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
    QTableView,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.bridge.mapping import MATCH_MODES, MappingReport
from csv_state_viewer.core.errors import CsvStateError, NotAStateError, StateWriteError
from csv_state_viewer.core.formatting import display_name
from csv_state_viewer.core.registry import model_filter
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe, show_error
from csv_state_viewer.gui.mappingmodel import MappingTableModel
from csv_state_viewer.gui.safelabel import SafeLabel
from csv_state_viewer.ops.imports import use_model_imports
from csv_state_viewer.ops.writing import (
    WriteRequest,
    Written,
    check_output,
    model_formats,
    plan_write,
    write_into_model,
)

TITLE = "Write into Keras model"
PLANNING, WRITING = "planning", "writing"


@dataclass(frozen=True)
class WriteSettings:
    """What a mapping report is valid for: the model file as it was, match mode, optimizer."""

    model: str
    stamp: tuple[int, int]  # (mtime_ns, size) of the model file
    match: str
    optimizer: bool
    imports: tuple[str, ...] = ()  # modules imported before the model is loaded


def default_output(model_path: str) -> str:
    """``<folder>/<model stem>-restored.keras``, next to the model."""
    folder, name = os.path.split(model_path)
    stem = name[: -len(".keras")] if name.lower().endswith(".keras") else os.path.splitext(name)[0]
    return os.path.join(folder, f"{stem}-restored.keras")


def source_text(state: State) -> str:
    """What the dialog writes: ``Writes: <file> (N tensors)``, bad rows said."""
    count = len(state.entries)
    bad = len(state.errors)
    tensors = f"{count} tensor{'s' * (count != 1)}"
    if bad:
        tensors += f", {bad} bad row{'s' * (bad != 1)} left out"
    return f"Writes: {state.path} ({tensors})"


class WriteModelDialog(QDialog):
    """Check how ``state`` maps onto a Keras model file, then write it into a copy."""

    mapping_checked = Signal(object)  # the MappingReport now shown for the current settings
    written = Signal(str)  # the output path, after a successful write

    def __init__(self, state: State, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{TITLE}: {display_name(os.path.basename(state.path))}")
        self.state = state
        self.context = context
        self._planned: WriteSettings | None = None  # what self.table_model's report is for
        self._output_auto = True  # the output follows the model until the user edits it
        self._busy: str | None = None  # PLANNING or WRITING while the slot runs
        self._cancelling = False
        self._slot = context.runner.slot("write dialog")
        self._build()
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("a .keras archive or a legacy full-model .h5")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        self.match_combo = QComboBox()
        self.match_combo.addItems(list(MATCH_MODES))
        self.match_combo.setToolTip(
            "auto: by name, or by position for weight_0, weight_1… names\n"
            "name: by variable path\norder: the n-th state weight into the n-th model weight"
        )
        self.imports_edit = QLineEdit("; ".join(self.context.settings.model_imports()))
        self.imports_edit.setPlaceholderText(
            "modules or .py files that register the model's custom classes, separated by ;"
        )
        self.imports_edit.setToolTip(
            "Imported (in the TensorFlow worker) before the model is loaded, so subclassed\n"
            "models and custom layers registered with @register_keras_serializable load.\n"
            "Files carrying code (Lambda layers) are still refused."
        )
        add_module = QPushButton("Add file…")
        add_module.clicked.connect(self._browse_module)
        self.optimizer_check = QCheckBox("Restore optimizer state")
        self.optimizer_check.setChecked(True)
        self.partial_check = QCheckBox("Allow partial (write only the matched tensors)")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText(".keras, .weights.h5 or a checkpoint prefix")
        save_as = QPushButton("Save as…")
        save_as.clicked.connect(self._browse_output)
        self.overwrite_check = QCheckBox("Overwrite existing")

        self.source_label = SafeLabel(source_text(self.state))  # which state is written
        self.source_label.setWordWrap(True)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow(self.source_label)
        form.addRow("Model file:", _pair(self.model_edit, browse))
        form.addRow("Import modules:", _pair(self.imports_edit, add_module))
        form.addRow("Match tensors:", self.match_combo)
        form.addRow("", self.optimizer_check)
        form.addRow("", self.partial_check)
        form.addRow("Write to:", _pair(self.output_edit, save_as))
        form.addRow("", self.overwrite_check)

        self.table_model = MappingTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.summary_label = SafeLabel()
        self.summary_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.status_label = SafeLabel()  # messages name tensors and files
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.check_button = QPushButton("Check mapping")
        self.write_button = QPushButton("Write")
        self.cancel_button = QPushButton("Cancel")
        close_button = QPushButton("Close")
        self.check_button.setDefault(True)  # Enter checks; writing always takes a click
        for button in (self.write_button, self.cancel_button, close_button):
            button.setAutoDefault(False)
        self.check_button.clicked.connect(self.check_mapping)
        self.write_button.clicked.connect(self.write)
        self.cancel_button.clicked.connect(self.cancel)
        close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.check_button, self.write_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.resize(900, 600)

        self.model_edit.textChanged.connect(self._model_changed)
        self.match_combo.currentIndexChanged.connect(self._invalidate)
        self.imports_edit.textChanged.connect(self._invalidate)
        self.optimizer_check.toggled.connect(self._invalidate)
        self.partial_check.toggled.connect(self._update_buttons)
        self.output_edit.textEdited.connect(self._output_edited)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Keras model", self.model_edit.text(), model_filter()
        )
        if path:
            self.model_edit.setText(path)

    def _browse_module(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Python module with custom Keras classes", "", "Python files (*.py)"
        )
        if path:
            self.imports_edit.setText("; ".join([*self.imports(), path]))

    def imports(self) -> list[str]:
        return [part.strip() for part in self.imports_edit.text().split(";") if part.strip()]

    def _browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Write the model to",
            self.output_edit.text(),
            ";;".join(f.dialog_filter() for f in model_formats()),
        )
        if path:
            self.output_edit.setText(path)
            self._output_auto = False
            if os.path.exists(path):  # the file dialog has asked to replace it
                self.overwrite_check.setChecked(True)

    # ------------------------------------------------------------------ settings
    def current_settings(self) -> WriteSettings | None:
        """The settings as they are now; None while the model path names no file."""
        text = self.model_edit.text().strip()
        if not text:
            return None
        path = os.path.abspath(os.path.expanduser(text))
        try:
            info = os.stat(path)
        except OSError:
            return None
        return WriteSettings(
            path,
            (info.st_mtime_ns, info.st_size),
            self.match_combo.currentText(),
            self.optimizer_check.isChecked(),
            tuple(self.imports()),
        )

    def _model_changed(self, text: str) -> None:
        if self._output_auto:
            self.output_edit.setText(default_output(text.strip()) if text.strip() else "")
        self._invalidate()

    def _output_edited(self) -> None:
        self._output_auto = False

    def _invalidate(self) -> None:
        """Settings changed: the shown report no longer describes what Write would do."""
        if self._planned is not None:
            self._planned = None
            self.table_model.set_report(None)
            self.summary_label.clear()
            self.status_label.setText("Settings changed: check the mapping again.")
        self._update_buttons()

    def _writable(self, report: MappingReport | None) -> bool:
        if report is None or self._planned is None:
            return False
        return report.ok or (self.partial_check.isChecked() and bool(report.matched()))

    def _update_buttons(self) -> None:
        busy = self._busy is not None
        self.check_button.setEnabled(self._busy != WRITING)
        self.write_button.setEnabled(not busy and self._writable(self.table_model.report))
        self.cancel_button.setEnabled(busy and not self._cancelling)

    def _set_busy(self, busy: str | None, message: str = "") -> None:
        self._busy = busy
        if busy is None:
            self._cancelling = False
        self.progress_bar.setVisible(busy is not None)
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        if message:
            self.status_label.setText(message)
        self._update_buttons()

    def _fail(self, error: BaseException) -> None:
        self.status_label.setText(describe(error)[0])
        show_error(self, TITLE, error)

    def _use_imports(self, settings: WriteSettings) -> bool:
        """Make the modules the worker imports before loading the model the dialog's, and
        remember them; a module file that does not exist is refused here."""
        try:
            use_model_imports(settings.imports)
        except CsvStateError as err:
            self._fail(err)
            return False
        if list(settings.imports) != self.context.settings.model_imports():
            self.context.settings.set_model_imports(list(settings.imports))
        return True

    def _request(self, settings: WriteSettings) -> WriteRequest:
        return WriteRequest(
            state=self.state.path,
            model=settings.model,
            match=settings.match,
            optimizer=settings.optimizer,
            allow_partial=self.partial_check.isChecked(),
        )

    # ------------------------------------------------------------------ checking
    def check_mapping(self) -> None:
        """Plan the mapping in the TensorFlow worker; the report fills the table."""
        if self._busy == WRITING:
            return
        settings = self.current_settings()
        if settings is None:
            text = self.model_edit.text().strip()
            self._fail(
                NotAStateError(text, "no such file")
                if text
                else StateWriteError("Choose the Keras model file to write into.")
            )
            return
        self._invalidate()
        if not self._use_imports(settings):
            return
        request = self._request(settings)
        self._set_busy(PLANNING, f"Checking the mapping onto {os.path.basename(settings.model)}…")
        self._slot.submit(
            lambda progress: plan_write(request, progress),
            on_done=lambda report: self._planned_report(settings, report),
            on_error=self._failed,
            on_cancelled=self._cancelled,
        )

    def _planned_report(self, settings: WriteSettings, report: MappingReport) -> None:
        if self._busy != PLANNING:  # the check was cancelled meanwhile
            return
        self._set_busy(None)
        if settings != self.current_settings():
            self.status_label.setText("Settings changed during the check: check again.")
            return
        self._show_report(report)
        self._planned = settings
        matched = len(report.matched())
        if report.ok:
            self.status_label.setText(f"Mapping checked: all {matched} tensors match.")
        else:
            self.status_label.setText(
                f"Mapping checked: {len(report.problems)} problem(s), {matched} matched. "
                "Write is allowed only with “Allow partial”."
            )
        self._update_buttons()
        self.mapping_checked.emit(report)

    def _show_report(self, report: MappingReport) -> None:
        self.table_model.set_report(report)
        self.summary_label.setText(
            "\n".join([report.summary(), *(f"note: {note}" for note in report.notes)])
        )

    # ------------------------------------------------------------------ writing
    def write(self) -> None:
        """Write the state into a fresh copy of the checked model and save it (the worker)."""
        if self._busy is not None:
            return
        settings = self.current_settings()
        planned, report = self._planned, self.table_model.report
        if planned is None or report is None or settings != planned:
            changed = planned is not None and settings != planned
            self._planned = None if changed else planned
            self.status_label.setText(
                "The model file changed since the check: check the mapping again."
                if changed
                else "Check the mapping first: nothing is written before you have seen it."
            )
            self._update_buttons()
            return
        if not self._writable(report):
            self.status_label.setText("The mapping has problems: nothing written.")
            return
        text = self.output_edit.text().strip()
        if not text:
            self._fail(StateWriteError("Choose where to write the model."))
            return
        output = os.path.abspath(os.path.expanduser(text))
        if not self._use_imports(settings):
            return
        request, overwrite = self._request(settings), self.overwrite_check.isChecked()
        try:
            check_output(request, output, overwrite=overwrite)  # answered at once
        except CsvStateError as err:
            self._fail(err)
            return
        self._set_busy(WRITING, f"Writing into {os.path.basename(output)}…")
        self._slot.submit(
            lambda progress: write_into_model(
                request, output, overwrite=overwrite, progress=progress
            ),
            on_done=self._wrote,
            on_error=self._failed,
            on_progress=self._progressed,
            on_cancelled=self._cancelled,
        )

    def _progressed(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, 1000)  # per mille: byte counts overflow Qt's int
        self.progress_bar.setValue(1000 * done // max(total, 1))

    def _wrote(self, result: Written) -> None:
        """The model is saved (also when a cancel came too late to stop it)."""
        output = result.files[0] if result.files else ""
        self._set_busy(None, f"Wrote {result.count} tensors to {output}")
        self.written.emit(output)

    def _failed(self, error: BaseException) -> None:
        if self._busy is None:  # a cancelled check that failed meanwhile
            return
        self._set_busy(None)
        report = getattr(error, "report", None)  # a refused mapping
        if isinstance(report, MappingReport):
            self._show_report(report)
        self._fail(error)

    # ------------------------------------------------------------------ cancelling
    def cancel(self) -> None:
        """Cancel the running check or write; a write reports when it has really stopped."""
        if self._busy == PLANNING:
            self._slot.cancel()
            self._set_busy(None, "Check cancelled.")
        elif self._busy == WRITING and not self._cancelling:
            self._slot.cancel()
            self._cancelling = True
            self.status_label.setText("Cancelling…")
            self._update_buttons()

    def _cancelled(self) -> None:
        if self._busy == WRITING:
            self._set_busy(None, "Cancelled: nothing was written.")

    def done(self, result: int) -> None:
        """Closing the dialog cancels its work."""
        self.cancel()
        super().done(result)


def _pair(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row
