"""A new format is one module and its registration: registered here, it shows up in the
Open filter, the export menu, the Convert dialog, ``csv-state formats`` and the operations,
with no other file changed."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from csv_state_viewer.cli.main import main as cli_main
from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.lazystate import LazyState, tensor_from_array
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.registry import open_filter, register_format, unregister_format
from csv_state_viewer.core.state import State
from csv_state_viewer.core.tensors import Tensors, iter_loaded, tensor_items
from csv_state_viewer.gui import menus
from csv_state_viewer.gui.dialogs.convert import ConvertDialog
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.settings import Settings
from csv_state_viewer.ops.convert import ConvertOptions, convert
from csv_state_viewer.ops.opening import open_state

MAGIC = b"DUMMY-STATE\n"


def _open(path: str, progress: Progress = NO_PROGRESS) -> State:
    with open(path, "rb") as handle:
        data = json.loads(handle.read()[len(MAGIC) :])
    tensors = [tensor_from_array(name, np.asarray(v, np.float32)) for name, v in data.items()]
    return LazyState(path, "dummy", tensors)


def _save(path: str, tensors: Tensors, **options: Any) -> int:
    items = tensor_items(tensors, options.get("metadata"), skip_bad=options["skip_bad"])
    data = {item.name: array.tolist() for item, array in iter_loaded(items, skip_bad=False)}
    with atomic_write(path, overwrite=options["overwrite"]) as handle:
        handle.write(MAGIC + json.dumps(data).encode())
    return len(data)


DUMMY = Format(
    name="dummy",
    description="Dummy state for the registry test",
    label="Dummy state",
    extensions=(".dummy",),
    sniff=lambda path, head: head.startswith(MAGIC),
    open=_open,
    save=_save,
)


@pytest.fixture
def dummy() -> Iterator[Format]:
    register_format(DUMMY)
    yield DUMMY
    unregister_format(DUMMY.name)


def test_the_operations_read_and_write_a_registered_format(
    dummy: Format, small_state: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy.dummy"
    converted = convert(str(small_state), str(out))
    assert converted.format_name == "dummy" and converted.written == 6
    with open_state(str(out)) as state, open_state(str(small_state)) as source:
        assert state.format_name == "dummy"
        assert state.names() == source.names()
        np.testing.assert_array_equal(
            state.read("model/dense/kernel"), source.read("model/dense/kernel")
        )
    back = tmp_path / "back.csv"
    convert(str(out), str(back), ConvertOptions(save_options={"encoding": "base64"}))
    assert back.stat().st_size > 0


def test_the_command_line_lists_it(dummy: Format) -> None:
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert cli_main(["formats"]) == 0
    row = next(line for line in printed.getvalue().splitlines() if line.startswith("dummy"))
    assert ".dummy" in row and "Dummy state for the registry test" in row


def test_the_viewer_offers_it_to_open_export_and_convert(
    dummy: Format, qtbot: QtBot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "*.dummy" in open_filter().split(";;")[0]  # among the training states
    assert "Dummy state (*.dummy)" in open_filter().split(";;")
    window = MainWindow(settings)
    qtbot.addWidget(window)
    try:
        filters: list[str] = []

        def fake_open(_parent: object, _title: str, _dir: str, filter_: str) -> tuple[list, str]:
            filters.append(filter_)
            return [], ""

        monkeypatch.setattr(QFileDialog, "getOpenFileNames", fake_open)
        menus.open_dialog(window)
        assert "*.dummy" in filters[0]

        export = next(a for a in window.menuBar().actions() if a.text() == "&File").menu()
        export_menu = next(a.menu() for a in export.actions() if a.text() == "&Export")
        assert "Dummy state…" in [a.text() for a in export_menu.actions()]

        dialog = ConvertDialog(window.context, window)
        qtbot.addWidget(dialog)
        labels = [dialog.format_combo.itemText(i) for i in range(dialog.format_combo.count())]
        assert "Dummy state" in labels
    finally:
        window.shutdown()


def test_unregistered_it_is_gone(tmp_path: Path) -> None:
    assert "*.dummy" not in open_filter()
    assert not os.path.exists(tmp_path / "x.dummy")
