"""Benchmark the project on a ~10 GB text state. A plain script, not a pytest test::

    python tests/benchmarks/bench_big.py [--gigabytes 10] [--folder DIR] [--keep] [--check]
                                         [--json OUT]

It writes a text CSV state of ``--gigabytes`` GB in the recipe's layout (header
``tensor_name,tensor_data,tensor_metadata``, comma-joined decimal float32 values in a
quoted field, JSON metadata), shaped like a LLaMA-7B-style language model cut to size: a
32000x4096 embedding, decoder layers of 4096x4096 attention and 4096x11008 / 11008x4096
MLP kernels with their norm vectors, an untied 4096x32000 output kernel and a few
optimizer scalars (smaller sizes use the same shapes scaled down). Each distinct block of
values is formatted once by ``save_state`` and its bytes copied into every row that uses it
under another name and metadata, so generating 10 GB takes under a minute and little
memory. The largest tensor is stated; one tensor is read back to check the file.

Then each of these runs in its own child process (started through a small intermediate
process, so its peak RSS is its own), timed, with its peak RSS:

* ``csv-state -q info BIG.csv``: target < 2 s;
* ``csv-state -q validate BIG.csv``;
* ``csv-state -q convert BIG.csv`` to a base64 CSV, to ``.npz`` and to ``.safetensors``;
* ``csv-state -q diff BIG.csv`` with the base64 copy (identical states: exit 0);
* the viewer (offscreen Qt, settings and caches in the work folder): from
  ``open_file`` to the tree shown (target < 2 s) and the longest event-loop stall while
  the file opens (a 10 ms QTimer heartbeat; target < 50 ms); then, for information, the
  decode of the largest tensor until its histogram is drawn, and the stalls meanwhile.

validate, convert and diff must stream: peak RSS <= 3 x the largest tensor (float32
bytes) + 300 MB. The same commands run on a ~15.7 M-value state of the same kind
(~200 MB), and the throughput (MB/s of the source file) of each is compared.

Disk: the text state, its base64 copy (~0.42 x its size) and one of the .npz /
.safetensors copies (~0.32 x) at a time, ~20 GB for the default 10 GB, plus a margin;
when the free space of the folder is short, the size is scaled down (and said so).
Time: about 3 minutes for 10 GB on two CPUs, most of it the conversions and the diff
(the file is read from the page cache where memory allows: a cold disk is slower).
The work folder (default: a new temporary folder) is removed at the end unless
``--keep``. The exit code is 0 unless ``--check`` is given and a target fails.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GB = 10**9
MB = 10**6
SEED = 20261204
SMALL_VALUES = 15_700_000  # the reference case the throughput is compared with
BYTES_PER_VALUE = 12.6  # text of N(0, 0.02) float32 values with their commas (measured)
RSS_OVERHEAD = 300 * MB
MARGIN = 2 * GB  # disk left free whatever happens
TARGETS = {"info_s": 2.0, "tree_shown_s": 2.0, "stall_ms": 50.0}
HEADER = b"tensor_name,tensor_data,tensor_metadata\n"
STREAMING = ("validate", "convert base64", "convert npz", "convert safetensors", "diff")

# A fresh, small Python runs each measured command: its RUSAGE_CHILDREN peak RSS is the
# command's own (Linux carries a process's peak over fork and exec, so a child of this
# big process would report this one's). It also samples the command's resident memory,
# anonymous (heap) apart from file-backed (mapped file pages).
WRAPPER = r"""
import json, resource, subprocess, sys, threading, time
out, command = sys.argv[1], sys.argv[2:]
peaks = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
start = time.perf_counter()
process = subprocess.Popen(command)
done = threading.Event()
def sample():
    while not done.is_set():
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    key, _, rest = line.partition(":")
                    if key in peaks:
                        peaks[key] = max(peaks[key], int(rest.split()[0]) * 1024)
        except (OSError, ValueError):
            pass
        done.wait(0.02)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
code = process.wait()
seconds = time.perf_counter() - start
done.set()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as file:
    json.dump({"seconds": seconds, "returncode": code, "peak_rss": usage.ru_maxrss * 1024,
               "peak_anon": peaks["RssAnon"], "peak_file": peaks["RssFile"],
               "cpu_s": usage.ru_utime + usage.ru_stime}, file)
"""


# ------------------------------------------------------------------------ the state
@dataclass
class Block:
    """The decimal text of one array's values, formatted once, in a file of its own."""

    path: Path
    offset: int
    length: int
    crc32: str
    shape: tuple[int, ...]


@dataclass
class Row:
    name: str
    block: str
    shape: tuple[int, ...]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    hidden: int
    ffn: int
    vocab: int
    rows: list[Row]
    text_bytes: int
    values: int
    largest: Row


def csv_field(text: str) -> bytes:
    """A field quoted as ``csv.writer`` quotes it (only when needed, quotes doubled)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([text])
    return buffer.getvalue().removesuffix("\r\n").encode("utf-8")


def metadata_field(row: Row, blocks: dict[str, Block]) -> bytes:
    # the keys and their order as save_state writes them, then extra keys
    meta = {"shape": list(row.shape), "dtype": "float32", "encoding": "text"}
    meta |= {"crc32": blocks[row.block].crc32} | row.extra
    return csv_field(json.dumps(meta, ensure_ascii=False))


def row_bytes(row: Row, blocks: dict[str, Block]) -> int:
    field_bytes = blocks[row.block].length
    return len(csv_field(row.name)) + 1 + field_bytes + 1 + len(metadata_field(row, blocks)) + 1


def dims(hidden: int) -> tuple[int, int]:
    """The MLP width and the vocabulary of a model of this width (LLaMA-7B's ratios)."""
    return hidden * 11008 // 4096, hidden * 32000 // 4096


def layer_rows(index: int, hidden: int) -> list[Row]:
    ffn, _ = dims(hidden)
    prefix = f"model/layers.{index}"
    extra = {"layer": index}
    rows = [Row(f"{prefix}/input_layernorm/weight", "norm", (hidden,), extra)]
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
        rows.append(Row(f"{prefix}/self_attn/{proj}/kernel", "square", (hidden, hidden), extra))
    rows.append(Row(f"{prefix}/post_attention_layernorm/weight", "norm", (hidden,), extra))
    rows.append(Row(f"{prefix}/mlp/gate_proj/kernel", "wide", (hidden, ffn), extra))
    rows.append(Row(f"{prefix}/mlp/up_proj/kernel", "wide", (hidden, ffn), extra))
    # the same values as gate/up read in another shape: a C-order reshape keeps the bytes,
    # so the text and its CRC32 are the same
    rows.append(Row(f"{prefix}/mlp/down_proj/kernel", "wide", (ffn, hidden), extra))
    return rows


def choose_hidden(values: float) -> int:
    """The widest model whose embedding, output kernel and one layer fit ``values``."""
    for hidden in (4096, 2048, 1024, 512, 256):
        ffn, vocab = dims(hidden)
        if 2 * vocab * hidden + 4 * hidden * hidden + 3 * hidden * ffn <= values:
            return hidden
    return 128


def block_arrays(hidden: int) -> dict[str, Any]:
    """Deterministic values of each distinct block (created one at a time, on demand)."""
    ffn, vocab = dims(hidden)
    shapes = {"embed": (vocab, hidden), "square": (hidden, hidden), "wide": (hidden, ffn)}

    def normal(index: int, shape: tuple[int, ...]) -> np.ndarray:
        rng = np.random.default_rng(SEED + index)
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)

    def norm() -> np.ndarray:
        rng = np.random.default_rng(SEED + 9)
        return (1 + 0.05 * rng.standard_normal(hidden, dtype=np.float32)).astype(np.float32)

    makers: dict[str, Any] = {
        name: (lambda i=i, s=s: normal(i, s)) for i, (name, s) in enumerate(shapes.items())
    }
    makers["norm"] = norm
    return makers


def format_block(folder: Path, name: str, array: np.ndarray) -> Block:
    from csv_state_viewer.core.api import save_state

    path = folder / f"block_{name}.csv"
    save_state(path, {"x": array})
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(len(HEADER) + 3)
        file.seek(max(0, size - 4096))
        tail = file.read()
    if not head.startswith(HEADER + b'x,"'):
        raise RuntimeError(f"unexpected layout of save_state's text CSV: {head!r}")
    start = tail.rindex(b',"{')  # the metadata field, after the data field
    meta = json.loads(tail[start + 2 : -2].replace(b'""', b'"'))
    offset = len(HEADER) + 2
    return Block(path, offset, size - len(tail) + start - offset, meta["crc32"], array.shape)


def copy_range(source: Path, offset: int, length: int, out: int) -> None:
    with open(source, "rb") as file:
        src = file.fileno()
        try:
            while length:
                copied = os.copy_file_range(src, out, length, offset)
                if not copied:
                    raise OSError("copy_file_range copied nothing")
                offset, length = offset + copied, length - copied
        except OSError:
            while length:
                piece = os.pread(src, min(length, 64 << 20), offset)
                os.write(out, piece)
                offset, length = offset + len(piece), length - len(piece)


def optimizer_rows(folder: Path) -> bytes:
    """The rows (no header) of a few optimizer scalars, as save_state writes them."""
    from csv_state_viewer.core.api import save_state

    path = folder / "optimizer.csv"
    save_state(
        path,
        {
            "optimizer/iteration": np.array(12_000, np.int64),
            "optimizer/learning_rate": np.array(3e-4, np.float32),
            "optimizer/beta_1_power": np.array(0.9**12_000, np.float32),
            "optimizer/loss_scale": np.array(32768, np.float32),
        },
    )
    rows = path.read_bytes()[len(HEADER) :]
    path.unlink()
    return rows


def plan_state(budget: float, by_values: bool, blocks: dict[str, Block], hidden: int) -> Plan:
    """The rows: the embedding, as many layer tensors as fit ``budget`` (bytes of text, or
    values), the final norm and the output kernel."""
    ffn, vocab = dims(hidden)

    def cost(row: Row) -> int:
        return math.prod(row.shape) if by_values else row_bytes(row, blocks)

    head = [Row("model/embed_tokens/embeddings", "embed", (vocab, hidden))]
    tail = [
        Row("model/norm/weight", "norm", (hidden,)),
        Row("lm_head/kernel", "embed", (hidden, vocab)),  # the embedding's bytes, reshaped
    ]
    used = sum(cost(row) for row in head + tail)
    middle: list[Row] = []
    index = 0
    while True:
        fits = []
        for row in layer_rows(index, hidden):
            if used + cost(row) > budget:
                break
            used += cost(row)
            fits.append(row)
        middle += fits
        if len(fits) < len(layer_rows(index, hidden)):
            break
        index += 1
    rows = head + middle + tail
    largest = max(rows, key=lambda r: math.prod(r.shape))
    return Plan(
        hidden,
        ffn,
        vocab,
        rows,
        sum(row_bytes(row, blocks) for row in rows),
        sum(math.prod(row.shape) for row in rows),
        largest,
    )


def generate(folder: Path, budget: float, by_values: bool) -> tuple[Path, Plan, float]:
    """Write ``folder/state.csv``; returns its path, its plan and the seconds it took."""
    from csv_state_viewer.core.api import open_state

    started = time.perf_counter()
    hidden = choose_hidden(budget if by_values else budget / BYTES_PER_VALUE)
    scratch = folder / "blocks"
    scratch.mkdir(parents=True, exist_ok=True)
    makers = block_arrays(hidden)
    blocks = {name: format_block(scratch, name, make()) for name, make in makers.items()}
    plan = plan_state(budget, by_values, blocks, hidden)
    path = folder / "state.csv"
    extra_rows = optimizer_rows(scratch)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, HEADER)
        for row in plan.rows:
            block = blocks[row.block]
            os.write(fd, csv_field(row.name) + b",")
            copy_range(block.path, block.offset, block.length, fd)
            os.write(fd, b"," + metadata_field(row, blocks) + b"\n")
        os.write(fd, extra_rows)
    finally:
        os.close(fd)
    shutil.rmtree(scratch)
    # check: the file opens, and tensors read back to the intended values
    with open_state(path) as state:
        names = state.names()
        expected = len(plan.rows) + 4
        if len(names) != expected or state.errors:
            raise RuntimeError(f"{path}: {len(names)} tensors, {expected} expected")
        wanted = makers["square"]()
        got = state.read(f"model/layers.{0}/self_attn/q_proj/kernel")
        if not np.array_equal(got, wanted):
            raise RuntimeError(f"{path}: a kernel does not read back to its values")
        down = next(row.name for row in plan.rows if row.name.endswith("down_proj/kernel"))
        if not np.array_equal(state.read(down), makers["wide"]().reshape(plan.ffn, hidden)):
            raise RuntimeError(f"{path}: {down} does not read back to its values")
        if int(state.read("optimizer/iteration")) != 12_000:
            raise RuntimeError(f"{path}: optimizer/iteration does not read back")
    return path, plan, time.perf_counter() - started


# --------------------------------------------------------------------- measuring
def child_env(work: Path) -> dict[str, str]:
    """The environment of every measured child: settings and caches in the work folder."""
    home = work / "env"
    for sub in ("config", "cache", "stats", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "CSV_STATE_CACHE": str(home / "stats"),
        "MPLCONFIGDIR": str(home / "config" / "matplotlib"),
        "TMPDIR": str(home / "tmp"),
    }


def measure(command: list[str], env: dict[str, str], logs: Path, label: str) -> dict[str, Any]:
    """Run ``command`` under the wrapper: its seconds, peak RSS, exit code, output tail."""
    logs.mkdir(parents=True, exist_ok=True)
    stem = logs / label.replace(" ", "_")
    result_path = stem.with_suffix(".json")
    with open(f"{stem}.out", "wb") as out, open(f"{stem}.err", "wb") as err:
        subprocess.run(
            [sys.executable, "-c", WRAPPER, str(result_path), *command],
            stdout=out,
            stderr=err,
            env=env,
            check=True,
        )
    result: dict[str, Any] = json.loads(result_path.read_text())
    result["stdout_tail"] = Path(f"{stem}.out").read_text(errors="replace")[-1500:]
    result["stderr_tail"] = Path(f"{stem}.err").read_text(errors="replace")[-1500:]
    return result


def cli_commands(source: Path, outputs: Path) -> list[tuple[str, list[str], Path | None]]:
    cli = str(Path(sys.executable).with_name("csv-state"))
    base = [cli, "-q"]
    b64 = outputs / "state_base64.csv"
    return [
        ("info", [*base, "info", str(source)], None),
        ("validate", [*base, "validate", str(source)], None),
        (
            "convert base64",
            [*base, "convert", str(source), str(b64), "--encoding", "base64", "--force"],
            b64,
        ),
        (
            "convert npz",
            [*base, "convert", str(source), str(outputs / "state.npz"), "--force"],
            outputs / "state.npz",
        ),
        (
            "convert safetensors",
            [*base, "convert", str(source), str(outputs / "state.safetensors"), "--force"],
            outputs / "state.safetensors",
        ),
        ("diff", [*base, "diff", str(source), str(b64)], None),
    ]


def run_case(work: Path, source: Path, keep: bool) -> dict[str, dict[str, Any]]:
    """Every CLI command and the viewer on ``source``, each in its own process."""
    env = child_env(work)
    results: dict[str, dict[str, Any]] = {}
    size = source.stat().st_size
    for label, command, output in cli_commands(source, work):
        print(f"  {label} ...", end="", flush=True)
        result = measure(command, env, work / "logs", label)
        if output is not None and output.exists():
            result["output_bytes"] = output.stat().st_size
            if not keep and label in ("convert npz", "convert safetensors"):
                output.unlink()  # only the base64 copy is needed later (diff)
        result["mb_per_s"] = size / MB / result["seconds"]
        print(
            f" {result['seconds']:.2f} s, peak RSS {result['peak_rss'] / MB:.0f} MB, "
            f"exit {result['returncode']}",
            flush=True,
        )
        results[label] = result
    if not keep:
        (work / "state_base64.csv").unlink(missing_ok=True)
    print("  viewer ...", end="", flush=True)
    view_json = work / "logs" / "viewer_result.json"
    command = [sys.executable, "-X", "faulthandler", __file__, "--viewer-child"]
    command += [str(source), str(view_json)]
    result = measure(command, env, work / "logs", "viewer")
    if view_json.exists():
        result |= json.loads(view_json.read_text())
    result["mb_per_s"] = size / MB / result["seconds"]
    if "tree_shown_s" in result:
        print(
            f" tree {result['tree_shown_s']:.2f} s, stall {result['stall_open_ms']:.0f} ms, "
            f"peak RSS {result['peak_rss'] / MB:.0f} MB",
            flush=True,
        )
    else:
        print(f" failed (exit {result['returncode']})", flush=True)
    results["viewer"] = result
    return results


def viewer_child(path: str, out: str) -> None:
    """In the viewer's process: open ``path``, time the tree, then the largest tensor."""
    sys.path.insert(0, str(HERE))

    from bench_gui import Heartbeat, make_window, qt_app, wait_for

    qt_app()
    window = make_window()  # opens on its default tab (Summary), as for a user
    tab = window.tabs.tabText(window.tabs.currentIndex())
    pane = window.panes["histogram"]
    drawn: list[float] = []

    def on_draw(_event: object) -> None:
        if pane.canvas.message is None:  # a histogram, not a message
            drawn.append(time.perf_counter())

    pane.canvas.canvas.mpl_connect("draw_event", on_draw)
    heartbeat = Heartbeat()
    start = time.perf_counter()
    window.open_file(path)
    wait_for(lambda: bool(window.roots))
    shown = time.perf_counter()
    wait_for(lambda: not window.context.runner.busy)
    opened = time.perf_counter()
    root = window.roots[0]
    largest = max(root.tensors(), key=lambda n: n.entry.size if n.entry else 0)
    smallest = min(root.tensors(), key=lambda n: n.entry.size if n.entry else 0)
    # the file opens on its first tensor (here the largest): select another one and empty
    # the cache, so the largest is decoded from the file when selected
    window.set_tab("histogram")
    window.select_node(smallest)
    window.context.cache.forget(root.state)
    wait_for(lambda: not window.context.runner.busy)
    selected = time.perf_counter()
    window.select_node(largest)  # decode + histogram of the largest tensor, in a worker
    wait_for(lambda: bool(drawn) and drawn[-1] > selected and not window.context.runner.busy)
    drawn_at = drawn[-1]
    heartbeat.timer.stop()
    beats = heartbeat.beats

    cpu = heartbeat.cpu

    def longest(since: float, until: float) -> tuple[float, float, float]:
        """The longest gap between beats in [since, until] (ms), when it began (s after
        ``since``) and the UI thread's CPU time in it (ms: busy, not waiting)."""
        gaps = [
            (beats[i + 1] - beats[i], beats[i], cpu[i + 1] - cpu[i])
            for i in range(len(beats) - 1)
            if since <= beats[i] < until
        ]
        gap, at, busy = max(gaps, default=(0.0, since, 0.0))
        return gap * 1000, at - since, busy * 1000

    stall_open, stall_open_at, stall_open_busy = longest(start, opened)
    stall_hist, stall_hist_at, stall_hist_busy = longest(selected, drawn_at)
    report = {
        "tree_shown_s": shown - start,
        "opened_s": opened - start,
        "stall_open_ms": stall_open,
        "stall_open_at_s": stall_open_at,
        "stall_open_busy_ms": stall_open_busy,
        "opened_on_tab": tab,
        "stall_before_tree_ms": longest(start, shown)[0],
        "largest_name": largest.name,
        "largest_values": float(largest.entry.size),
        "histogram_s": drawn_at - selected,
        "stall_histogram_ms": stall_hist,
        "stall_histogram_at_s": stall_hist_at,
        "stall_histogram_busy_ms": stall_hist_busy,
    }
    window.close()
    Path(out).write_text(json.dumps(report))


# -------------------------------------------------------------------------- report
def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def describe(plan: Plan, path: Path, seconds: float) -> dict[str, Any]:
    largest = plan.largest
    return {
        "file": str(path),
        "file_bytes": path.stat().st_size,
        "tensors": len(plan.rows) + 4,
        "values": plan.values,
        "hidden": plan.hidden,
        "largest_tensor": largest.name,
        "largest_shape": list(largest.shape),
        "largest_bytes": math.prod(largest.shape) * 4,
        "generate_s": seconds,
    }


def print_case(name: str, info: dict[str, Any]) -> None:
    shape = "x".join(map(str, info["largest_shape"]))
    print(
        f"{name}: {info['file_bytes'] / GB:.2f} GB text CSV, {info['tensors']} tensors, "
        f"{info['values'] / 1e6:,.1f} M values (hidden size {info['hidden']}); largest "
        f"tensor {info['largest_tensor']} {shape} float32 = {info['largest_bytes'] / MB:.0f} MB;"
        f" generated and checked in {info['generate_s']:.1f} s",
        flush=True,
    )


def print_table(report: dict[str, Any]) -> list[str]:
    big, small = report["big"], report.get("small")
    budget = 3 * big["state"]["largest_bytes"] + RSS_OVERHEAD
    print()
    print(
        f"{'command':<20} {'big s':>8} {'big MB/s':>9} {'peak RSS':>9} {'(anon/file)':>13} "
        f"{'15.7M s':>8} {'15.7M MB/s':>10} {'big/15.7M':>9}"
    )
    for label, r in big["results"].items():
        s = small["results"].get(label) if small else None
        rss = f"{r['peak_anon'] / MB:.0f}/{r['peak_file'] / MB:.0f}"
        line = (
            f"{label:<20} {r['seconds']:8.2f} {r['mb_per_s']:9.1f} {r['peak_rss'] / MB:7.0f}MB "
            f"{rss:>13}"
        )
        if s is not None:
            ratio = r["mb_per_s"] / s["mb_per_s"]
            line += f" {s['seconds']:8.2f} {s['mb_per_s']:10.1f} {ratio:9.2f}"
        print(line)
    view = big["results"]["viewer"]
    if "histogram_s" in view:
        print(
            f"viewer, largest tensor ({view['largest_values'] / 1e6:.0f} M values) selected: "
            f"histogram drawn after {view['histogram_s']:.2f} s, longest stall meanwhile "
            f"{view['stall_histogram_ms']:.0f} ms (for information); all loaded at "
            f"{view['opened_s']:.2f} s after open_file (with the decode of the tensor it opens "
            f"on, {view['opened_on_tab']} tab); the longest stall while opening began "
            f"{view['stall_open_at_s']:.2f} s after open_file, the UI thread busy "
            f"{view['stall_open_busy_ms']:.0f} ms of it (longest stall before the tree was "
            f"shown: {view['stall_before_tree_ms']:.0f} ms)"
        )
    if small and "tree_shown_s" in small["results"]["viewer"]:
        sv = small["results"]["viewer"]
        print(
            f"viewer on the 15.7 M-value state: tree {sv['tree_shown_s']:.2f} s, stall "
            f"{sv['stall_open_ms']:.0f} ms, histogram of its largest tensor "
            f"{sv['histogram_s']:.2f} s"
        )
    print()
    checks: list[tuple[str, bool]] = []
    results = big["results"]
    for label, r in results.items():
        if r["returncode"] != 0:
            checks.append((f"{label} exits 0 (exit {r['returncode']})", False))
    checks.append(
        (
            f"info {results['info']['seconds']:.2f} s < {TARGETS['info_s']:g} s",
            results["info"]["seconds"] < TARGETS["info_s"],
        )
    )
    if "tree_shown_s" in view:
        checks.append(
            (
                f"viewer tree shown {view['tree_shown_s']:.2f} s < {TARGETS['tree_shown_s']:g} s",
                view["tree_shown_s"] < TARGETS["tree_shown_s"],
            )
        )
        checks.append(
            (
                f"viewer longest stall while opening {view['stall_open_ms']:.0f} ms "
                f"< {TARGETS['stall_ms']:g} ms",
                view["stall_open_ms"] < TARGETS["stall_ms"],
            )
        )
    else:
        checks.append(("viewer opened the file", False))
    for label in STREAMING:
        rss = results[label]["peak_rss"]
        checks.append(
            (
                f"{label} peak RSS {rss / MB:.0f} MB <= 3 x largest tensor + 300 MB "
                f"= {budget / MB:.0f} MB",
                rss <= budget,
            )
        )
    for label, r in results.items():
        if r["returncode"] != 0:
            tail = "\n    ".join(r["stderr_tail"].strip().splitlines()[-12:])
            print(f"{label} exited with {r['returncode']}; the end of its stderr:\n    {tail}")
    failed = []
    for text, ok in checks:
        print(f"{verdict(ok)}  {text}")
        if not ok:
            failed.append(text)
    for label in STREAMING:  # for information: the heap alone, without mapped file pages
        anon = results[label]["peak_anon"]
        print(
            f"info  {label}: anonymous memory at most {anon / MB:.0f} MB (sampled every "
            f"20 ms), {'within' if anon <= budget else 'over'} the budget; mapped file "
            f"pages at most {results[label]['peak_file'] / MB:.0f} MB"
        )
    report["checks"] = [{"check": text, "ok": ok} for text, ok in checks]
    return failed


# ---------------------------------------------------------------------------- main
def size_for_disk(work: Path, gigabytes: float, keep: bool) -> tuple[float, str | None]:
    """The text size (bytes) that fits the free disk with its copies, and a note if smaller."""
    per_value_copies = 4 * 4 / 3 + 4 * (2 if keep else 1)  # base64 + npz/safetensors
    factor = 1 + per_value_copies / BYTES_PER_VALUE
    small = SMALL_VALUES * (BYTES_PER_VALUE + per_value_copies)
    free = shutil.disk_usage(work).free
    wanted = gigabytes * GB
    fits = (free - MARGIN - small) / factor
    fits = fits * 0.95  # metadata, logs and the viewer's caches
    if fits >= wanted:
        return wanted, None
    if fits < 0.1 * GB:
        raise SystemExit(f"only {free / GB:.1f} GB free in {work}: not enough for the benchmark")
    return fits, (
        f"NOTE: {gigabytes:g} GB asked, but {work} has {free / GB:.1f} GB free; the text "
        f"state and its copies need about {factor:.2f} x its size + {MARGIN / GB:.0f} GB, "
        f"so the state is scaled down to {fits / GB:.2f} GB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=10.0, help="size of the text state")
    parser.add_argument("--folder", type=Path, help="work here (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the files at the end")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--viewer-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.viewer_child:
        viewer_child(*args.viewer_child)
        return 0
    if args.folder:
        args.folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-big-", dir=args.folder))
    report: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    failed: list[str] = []
    try:
        budget, note = size_for_disk(work, args.gigabytes, args.keep)
        report |= {"asked_gb": args.gigabytes, "size_gb": budget / GB, "scaled_down": note}
        print(
            f"work folder {work}; {shutil.disk_usage(work).free / GB:.1f} GB free; "
            f"python {report['python']}, {report['cpus']} CPUs"
        )
        if note:
            print(note)
        cases = (("big", budget, False), ("small", SMALL_VALUES, True))
        for name, size, by_values in cases:
            folder = work / name
            folder.mkdir()
            path, plan, seconds = generate(folder, size, by_values)
            info = describe(plan, path, seconds)
            print_case("big state" if name == "big" else "15.7 M-value state", info)
            report[name] = {"state": info, "results": run_case(folder, path, args.keep)}
            if not args.keep:
                path.unlink()
        print(
            "(the files are read where the page cache holds them: figures of a cold disk "
            "would be slower)"
        )
        failed = print_table(report)
        report["failed"] = failed
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
