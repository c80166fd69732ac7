"""The progress bar of ``csv-state``, run as a user runs it: a real process whose stderr is
a terminal (a pseudo-terminal here), a pipe, or a terminal with ``--quiet``; and Ctrl-C
(SIGINT) in the middle of a conversion."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import save_state

EXE = shutil.which("csv-state", path=os.path.dirname(sys.executable)) or "csv-state"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
ENV = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24 M float32 value state as text CSV (about 0.26 GB): converting it takes over a
    second, so the bar (shown after half a second) appears."""
    path = tmp_path_factory.mktemp("big") / "s.csv"
    rng = np.random.default_rng(7)
    row = rng.standard_normal(1_000_000, dtype=np.float32)
    save_state(path, {f"layer{i}/kernel": np.roll(row, i).reshape(1000, 1000) for i in range(24)})
    return path


class Terminal:
    """``csv-state ARGS`` with stderr on a pseudo-terminal (stdout piped); what it writes to
    the terminal is collected in :attr:`screen`."""

    def __init__(self, *args: str | Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            [EXE, *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=ENV,
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                break
            if not chunk:
                break
            self._chunks.append(chunk)

    @property
    def screen(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if text in self.screen:
                return True
            time.sleep(0.01)
        return text in self.screen

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Exit code, stdout and the terminal's text (escape sequences removed)."""
        stdout, _ = self.process.communicate(timeout=timeout)
        self._reader.join(timeout=10)
        os.close(self._master)
        text = ANSI.sub("", self.screen).replace("\r", "")
        return self.process.returncode, stdout.decode(), text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".csv-state-tmp" in p.name)


def writing(folder: Path) -> bool:
    """A write is under way in ``folder``: a temporary file there holds data."""
    return any(p.stat().st_size > 0 for p in folder.rglob("*.csv-state-tmp*") if p.is_file())


def interrupt_mid_write(terminal: Terminal, ready: Callable[[], bool], timeout: float = 20) -> None:
    """Send SIGINT once ``ready()`` says the write is under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and terminal.process.poll() is None:
        with contextlib.suppress(OSError):  # a temporary file gone while looked at
            if ready():
                break
        time.sleep(0.002)
    assert terminal.process.poll() is None, "finished before it could be interrupted"
    terminal.process.send_signal(signal.SIGINT)


def test_a_terminal_shows_a_bar_and_the_usual_output(big: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.csv"  # text to text: two seconds and more
    code, stdout, screen = Terminal("convert", big, dst).finish()
    assert code == 0, screen
    assert f"converting {big}" in screen
    assert re.search(r"\d+%", screen), screen
    assert "━" in screen  # the bar itself
    assert f"wrote {dst} (24 tensors, csv)" in stdout
    assert dst.is_file()
    assert "Traceback" not in screen


def test_piped_stderr_gets_no_bar(big: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.npz"
    result = subprocess.run(
        [EXE, "convert", str(big), str(dst)],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"wrote {dst}" in result.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_shows_no_bar_on_a_terminal(big: Path, tmp_path: Path, where: str) -> None:
    dst = tmp_path / "out.npz"
    args = ["--quiet", "convert", big, dst] if where == "before" else ["convert", "-q", big, dst]
    code, stdout, screen = Terminal(*args).finish()
    assert code == 0, screen
    assert screen.strip() == ""
    assert f"wrote {dst}" in stdout


@pytest.mark.parametrize("name", ["out.csv", "out.npz"])
def test_ctrl_c_mid_convert_exits_130_and_leaves_nothing(
    big: Path, tmp_path: Path, name: str
) -> None:
    dst = tmp_path / name
    terminal = Terminal("convert", big, dst)
    interrupt_mid_write(terminal, lambda: writing(tmp_path))
    code, stdout, screen = terminal.finish()
    assert code == 130, screen
    assert screen.strip().splitlines()[-1] == "csv-state: interrupted"
    assert "Traceback" not in screen
    assert stdout == ""
    assert not dst.exists()
    assert leftovers(tmp_path) == []


def test_ctrl_c_mid_convert_to_a_folder_leaves_nothing(big: Path, tmp_path: Path) -> None:
    """The files of a folder are renamed into place together once all are written."""
    dst = tmp_path / "out"
    terminal = Terminal("convert", big, f"{dst}/", "--layout", "matrix")
    # after the first file's data is written, and while the next one is written
    interrupt_mid_write(terminal, lambda: dst.is_dir() and len(list(dst.iterdir())) > 1)
    code, _stdout, screen = terminal.finish()
    assert code == 130, screen
    assert screen.strip().splitlines()[-1] == "csv-state: interrupted"
    assert leftovers(tmp_path) == []
    assert not dst.exists(), sorted(p.name for p in dst.rglob("*"))


def test_a_quick_command_shows_no_bar_on_a_terminal(tmp_path: Path) -> None:
    src = tmp_path / "small.csv"
    save_state(src, {"dense/kernel": np.ones((3, 4), dtype=np.float32)})
    code, stdout, screen = Terminal("convert", src, tmp_path / "small.npz").finish()
    assert code == 0, screen
    assert screen.strip() == ""
    assert "wrote" in stdout
