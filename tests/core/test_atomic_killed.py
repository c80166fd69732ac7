"""Temporary files of killed writes: recognisable, and removed by the next write.

A write killed with SIGKILL cannot clean up; its temporary file is named after the
destination, the writer's process id and this machine, and the next write into the
folder removes it once that process is gone. Never a live writer's file, another
machine's, or anything not named by the scheme.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer import load_state, save_state
from csv_state_viewer.core import atomic
from csv_state_viewer.core.atomic import (
    MARKER,
    atomic_write,
    host_tag,
    sweep_stale,
    temporary_folder,
    temporary_name,
    writer_of,
)

STATE = {"first": np.arange(200_000, dtype=np.float32), "second": np.ones((3, 4), np.float64)}

# Writes STATE's first tensor, says so, then sleeps inside the write until it is killed.
SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from csv_state_viewer import save_state

    class Sleepy:
        def report(self, done, total):
            print("writing", flush=True)
            time.sleep(120)

        def cancelled(self):
            return False

    tensors = {"first": np.arange(200_000, dtype=np.float32), "second": np.zeros(5)}
    save_state(sys.argv[1], tensors, progress=Sleepy())
    """
)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def stale_name(destination: str, pid: int, host: str | None = None, suffix: str = "") -> str:
    """A temporary name as ``pid`` on ``host`` would have made it."""
    name = temporary_name(destination, suffix)
    mine = f".{os.getpid()}-{host_tag()}-"
    assert mine in name
    return name.replace(mine, f".{pid}-{host or host_tag()}-", 1)


def killed_write(destination: Path) -> str:
    """Start a write of ``destination`` in another process, SIGKILL it mid-write, and
    return the temporary file it left."""
    with subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(destination)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line.strip() == "writing", writer.stderr.read() if writer.stderr else ""
        left = hidden(destination.parent)
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
    assert len(left) == 1
    assert hidden(destination.parent) == left  # nobody could clean up
    return left[0]


def test_a_write_killed_mid_way_is_cleaned_up_by_the_next_write(tmp_path: Path) -> None:
    destination = tmp_path / "state.csv"
    save_state(destination, {"old": np.zeros(2)})
    left = killed_write(destination)
    assert left.startswith(".state.csv.") and left.endswith(MARKER)
    assert (tmp_path / left).stat().st_size > 100_000  # the first tensor, written
    assert list(load_state(destination)) == ["old"]  # the destination is untouched

    save_state(destination, STATE)

    assert hidden(tmp_path) == []
    loaded = load_state(destination)
    assert list(loaded) == list(STATE)
    assert all(np.array_equal(loaded[k], STATE[k]) for k in STATE)


def test_any_write_into_the_folder_removes_stale_temporaries(tmp_path: Path) -> None:
    killed_write(tmp_path / "big.csv")
    save_state(tmp_path / "other.npz", STATE)
    assert hidden(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.npz"]


def test_what_is_not_stale_or_not_ours_is_kept(tmp_path: Path) -> None:
    destination = str(tmp_path / "state.csv")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            kept = [
                stale_name(destination, live.pid),  # a live writer's
                stale_name(destination, os.getpid()),  # this process's (another thread's)
                stale_name(destination, dead_pid(), host="abcdef"),  # another machine's
                ".state.csv.k2j3h4.tmp",  # an older version's: whose, nobody can tell
                ".state.csv.notapid-abcdef-abcdef" + MARKER,
                "state.csv.1-abcdef-abcdef" + MARKER,  # not hidden: not one of ours
                ".notes",
            ]
            for name in kept:
                (tmp_path / name).write_bytes(b"someone's")
            stale = stale_name(destination, dead_pid(), suffix=".keras")
            (tmp_path / stale).write_bytes(b"left by a killed write")

            save_state(destination, STATE)

            assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "state.csv"])
        finally:
            live.kill()


def test_a_stale_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data").write_bytes(b"keep")
    link = tmp_path / stale_name(str(tmp_path / "x.csv"), dead_pid())
    link.symlink_to(target, target_is_directory=True)
    assert sweep_stale(str(tmp_path)) == []
    assert (target / "data").read_bytes() == b"keep"
    assert link.is_symlink()


def test_a_killed_writers_temporary_folder_is_swept(tmp_path: Path) -> None:
    work = tmp_path / stale_name(str(tmp_path / "ckpt"), dead_pid())
    work.mkdir()
    (work / "ckpt.data-00000-of-00001").write_bytes(b"x" * 1000)
    assert sweep_stale(str(tmp_path)) == [str(work)]
    assert list(tmp_path.iterdir()) == []


def test_temporary_folder_is_named_and_removed(tmp_path: Path) -> None:
    with temporary_folder(tmp_path / "ckpt") as work:
        assert writer_of(os.path.basename(work)) == (os.getpid(), host_tag())
        (Path(work) / "f").write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_say_whose_they_are(tmp_path: Path) -> None:
    seen: list[str] = []
    with atomic_write(tmp_path / "state.csv") as handle:
        seen = hidden(tmp_path)
        handle.write(b"x")
    assert len(seen) == 1
    assert seen[0].startswith(".state.csv.")
    assert writer_of(seen[0]) == (os.getpid(), host_tag())
    assert writer_of(temporary_name("m.keras", ".keras")) == (os.getpid(), host_tag())
    assert writer_of(".state.csv.123.tmp") is None
    with pytest.raises(ValueError, match="suffix"):
        temporary_name("x", MARKER)


def test_a_very_long_destination_name_fits(tmp_path: Path) -> None:
    destination = tmp_path / ("é" * 120 + ".csv")  # 244 bytes: the limit is 255
    name = temporary_name(str(destination))
    assert len(os.fsencode(name)) <= 255
    assert writer_of(name) == (os.getpid(), host_tag())
    save_state(destination, STATE)
    assert list(load_state(destination)) == list(STATE)
    assert hidden(tmp_path) == []


def test_a_folder_write_scans_each_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / stale_name(str(out / "t0.csv"), dead_pid())
    stale.write_bytes(b"left by a killed write")
    scans: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(*args: Any) -> Any:
        scans.append(str(args[0]) if args else ".")
        return real_scandir(*args)

    monkeypatch.setattr(atomic.os, "scandir", counting_scandir)
    tensors = {f"t{index}": np.full(3, index, np.float32) for index in range(20)}
    assert save_state(f"{out}/", tensors, format_name="matrix") == 20
    assert scans.count(str(out)) == 1
    assert hidden(out) == []
    assert len(list(out.iterdir())) == 20
