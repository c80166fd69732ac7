"""Writes land whole or not at all: fault injection around save_state."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import BadRowsError, StateWriteError, load_state, open_state, save_state
from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.csv import textcodec

ORIGINAL = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4)}
REPLACEMENT = {"x": np.arange(3_000_000, dtype=np.float32), "y": np.zeros(2)}


def _saved(path: Path) -> bytes:
    save_state(path, ORIGINAL)
    return path.read_bytes()


def temp_files(folder: Path) -> list[str]:
    """Hidden files: every temporary file a write makes is one (.<name>.<pid>-...)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def assert_untouched(path: Path, content: bytes) -> None:
    assert path.read_bytes() == content
    assert temp_files(path.parent) == []
    assert list(load_state(path)) == list(ORIGINAL)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_failure_while_formatting_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"state{suffix}"
    content = _saved(path)
    real_format = textcodec.format_chunk
    calls = []

    def failing_format(values: np.ndarray) -> bytes:
        calls.append(values.size)
        if len(calls) > 1:
            raise RuntimeError("injected failure")
        return real_format(values)

    monkeypatch.setattr(textcodec, "format_chunk", failing_format)
    # raised outside the package, as a library would: the registry words it as a write error
    with pytest.raises(StateWriteError, match=r"RuntimeError: injected failure"):
        save_state(path, REPLACEMENT)
    assert len(calls) > 1
    monkeypatch.undo()
    assert_untouched(path, content)


def test_source_state_going_bad_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state.csv"
    content = _saved(path)
    source_path = tmp_path / "source.csv"
    save_state(source_path, {"first": np.arange(3.0), "second": np.array([12.0, 34.0])})
    with open_state(source_path) as source:
        raw = source_path.read_bytes()
        at = raw.index(b"12,34")
        with open(source_path, "r+b") as f:  # same length: the mapped index stays valid
            f.seek(at)
            f.write(b"13")
        with pytest.raises(BadRowsError, match="CRC32"):
            save_state(path, source)
    assert_untouched(path, content)


def test_failing_rename_is_a_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.csv"
    content = _saved(path)

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StateWriteError, match="No space left on device"):
        save_state(path, REPLACEMENT)
    monkeypatch.undo()
    assert_untouched(path, content)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".npz"])
def test_writing_over_a_file_open_for_reading_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"state{suffix}"
    save_state(path, ORIGINAL)
    content = path.read_bytes()
    with open_state(path) as state:
        with pytest.raises(StateWriteError, match="open for reading"):
            save_state(path, REPLACEMENT)
        with pytest.raises(StateWriteError, match="open for reading"):
            save_state(path, state)
    assert path.read_bytes() == content
    assert temp_files(tmp_path) == []
    save_state(path, REPLACEMENT)  # closed: allowed again
    assert list(load_state(path)) == list(REPLACEMENT)


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "state.csv"
    content = _saved(path)
    with pytest.raises(StateWriteError, match="already exists"):
        save_state(path, REPLACEMENT, overwrite=False)
    assert_untouched(path, content)
    fresh = tmp_path / "fresh.csv"
    save_state(fresh, REPLACEMENT, overwrite=False)
    assert list(load_state(fresh)) == list(REPLACEMENT)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o600])
def test_overwrite_preserves_permissions(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "state.csv"
    _saved(path)
    path.chmod(mode)
    save_state(path, REPLACEMENT)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert list(load_state(path)) == list(REPLACEMENT)


def test_new_file_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        save_state(tmp_path / "new.csv", ORIGINAL)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640


def test_a_write_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "new" / "a" / "state.csv"
    save_state(path, ORIGINAL)
    assert list(load_state(path)) == list(ORIGINAL)
    assert temp_files(path.parent) == []


def test_a_failed_write_removes_only_the_folders_it_created(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    path = tmp_path / "old" / "new" / "a" / "x.bin"
    with pytest.raises(RuntimeError, match="injected"), atomic_write(path) as handle:
        handle.write(b"partial")
        assert (tmp_path / "old" / "new" / "a").is_dir()
        raise RuntimeError("injected")
    assert sorted(os.listdir(tmp_path)) == ["old"]
    assert os.listdir(tmp_path / "old") == []


def test_a_created_folder_that_is_no_longer_empty_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "new" / "a" / "x.bin"
    with pytest.raises(RuntimeError, match="injected"), atomic_write(path):
        (tmp_path / "new" / "other").write_bytes(b"someone else's")
        raise RuntimeError("injected")
    assert sorted(os.listdir(tmp_path / "new")) == ["other"]


def test_an_ancestor_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(StateWriteError, match="plain: is a file, not a folder") as refused:
        save_state(tmp_path / "plain" / "sub" / "state.csv", ORIGINAL)
    assert "\n" not in str(refused.value)
    assert sorted(os.listdir(tmp_path)) == ["plain"]


def test_all_or_nothing_renames_every_file_or_none(tmp_path: Path) -> None:
    from csv_state_viewer.core.atomic import after_success, all_or_nothing, atomic_write

    old = tmp_path / "old.txt"
    old.write_text("kept")
    folder = tmp_path / "new" / "deeper"
    with pytest.raises(KeyboardInterrupt), all_or_nothing():
        with atomic_write(folder / "a.txt") as handle:
            handle.write(b"a")
        after_success(old.unlink)
        assert not (folder / "a.txt").exists()  # not before the block succeeds
        raise KeyboardInterrupt  # Ctrl-C before the second file
    assert old.read_text() == "kept"
    assert not (tmp_path / "new").exists()  # the folders made for it went too
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["old.txt"]

    with all_or_nothing():
        for name in ("a.txt", "b.txt"):
            with atomic_write(folder / name) as handle:
                handle.write(name.encode())
        after_success(old.unlink)
    assert (folder / "a.txt").read_bytes() == b"a.txt" and (folder / "b.txt").exists()
    assert not old.exists()
