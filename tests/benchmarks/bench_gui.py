"""Benchmark the viewer's responsiveness. A plain script, not a pytest test::

    python tests/benchmarks/bench_gui.py [--repeat R] [--big-mb MB] [--json OUT] [--check]
                                         [--only all|plots]

Three measurements, each with a baseline taken in the same run:

* **cold start**: a new process opens the bundled sample and paints the window with its
  tree (time from spawning the process to that paint). Baseline: a process that shows an
  empty Qt window.
* **histogram**: from selecting a 4 M-element float32 tensor to its histogram drawn on
  the canvas (Matplotlib ``draw_event``), with the tensor decoded from the text file
  (cache emptied first) and again with it cached; medians of ``--repeat`` selections.
  Baseline: ``numpy.histogram`` of the same array alone.
* **first TensorFlow feature**: in a window whose TensorFlow worker has not started, open
  a bundled ``.keras`` model, show its first tensor's histogram, then *Check mapping* of
  the sample CSV onto that model in the Write dialog: the time each takes and the longest
  stall of the event loop throughout (the worker starts and imports TensorFlow meanwhile).
  Baseline: a process that opens the same model and reads the same tensor with TensorFlow
  in that process, as the viewer did before the worker.
* **plot panes**: selecting a 4096x4096 float32 tensor (16 M elements, a base64 CSV) on the
  Heatmap tab until its image is drawn (``draw_event``), decoded from the file and cached,
  and the longest stall of the event loop (a 10 ms QTimer heartbeat) from the selection
  until drawn, in the Heatmap and in the Histogram pane. Baseline: reading the tensor and
  computing the pooled image (or the histogram) without the GUI.
* **big file**: opening a ~300 MB text CSV: time until the tree is shown, and the longest
  stall of the event loop (a 10 ms QTimer heartbeat) while the file opens and while its
  largest tensor is decoded and summarised in the background. Baseline: ``open_state``
  of the same file without the GUI.

The exit code is 0 unless ``--check`` is given and a target fails.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "samples" / "mlp_adam.csv"
KERAS_SAMPLE = ROOT / "resources" / "samples" / "mlp_adam.keras"
TARGETS = {
    "cold_start_s": 0.8,
    "histogram_ms": 100.0,
    "tree_shown_s": 0.5,
    "stall_ms": 100.0,
    "heatmap_ms": 300.0,
    "plot_stall_ms": 50.0,
}
PLOT_SHAPE = (4096, 4096)


# ------------------------------------------------------------------- children
def child_startup(kind: str, path: str) -> None:
    """Print the wall-clock time of the first paint (of the tree, for the viewer)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication([sys.argv[0]])
    done: list[float] = []

    class FirstPaint(QObject):
        def __init__(self, ready: Callable[[], bool]) -> None:
            super().__init__()
            self.ready = ready

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint and self.ready() and not done:
                done.append(time.time())
                app.quit()
            return False

    if kind == "bare":
        widget = QWidget()
        widget.resize(1280, 800)
        watcher = FirstPaint(lambda: True)
        widget.installEventFilter(watcher)
        widget.show()
    else:
        from PySide6.QtCore import QSettings

        from csv_state_viewer.gui.mainwindow import MainWindow
        from csv_state_viewer.gui.settings import Settings

        store = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Settings(store))
        watcher = FirstPaint(lambda: bool(window.roots))
        window.tree.viewport().installEventFilter(watcher)
        window.resize(1280, 800)
        window.show()
        window.open_file(path)
    app.exec()
    if kind != "bare":
        window.shutdown()
    print(f"{done[0]:.6f}")


def cold_start(kind: str) -> float:
    start = time.time()
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(SAMPLE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip().splitlines()[-1]) - start


# ----------------------------------------------------------------- in-process
def qt_app() -> Any:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0]])


def make_window() -> Any:
    from PySide6.QtCore import QSettings

    from csv_state_viewer.gui.mainwindow import MainWindow
    from csv_state_viewer.gui.settings import Settings

    store = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Settings(store))
    window.resize(1280, 800)
    window.show()
    return window


def wait_for(predicate: Callable[[], bool], timeout: float = 600) -> None:
    from csv_state_viewer.gui.screenshot import wait_until

    if not wait_until(predicate, timeout):
        raise RuntimeError("timed out")


def open_in(window: Any, path: Path) -> Any:
    before = len(window.roots)
    window.open_file(str(path))
    wait_for(lambda: len(window.roots) > before)
    wait_for(lambda: not window.context.runner.busy)
    return window.roots[-1]


def histogram_times(folder: Path, repeat: int) -> dict[str, float]:
    from csv_state_viewer.core.api import save_state

    rng = np.random.default_rng(1)
    big = rng.standard_normal(4_000_000).astype(np.float32)
    path = folder / "hist.csv"
    # "small" first: the tensor a file opens on is decoded by the Summary pane at once, and
    # the first selection of "big" must include its decode
    save_state(path, {"small": np.ones(10, np.float32), "big": big})
    qt_app()
    window = make_window()
    root = open_in(window, path)
    window.set_tab("histogram")
    pane = window.panes["histogram"]
    drawn: list[float] = []

    def on_draw(_event: object) -> None:
        if pane.canvas.message is None:  # a histogram, not the "Loading…" message
            drawn.append(time.perf_counter())

    pane.canvas.canvas.mpl_connect("draw_event", on_draw)

    def select_and_time(name: str, cold: bool) -> float:
        window.select_node(root.find("small"))
        if cold:  # forget decoded tensors, so the selection decodes "big" again
            window.context.cache.forget(root.state)
        wait_for(lambda: not window.context.runner.busy)
        start = time.perf_counter()
        count = len(drawn)
        window.select_node(root.find(name))
        wait_for(lambda: len(drawn) > count and not window.context.runner.busy)
        return drawn[-1] - start

    cold = statistics.median(select_and_time("big", cold=True) for _ in range(repeat))
    warm = statistics.median(select_and_time("big", cold=False) for _ in range(repeat))
    window.close()
    baseline = []
    for _ in range(repeat):
        start = time.perf_counter()
        np.histogram(big, bins=1024)
        baseline.append(time.perf_counter() - start)
    return {
        "hist4m_first_ms": cold * 1000,
        "hist4m_again_ms": warm * 1000,
        "numpy_histogram_ms": statistics.median(baseline) * 1000,
    }


def plot_pane_times(folder: Path, repeat: int) -> dict[str, float]:
    """Select a 16 M-element tensor in the Heatmap and Histogram panes: time until drawn,
    longest event-loop stall meanwhile; the same work without the GUI as baseline."""
    from csv_state_viewer.core.analysis.image import heatmap_image
    from csv_state_viewer.core.analysis.stats import histogram
    from csv_state_viewer.core.api import open_state, save_state

    rng = np.random.default_rng(3)
    big = rng.standard_normal(PLOT_SHAPE).astype(np.float32)
    path = folder / "plots.csv"
    save_state(path, {"small": np.ones(10, np.float32), "big": big}, encoding="base64")
    del big
    qt_app()
    window = make_window()
    root = open_in(window, path)
    report: dict[str, float] = {}
    for tab in ("heatmap", "histogram"):
        window.set_tab(tab)
        pane = window.panes[tab]
        drawn: list[float] = []  # when a plot (not a message) was drawn

        def on_draw(_event: object, pane: Any = pane, drawn: list[float] = drawn) -> None:
            if pane.canvas.message is None:
                drawn.append(time.perf_counter())

        pane.canvas.canvas.mpl_connect("draw_event", on_draw)
        stalls: list[float] = []
        busy: list[float] = []

        def select_and_time(
            cold: bool,
            drawn: list[float] = drawn,
            stalls: list[float] = stalls,
            busy: list[float] = busy,
        ) -> float:
            window.select_node(root.find("small"))
            if cold:  # forget decoded tensors, so the selection decodes "big" again
                window.context.cache.forget(root.state)
            wait_for(lambda: not window.context.runner.busy)
            heartbeat = Heartbeat()
            start = time.perf_counter()
            window.select_node(root.find("big"))
            wait_for(lambda: bool(drawn) and drawn[-1] > start)
            end = drawn[-1]
            stalls.append(heartbeat.longest_gap_ms(start))
            busy.append(heartbeat.longest_busy_ms(start))
            return end - start

        cold = statistics.median(select_and_time(True) for _ in range(repeat))
        warm = statistics.median(select_and_time(False) for _ in range(repeat))
        report[f"{tab}_first_ms"] = cold * 1000
        report[f"{tab}_again_ms"] = warm * 1000
        report[f"{tab}_stall_ms"] = max(stalls)
        report[f"{tab}_stall_median_ms"] = statistics.median(stalls)
        report[f"{tab}_busy_ms"] = max(busy)
    for tab in ("summary", "values"):  # the other panes: stalls over the 1.5 s after selecting
        window.set_tab(tab)
        stalls = []
        for _ in range(repeat):
            window.select_node(root.find("small"))
            window.context.cache.forget(root.state)
            wait_for(lambda: not window.context.runner.busy)
            heartbeat = Heartbeat()
            start = time.perf_counter()
            window.select_node(root.find("big"))
            until = start + 1.5  # decoding (~0.2 s) and statistics fit well within it
            wait_for(lambda until=until: time.perf_counter() > until)
            stalls.append(heartbeat.longest_gap_ms(start))
        report[f"{tab}_stall_ms"] = max(stalls)
        report[f"{tab}_stall_median_ms"] = statistics.median(stalls)
    image_shape = window.panes["heatmap"].image_data.shape
    window.close()

    def alone(compute: Callable[[np.ndarray], object]) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            with open_state(path) as state:
                compute(state.read("big"))
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    report["heatmap_alone_ms"] = alone(lambda a: heatmap_image(a, *image_shape))
    report["histogram_alone_ms"] = alone(lambda a: histogram([a], ["big"]))
    return report


def big_file(folder: Path, megabytes: int) -> Path:
    from csv_state_viewer.core.api import save_state

    rng = np.random.default_rng(2)
    values = megabytes * 10**6 // 11  # ~11 bytes per float32 written as text
    tensors = {}
    layer = 0
    while values > 0:
        size = min(values, 4_000_000)
        tensors[f"model/layer_{layer}/kernel"] = rng.standard_normal(size).astype(np.float32)
        tensors[f"model/layer_{layer}/bias"] = rng.standard_normal(512).astype(np.float32)
        values -= size
        layer += 1
    path = folder / "big.csv"
    save_state(path, tensors)
    return path


def big_file_times(path: Path) -> dict[str, float]:
    from PySide6.QtCore import QTimer

    from csv_state_viewer.core.api import open_state

    start = time.perf_counter()
    with open_state(path):
        direct = time.perf_counter() - start

    qt_app()
    window = make_window()
    window.set_tab("summary")
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start(10)
    wait_for(lambda: len(beats) > 5)
    start = time.perf_counter()
    window.open_file(str(path))
    wait_for(lambda: bool(window.roots))
    shown = time.perf_counter() - start
    wait_for(lambda: not window.context.runner.busy)
    opened_at = time.perf_counter()
    root = window.roots[0]
    largest = max(root.tensors(), key=lambda n: n.entry.size if n.entry else 0)
    window.select_node(largest)  # decode + statistics of the largest tensor in a worker
    wait_for(lambda: not window.context.runner.busy)
    window.set_tab("histogram")
    wait_for(lambda: not window.context.runner.busy)
    heartbeat.stop()
    window.close()
    gaps_open = [b - a for a, b in itertools.pairwise(beats) if a >= start and b <= opened_at]
    gaps_all = [b - a for a, b in itertools.pairwise(beats) if a >= start]
    return {
        "file_mb": path.stat().st_size / 1e6,
        "open_state_s": direct,
        "tree_shown_s": shown,
        "stall_open_ms": max(gaps_open, default=0.0) * 1000,
        "stall_ms": max(gaps_all, default=0.0) * 1000,
        "largest_tensor_values": float(largest.entry.size),
    }


class Heartbeat:
    """A 10 ms QTimer whose beats show how long the event loop was ever kept from running.

    Each beat also records the UI thread's CPU time, so a gap can be told apart: the UI
    thread busy (its CPU time grows by the gap) or waiting (for the GIL, or for a core
    on a loaded machine).
    """

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.beats: list[float] = []
        self.cpu: list[float] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self._beat)
        self.timer.start(10)
        wait_for(lambda: len(self.beats) > 5)

    def _beat(self) -> None:
        self.beats.append(time.perf_counter())
        self.cpu.append(time.thread_time())

    def longest_gap_ms(self, since: float) -> float:
        self.timer.stop()
        gaps = [b - a for a, b in itertools.pairwise(self.beats) if a >= since]
        return max(gaps, default=0.0) * 1000

    def longest_busy_ms(self, since: float) -> float:
        """The most UI-thread CPU time spent between two beats after ``since``."""
        self.timer.stop()
        pairs = [
            (c1 - c0)
            for (a, c0), (_b, c1) in itertools.pairwise(zip(self.beats, self.cpu, strict=True))
            if a >= since
        ]
        return max(pairs, default=0.0) * 1000


IN_PROCESS = """
import sys, time
start = time.perf_counter()
from csv_state_viewer import open_state
with open_state(sys.argv[1]) as state:
    state.read(state.names()[0])
print(time.perf_counter() - start)
"""


def tensorflow_start_times() -> dict[str, float]:
    from csv_state_viewer.gui.dialogs.writemodel import WriteModelDialog
    from csv_state_viewer.ops.tfworker import shutdown_shared_worker

    env = {**os.environ, "CSV_STATE_IN_PROCESS": "1"}
    baseline = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(KERAS_SAMPLE)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    shutdown_shared_worker()  # the first TensorFlow feature starts the worker
    qt_app()
    window = make_window()
    window.set_tab("histogram")
    heartbeat = Heartbeat()
    start = time.perf_counter()
    window.open_file(str(KERAS_SAMPLE))
    wait_for(lambda: bool(window.roots))
    shown = time.perf_counter() - start
    pane = window.panes["histogram"]
    wait_for(lambda: pane.histogram is not None and not window.context.runner.busy)
    drawn = time.perf_counter() - start
    stall_open = heartbeat.longest_gap_ms(start)

    # again with a worker that has not started: "Check mapping" as the first feature
    shutdown_shared_worker()
    root = open_in(window, SAMPLE)
    assert root.state is not None
    dialog = WriteModelDialog(root.state, window.context, window)
    dialog.model_edit.setText(str(KERAS_SAMPLE))
    reports: list[Any] = []
    dialog.mapping_checked.connect(reports.append)
    heartbeat = Heartbeat()
    checking = time.perf_counter()
    dialog.check_mapping()
    wait_for(lambda: bool(reports))
    checked = time.perf_counter() - checking
    stall_check = heartbeat.longest_gap_ms(checking)
    assert reports[0].ok, "the sample maps onto its model"
    dialog.close()
    window.close()
    return {
        "tf_tree_shown_s": shown,
        "tf_histogram_s": drawn,
        "tf_check_mapping_s": checked,
        "tf_in_process_read_s": float(baseline.stdout.split()[-1]),
        "tf_stall_ms": max(stall_open, stall_check),
    }


# ----------------------------------------------------------------------- main
def run(repeat: int, megabytes: int, only: str = "all") -> dict[str, Any]:
    if only == "plots":
        with tempfile.TemporaryDirectory() as tmp:
            return plot_pane_times(Path(tmp), repeat)
    bare = [cold_start("bare") for _ in range(repeat)]
    viewer = [cold_start("viewer") for _ in range(repeat)]
    report: dict[str, Any] = {
        "cold_start_s": statistics.median(viewer),
        "bare_qt_window_s": statistics.median(bare),
    }
    report |= tensorflow_start_times()
    with tempfile.TemporaryDirectory() as tmp:
        report |= histogram_times(Path(tmp), repeat)
        report |= plot_pane_times(Path(tmp), repeat)
        report |= big_file_times(big_file(Path(tmp), megabytes))
    return report


def print_plot_report(r: dict[str, Any]) -> dict[str, bool]:
    shape = "x".join(map(str, PLOT_SHAPE))
    for tab in ("heatmap", "histogram"):
        print(
            f"select {shape} float32 tensor -> {tab} drawn: "
            f"decoding it {r[f'{tab}_first_ms']:.0f} ms, cached {r[f'{tab}_again_ms']:.0f} ms "
            f"(read + compute without the GUI {r[f'{tab}_alone_ms']:.0f} ms, "
            f"ratio {r[f'{tab}_first_ms'] / r[f'{tab}_alone_ms']:.2f}x); longest event-loop "
            f"stall {r[f'{tab}_stall_ms']:.0f} ms "
            f"(target {TARGETS['plot_stall_ms']:.0f} ms, "
            f"ratio {r[f'{tab}_stall_ms'] / TARGETS['plot_stall_ms']:.2f}; median over the "
            f"selections {r[f'{tab}_stall_median_ms']:.0f} ms); most UI-thread "
            f"CPU time between two beats {r[f'{tab}_busy_ms']:.0f} ms"
        )
    for tab in ("summary", "values"):
        print(
            f"select {shape} float32 tensor on the {tab} tab, decoding it: longest event-loop "
            "stall in the 1.5 s after selecting "
            f"{r[f'{tab}_stall_ms']:.0f} ms (median {r[f'{tab}_stall_median_ms']:.0f} ms)"
        )
    return {
        "summary pane never stalls > 50 ms": r["summary_stall_ms"] < TARGETS["plot_stall_ms"],
        "values pane never stalls > 50 ms": r["values_stall_ms"] < TARGETS["plot_stall_ms"],
        "heatmap of 16M elements drawn < 300 ms (decode included)": r["heatmap_first_ms"]
        < TARGETS["heatmap_ms"],
        "heatmap pane never stalls > 50 ms": r["heatmap_stall_ms"] < TARGETS["plot_stall_ms"],
        "histogram pane never stalls > 50 ms": r["histogram_stall_ms"] < TARGETS["plot_stall_ms"],
    }


def report_checks(checks: dict[str, bool]) -> list[str]:
    failed = []
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
        if not ok:
            failed.append(name)
    return failed


def print_report(report: dict[str, Any]) -> list[str]:
    r = report
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if "cold_start_s" not in r:
        return report_checks(print_plot_report(r))
    print(
        f"cold start to first painted window with a sample: {r['cold_start_s']:.2f} s "
        f"(empty Qt window {r['bare_qt_window_s']:.2f} s, "
        f"ratio {r['cold_start_s'] / r['bare_qt_window_s']:.1f}x)"
    )
    print(
        "select 4M-element tensor -> histogram drawn: "
        f"decoding it {r['hist4m_first_ms']:.0f} ms, "
        f"cached {r['hist4m_again_ms']:.0f} ms "
        f"(numpy.histogram alone {r['numpy_histogram_ms']:.0f} ms, "
        f"ratio {r['hist4m_first_ms'] / r['numpy_histogram_ms']:.1f}x)"
    )
    print(
        f"{r['file_mb']:.0f} MB CSV: tree shown in {r['tree_shown_s']:.2f} s "
        f"(open_state alone {r['open_state_s']:.2f} s, "
        f"ratio {r['tree_shown_s'] / r['open_state_s']:.2f}x); longest event-loop stall "
        f"{r['stall_open_ms']:.0f} ms while opening, {r['stall_ms']:.0f} ms including the "
        f"decode and statistics of its largest tensor ({r['largest_tensor_values']:.0f} values)"
    )
    print(
        f"first TensorFlow feature (worker not started): .keras tree shown in "
        f"{r['tf_tree_shown_s']:.2f} s, its histogram drawn at {r['tf_histogram_s']:.2f} s "
        f"(TensorFlow in the same process, open + read: {r['tf_in_process_read_s']:.2f} s, "
        f"ratio {r['tf_histogram_s'] / r['tf_in_process_read_s']:.2f}x); Check mapping "
        f"{r['tf_check_mapping_s']:.2f} s as the first feature; longest event-loop stall "
        f"{r['tf_stall_ms']:.0f} ms"
    )
    plot_checks = print_plot_report(r)
    checks = {
        "no stall > 100 ms while TensorFlow starts": r["tf_stall_ms"] < TARGETS["stall_ms"],
        f"cold start < {TARGETS['cold_start_s']:g} s": r["cold_start_s"] < TARGETS["cold_start_s"],
        f"histogram < {TARGETS['histogram_ms']:.0f} ms (decode included)": r["hist4m_first_ms"]
        < TARGETS["histogram_ms"],
        "tree shown < 0.5 s": r["tree_shown_s"] < TARGETS["tree_shown_s"],
        "event loop never stalls > 100 ms": r["stall_ms"] < TARGETS["stall_ms"],
    }
    return report_checks(checks | plot_checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=300)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true")
    parser.add_argument(
        "--only", choices=("all", "plots"), default="all", help="plots: the plot panes only"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_startup(*args.child)
        return 0
    report = run(args.repeat, args.big_mb, args.only)
    failed = print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
