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
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from csv_state_viewer.bridge.apply import MappingError, output_kind
from csv_state_viewer.bridge.mapping import MATCH_MODES, MappingReport
from csv_state_viewer.bridge.tfcheckpoint import prefix_for_writing
from csv_state_viewer.core.errors import CsvStateError, NotAStateError, StateWriteError
from csv_state_viewer.core.progress import Progress, check_cancelled
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.errors import describe, show_error
from csv_state_viewer.gui.mappingmodel import MappingTableModel
from csv_state_viewer.gui.tasks import Job
from csv_state_viewer.gui.tfready import ensure_tensorflow

TITLE = "Write into Keras model"
PLAN_KEY = "write-model:plan"
WRITE_KEY = "write-model:write"


@dataclass(frozen=True)
class WriteSettings:
    """What a mapping report is valid for: the model file as it was, match mode, optimizer."""

    model: str
    stamp: tuple[int, int]  # (mtime_ns, size) of the model file
    match: str
    optimizer: bool


@dataclass(frozen=True)
class WriteResult:
    count: int  # tensors written into the model
    output: str


def default_output(model_path: str) -> str:
    """``<folder>/<model stem>-restored.keras``, next to the model."""
    folder, name = os.path.split(model_path)
    stem = name[: -len(".keras")] if name.lower().endswith(".keras") else os.path.splitext(name)[0]
    return os.path.join(folder, f"{stem}-restored.keras")


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _plan(state: State, settings: WriteSettings, progress: Progress) -> MappingReport:
    from csv_state_viewer.bridge.apply import load_model, plan_apply

    model = load_model(settings.model, safe_mode=True)
    check_cancelled(progress)
    return plan_apply(state, model, match=settings.match, optimizer=settings.optimizer)


def _write(
    state: State,
    settings: WriteSettings,
    output: str,
    *,
    allow_partial: bool,
    overwrite: bool,
    progress: Progress,
) -> WriteResult:
    from csv_state_viewer.bridge.apply import apply_state, load_model, save_model

    model = load_model(settings.model, safe_mode=True)  # fresh: nothing half-applied survives
    check_cancelled(progress)
    report = apply_state(
        state,
        model,
        match=settings.match,
        optimizer=settings.optimizer,
        allow_partial=allow_partial,
        progress=progress,
    )
    check_cancelled(progress)  # last point where cancelling leaves no file behind
    save_model(model, output, overwrite=overwrite)
    return WriteResult(len(report.matched()), output)


class WriteModelDialog(QDialog):
    """Check how ``state`` maps onto a Keras model file, then write it into a copy."""

    mapping_checked = Signal(object)  # the MappingReport now shown for the current settings
    written = Signal(str)  # the output path, after a successful write

    def __init__(self, state: State, context: ViewerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.state = state
        self.context = context
        self._planned: WriteSettings | None = None  # what self.table_model's report is for
        self._output_auto = True  # the output follows the model until the user edits it
        self._busy: str | None = None  # key of the running task
        self._job: Job | None = None
        self._cancelled_job: Job | None = None
        self._finished_writes: list[WriteResult] = []  # filled by the worker before returning
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
        self.optimizer_check = QCheckBox("Restore optimizer state")
        self.optimizer_check.setChecked(True)
        self.partial_check = QCheckBox("Allow partial (write only the matched tensors)")
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText(".keras, .weights.h5 or a checkpoint prefix")
        save_as = QPushButton("Save as…")
        save_as.clicked.connect(self._browse_output)
        self.overwrite_check = QCheckBox("Replace the output if it exists")

        form = QFormLayout()
        form.addRow("Model file:", _pair(self.model_edit, browse))
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
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.hide()
        self.status_label = QLabel()
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
        self.optimizer_check.toggled.connect(self._invalidate)
        self.partial_check.toggled.connect(self._update_buttons)
        self.output_edit.textEdited.connect(self._output_edited)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Keras model", self.model_edit.text(), "Keras models (*.keras *.h5);;All (*)"
        )
        if path:
            self.model_edit.setText(path)

    def _browse_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Write the model to",
            self.output_edit.text(),
            "Keras model (*.keras);;Keras weights (*.weights.h5);;Checkpoint prefix (*)",
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
        self.check_button.setEnabled(self._busy != WRITE_KEY)
        self.write_button.setEnabled(not busy and self._writable(self.table_model.report))
        self.cancel_button.setEnabled(busy and self._cancelled_job is None)

    def _set_busy(self, key: str | None, message: str = "") -> None:
        self._busy = key
        self.progress_bar.setVisible(key is not None)
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        if message:
            self.status_label.setText(message)
        self._update_buttons()

    def _fail(self, error: BaseException) -> None:
        self.status_label.setText(describe(error)[0])
        show_error(self, TITLE, error)

    # ------------------------------------------------------------------ checking
    def check_mapping(self) -> None:
        """Load the model and plan the mapping in a worker; the report fills the table."""
        if self._busy == WRITE_KEY:
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
        state = self.state
        self._set_busy(PLAN_KEY, f"Checking the mapping onto {os.path.basename(settings.model)}…")
        ensure_tensorflow()  # on the UI thread, before any worker touches it
        self._job = self.context.runner.submit(
            PLAN_KEY,
            lambda progress: _plan(state, settings, progress),
            on_done=lambda report: self._planned_report(settings, report),
            on_error=self._plan_failed,
        )

    def _planned_report(self, settings: WriteSettings, report: MappingReport) -> None:
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

    def _plan_failed(self, error: BaseException) -> None:
        self._set_busy(None)
        self._fail(error)

    # ------------------------------------------------------------------ writing
    def _checked_output(self, settings: WriteSettings) -> str:
        """The output path, or StateWriteError saying why it cannot be written."""
        text = self.output_edit.text().strip()
        if not text:
            raise StateWriteError("Choose where to write the model.")
        output = os.path.abspath(os.path.expanduser(text))
        kind = output_kind(output)
        if any(_same_file(output, source) for source in (self.state.path, settings.model)):
            raise StateWriteError(
                f"{output}: refusing to overwrite a source (the state or the model file)"
            )
        if not os.path.isdir(os.path.dirname(output)):
            raise StateWriteError(f"{os.path.dirname(output)}: no such folder")
        exists = (
            os.path.exists(prefix_for_writing(output) + ".index")
            if kind == "checkpoint"
            else os.path.lexists(output)
        )
        if exists and not self.overwrite_check.isChecked():
            raise StateWriteError(
                f"{output}: already exists (tick “Replace the output if it exists”)"
            )
        return output

    def write(self) -> None:
        """Write the state into a fresh copy of the checked model and save it (a worker)."""
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
        try:
            output = self._checked_output(settings)
        except CsvStateError as err:
            self._fail(err)
            return
        state, partial = self.state, self.partial_check.isChecked()
        overwrite = self.overwrite_check.isChecked()
        finished = self._finished_writes = []

        def work(progress: Progress) -> WriteResult:
            result = _write(
                state,
                settings,
                output,
                allow_partial=partial,
                overwrite=overwrite,
                progress=progress,
            )
            finished.append(result)  # so a cancel that came too late still reports it
            return result

        self._set_busy(WRITE_KEY, f"Writing into {os.path.basename(output)}…")
        ensure_tensorflow()
        job = self.context.runner.submit(
            WRITE_KEY,
            work,
            self._wrote,
            self._write_failed,
            on_progress=self._progressed,
            on_stopped=self._stopped,
        )
        self._job = job

    def _progressed(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def _wrote(self, result: WriteResult) -> None:
        self._set_busy(None, f"Wrote {result.count} tensors to {result.output}")
        self.written.emit(result.output)

    def _write_failed(self, error: BaseException) -> None:
        self._set_busy(None)
        if isinstance(error, MappingError):
            self._show_report(error.report)
        self._fail(error)

    # ------------------------------------------------------------------ cancelling
    def cancel(self) -> None:
        """Cancel the running check or write; a write reports when it has really stopped."""
        if self._busy == PLAN_KEY:
            self.context.runner.cancel(PLAN_KEY)
            self._set_busy(None, "Check cancelled.")
        elif self._busy == WRITE_KEY:
            self.context.runner.cancel(WRITE_KEY)
            self._cancelled_job = self._job
            self.status_label.setText("Cancelling…")
            self._update_buttons()

    def _stopped(self, job: Job) -> None:
        if job is not self._cancelled_job:
            return
        self._cancelled_job = None
        if self._finished_writes:  # it had saved the model before the cancel arrived
            self._wrote(self._finished_writes[0])
        else:
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
