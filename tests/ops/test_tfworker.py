"""The TensorFlow worker process: calls, progress, cancel, errors, deaths and remote states.

Real processes throughout; TensorFlow is imported by the worker (and by this process only
to write a checkpoint and read it in-process for comparison). Checkpoints are read by our
own reader, in the calling process: the hostile checkpoint that made TensorFlow abort the
worker is a one-line bad row there.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from csv_state_viewer.bridge.tfimport import TensorFlowMissingError
from csv_state_viewer.core import api
from csv_state_viewer.core.errors import (
    BadRowsError,
    CsvStateError,
    NotAStateError,
    RowError,
    RowProblem,
    StateWriteError,
    UnsupportedFormatError,
)
from csv_state_viewer.core.progress import Cancelled
from csv_state_viewer.ops.remotestate import RemoteState, StaleStateError
from csv_state_viewer.ops.tfworker import (
    TensorFlowWorker,
    WorkerError,
    WorkerStoppedError,
    shared_worker,
    shutdown_shared_worker,
)

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
PROBLEM = RowProblem("/x/a.csv", 3, "dense/bias", "bad float32 value 'oops'")


class Recorder:
    """A Progress that records reports, cancels after ``cancel_after`` of them and can
    run ``on_report`` at each."""

    def __init__(self, cancel_after: int | None = None, on_report: Any = None) -> None:
        self.reports: list[tuple[int, int]] = []
        self.cancel_after = cancel_after
        self.on_report = on_report
        self.started = threading.Event()

    def report(self, done: int, total: int) -> None:
        self.reports.append((done, total))
        self.started.set()
        if self.on_report is not None:
            self.on_report()

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.reports) >= self.cancel_after


@pytest.fixture(scope="module")
def worker(hostile: ModuleType) -> Iterator[TensorFlowWorker]:
    started = TensorFlowWorker()
    yield started
    started.shutdown()


def wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if pid not in [p.pid for p in multiprocessing.active_children()]:  # reaps it
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} is still there")


# ------------------------------------------------------------------------ pickling
def errors() -> list[BaseException]:
    return [
        CsvStateError("plain"),
        NotAStateError("/x/a.csv", "not a training state"),
        RowError(PROBLEM),
        BadRowsError("/x/a.csv", [PROBLEM, RowProblem("/x/a.csv", None, None, "other")]),
        StateWriteError("/x/b.npz: refused"),
        UnsupportedFormatError("/x/b.txt: no format writes this extension"),
        TensorFlowMissingError("tensorflow"),
        TensorFlowMissingError("keras"),
        WorkerStoppedError("signal 6", "reading /x/ckpt.index", "Check failed: size >= 0"),
        WorkerError("OpError: no"),
        StaleStateError("gone"),
        Cancelled(),
    ]


@pytest.mark.parametrize("error", errors(), ids=lambda e: type(e).__name__)
def test_errors_pickle_with_type_message_and_attributes(error: BaseException) -> None:
    error.hint = "overwrite"  # type: ignore[attr-defined] # attributes added later come too
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    assert copy.hint == "overwrite"  # type: ignore[attr-defined]


# -------------------------------------------------------------------------- calls
def test_call_returns_the_result_and_forwards_progress(worker: TensorFlowWorker) -> None:
    progress = Recorder()
    assert worker.call("counting", "hostile:count", 6, 0.03, progress=progress) == 6
    assert progress.reports[-1] == (6, 6)
    assert progress.reports == sorted(progress.reports)
    assert worker.alive
    assert worker.pid != os.getpid()
    assert worker.call("asking", "os:getpid") == worker.pid  # reused, same process


def test_cancel_stops_the_call_and_the_worker_stays(worker: TensorFlowWorker) -> None:
    pid = worker.call("asking", "os:getpid")
    progress = Recorder(cancel_after=2)
    began = time.monotonic()
    with pytest.raises(Cancelled):
        worker.call("counting", "hostile:count", 500, 0.03, progress=progress)
    assert time.monotonic() - began < 3
    assert worker.call("counting", "hostile:count", 2, 0.0) == 2
    assert worker.pid == pid


def test_a_waiting_caller_is_cancelled_without_the_lock(worker: TensorFlowWorker) -> None:
    busy = Recorder()
    thread = threading.Thread(
        target=worker.call, args=("counting", "hostile:count", 20, 0.05), kwargs={"progress": busy}
    )
    thread.start()
    assert busy.started.wait(10)
    began = time.monotonic()
    with pytest.raises(Cancelled):
        worker.call("asking", "os:getpid", progress=Recorder(cancel_after=0))
    assert time.monotonic() - began < 0.5
    thread.join(10)
    assert busy.reports[-1] == (20, 20)


@pytest.mark.parametrize(
    ("args", "kind", "message"),
    [
        (("builtins:int", "x"), ValueError, "invalid literal for int() with base 10: 'x'"),
        (("operator:getitem", {}, "k"), KeyError, "'k'"),
        (("csv_state_viewer.core.api:open_state", "/no/such.csv"), NotAStateError, None),
        *[(("hostile:raise_it", error), type(error), str(error)) for error in errors()],
        (("hostile:raise_unpicklable",), WorkerError, "ValueError: carries a lambda"),
        (("no_such_module_here:f",), ModuleNotFoundError, "No module named"),
    ],
)
def test_exceptions_come_back_with_their_type(
    worker: TensorFlowWorker, args: tuple[Any, ...], kind: type, message: str | None
) -> None:
    with pytest.raises(kind) as caught:
        worker.call("testing", *args)
    assert type(caught.value) is kind
    if message is not None:
        assert message in str(caught.value)
    if "/no/such.csv" in args:
        assert caught.value.path == "/no/such.csv"
    assert worker.call("counting", "hostile:count", 1, 0.0) == 1


def test_a_killed_worker_gives_a_one_line_error_and_is_replaced(worker: TensorFlowWorker) -> None:
    pid = worker.call("asking", "os:getpid")
    progress = Recorder(on_report=lambda: os.kill(pid, signal.SIGKILL))
    with pytest.raises(WorkerStoppedError) as caught:
        worker.call("counting sheep", "hostile:count", 500, 0.02, progress=progress)
    assert str(caught.value) == "the TensorFlow worker stopped (signal 9) while counting sheep"
    assert (caught.value.how, caught.value.what) == ("signal 9", "counting sheep")
    assert not worker.alive
    assert worker.call("asking", "os:getpid") not in (pid, None)
    with pytest.raises(WorkerStoppedError, match=r"stopped \(exit code 3\) while leaving$"):
        worker.call("leaving", "os:_exit", 3)
    assert worker.call("counting", "hostile:count", 1, 0.0) == 1


# ------------------------------------------------------------------- remote states
def write_tf_checkpoint(folder: Path) -> str:
    from csv_state_viewer.bridge import tfimport

    tf = tfimport.tensorflow()
    model = tf.Module()
    model.kernel = tf.Variable(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    model.scale = tf.Variable(tf.constant([1.5, -2.25, 3.0e30], dtype=tf.bfloat16))
    model.step = tf.Variable(np.int64(7))
    return str(tf.train.Checkpoint(model=model).write(str(folder / "ckpt")))


def test_open_state_reads_a_checkpoint_as_this_process_does(
    worker: TensorFlowWorker, tmp_path: Path
) -> None:
    prefix = write_tf_checkpoint(tmp_path)
    with api.open_state(prefix) as local, worker.open_state(prefix) as remote:
        assert isinstance(remote, RemoteState)
        assert (remote.path, remote.format_name) == (local.path, local.format_name)
        assert remote.names() == local.names()
        assert [e.metadata for e in remote] == [e.metadata for e in local]
        assert "bfloat16" in [str(e.dtype) for e in remote]

        def same_values() -> None:
            for theirs, ours in zip(remote.entries, local.entries, strict=True):
                assert (theirs.name, theirs.shape, theirs.dtype) == (
                    ours.name,
                    ours.shape,
                    ours.dtype,
                )
                got, expected = remote.read(theirs), local.read(ours)
                assert got.dtype == expected.dtype
                assert got.shape == expected.shape
                assert got.tobytes() == expected.tobytes()

        same_values()
        pid = worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_dead(pid)
        same_values()  # opened again in the new worker
        assert worker.pid not in (pid, None)
        assert remote.errors == []


def test_remote_read_errors_are_row_problems(worker: TensorFlowWorker) -> None:
    path = str(SAMPLES / "damaged.csv")
    with api.open_state(path) as local, worker.open_state(path) as remote:
        assert remote.errors == local.errors
        assert remote.validate() == local.validate()
        with pytest.raises(RowError, match="bad float32 value 'oops'"):
            remote.read("dense/bias")
        np.testing.assert_array_equal(remote.read("dense/kernel"), local.read("dense/kernel"))


def test_a_file_that_changed_while_the_worker_restarted_is_refused(
    worker: TensorFlowWorker, tmp_path: Path
) -> None:
    path = tmp_path / "state.npz"
    np.savez(path, a=np.arange(3), b=np.ones(2))
    with worker.open_state(str(path)) as remote:
        np.testing.assert_array_equal(remote.read("a"), np.arange(3))
        worker.shutdown()
        np.savez(path, a=np.arange(3), c=np.ones(2))
        with pytest.raises(RowError, match="the file changed since it was opened"):
            remote.read("a")
    with pytest.raises(RowError, match="closed"):
        remote.read("a")


def test_a_closed_state_is_closed_in_the_worker(worker: TensorFlowWorker, tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    np.savez(path, a=np.arange(3))
    remote = worker.open_state(str(path))
    key = remote._key  # type: ignore[attr-defined]
    remote.close()
    with pytest.raises(StaleStateError):
        worker.call("reading", "csv_state_viewer.ops.remotestate:read_remote", key, 0)


# ---------------------------------------------------------------- hostile checkpoint
def test_tensorflow_aborts_on_a_negative_dimension(hostile: ModuleType, tmp_path: Path) -> None:
    """The premise: TensorFlow's reader aborts the process (so checkpoints are read by our own)."""
    prefix = hostile.write_negative_dim_checkpoint(tmp_path)
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
        "import tensorflow as tf; tf.train.load_checkpoint(sys.argv[1]); print('survived')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, prefix],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == -signal.SIGABRT
    assert "Check failed: size >= 0 (-1 vs. 0)" in result.stderr
    assert "survived" not in result.stdout


def test_a_hostile_checkpoint_is_one_line_here_and_no_worker_is_used(
    worker: TensorFlowWorker, hostile: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where TensorFlow's reader aborted, our own reader gives a one-line bad row, in this
    process: opening a checkpoint no longer goes to the worker, which stays as it was."""
    from csv_state_viewer.ops.opening import open_state

    pid = worker.call("asking", "os:getpid")
    bad = hostile.write_negative_dim_checkpoint(tmp_path) + ".index"
    with monkeypatch.context() as patched:
        patched.setattr(TensorFlowWorker, "call", lambda *a, **k: pytest.fail("worker used"))
        with open_state(bad) as state:
            assert not isinstance(state, RemoteState)
            np.testing.assert_array_equal(
                state.read("dense/bias"), hostile.good_arrays()["dense/bias"]
            )
            [problem] = state.errors
            assert str(problem) == (
                f"{bad}: 'dense/kernel': its index entry declares a negative dimension [-1, 4]"
            )
            with pytest.raises(RowError, match="negative dimension"):
                state.read(state.entries[1])
    with worker.open_state(bad) as remote:  # the worker reads it the same way, and lives
        assert [str(p) for p in remote.errors] == [str(problem)]
    assert worker.call("asking", "os:getpid") == pid


SCRIPT = """
import json, sys
import PySide6.QtCore  # as the viewer's script: a worker that ran this again would load Qt
from csv_state_viewer.ops.opening import open_state
from csv_state_viewer.ops.tfworker import TensorFlowWorker

if __name__ == "__main__":
    with open_state(sys.argv[1]) as state:  # a checkpoint: read here, without TensorFlow
        values = {name: state.read(name).tolist() for name in state.names()}
    checkpoint_here = [name for name in ("tensorflow", "keras") if name in sys.modules]
    worker = TensorFlowWorker()
    with worker.open_state(sys.argv[2]) as state:  # a .keras file: Keras, in the worker
        keras_names = state.names()
    there = worker.call("asking", "hostile:loaded", "tensorflow", "PySide6", "matplotlib")
    here = [name for name in ("tensorflow", "keras") if name in sys.modules]
    worker.shutdown()
    print(json.dumps({"checkpoint_here": checkpoint_here, "here": here, "there": there,
                      "values": values, "keras_names": keras_names}))
"""


def test_the_calling_process_never_imports_tensorflow(hostile: ModuleType, tmp_path: Path) -> None:
    script = tmp_path / "viewer_like.py"
    script.write_text(SCRIPT)
    prefix = hostile.write_good_checkpoint(tmp_path)
    keras_file = str(SAMPLES / "mlp_adam.keras")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(hostile.__file__)}
    result = subprocess.run(
        [sys.executable, str(script), prefix, keras_file],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["checkpoint_here"] == seen["here"] == []
    assert seen["there"] == ["tensorflow"]
    assert seen["values"] == {k: v.tolist() for k, v in hostile.good_arrays().items()}
    with api.open_state(keras_file) as state:
        assert seen["keras_names"] == state.names()


# ------------------------------------------------------------------------ shutdown
def test_shutdown_leaves_no_process(worker: TensorFlowWorker) -> None:
    idle = TensorFlowWorker()
    idle.shutdown()  # never started
    assert idle.pid is None
    pids = [worker.call("asking", "os:getpid"), shared_worker().call("asking", "os:getpid")]
    assert shared_worker() is shared_worker()
    worker.shutdown()
    worker.shutdown()
    shutdown_shared_worker()
    assert not worker.alive
    assert worker.pid is None
    assert multiprocessing.active_children() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize(("command", "code"), [("info", 0), ("validate", 1), ("convert", 1)])
def test_the_command_line_reads_a_hostile_checkpoint_itself(
    hostile: ModuleType, tmp_path: Path, command: str, code: int
) -> None:
    """Where TensorFlow's reader aborted (and then the worker died), csv-state now reads the
    checkpoint itself and names the bad tensor on one line; nothing is written, no core."""
    import shutil

    bad = hostile.write_negative_dim_checkpoint(tmp_path) + ".index"
    exe = shutil.which("csv-state", path=str(Path(sys.executable).parent)) or "csv-state"
    args = [exe, command, bad] + ([str(tmp_path / "out.csv")] if command == "convert" else [])
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == code, result.stderr
    line = f"{bad}: 'dense/kernel': its index entry declares a negative dimension [-1, 4]"
    assert line in (result.stdout + result.stderr).splitlines()
    assert "worker" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not [p for p in os.listdir(tmp_path) if p.startswith("core") or p == "out.csv"]


def test_csv_state_info_on_a_checkpoint_imports_no_tensorflow(
    hostile: ModuleType, tmp_path: Path
) -> None:
    prefix = hostile.write_good_checkpoint(tmp_path)
    code = (
        "import sys\n"
        "from csv_state_viewer.cli.main import main\n"
        "rc = main(['info', sys.argv[1]])\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'csv_state_viewer.ops.tfworker')"
        " if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, prefix],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "dense/kernel" in result.stdout
    assert result.stdout.splitlines()[-1] == "LOADED []"
