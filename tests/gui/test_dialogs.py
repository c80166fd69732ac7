"""The "Write into Keras model" and "Convert files" dialogs, with real Keras and real files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from csv_state_viewer.bridge.mapping import (
    MATCHED,
    MISSING,
    SHAPE_MISMATCH,
    UNUSED,
    Slot,
    plan,
)
from csv_state_viewer.core.api import load_state, open_state, save_state
from csv_state_viewer.core.format import WriteChoice
from csv_state_viewer.core.registry import file_stem, format_for_writing, format_named, formats
from csv_state_viewer.core.state import State
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.dialogs.convert import (
    CANCELLED,
    DONE,
    FAILED,
    NOT_CONVERTED,
    STEPS,
    ConvertDialog,
    destination_for,
    format_choices,
)
from csv_state_viewer.gui.dialogs.writemodel import WriteModelDialog, default_output
from csv_state_viewer.gui.mappingmodel import (
    COL_DTYPE,
    COL_STATUS,
    MATCHED_COLOR,
    PROBLEM_COLOR,
    MappingTableModel,
)

from .conftest import SAMPLES, drag_enter_event, drop_event

TF_WAIT = 60_000  # ms; loading a model in a worker, generous for slow machines
WAIT = 20_000

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 4)).astype(np.float32)
Y = RNG.standard_normal((16, 2)).astype(np.float32)


# ---------------------------------------------------------------------- helpers
def build(hidden: int = 3, extra: bool = False) -> Any:
    """A tiny compiled MLP (4 -> hidden -> 2), the same names every time."""
    from csv_state_viewer.bridge import tfimport

    keras = tfimport.keras()
    keras.utils.set_random_seed(1)
    layers = [
        keras.Input((4,)),
        keras.layers.Dense(hidden, activation="relu", name="hidden"),
        keras.layers.Dense(2, name="out"),
    ]
    if extra:
        layers.append(keras.layers.Dense(2, name="extra"))
    model = keras.Sequential(layers, name="tiny")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def values(variables: list[Any]) -> list[np.ndarray]:
    from csv_state_viewer.bridge.kerasmodel import variable_value

    return [variable_value(v) for v in variables]


def all_equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], list[Any]]:
    """Model A trained one epoch, its state exported as CSV: (csv, weights, optimizer vars)."""
    from csv_state_viewer.bridge.kerasmodel import model_tensors

    model = build()
    model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    tensors = model_tensors(model)
    path = tmp_path_factory.mktemp("state") / "state.csv"
    save_state(
        path, {t.name: t.load() for t in tensors}, metadata={t.name: t.metadata for t in tensors}
    )
    return path, values(model.weights), values(model.optimizer.variables)


@pytest.fixture
def state(trained: tuple[Path, list[Any], list[Any]]) -> Iterator[State]:
    with open_state(trained[0]) as opened:
        yield opened


def write_dialog(qtbot: QtBot, state: State, context: ViewerContext) -> WriteModelDialog:
    dialog = WriteModelDialog(state, context)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def check(qtbot: QtBot, dialog: WriteModelDialog) -> None:
    with qtbot.waitSignal(dialog.mapping_checked, timeout=TF_WAIT):
        dialog.check_mapping()


def statuses(table: MappingTableModel) -> list[str]:
    return [table.index(r, COL_STATUS).data() for r in range(table.rowCount())]


def error_boxes(parent: Any) -> list[QMessageBox]:
    return [box for box in parent.findChildren(QMessageBox) if box.objectName() == "error_box"]


# ---------------------------------------------------------------------- mapping model
def test_mapping_table_lists_problems_first_with_colours_and_casts(qtmodeltester: Any) -> None:
    report = plan(
        [
            Slot("model/a", (2, 3), "float32"),
            Slot("model/b", (3,), "float64"),
            Slot("model/c", (4,), "float32"),
        ],
        [Slot("model/a", (2, 3), "float32"), Slot("model/b", (3,), "float32")],
        None,
    )
    table = MappingTableModel()
    qtmodeltester.check(table)
    table.set_report(report)
    qtmodeltester.check(table)
    assert statuses(table) == [UNUSED, MATCHED, MATCHED]
    assert table.index(0, COL_STATUS).data(Qt.ItemDataRole.ForegroundRole).color() == (
        PROBLEM_COLOR
    )
    assert table.index(1, COL_STATUS).data(Qt.ItemDataRole.ForegroundRole).color() == (
        MATCHED_COLOR
    )
    assert table.index(1, COL_DTYPE).data() == "float32"
    assert table.index(2, COL_DTYPE).data() == "float64 \u2192 float32"  # the cast is marked
    table.set_report(None)
    assert table.rowCount() == 0


# ---------------------------------------------------------------------- write dialog
def test_write_restores_weights_and_optimizer_of_the_trained_model(
    qtbot: QtBot,
    context: ViewerContext,
    state: State,
    trained: tuple[Path, list[Any], list[Any]],
    tmp_path: Path,
) -> None:
    from csv_state_viewer.bridge import tfimport

    keras = tfimport.keras()
    _, weights, optimizer_values = trained
    fresh = build()
    model_path = tmp_path / "fresh.keras"
    fresh.save(model_path)
    model_bytes = model_path.read_bytes()
    assert not all_equal(values(fresh.weights), weights)  # the write must change something

    dialog = write_dialog(qtbot, state, context)
    assert dialog.windowTitle() == f"Write into Keras model: {os.path.basename(state.path)}"
    assert dialog.source_label.text().startswith(f"Writes: {state.path} (")
    assert not dialog.write_button.isEnabled()
    dialog.model_edit.setText(str(model_path))
    assert dialog.output_edit.text() == str(tmp_path / "fresh-restored.keras")
    dialog.write()  # before any check: refused, nothing written
    assert "Check the mapping first" in dialog.status_label.text()
    assert not (tmp_path / "fresh-restored.keras").exists()

    check(qtbot, dialog)
    rows = statuses(dialog.table_model)
    assert rows == [MATCHED] * (len(weights) + len(optimizer_values))
    assert dialog.write_button.isEnabled()
    assert "14 matched" in dialog.summary_label.text()

    dialog.match_combo.setCurrentText("order")  # the report no longer describes the write
    assert not dialog.write_button.isEnabled()
    assert dialog.table_model.rowCount() == 0
    dialog.match_combo.setCurrentText("auto")
    assert not dialog.write_button.isEnabled()  # until checked again
    check(qtbot, dialog)
    assert dialog.write_button.isEnabled()

    dialog.output_edit.setText(str(model_path))  # the model itself: refused
    dialog.write()
    assert "refusing to overwrite a source" in dialog.status_label.text()
    assert error_boxes(dialog)
    assert model_path.read_bytes() == model_bytes

    out = tmp_path / "out.keras"
    dialog.output_edit.setText(str(out))
    with qtbot.waitSignal(dialog.written, timeout=TF_WAIT) as written:
        dialog.write()
    assert written.args == [str(out)]
    assert dialog.status_label.text() == f"Wrote 14 tensors to {out}"
    assert model_path.read_bytes() == model_bytes  # the model file is only read

    restored = keras.saving.load_model(out)
    assert all_equal(values(restored.weights), weights)
    assert all_equal(values(restored.optimizer.variables), optimizer_values)

    dialog.write()  # the same output again: refused without "Replace"
    assert "already exists" in dialog.status_label.text()

    cancelled = tmp_path / "cancelled.keras"
    dialog.output_edit.setText(str(cancelled))
    dialog.write()
    assert not dialog.write_button.isEnabled()
    dialog.cancel()  # the worker is still loading the model: it stops before saving
    qtbot.waitUntil(dialog.write_button.isEnabled, timeout=TF_WAIT)
    assert dialog.status_label.text() == "Cancelled: nothing was written."
    assert sorted(os.listdir(tmp_path)) == ["fresh.keras", "out.keras"]


def test_other_architecture_is_reported_and_never_written(
    qtbot: QtBot, context: ViewerContext, state: State, tmp_path: Path
) -> None:
    model_path = tmp_path / "other.keras"
    build(hidden=5, extra=True).save(model_path)
    dialog = write_dialog(qtbot, state, context)
    dialog.model_edit.setText(str(model_path))
    out = tmp_path / "out.keras"
    dialog.output_edit.setText(str(out))

    check(qtbot, dialog)
    report = dialog.table_model.report
    assert report is not None and not report.ok
    rows = statuses(dialog.table_model)
    assert {SHAPE_MISMATCH, MISSING, MATCHED} <= set(rows)
    assert rows.index(MATCHED) > max(rows.index(SHAPE_MISMATCH), rows.index(MISSING))
    assert not dialog.write_button.isEnabled()
    dialog.write()
    assert "problems" in dialog.status_label.text()
    assert not out.exists()

    dialog.partial_check.setChecked(True)  # only the report's matched rows would be written
    assert dialog.write_button.isEnabled()
    dialog.partial_check.setChecked(False)
    assert not dialog.write_button.isEnabled()
    assert sorted(os.listdir(tmp_path)) == ["other.keras"]


def test_a_model_that_is_not_there_is_an_error_not_a_crash(
    qtbot: QtBot, context: ViewerContext, state: State, tmp_path: Path
) -> None:
    dialog = write_dialog(qtbot, state, context)
    assert default_output("/m/model.h5") == "/m/model-restored.keras"
    missing = tmp_path / "missing.keras"
    dialog.model_edit.setText(str(missing))
    dialog.check_mapping()
    assert dialog.status_label.text() == f"{missing}: no such file"
    assert error_boxes(dialog)
    not_a_model = tmp_path / "text.keras"
    not_a_model.write_text("hello")
    dialog.model_edit.setText(str(not_a_model))
    dialog.check_mapping()
    qtbot.waitUntil(lambda: "is not a Keras 3 model archive" in dialog.status_label.text())
    assert not dialog.write_button.isEnabled()


# ---------------------------------------------------------------------- convert dialog
def convert_dialog(qtbot: QtBot, context: ViewerContext) -> ConvertDialog:
    dialog = ConvertDialog(context)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose(dialog: ConvertDialog, format_name: str, encoding: str = "text") -> WriteChoice:
    for index in range(dialog.format_combo.count()):
        choice = dialog.format_combo.itemData(index)
        if choice.format_name == format_name and choice.options.get("encoding", encoding) == (
            encoding
        ):
            dialog.format_combo.setCurrentIndex(index)
            return choice
    raise AssertionError(f"no {format_name} in the format combo")


def run(qtbot: QtBot, dialog: ConvertDialog) -> None:
    with qtbot.waitSignal(dialog.queue_done, timeout=WAIT):
        dialog.start()


def test_destination_names_follow_the_chosen_format() -> None:
    labels = [choice.label for choice in format_choices()]
    assert labels[:2] == ["CSV (decimal text)", "CSV (base64 of the bytes)"]
    assert not any("Keras" in label for label in labels)  # those need a model
    by_name = {c.format_name: c for c in format_choices()}
    assert file_stem("/a/state.csv.gz") == "state"
    assert file_stem("/a/model.weights.h5") == "model"
    assert destination_for("/a/state.csv.gz", "/out", by_name["npz"]) == "/out/state.npz"
    checkpoint = destination_for("/a/run.v2.npz", "/out", by_name["tf-checkpoint"])
    assert checkpoint == "/out/run.v2.ckpt"
    assert destination_for("/a/run.v2.npz", "/out", by_name["matrix"]) == "/out/run.v2/"
    for choice in format_choices():  # every destination is one the chosen format writes
        destination = destination_for("/a/run.v2.npz", "/out", choice)
        fmt = format_named(choice.format_name)
        if fmt.writes_folder:
            assert destination.endswith("/")
        else:
            assert fmt.matches_extension(destination) or fmt.writes_prefix
            assert choice.format_name in {
                f.name for f in formats() if f.save and f.matches_extension(destination)
            } | {format_for_writing(destination).name}


def test_convert_queue_writes_good_files_and_names_bad_rows(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    sources = tmp_path / "in"
    sources.mkdir()
    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float64)}
    good = sources / "good.csv"
    save_state(good, tensors)
    archive = sources / "arrays.npz"
    np.savez(archive, x=np.arange(4, dtype=np.int32))
    damaged = sources / "damaged.csv"
    shutil.copy(SAMPLES / "damaged.csv", damaged)
    before = {p: p.read_bytes() for p in (good, archive, damaged)}
    out = tmp_path / "out"
    out.mkdir()

    dialog = convert_dialog(qtbot, context)
    assert dialog.windowTitle() == "Convert files"
    dialog.add_files([str(good), str(archive), str(damaged), str(good)])  # one duplicate
    assert dialog.files == [str(good), str(archive), str(damaged)]
    assert dialog.folder_edit.text() == str(sources)
    dialog.folder_edit.setText(str(out))
    choose(dialog, "npz")
    run(qtbot, dialog)

    assert [dialog.row_status(i) for i in range(3)] == [DONE, DONE, FAILED]
    assert dialog.results == [str(out / "good.npz"), str(out / "arrays.npz"), None]
    assert dialog.result_text(2).startswith("damaged.csv:4: 'dense_1/kernel'")
    loaded = load_state(out / "good.npz")
    assert list(loaded) == ["w", "b"]
    assert all(np.array_equal(loaded[k], tensors[k]) for k in tensors)
    assert np.array_equal(load_state(out / "arrays.npz")["x"], np.arange(4, dtype=np.int32))
    assert sorted(os.listdir(out)) == ["arrays.npz", "good.npz"]
    assert all(p.read_bytes() == content for p, content in before.items())

    written = (out / "good.npz").read_bytes()
    dialog.skip_bad_check.setChecked(True)
    run(qtbot, dialog)  # again: existing destinations are refused without Overwrite
    assert [dialog.row_status(i) for i in range(3)] == [FAILED, FAILED, DONE]
    assert "already exists" in dialog.result_text(0)
    assert (out / "good.npz").read_bytes() == written
    assert "5 bad rows skipped" in dialog.result_text(2)
    assert list(load_state(out / "damaged.npz")) == ["dense/kernel", "dense_2/bias"]

    dialog.overwrite_check.setChecked(True)
    dialog.folder_edit.setText(str(sources))
    choose(dialog, "csv")
    run(qtbot, dialog)  # a file onto itself: refused even with Overwrite
    assert [dialog.row_status(i) for i in range(3)] == [FAILED, DONE, FAILED]
    assert "the destination is the source" in dialog.result_text(0)
    assert "the destination is the source" in dialog.result_text(2)
    assert dialog.results == [None, str(sources / "arrays.csv"), None]
    assert all(p.read_bytes() == content for p, content in before.items())


def test_convert_to_a_checkpoint_writes_a_prefix_that_reads_back(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    tensors = {"dense/kernel": np.arange(6, dtype=np.float32).reshape(3, 2)}
    source = tmp_path / "state.csv"
    save_state(source, tensors)
    dialog = convert_dialog(qtbot, context)
    dialog.add_files([str(source)])
    choose(dialog, "tf-checkpoint")
    with qtbot.waitSignal(dialog.queue_done, timeout=TF_WAIT):
        dialog.start()
    prefix = tmp_path / "state.ckpt"
    assert dialog.results == [str(prefix)], dialog.result_text(0)
    assert (tmp_path / "state.ckpt.index").exists()
    assert np.array_equal(load_state(prefix)["dense/kernel"], tensors["dense/kernel"])


def test_dropped_file_urls_join_the_queue(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    paths = [tmp_path / "a.csv", tmp_path / "b.npz"]
    for path in paths:
        path.write_bytes(b"")
    dialog = convert_dialog(qtbot, context)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(dialog.rect().center())
    enter = drag_enter_event(centre, mime)
    QApplication.sendEvent(dialog, enter)
    assert enter.isAccepted()
    drop = drop_event(centre, mime)
    QApplication.sendEvent(dialog, drop)
    assert drop.isAccepted()
    assert dialog.files == [str(p) for p in paths]
    assert dialog.table.rowCount() == 2

    text_only = QMimeData()
    text_only.setText("not a file")
    refused = drag_enter_event(centre, text_only)
    QApplication.sendEvent(dialog, refused)
    assert not refused.isAccepted()


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_cancel_stops_the_running_file_and_leaves_no_output(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path, how: str
) -> None:
    sources = tmp_path / "in"
    sources.mkdir()
    big = sources / "big.npz"
    rng = np.random.default_rng(3)
    np.savez(big, **{f"layer{i}/w": rng.standard_normal(200_000, np.float32) for i in range(40)})
    small = sources / "small.npz"
    np.savez(small, x=np.ones(3, np.float32))
    out = tmp_path / "out"
    out.mkdir()
    dialog = convert_dialog(qtbot, context)
    dialog.add_files([str(big), str(small)])
    dialog.folder_edit.setText(str(out))
    choose(dialog, "csv")  # text: the slowest writer, so the cancel lands mid-file

    bar_values: list[int] = []

    def cancel_once_writing(row: int, done: int) -> None:
        if row == 0 and done > STEPS // 10 and not bar_values:  # into writing
            bar = dialog.progress_bar(0)
            bar_values.append(bar.value() if bar is not None else -1)
            if how == "cancel":
                dialog.cancel()
            else:
                dialog.close()  # closing cancels too

    dialog.file_progressed.connect(cancel_once_writing)
    run(qtbot, dialog)
    assert bar_values[0] > 0  # the running row showed its progress
    assert [dialog.row_status(0), dialog.row_status(1)] == [CANCELLED, NOT_CONVERTED]
    assert dialog.progress_bar(0) is None
    assert dialog.results == [None, None]
    assert os.listdir(out) == []  # no output and no temporary file
    assert "cancelled" in dialog.status_label.text()


def test_convert_into_a_folder_that_does_not_exist_yet(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    source = tmp_path / "state.csv"
    save_state(source, {"w": np.arange(4, dtype=np.float32)})
    dialog = convert_dialog(qtbot, context)
    dialog.add_files([str(source)])
    dialog.folder_edit.setText(str(tmp_path / "out" / "run1"))
    choose(dialog, "npz")
    run(qtbot, dialog)
    assert dialog.row_status(0) == DONE, dialog.result_text(0)
    assert load_state(tmp_path / "out" / "run1" / "state.npz")["w"].tolist() == [0, 1, 2, 3]
    (tmp_path / "blocked").write_text("a file")
    dialog.folder_edit.setText(str(tmp_path / "blocked" / "out"))
    dialog.start()
    assert "is a file, not a folder" in dialog.status_label.text()


def test_convert_dialog_says_it_creates_a_missing_output_folder(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    source = tmp_path / "a.csv"
    save_state(source, {"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
    dialog = convert_dialog(qtbot, context)
    dialog.add_files([str(source)])
    assert dialog.folder_note.text() == ""  # the source's folder exists
    out = tmp_path / "new" / "deeper"
    dialog.folder_edit.setText(str(out))
    assert dialog.folder_note.text() == "This folder does not exist: converting creates it."
    choose(dialog, "npz")
    with qtbot.waitSignal(dialog.queue_done, timeout=WAIT):
        dialog.start()
        assert f"into the new folder {out}" in dialog.status_label.text()
    assert (out / "a.npz").is_file()
    assert dialog.status_label.text() == f"Converted 1 of 1 file(s); created the folder {out}."
    assert dialog.folder_note.text() == ""


def test_write_dialog_names_the_state_it_writes(
    qtbot: QtBot, context: ViewerContext, tmp_path: Path
) -> None:
    path = tmp_path / "mine.csv"
    save_state(path, {"w": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32)})
    with open_state(path) as state:
        dialog = WriteModelDialog(state, context)
        qtbot.addWidget(dialog)
        assert dialog.windowTitle() == "Write into Keras model: mine.csv"
        assert dialog.source_label.text() == f"Writes: {path} (2 tensors)"
        dialog.close()
