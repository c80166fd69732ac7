"""Benchmark csv_state_viewer's core against "the recipe" users copy to read and write states.

A plain script, not a pytest test::

    python tests/benchmarks/bench_core.py [--params N] [--repeat R] [--json OUT] [--check]

It generates a deterministic float32 state shaped like a mid-size CNN with Adam slots,
writes and reads it with the recipe (``csv`` + ``json`` + ``map(str/float)`` or ``base64``)
and with the library, and prints timings (median of ``--repeat`` runs), ratios, file sizes,
peak RSS of a full load (measured in child processes), the conversion of the base64 file
to safetensors and back beside a raw copy of the same bytes, and each target with PASS/FAIL.
The exit code is 0 unless ``--check`` is given and a target fails.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import csv_state_viewer
from csv_state_viewer.core.csv import nativeparse
from csv_state_viewer.core.writeback import early_writeback

MB = 10**6
SEED = 20240601
CONV_SHARE = 0.55  # part of the parameter budget spent on conv layers; dense layers fill the rest
CLASSES = 10
Tensors = dict[str, np.ndarray]
_BN_KINDS = ("gamma", "beta", "moving_mean", "moving_variance")

# --------------------------------------------------------------------------- the recipe


def recipe_write_text(path: Path, tensors: Tensors) -> None:
    """The recipe's text writer: decimal values joined by commas."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for name, w in tensors.items():
            data = ",".join(map(str, w.flatten()))
            metadata = json.dumps({"shape": list(w.shape), "dtype": str(w.dtype)})
            writer.writerow([name, data, metadata])


def recipe_write_base64(path: Path, tensors: Tensors) -> None:
    """The recipe's base64 writer: raw bytes, base64-encoded."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["tensor_name", "tensor_data", "tensor_metadata"])
        for name, w in tensors.items():
            data = base64.b64encode(w.flatten().tobytes()).decode("utf-8")
            metadata = json.dumps({"shape": list(w.shape), "dtype": str(w.dtype)})
            writer.writerow([name, data, metadata])


def recipe_load_text(path: Path) -> Tensors:
    """The recipe's text loader (with the field size limit raised so it runs at all)."""
    csv.field_size_limit(sys.maxsize)
    out: Tensors = {}
    with open(path, newline="") as file:
        reader = csv.reader(file)
        next(reader)
        for name, data_string, m in reader:
            metadata = json.loads(m)
            data = np.array(list(map(float, data_string.split(","))))
            out[name] = data.reshape(metadata["shape"]).astype(metadata["dtype"])
    return out


def recipe_load_base64(path: Path) -> Tensors:
    """The recipe's base64 loader."""
    csv.field_size_limit(sys.maxsize)
    out: Tensors = {}
    with open(path, newline="") as file:
        reader = csv.reader(file)
        next(reader)
        for name, data_string, m in reader:
            metadata = json.loads(m)
            raw = base64.b64decode(data_string)
            out[name] = np.frombuffer(raw, dtype=metadata["dtype"]).reshape(metadata["shape"])
    return out


# ---------------------------------------------------------------------- the library


def ours_write_text(path: Path, tensors: Tensors) -> None:
    csv_state_viewer.save_state(path, tensors, encoding="text")


def ours_write_base64(path: Path, tensors: Tensors) -> None:
    csv_state_viewer.save_state(path, tensors, encoding="base64")


def ours_load(path: Path) -> Tensors:
    return csv_state_viewer.load_state(path)


def ours_load_pure(path: Path) -> Tensors:
    """load_state with the optional C text accelerator turned off (CSV_STATE_PURE_PYTHON)."""
    os.environ["CSV_STATE_PURE_PYTHON"] = "1"
    nativeparse.library.cache_clear()
    try:
        return csv_state_viewer.load_state(path)
    finally:
        del os.environ["CSV_STATE_PURE_PYTHON"]
        nativeparse.library.cache_clear()


def ours_convert(source: Path, destination: Path, encoding: str = "text") -> int:
    """What ``csv-state convert`` does: open lazily, stream every tensor to the destination."""
    with csv_state_viewer.open_state(source) as state:
        return csv_state_viewer.save_state(destination, state, encoding)


def conversion_figures(
    tensors: Tensors, paths: dict[str, Path], folder: Path, repeat: int
) -> dict[str, Any]:
    """CSV base64 -> safetensors and back, each beside a raw copy of the same bytes."""
    base64_csv = paths["ours_b64"]
    safetensors = folder / "state.safetensors"
    back = folder / "back.csv"
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("csv_base64_to_safetensors", lambda: ours_convert(base64_csv, safetensors)),
        ("copy_csv_base64", lambda: shutil.copyfile(base64_csv, folder / "copy.csv")),
        ("safetensors_to_csv_base64", lambda: ours_convert(safetensors, back, "base64")),
        ("copy_safetensors", lambda: shutil.copyfile(safetensors, folder / "copy.st")),
    ]
    figures: dict[str, Any] = {}
    for key, fn in jobs:
        print(f"  timing {key} ...", file=sys.stderr, flush=True)
        figures[key] = measure(fn, repeat)[0].median
    figures["safetensors_bytes"] = safetensors.stat().st_size
    with csv_state_viewer.open_state(safetensors) as state:
        figures["bit_exact"] = same_bits(tensors, state.read_all()) and same_bits(
            tensors, ours_load(back)
        )
    return figures


def conversion_targets(conv: dict[str, Any]) -> list[Target]:
    ok = bool(conv["bit_exact"])
    return [
        Target(
            "CSV base64 -> safetensors -> CSV base64, bit-exact",
            "identical" if ok else "DIFFERENT",
            "identical",
            ok,
        )
    ]


def ours_open_index(path: Path) -> int:
    """Open lazily (index only, nothing decoded); returns the number of entries."""
    with csv_state_viewer.open_state(path) as state:
        return len(state.entries)


# ------------------------------------------------------------------- the test state


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    kind: str  # kernel, bias, gamma, beta, moving_mean, moving_variance
    fan_in: int = 1

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def trainable(self) -> bool:
        return not self.kind.startswith("moving_")


def _suffix(index: int) -> str:
    return f"_{index}" if index else ""


def conv_channels(width: int) -> list[tuple[int, int]]:
    """(in, out) channels of eight 3x3 conv layers in four stages of doubling width."""
    outs = [width * mult for mult in (1, 1, 2, 2, 4, 4, 8, 8)]
    return list(zip([3, *outs[:-1]], outs, strict=True))


def conv_variables(width: int) -> list[Variable]:
    """Conv kernels with biases, each followed by a BatchNorm layer."""
    out: list[Variable] = []
    for i, (cin, cout) in enumerate(conv_channels(width)):
        conv, bn = f"conv2d{_suffix(i)}", f"batch_normalization{_suffix(i)}"
        out += [
            Variable(f"{conv}/kernel", (3, 3, cin, cout), "kernel", 9 * cin),
            Variable(f"{conv}/bias", (cout,), "bias"),
        ]
        out += [Variable(f"{bn}/{kind}", (cout,), kind) for kind in _BN_KINDS]
    return out


def dense_variables(flat: int, hidden: int) -> list[Variable]:
    """Two large dense layers (flatten -> hidden -> hidden) and a small classifier."""
    dims = [(flat, hidden), (hidden, hidden), (hidden, CLASSES)]
    out: list[Variable] = []
    for i, (fan_in, units) in enumerate(dims):
        layer = f"dense{_suffix(i)}"
        out += [
            Variable(f"{layer}/kernel", (fan_in, units), "kernel", fan_in),
            Variable(f"{layer}/bias", (units,), "bias"),
        ]
    return out


def count_with_slots(variables: list[Variable]) -> int:
    """Values stored for these variables: each one, plus Adam m and v for trainable ones."""
    return sum(v.size * (3 if v.trainable else 1) for v in variables)


def model_variables(target: int) -> list[Variable]:
    """A CNN whose variables plus Adam slots (and ``iteration``) come close to ``target``."""
    width = 1
    while count_with_slots(conv_variables(width + 1)) <= CONV_SHARE * target:
        width += 1
    convs = conv_variables(width)
    flat = 4 * 4 * conv_channels(width)[-1][1]  # 4x4 feature map after the last stage
    remaining = target - 1 - count_with_slots(convs)
    # 3 * (h*h + (flat + CLASSES + 2) * h + CLASSES) == remaining, solved for h
    b = flat + CLASSES + 2
    guess = (-b + math.sqrt(b * b + 4 * max(remaining / 3 - CLASSES, 0))) / 2
    candidates = {max(1, math.floor(guess)), max(1, math.ceil(guess))}
    hidden = min(
        candidates,
        key=lambda h: abs(count_with_slots(dense_variables(flat, h)) - remaining),
    )
    return convs + dense_variables(flat, hidden)


def initial_values(rng: np.random.Generator, var: Variable) -> np.ndarray:
    """Realistic magnitudes: He-normal kernels, small biases, BatchNorm statistics."""
    normal = rng.standard_normal(var.shape, dtype=np.float32)
    if var.kind == "kernel":
        return normal * np.float32(math.sqrt(2.0 / var.fan_in))
    if var.kind == "gamma":
        return np.float32(1.0) + np.float32(0.1) * normal
    if var.kind == "moving_variance":
        return np.asarray(np.exp(np.float32(0.3) * normal), dtype=np.float32)
    return np.float32(0.05) * normal  # bias, beta, moving_mean


def adam_slots(rng: np.random.Generator, var: Variable) -> tuple[np.ndarray, np.ndarray]:
    """First moments around 1e-4 and (positive) second moments around 1e-8."""
    grad_scale = np.float32(1e-4)
    m = rng.standard_normal(var.shape, dtype=np.float32) * grad_scale
    v = np.square(rng.standard_normal(var.shape, dtype=np.float32) * grad_scale)
    return m, v + np.float32(1e-12)


def make_state(target: int, seed: int = SEED) -> Tensors:
    """The deterministic float32 state (plus an int64 ``iteration``) of about ``target`` values."""
    rng = np.random.default_rng(seed)
    variables = model_variables(target)
    tensors: Tensors = {v.name: initial_values(rng, v) for v in variables}
    tensors["iteration"] = np.array(12345, dtype=np.int64)
    for var in variables:
        if var.trainable:
            m, v = adam_slots(rng, var)
            tensors[f"optimizer/adam/m/{var.name}"] = m
            tensors[f"optimizer/adam/v/{var.name}"] = v
    return tensors


# ------------------------------------------------------------------------- measuring


@dataclass
class Timing:
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def measure(fn: Callable[[], Any], repeat: int) -> tuple[Timing, Any]:
    """Run ``fn`` ``repeat`` times; the timings and the last result.

    Each run starts with the disk idle (``os.sync()``, not timed): otherwise a write that
    fsyncs also waits for the data an earlier run (the recipe's, which never fsyncs) left
    in memory, and its time depends on what ran before it.
    """
    runs: list[float] = []
    result: Any = None
    for _ in range(repeat):
        result = None  # let the previous result go before the next run
        os.sync()
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return Timing(runs), result


def same_bits(expected: Tensors, actual: Tensors) -> bool:
    """Same names in the same order, same dtypes and shapes, byte-identical data."""
    if list(expected) != list(actual):
        return False
    return all(
        a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        for a, b in ((expected[name], actual[name]) for name in expected)
    )


_RSS_CHILD = """
import importlib.util, json, resource, sys
import numpy as np
import csv_state_viewer
from csv_state_viewer.core.csv import nativeparse
spec = importlib.util.spec_from_file_location("bench_core", sys.argv[1])
bench = sys.modules["bench_core"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
load = csv_state_viewer.load_state if sys.argv[2] == "ours" else bench.recipe_load_text
tensors = load(sys.argv[3])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
decoded = sum(a.nbytes for a in tensors.values())
with open("/proc/self/status") as status:  # cross-check: this address space's high-water mark
    hwm = next((int(l.split()[1]) for l in status if l.startswith("VmHWM:")), -1)
figures = {"baseline_kib": baseline, "peak_kib": peak, "vmhwm_kib": hwm, "decoded_bytes": decoded}
print(json.dumps(figures))
"""


# Linux carries the RSS high-water mark of the old address space over execve, and
# subprocess spawns with vfork, so a child started directly by this (large) process would
# report this process's peak as its ru_maxrss. A small intermediate process avoids that.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def peak_rss(loader: str, path: Path) -> dict[str, int]:
    """Peak and after-import RSS (KiB, ru_maxrss) of a child that fully loads ``path``."""
    child = [sys.executable, "-c", _RSS_CHILD, str(Path(__file__).resolve()), loader, str(path)]
    command = [sys.executable, "-c", _LAUNCHER, *child]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"RSS child ({loader}) failed:\n{done.stderr}")
    figures: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# ------------------------------------------------------------------- the matrix file

MATRIX_BYTES = 100 * MB
MATRIX_COLUMNS = 2000


def write_matrix_file(path: Path, target_bytes: int = MATRIX_BYTES) -> np.ndarray:
    """An np.savetxt-style comma-separated float32 matrix (``%.9g``) of about ``target_bytes``."""
    rows = max(1, target_bytes // (13 * MATRIX_COLUMNS))  # %.9g of N(0, 0.05): ~13 bytes
    rng = np.random.default_rng(SEED + 1)
    matrix = (rng.standard_normal((rows, MATRIX_COLUMNS)) * 0.05).astype(np.float32)
    np.savetxt(path, matrix, fmt="%.9g", delimiter=",")
    return matrix


def matrix_figures(path: Path, matrix: np.ndarray, repeat: int) -> dict[str, float]:
    """Times of the matrix layout: index (open_state), decode (state.read on an open
    state: the read rate) and load_state (both); and whether the float32 bits came back."""
    index, _ = measure(lambda: ours_open_index(path), repeat)
    with csv_state_viewer.open_state(path) as state:
        (entry,) = state.entries
        decode, array = measure(lambda: state.read(entry), repeat)
    load, _ = measure(lambda: csv_state_viewer.load_state(path), repeat)
    size = path.stat().st_size
    return {
        "bytes": size,
        "index_s": index.median,
        "read_s": decode.median,
        "load_s": load.median,
        "read_mb_s": size / MB / decode.median,
        "load_mb_s": size / MB / load.median,
        "bit_exact": float(array.dtype == matrix.dtype and array.tobytes() == matrix.tobytes()),
    }


def matrix_targets(matrix: dict[str, float]) -> list[Target]:
    index, rate, text_rate = matrix["index_s"], matrix["read_mb_s"], matrix["text_read_mb_s"]
    return [
        Target("matrix file: open_state index", f"{index:.3f} s", "< 0.5 s", index < 0.5),
        Target(
            "matrix file: read rate / CSV text read rate (same run)",
            f"{rate:.0f} / {text_rate:.0f} MB/s = {rate / text_rate:.2f}",
            ">= 0.5",
            rate >= 0.5 * text_rate,
        ),
        Target(
            "matrix file: float32 values bit-exact",
            "identical" if matrix["bit_exact"] else "DIFFERENT",
            "identical",
            bool(matrix["bit_exact"]),
        ),
    ]


# -------------------------------------------------------------------------- the run


@dataclass
class Target:
    name: str
    measured: str
    goal: str
    passed: bool


@dataclass
class Report:
    machine: dict[str, Any]
    state: dict[str, Any]
    files: dict[str, int]
    timings: dict[str, list[float]]
    medians: dict[str, float]
    ratios: dict[str, float]
    rss: dict[str, dict[str, int]]
    targets: list[Target]
    matrix: dict[str, float]
    conversions: dict[str, Any]


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "csv_state_viewer": csv_state_viewer.__version__,
        "text_accelerator": nativeparse.library() is not None,
    }


def state_info(tensors: Tensors) -> dict[str, Any]:
    return {
        "tensors": len(tensors),
        "values": int(sum(a.size for a in tensors.values())),
        "decoded_bytes": int(sum(a.nbytes for a in tensors.values())),
        "largest_tensor_values": int(max(a.size for a in tensors.values())),
    }


_FLOOR_BLOCK = bytes(8 << 20)


def floor_write(folder: Path, size: int) -> None:
    """The physical floor of a durable write: as many bytes, written from one reused
    buffer and sent to disk as they go, then fsynced, as ours are (no formatting)."""
    target = folder / "floor.bin"
    with open(target, "wb") as handle, early_writeback(handle.fileno()):
        for start in range(0, size, len(_FLOOR_BLOCK)):
            handle.write(memoryview(_FLOOR_BLOCK)[: min(len(_FLOOR_BLOCK), size - start)])
        handle.flush()
        os.fsync(handle.fileno())
    target.unlink()


def floor_read(path: Path) -> int:
    """The floor of a read: the file's bytes into memory (page cache warm, as ours are)."""
    return len(path.read_bytes())


def floor_base64_read(path: Path, encoded: bytes) -> int:
    """The floor of a base64 read: the file read, then one decode of as much base64."""
    floor_read(path)
    return len(binascii.a2b_base64(encoded))


def floor_memcpy(tensors: Tensors) -> None:
    for array in tensors.values():
        np.copy(array)


def floor_timings(tensors: Tensors, paths: dict[str, Path], repeat: int) -> dict[str, Timing]:
    """The machine's floors for each operation, measured in the same run."""
    folder = paths["ours_text"].parent
    raw = b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values())
    encoded = base64.b64encode(raw)
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("floor_write_text", lambda: floor_write(folder, paths["ours_text"].stat().st_size)),
        ("floor_write_base64", lambda: floor_write(folder, paths["ours_b64"].stat().st_size)),
        ("floor_read_text", lambda: floor_read(paths["recipe_text"])),
        ("floor_read_base64", lambda: floor_base64_read(paths["recipe_b64"], encoded)),
        ("floor_memcpy", lambda: floor_memcpy(tensors)),
    ]
    timings: dict[str, Timing] = {}
    for key, fn in jobs:
        print(f"  timing {key} ...", file=sys.stderr, flush=True)
        timings[key], _ = measure(fn, repeat)
    return timings


def run_timings(tensors: Tensors, paths: dict[str, Path], repeat: int) -> dict[str, Timing]:
    """Every timed operation, in an order where each reads a file already written."""
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("write_text_recipe", lambda: recipe_write_text(paths["recipe_text"], tensors)),
        ("write_text_ours", lambda: ours_write_text(paths["ours_text"], tensors)),
        ("write_base64_recipe", lambda: recipe_write_base64(paths["recipe_b64"], tensors)),
        ("write_base64_ours", lambda: ours_write_base64(paths["ours_b64"], tensors)),
        ("read_text_recipe", lambda: recipe_load_text(paths["recipe_text"])),
        ("read_text_ours_on_recipe_file", lambda: ours_load(paths["recipe_text"])),
        ("read_text_ours_on_own_file", lambda: ours_load(paths["ours_text"])),
        ("read_text_ours_pure_python", lambda: ours_load_pure(paths["recipe_text"])),
        ("read_base64_recipe", lambda: recipe_load_base64(paths["recipe_b64"])),
        ("read_base64_ours_on_recipe_file", lambda: ours_load(paths["recipe_b64"])),
        ("open_index_text_ours", lambda: ours_open_index(paths["recipe_text"])),
    ]
    timings: dict[str, Timing] = {}
    for key, fn in jobs:
        print(f"  timing {key} ...", file=sys.stderr, flush=True)
        timings[key], _ = measure(fn, repeat)
    return timings


def round_trip_checks(tensors: Tensors, paths: dict[str, Path]) -> dict[str, bool]:
    """Bit-exact comparisons of what load_state returns with the original arrays."""
    return {
        "ours_text": same_bits(tensors, ours_load(paths["ours_text"])),
        "recipe_text": same_bits(tensors, ours_load(paths["recipe_text"])),
        "recipe_base64": same_bits(tensors, ours_load(paths["recipe_b64"])),
        "ours_base64": same_bits(tensors, ours_load(paths["ours_b64"])),
        "special values, text": special_values_round_trip(paths["ours_text"].parent, "text"),
        "special values, base64": special_values_round_trip(paths["ours_b64"].parent, "base64"),
    }


def special_values() -> Tensors:
    """NaN (with payloads), +-inf, -0.0, subnormals and the extremes of each float type,
    beside random values, in float64, float32, float16 and bfloat16."""
    import ml_dtypes

    rng = np.random.default_rng(SEED)
    out: Tensors = {}
    for dtype in (np.float64, np.float32, np.float16, ml_dtypes.bfloat16):
        info = ml_dtypes.finfo(dtype)
        tiny_sub = info.smallest_subnormal
        extremes = [info.max, info.min, info.smallest_normal, tiny_sub, -tiny_sub]
        fixed = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, *extremes], dtype=dtype)
        random = (rng.standard_normal(100_000) * 10.0 ** rng.integers(-5, 5, 100_000)).astype(dtype)
        out[f"special/{np.dtype(dtype).name}"] = np.concatenate([fixed, random])
    return out


def special_values_round_trip(folder: Path, encoding: str) -> bool:
    """save_state then load_state of :func:`special_values`, bit for bit (NaN as NaN)."""
    path = folder / f"special_{encoding}.csv"
    expected = special_values()
    csv_state_viewer.save_state(path, expected, encoding=encoding)
    got = ours_load(path)
    path.unlink()
    if list(got) != list(expected):
        return False
    for name, array in expected.items():
        back = got[name]
        if back.dtype != array.dtype or back.shape != array.shape:
            return False
        nan = np.isnan(array.astype(np.float64))
        if not np.array_equal(nan, np.isnan(back.astype(np.float64))):
            return False
        if array[~nan].tobytes() != back[~nan].tobytes():
            return False
    return True


def ratio(timings: dict[str, Timing], recipe: str, ours: str) -> float:
    return timings[recipe].median / timings[ours].median


def rss_target(rss: dict[str, int]) -> Target:
    peak = rss["peak_kib"] * 1024
    limit = 1.5 * rss["decoded_bytes"] + 200 * MB
    return Target(
        "peak RSS of load_state (text)",
        f"{peak / MB:.0f} MB",
        f"<= 1.5 x decoded + 200 MB = {limit / MB:.0f} MB",
        peak <= limit,
    )


def evaluate(
    ratios: dict[str, float], open_share: float, rss: dict[str, int], checks: dict[str, bool]
) -> list[Target]:
    def speed(name: str, key: str, goal: float) -> Target:
        value = ratios[key]
        return Target(name, f"{value:.1f}x", f">= {goal:g}x", value >= goal)

    return [
        speed("text write, recipe / ours", "write_text", 20),
        speed("text read, recipe / ours (recipe file)", "read_text", 25),
        speed("base64 write, recipe / ours", "write_base64", 10),
        speed("base64 read, recipe / ours (recipe file)", "read_base64", 6),
        Target(
            "open_state index / recipe text load",
            f"{open_share:.2%}",
            "<= 2%",
            open_share <= 0.02,
        ),
        rss_target(rss),
    ] + [
        Target(
            f"bit-exact round trip ({name}, written then read by load_state)",
            "identical" if same else "DIFFERENT",
            "identical",
            same,
        )
        for name, same in checks.items()
    ]


def run(params: int, repeat: int) -> Report:
    print(f"generating a state of about {params:,} values ...", file=sys.stderr, flush=True)
    tensors = make_state(params)
    with tempfile.TemporaryDirectory(prefix="bench_core_") as tmp:
        paths = {
            key: Path(tmp, f"{key}.csv")
            for key in ("recipe_text", "ours_text", "recipe_b64", "ours_b64")
        }
        timings = run_timings(tensors, paths, repeat)
        timings |= floor_timings(tensors, paths, repeat)
        print("  checking round trips ...", file=sys.stderr, flush=True)
        checks = round_trip_checks(tensors, paths)
        print("  measuring peak RSS in child processes ...", file=sys.stderr, flush=True)
        rss = {
            "ours_text": peak_rss("ours", paths["ours_text"]),
            "recipe_text": peak_rss("recipe", paths["recipe_text"]),
        }
        files = {key: path.stat().st_size for key, path in paths.items()}
        print("  timing the matrix file (np.savetxt layout) ...", file=sys.stderr, flush=True)
        matrix_path = Path(tmp, "matrix.csv")
        matrix = matrix_figures(matrix_path, write_matrix_file(matrix_path), repeat)
        conversions = conversion_figures(tensors, paths, Path(tmp), repeat)
    text_read = timings["read_text_ours_on_recipe_file"].median
    matrix["text_read_mb_s"] = files["recipe_text"] / MB / text_read
    ratios = {
        "write_text": ratio(timings, "write_text_recipe", "write_text_ours"),
        "write_base64": ratio(timings, "write_base64_recipe", "write_base64_ours"),
        "read_text": ratio(timings, "read_text_recipe", "read_text_ours_on_recipe_file"),
        "read_text_own_file": ratio(timings, "read_text_recipe", "read_text_ours_on_own_file"),
        "read_text_pure_python": ratio(timings, "read_text_recipe", "read_text_ours_pure_python"),
        "read_base64": ratio(timings, "read_base64_recipe", "read_base64_ours_on_recipe_file"),
    }
    open_share = timings["open_index_text_ours"].median / timings["read_text_recipe"].median
    ratios["open_index_share_of_recipe_text_load"] = open_share
    state = state_info(tensors) | {"target_params": params, "repeat": repeat}
    state["round_trips_bit_exact"] = checks
    return Report(
        machine=machine_info(),
        state=state,
        files=files,
        timings={key: t.runs for key, t in timings.items()},
        medians={key: t.median for key, t in timings.items()},
        ratios=ratios,
        rss=rss,
        targets=evaluate(ratios, open_share, rss["ours_text"], checks)
        + matrix_targets(matrix)
        + conversion_targets(conversions),
        matrix=matrix,
        conversions=conversions,
    )


# -------------------------------------------------------------------------- printing

_ROWS = [  # (label, recipe, ours, the floor measured beside it)
    ("text write", "write_text_recipe", "write_text_ours", "floor_write_text"),
    (
        "text read (recipe file)",
        "read_text_recipe",
        "read_text_ours_on_recipe_file",
        "floor_read_text",
    ),
    ("text read (own file)", "read_text_recipe", "read_text_ours_on_own_file", "floor_read_text"),
    (
        "text read, no accelerator",
        "read_text_recipe",
        "read_text_ours_pure_python",
        "floor_read_text",
    ),
    ("base64 write", "write_base64_recipe", "write_base64_ours", "floor_write_base64"),
    (
        "base64 read (recipe file)",
        "read_base64_recipe",
        "read_base64_ours_on_recipe_file",
        "floor_read_base64",
    ),
    ("open_state index (text)", "read_text_recipe", "open_index_text_ours", ""),
]
FLOORS = (
    "floors: write = as many bytes written from one buffer, sent to disk as they are written, "
    "and fsynced; read = the file read into memory; "
    "base64 read = that plus one binascii decode of as much base64; "
    "memcpy of the decoded tensors {memcpy:.3f} s"
)


def print_header(report: Report) -> None:
    m, s = report.machine, report.state
    print(f"machine: {m['cpu_count']} CPUs ({m['cpus_usable']} usable), {m['platform']}")
    print(f"python {m['python']}, numpy {m['numpy']}, csv_state_viewer {m['csv_state_viewer']}")
    accelerator = "built and used" if m["text_accelerator"] else "NOT built (pure-Python path)"
    print(f"text accelerator: {accelerator}")
    print(
        f"state: {s['tensors']} tensors, {s['values']:,} values "
        f"(target {s['target_params']:,}), {s['decoded_bytes'] / MB:.1f} MB decoded, "
        f"largest tensor {s['largest_tensor_values']:,} values"
    )
    f = report.files
    print(
        "files: "
        f"recipe text {f['recipe_text'] / MB:.1f} MB, ours text {f['ours_text'] / MB:.1f} MB, "
        f"recipe base64 {f['recipe_b64'] / MB:.1f} MB, ours base64 {f['ours_b64'] / MB:.1f} MB"
    )
    print(f"timings: median of {s['repeat']} run(s), seconds")


def print_table(report: Report) -> None:
    med = report.medians
    print()
    print(
        f"{'operation':<28}{'recipe s':>11}{'ours s':>11}{'recipe/ours':>13}"
        f"{'floor s':>10}{'ours/floor':>12}"
    )
    print("-" * 85)
    for label, recipe, ours, floor in _ROWS:
        note = " (recipe = full text load)" if ours == "open_index_text_ours" else ""
        factor = med[recipe] / med[ours]
        line = f"{label:<28}{med[recipe]:>11.3f}{med[ours]:>11.3f}{factor:>12.1f}x"
        if floor:
            line += f"{med[floor]:>10.3f}{med[ours] / med[floor]:>11.1f}x"
        print(line + note)
    print(FLOORS.format(memcpy=med["floor_memcpy"]))


def print_rss(report: Report) -> None:
    print()
    print("peak RSS of a full text load in a child process (ru_maxrss):")
    for key, label in (("ours_text", "load_state"), ("recipe_text", "recipe loader")):
        r = report.rss[key]
        peak, base, hwm = (r[key] * 1024 / MB for key in ("peak_kib", "baseline_kib", "vmhwm_kib"))
        print(
            f"  {label:<14} peak {peak:8.1f} MB, after imports {base:7.1f} MB, "
            f"peak / decoded {peak * MB / r['decoded_bytes']:.2f} (VmHWM {hwm:.1f} MB)"
        )


def print_matrix(report: Report) -> None:
    m = report.matrix
    print()
    print(f"matrix file (np.savetxt %.9g, comma, float32), {m['bytes'] / MB:.1f} MB:")
    print(
        f"  open_state index {m['index_s']:.3f} s, read (decode) {m['read_s']:.3f} s, "
        f"load_state (index + decode) {m['load_s']:.3f} s"
    )
    print(
        f"  read rate {m['read_mb_s']:.0f} MB/s (load_state {m['load_mb_s']:.0f} MB/s) vs CSV "
        f"text read rate {m['text_read_mb_s']:.0f} MB/s (load_state, recipe file, same run)"
    )


def print_conversions(report: Report) -> None:
    c = report.conversions
    size = c["safetensors_bytes"] / MB
    print()
    print(f"conversions of the base64 CSV ({report.files['ours_b64'] / MB:.1f} MB) and back:")
    for label, key, copy in (
        ("CSV base64 -> safetensors", "csv_base64_to_safetensors", "copy_csv_base64"),
        (
            f"safetensors ({size:.1f} MB) -> CSV base64",
            "safetensors_to_csv_base64",
            "copy_safetensors",
        ),
    ):
        print(
            f"  {label:<38}{c[key]:8.3f} s; copying the source file {c[copy]:.3f} s "
            f"({c[key] / c[copy]:.1f}x the copy)"
        )


def print_targets(report: Report) -> None:
    print()
    print("round trips through load_state, bit-exact vs the original arrays:")
    for key, ok in report.state["round_trips_bit_exact"].items():
        print(f"  {key:<14} {'PASS' if ok else 'FAIL'}")
    print()
    print("targets:")
    for t in report.targets:
        verdict = "PASS" if t.passed else "FAIL"
        print(f"  [{verdict}] {t.name}: {t.measured} (target {t.goal})")


def write_json(report: Report, out: Path) -> None:
    out.write_text(json.dumps(asdict(report), indent=2) + "\n")


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=15_000_000, help="values in the state")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    if args.params < 1000 or args.repeat < 1:
        parser.error("--params must be >= 1000 and --repeat >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = run(args.params, args.repeat)
    print_header(report)
    print_table(report)
    print_rss(report)
    print_matrix(report)
    print_conversions(report)
    print_targets(report)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.1f} s")
    if args.json is not None:
        write_json(report, args.json)
        print(f"figures written to {args.json}")
    failed = [t for t in report.targets if not t.passed]
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
