"""Fixtures shared by the test folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Qt tests run headless; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
EXE = shutil.which("csv-state", path=os.path.dirname(sys.executable)) or "csv-state"


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The statistics cache of runs (and anything under XDG_CACHE_HOME) goes to a folder of
    the test session, never the user's cache; commands the tests start inherit it."""
    folder = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    monkeypatch.setenv("CSV_STATE_CACHE", str(folder / "stats"))
    return folder


@pytest.fixture
def csv_state() -> CliRunner:
    """Run the ``csv-state`` command as a user does; no output may carry a traceback."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [EXE, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
        )
        assert "Traceback" not in result.stdout + result.stderr
        return result

    return run


class ProgressRecorder:
    """A Progress that records every report and asks to stop after ``cancel_after`` of them."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.reports: list[tuple[int, int]] = []
        self.cancel_after = cancel_after

    def report(self, done: int, total: int) -> None:
        self.reports.append((done, total))

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.reports) >= self.cancel_after


@pytest.fixture
def recorder() -> type[ProgressRecorder]:
    """The :class:`ProgressRecorder` class, to make progress objects in a test."""
    return ProgressRecorder
