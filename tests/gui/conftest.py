"""Fixtures of the viewer's tests: isolated settings, a context whose workers must stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QThreadPool
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from pytestqt.qtbot import QtBot

from csv_state_viewer.core.api import save_state
from csv_state_viewer.gui.context import ViewerContext
from csv_state_viewer.gui.mainwindow import MainWindow
from csv_state_viewer.gui.settings import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's configuration folder is its own: ``Settings()`` (what the app uses)
    and any viewer a test starts write there, never into the user's settings."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))  # for viewers run as processes
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(config))
    return config


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings in a private INI file, so tests never touch the user's."""
    return Settings.in_file(tmp_path / "settings.ini")


@pytest.fixture
def context(qapp: object, settings: Settings) -> Iterator[ViewerContext]:
    """A pane context; at teardown every worker must have stopped."""
    ctx = ViewerContext(settings)
    yield ctx
    assert ctx.shutdown(), "a worker did not stop"
    assert ctx.runner.pool.activeThreadCount() == 0
    assert QThreadPool.globalInstance().activeThreadCount() == 0


@pytest.fixture
def window(qtbot: QtBot, settings: Settings) -> Iterator[MainWindow]:
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert win.context.runner.pool.activeThreadCount() == 0, "a worker outlived the window"
    assert QThreadPool.globalInstance().activeThreadCount() == 0


@pytest.fixture
def small_state(tmp_path: Path) -> Path:
    """A CSV state with scopes, an optimizer slot, a NaN/Inf tensor and a constant one."""
    rng = np.random.default_rng(7)
    kernel = rng.standard_normal((16, 8)).astype(np.float32)
    special = rng.standard_normal(100).astype(np.float32)
    special[[3, 10]] = np.nan
    special[20] = np.inf
    special[21] = -np.inf
    tensors = {
        "model/dense/kernel": kernel,
        "model/dense/bias": np.zeros(8, np.float32),
        "model/conv/kernel": rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
        "model/special": special,
        "optimizer/adam/dense_kernel_m": (kernel * 0.1).astype(np.float32),
        "optimizer/iteration": np.array(12, np.int64),
    }
    metadata = {
        "optimizer/adam/dense_kernel_m": {
            "role": "optimizer",
            "slot_of": "model/dense/kernel",
            "slot": "m",
        },
        "optimizer/iteration": {"role": "optimizer"},
    }
    path = tmp_path / "small.csv"
    save_state(path, tensors, metadata=metadata)
    return path


def drag_enter_event(pos: QPointF, mime: QMimeData) -> QDragEnterEvent:
    """A left-button copy drag entering at ``pos``.

    PySide6 before 6.12 takes a QPoint here, 6.12 a QPointF (its QPoint form is deprecated).
    """
    actions, button = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    modifiers = Qt.KeyboardModifier.NoModifier
    try:
        return QDragEnterEvent(pos, actions, mime, button, modifiers)
    except TypeError:
        return QDragEnterEvent(pos.toPoint(), actions, mime, button, modifiers)


def drop_event(pos: QPointF, mime: QMimeData) -> QDropEvent:
    actions, button = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    return QDropEvent(pos, actions, mime, button, Qt.KeyboardModifier.NoModifier)
