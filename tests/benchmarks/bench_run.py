"""Benchmark ``compute_timeline`` on a long run of saved states: cold, warm, and a baseline.

A plain script, not a pytest test::

    python tests/benchmarks/bench_run.py [--states N] [--params P] [--folder DIR] [--check]

It writes a deterministic run of ``--states`` ``.npz`` states (``save_state``) of
``--params`` float32 values each, spread over tensors shaped like a small MLP, with an
``adam/iteration`` counter; then, each in a child process (so peak RSS is its own):

* baseline: what a user writes by hand: ``load_state`` each state whole, NumPy statistics
  per tensor in float64, the previous state kept for the update ratios;
* cold: :func:`compute_timeline` with an empty cache (tensor-major; peak RSS compared with
  2 x the largest tensor + 300 MB);
* warm: the same again with the cache the cold pass filled (target: under 2 s for 100
  states, scaled up for longer runs; no tensor decoded).

It prints timings, ratios and each target with PASS/FAIL; the exit code is 0 unless
``--check`` is given and a target fails. The default is the full size, 100 states of
15 M float32 values: 6 GB of files and about six minutes on two CPUs (most of it the
baseline and the cold pass); ``--params 3000000`` runs in about a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MB = 10**6
SEED = 20261204
SHARES = (0.40, 0.25, 0.15, 0.10, 0.06, 0.04)  # of the parameters, per dense kernel
DEFAULT_PARAMS = 15_000_000
WARM_TARGET_S = 2.0  # for 100 states
RSS_OVERHEAD = 300 * MB


def layout(params: int) -> dict[str, tuple[int, ...]]:
    """Tensor shapes totalling about ``params`` values: kernels (n, 256) and their biases."""
    shapes: dict[str, tuple[int, ...]] = {}
    for index, share in enumerate(SHARES):
        rows = max(1, round(params * share / 256))
        shapes[f"dense_{index}/kernel"] = (rows, 256)
        shapes[f"dense_{index}/bias"] = (256,)
    return shapes


def generate(folder: Path, states: int, params: int) -> float:
    """Write the run; returns the seconds it took. w_t = w_0 + t * delta: known updates."""
    from csv_state_viewer import save_state

    rng = np.random.default_rng(SEED)
    shapes = layout(params)
    start_values = {n: rng.standard_normal(s, dtype=np.float32) * 0.05 for n, s in shapes.items()}
    deltas = {n: rng.standard_normal(s, dtype=np.float32) * 1e-4 for n, s in shapes.items()}
    started = time.perf_counter()
    for t in range(states):
        tensors: dict[str, np.ndarray] = {
            n: start_values[n] + np.float32(t) * deltas[n] for n in shapes
        }
        tensors["adam/iteration"] = np.array((t + 1) * 100, np.int64)
        save_state(folder / f"epoch_{t + 1}.npz", tensors)
    return time.perf_counter() - started


# ------------------------------------------------------------------------- children
def baseline(paths: list[str]) -> None:
    """State-major, by hand: the whole state in memory, NumPy in float64."""
    from csv_state_viewer import load_state

    previous: dict[str, np.ndarray] = {}
    for path in paths:
        current = load_state(path)
        for name, array in current.items():
            if array.dtype.kind != "f":
                continue
            w = array.astype(np.float64)
            finite = w[np.isfinite(w)]
            _ = (np.linalg.norm(finite), finite.mean(), finite.std(), np.abs(finite).max())
            _ = np.percentile(finite, (0, 7, 16, 50, 84, 93, 100))
            _ = np.histogram(finite, bins=64)
            if name in previous:
                before = previous[name].astype(np.float64)
                _ = np.linalg.norm(w - before) / np.linalg.norm(before)
        previous = current


def child(mode: str, folder: str, cache_folder: str) -> None:
    from csv_state_viewer.core.analysis.run import run_paths
    from csv_state_viewer.core.analysis.statscache import StatsCache
    from csv_state_viewer.core.analysis.timeline import compute_timeline
    from csv_state_viewer.core.state import State

    reads = 0
    original = State.read

    def counting(self: State, *args: object, **kwargs: object) -> np.ndarray:
        nonlocal reads
        reads += 1
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    State.read = counting  # type: ignore[method-assign]
    started = time.perf_counter()
    paths = run_paths([folder])
    if mode == "baseline":
        baseline(paths)
    elif mode != "imports":
        compute_timeline(paths, cache=StatsCache(cache_folder))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(), "reads": reads}))


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which belongs to this program's memory.
    (``ru_maxrss`` is not: Linux keeps it across fork and exec, so a child would report
    the parent's peak while it generated the run.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run_child(mode: str, folder: Path, cache_folder: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, str(folder), str(cache_folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------- main
def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", type=int, default=100)
    parser.add_argument("--params", type=int, default=DEFAULT_PARAMS)
    parser.add_argument("--folder", help="write the run here (default: a temporary folder)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "FOLDER", "CACHE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.params < 15_000_000:
        print(
            f"note: {args.params / MB:.1f} M values per state, smaller than the 15 M-parameter "
            "model of the default (6 GB of files for 100 states, about six minutes)"
        )
    work = Path(args.folder or tempfile.mkdtemp(prefix="bench-run-"))
    run_folder, cache_folder = work / "run", work / "cache"
    shutil.rmtree(cache_folder, ignore_errors=True)
    run_folder.mkdir(parents=True, exist_ok=True)
    try:
        shapes = layout(args.params)
        values = sum(math.prod(s) for s in shapes.values())
        largest = max(math.prod(s) for s in shapes.values()) * 4
        print(
            f"run: {args.states} states x {values:,} float32 values "
            f"({values * 4 / MB:.0f} MB each, largest tensor {largest / MB:.0f} MB), .npz"
        )
        seconds = generate(run_folder, args.states, args.params)
        print(f"generated in {seconds:.1f} s")
        imports = run_child("imports", run_folder, cache_folder)
        base = None if args.no_baseline else run_child("baseline", run_folder, cache_folder)
        cold = run_child("cold", run_folder, cache_folder)
        warm = run_child("warm", run_folder, cache_folder)
        print()
        rows: list[tuple[str, dict[str, float] | None]] = [("imports only", imports)]
        rows += [("baseline (load_state + NumPy)", base), ("cold", cold), ("warm cache", warm)]
        for label, result in rows:
            if result is None:
                continue
            print(
                f"{label:<30} {result['seconds']:8.2f} s   peak RSS "
                f"{result['peak_rss'] / MB:7.0f} MB   tensors decoded {int(result['reads']):,}"
            )
        print()
        budget = 2 * largest + RSS_OVERHEAD
        target = WARM_TARGET_S * max(args.states, 100) / 100
        checks = [
            (
                f"cold peak RSS {cold['peak_rss'] / MB:.0f} MB <= 2 x largest tensor + 300 MB "
                f"= {budget / MB:.0f} MB",
                cold["peak_rss"] <= budget,
            ),
            (
                f"warm {warm['seconds']:.2f} s < {target:.2f} s ({WARM_TARGET_S:g} s per 100 "
                f"states); {cold['seconds'] / warm['seconds']:.0f}x faster than cold",
                warm["seconds"] < target,
            ),
            (f"warm decodes no tensor ({int(warm['reads'])})", warm["reads"] == 0),
        ]
        if base is not None:
            print(
                f"cold / baseline: time {cold['seconds'] / base['seconds']:.2f}x, "
                f"peak RSS {cold['peak_rss'] / base['peak_rss']:.2f}x"
            )
            print(f"warm / baseline: time {warm['seconds'] / base['seconds']:.3f}x")
        print(f"warm / cold: time {warm['seconds'] / cold['seconds']:.3f}x")
        for text, ok in checks:
            print(f"{verdict(ok)}  {text}")
        failed = not all(ok for _, ok in checks)
    finally:
        if not args.folder:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
