"""The training timeline: per-step statistics equal NumPy's, states in step order, names
followed through Keras renumbering, gaps as None, and a warm cache that decodes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer.core.analysis.statscache import StatsCache, default_cache, state_key
from csv_state_viewer.core.analysis.timeline import (
    HIST_BINS,
    PERCENTILES,
    compute_timeline,
    percentiles,
    update_ratio,
)
from csv_state_viewer.core.api import open_state, save_state
from csv_state_viewer.core.errors import CsvStateError
from csv_state_viewer.core.progress import Cancelled
from csv_state_viewer.core.state import State

STEPS = (10, 20, 30, 40)
# file name -> step: natural file order is not step order
FILES = {"ckpt_1.csv": 30, "ckpt_2.csv": 10, "ckpt_3.csv": 40, "ckpt_4.csv": 20}
RTOL = 1e-12


def arrays_at(step: int) -> dict[str, np.ndarray]:
    """The tensors saved at ``step``, as named in that state."""
    rng = np.random.default_rng(7)
    kernel0 = rng.normal(size=(8, 5)).astype(np.float32)
    delta = rng.normal(size=(8, 5)).astype(np.float32)
    t = STEPS.index(step)
    layer = "dense" if step <= 20 else "dense_1"  # Keras numbered the layer later on
    out = {
        f"{layer}/kernel": kernel0 + np.float32(0.1 * t) * delta,
        f"{layer}/bias": np.full(5, 0.5 * t, np.float32),  # all zeros at the first step
        "adam/m/0": (rng.normal(size=(8, 5)) * (t + 1)).astype(np.float32),
        "extra/w": np.arange(6, dtype=np.float32).reshape(2, 3) * (t + 1),
        "adam/iteration": np.array(step, np.int64),
    }
    if step == 30:
        del out["extra/w"]  # missing from one state
    return out


@pytest.fixture
def run(tmp_path: Path) -> list[str]:
    paths = []
    for name, step in FILES.items():
        path = tmp_path / name
        save_state(path, arrays_at(step))
        paths.append(str(path))
    return paths


def f64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64)


def by_step(step: int) -> dict[str, np.ndarray]:
    data = arrays_at(step)
    return {k.replace("dense/", "dense_1/"): v for k, v in data.items()}


def test_states_in_step_order_and_float_tensors(run: list[str]) -> None:
    result = compute_timeline(run)
    assert [m.step for m in result.members] == list(STEPS)
    assert [os.path.basename(m.path) for m in result.members] == [
        "ckpt_2.csv",
        "ckpt_4.csv",
        "ckpt_1.csv",
        "ckpt_3.csv",
    ]
    names = [t.name for t in result.tensors]
    assert names == ["dense_1/kernel", "dense_1/bias", "adam/m/0", "extra/w"]  # no counter


def test_every_value_equals_numpy(run: list[str]) -> None:
    result = compute_timeline(run)
    for series in result.tensors:
        previous = None
        for index, step in enumerate(STEPS):
            array = by_step(step).get(series.name)
            stats = series.stats[index]
            if array is None:
                assert stats is None and series.names[index] is None
                previous = None
                continue
            assert stats is not None
            w = f64(array)
            np.testing.assert_allclose(stats.l2, np.linalg.norm(w), rtol=RTOL)
            np.testing.assert_allclose(stats.mean, w.mean(), rtol=RTOL, atol=1e-15)
            np.testing.assert_allclose(stats.std, w.std(), rtol=RTOL, atol=1e-15)
            assert stats.max_abs == np.abs(w).max()
            expected = np.percentile(w, PERCENTILES, method="linear")
            np.testing.assert_allclose(stats.percentiles, expected, rtol=RTOL)
            assert stats.size == array.size and stats.nonfinite == 0
            assert len(stats.hist_edges) == HIST_BINS + 1
            counts, _ = np.histogram(w, bins=stats.hist_edges)
            assert stats.hist_counts.tolist() == counts.tolist()
            ratio = series.update_ratio[index]
            if previous is None or not np.linalg.norm(f64(previous)):
                assert ratio is None
            else:
                want = np.linalg.norm(w - f64(previous)) / np.linalg.norm(f64(previous))
                assert ratio is not None
                np.testing.assert_allclose(ratio, want, rtol=RTOL)
            previous = array
    assert result.tensors[0].l2 == [s.l2 if s else None for s in result.tensors[0].stats]


def test_renamed_and_missing_tensors(run: list[str]) -> None:
    result = compute_timeline(run)
    kernel = result.tensors[0]
    assert kernel.names == ["dense/kernel", "dense/kernel", "dense_1/kernel", "dense_1/kernel"]
    assert all(s is not None for s in kernel.stats)
    assert kernel.update_ratio[0] is None and all(r is not None for r in kernel.update_ratio[1:])
    bias = result.tensors[1]
    assert bias.update_ratio[1] is None  # the previous norm is 0
    extra = next(t for t in result.tensors if t.name == "extra/w")
    assert extra.names[2] is None and extra.stats[2] is None
    assert extra.update_ratio[2] is None and extra.update_ratio[3] is None
    assert extra.update_ratio[1] is not None


def test_bad_row_is_none(run: list[str]) -> None:
    path = run[0]  # step 30
    text = Path(path).read_text()
    lines = text.splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if line.startswith("adam/m/0,"))
    start = lines[row].index('"') + 1
    lines[row] = lines[row][:start] + "9" + lines[row][start + 1 :]  # the crc32 fails
    Path(path).write_text("".join(lines))
    result = compute_timeline(run)
    slot = next(t for t in result.tensors if t.name == "adam/m/0")
    assert slot.stats[2] is None and slot.update_ratio[2] is None
    assert slot.update_ratio[3] is None and slot.stats[3] is not None


def test_named_tensors_and_unknown_name(run: list[str]) -> None:
    result = compute_timeline(run, ["dense_1/bias"])
    assert [t.name for t in result.tensors] == ["dense_1/bias"]
    with pytest.raises(CsvStateError, match="no tensor named"):
        compute_timeline(run, ["nope"])


def test_to_json_shape(run: list[str]) -> None:
    data = compute_timeline(run).to_json()
    json.dumps(data, allow_nan=False)
    assert list(data) == ["states", "tensors"]
    assert data["states"][0] == {"path": run[1], "step": 10}
    first = data["tensors"][0]
    assert list(first) == ["name", "l2", "mean", "std", "max_abs", "update_ratio", "percentiles"]
    assert first["update_ratio"][0] is None and len(first["percentiles"][0]) == 7
    extra = next(t for t in data["tensors"] if t["name"] == "extra/w")
    assert extra["percentiles"][2] is None and extra["l2"][2] is None


def test_progress_and_cancel(run: list[str], recorder: type) -> None:
    progress = recorder()
    compute_timeline(run, progress=progress)
    assert progress.reports[-1] == (16, 16)
    with pytest.raises(Cancelled):
        compute_timeline(run, progress=recorder(cancel_after=3))


def test_nonfinite_values_and_helpers() -> None:
    a = np.array([1.0, np.nan, 3.0, np.inf, -2.0], np.float32)
    finite = a[np.isfinite(a)]
    want = np.percentile(f64(finite), PERCENTILES)
    np.testing.assert_allclose(percentiles(finite), want, rtol=RTOL)
    b = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    assert update_ratio(b, np.zeros(5, np.float32)) is None
    assert update_ratio(b, np.ones(4, np.float32)) is None
    rng = np.random.default_rng(1)
    big, other = rng.normal(size=3_000_000), rng.normal(size=3_000_000)  # several chunks
    want_ratio = np.linalg.norm(big - other) / np.linalg.norm(other)
    got = update_ratio(big, other)
    assert got is not None
    np.testing.assert_allclose(got, want_ratio, rtol=RTOL)


# ----------------------------------------------------------------------------- cache
def test_warm_cache_reads_no_tensor(
    run: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = StatsCache(tmp_path / "cache")
    cold = compute_timeline(run, cache=cache)
    assert len(os.listdir(tmp_path / "cache")) == len(run)
    calls: list[object] = []

    def counting_read(self: State, which: object, *args: object, **kwargs: object) -> None:
        calls.append(which)
        raise AssertionError("a tensor was decoded with a warm cache")

    monkeypatch.setattr(State, "read", counting_read)
    warm = compute_timeline(run, cache=cache)
    assert calls == []
    assert warm.members == cold.members
    assert warm.to_json() == cold.to_json()
    for a, b in zip(warm.tensors, cold.tensors, strict=True):
        assert a.names == b.names and a.stats == b.stats and a.update_ratio == b.update_ratio


def test_cache_of_a_subset_then_all(run: list[str], tmp_path: Path) -> None:
    cache = StatsCache(tmp_path / "cache")
    compute_timeline(run, ["dense_1/kernel"], cache=cache)
    assert compute_timeline(run, cache=cache).to_json() == compute_timeline(run).to_json()


def test_damaged_cache_is_ignored(run: list[str], tmp_path: Path) -> None:
    cache = StatsCache(tmp_path / "cache")
    cold = compute_timeline(run, cache=cache).to_json()
    files = sorted((tmp_path / "cache").iterdir())
    files[0].write_text("{not json")
    data = json.loads(files[1].read_text())
    first = next(iter(data["stats"]))
    data["stats"][first] = {"l2": "x"}
    files[1].write_text(json.dumps(data))
    files[2].write_bytes(b"\x00\xff" * 10)
    assert compute_timeline(run, cache=cache).to_json() == cold
    assert compute_timeline(run, cache=cache).to_json() == cold


def test_rewritten_file_changes_the_key(run: list[str], tmp_path: Path) -> None:
    cache = StatsCache(tmp_path / "cache")
    compute_timeline(run, cache=cache)
    path = run[1]  # step 10
    with open_state(path) as state:
        before = state_key(state)
    info = os.stat(path)
    tensors = arrays_at(10)
    tensors["dense/kernel"] = tensors["dense/kernel"] * 2
    save_state(path, tensors)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    with open_state(path) as state:
        assert state_key(state) != before
    l2 = compute_timeline(run, cache=cache).tensors[0].l2[0]
    assert l2 is not None
    np.testing.assert_allclose(l2, np.linalg.norm(f64(tensors["dense/kernel"])), rtol=RTOL)
    # same size and time stamp, other index (a renamed tensor): still another key
    with open_state(path) as state:
        key = state_key(state)
    assert key is not None
    text = Path(path).read_text().replace("extra/w,", "extra/v,")
    Path(path).write_text(text)
    os.utime(path, ns=(info.st_atime_ns, key.mtime_ns))
    with open_state(path) as state:
        renamed = state_key(state)
    assert renamed is not None
    assert (renamed.size, renamed.mtime_ns) == (key.size, key.mtime_ns)
    assert renamed.index != key.index and renamed != key


def test_default_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CSV_STATE_CACHE", str(tmp_path / "c"))
    assert default_cache().folder == str(tmp_path / "c")
    monkeypatch.delenv("CSV_STATE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache().folder == str(tmp_path / "x" / "csv-state-viewer" / "stats")
