"""Early writeback: pages go to disk while a file is written; nothing else changes."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from csv_state_viewer.core import writeback
from csv_state_viewer.core.atomic import atomic_write


def _writeback_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "csv-state-writeback"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_the_kernel_is_asked_to_write_while_the_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = writeback.start_writeback

    def counting(fd: int) -> bool:
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(writeback, "start_writeback", counting)
    monkeypatch.setattr(writeback, "INTERVAL_S", 0.001)
    data = bytes(range(256)) * 4096
    with atomic_write(tmp_path / "out.bin") as handle:
        for _ in range(64):
            handle.write(data)
            handle.flush()
        assert len(_writeback_threads()) == 1
        assert real(handle.fileno())
    assert len(calls) >= 2  # once at the start, then from the thread
    assert not _writeback_threads()  # stopped before the fsync and rename
    assert (tmp_path / "out.bin").read_bytes() == data * 64


def test_without_the_call_a_write_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writeback, "_sync_file_range", lambda: None)
    with atomic_write(tmp_path / "out.bin") as handle:
        handle.write(b"abc")
        assert not _writeback_threads()
    assert (tmp_path / "out.bin").read_bytes() == b"abc"


def test_a_failed_write_stops_the_thread_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "out.bin") as handle:
        handle.write(b"abc")
        raise RuntimeError("the writer failed")
    assert not _writeback_threads()
    assert list(tmp_path.iterdir()) == []
