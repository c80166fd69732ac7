"""TensorFlow cannot take the viewer down: its formats open in the worker process, a crash
there is one line in the viewer, every other open file stays, the next use starts anew.
Checkpoints are read by our own reader in the viewer's process: the hostile one that made
TensorFlow's reader abort is a bad row there."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from pytestqt.qtbot import QtBot

from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.ops.imports import use_model_imports
from csv_state_viewer.ops.tfworker import shared_worker

from .conftest import SAMPLES

WAIT = 120_000
TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def hostile() -> Iterator[ModuleType]:
    sys.path.append(TESTS)
    try:
        yield importlib.import_module("hostile")
    finally:
        sys.path.remove(TESTS)


def open_and_wait(qtbot: QtBot, window: MainWindow, path: str) -> None:
    before = len(window.roots)
    window.open_file(path)
    qtbot.waitUntil(lambda: len(window.roots) > before, timeout=WAIT)


def test_a_crash_in_tensorflow_is_one_line_and_keeps_the_other_files(
    qtbot: QtBot, window: MainWindow, hostile: ModuleType, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, str(SAMPLES / "mlp_adam.csv"))
    open_and_wait(qtbot, window, str(SAMPLES / "mlp_adam.keras"))  # starts the worker
    keras_root = window.roots[1]
    first_pid = shared_worker().pid
    assert first_pid is not None

    # What TensorFlow's reader aborted on opens here, without the worker: one bad row.
    bad = hostile.write_negative_dim_checkpoint(tmp_path) + ".index"
    open_and_wait(qtbot, window, bad)
    checkpoint = window.roots[2].state
    assert checkpoint is not None
    assert [p.message for p in checkpoint.errors] == [
        "its index entry declares a negative dimension [-1, 4]"
    ]
    assert shared_worker().pid == first_pid

    # A crash in the worker's native code (here a module it imports aborts) is one line.
    aborts = tmp_path / "aborts_on_import.py"
    aborts.write_text("import os\nos.abort()\n")
    again = tmp_path / "again.keras"
    shutil.copyfile(SAMPLES / "mlp_adam.keras", again)
    use_model_imports([str(aborts)])
    try:
        with qtbot.waitSignal(window.open_failed, timeout=WAIT) as failed:
            window.open_file(str(again))
    finally:
        use_model_imports([])
    path, message = failed.args
    assert path == str(again)
    assert message.startswith(f"the TensorFlow worker stopped (signal 6) while reading {again}")
    assert "\n" not in message
    assert [root.label for root in window.roots] == [
        "mlp_adam.csv",
        "mlp_adam.keras",
        "negative.index",
    ]

    # the CSV never needed the worker; the .keras file reopens in a new worker on its next read
    csv_state = window.roots[0].state
    assert csv_state is not None
    assert csv_state.read("sequential/dense/kernel").shape == (64, 128)
    keras_state = keras_root.state
    assert keras_state is not None
    name = keras_state.names()[0]
    assert keras_state.read(name).size > 0
    assert shared_worker().pid not in (None, first_pid)

    window.set_tab("histogram")  # the pane reads it through the new worker, on its thread
    pane = window.panes["histogram"]
    window.select_node(next(n for n in keras_root.tensors() if n.entry and n.entry.name == name))
    qtbot.waitUntil(
        lambda: pane.histogram is not None and [n.entry.name for n in pane.tensors] == [name],
        timeout=WAIT,
    )


def test_the_viewer_process_never_imports_tensorflow(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    code = (
        "import sys; from csv_state_viewer.gui.app import main; "
        f"rc = main([{str(SAMPLES / 'cnn_sgd.keras')!r}, '--screenshot', {str(out)!r}, "
        "'--tab', 'histogram']); "
        "print('tf' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'no-tf'); "
        "sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out), "no-tf"]
    assert out.stat().st_size > 0
