"""load_state decodes each CSV tensor as soon as its row is indexed: same tensors, same
errors, and a state closed mid-way stops its decodes before the file closes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from csv_state_viewer import BadRowsError, load_state, open_state, save_state
from csv_state_viewer.core.csv import csvstate
from csv_state_viewer.core.csv.csvstate import open_csv_state


def _state(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    tensors = {
        f"layer{i}/{kind}": rng.standard_normal(shape).astype(dtype)
        for i in range(12)
        for kind, shape, dtype in (("kernel", (64, 33), np.float32), ("bias", (33,), np.float64))
    }
    tensors["step"] = np.array(7, np.int64)
    path = tmp_path / "s.csv"
    save_state(path, tensors, metadata={"layer3/kernel": {"note": "x"}})
    return path, tensors


def test_the_same_tensors_in_the_same_order(tmp_path: Path) -> None:
    path, tensors = _state(tmp_path)
    loaded = load_state(path)
    assert list(loaded) == list(tensors)
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype and loaded[name].tobytes() == array.tobytes()
    with open_state(path) as state:  # the lazy way, for comparison
        assert {k: v.tobytes() for k, v in state.read_all().items()} == {
            k: v.tobytes() for k, v in loaded.items()
        }


def test_bad_data_is_worded_and_recorded_as_by_a_read(tmp_path: Path) -> None:
    path, _ = _state(tmp_path)
    text = path.read_text()
    first_kernel = text.split("\n")[1]
    value = first_kernel.split('"')[1].split(",")[5]
    path.write_text(text.replace(value, "1x5", 1))  # a bad value (and a CRC mismatch)
    with pytest.raises(BadRowsError) as caught:
        load_state(path)
    with open_state(path) as state, pytest.raises(BadRowsError) as lazily:
        state.read_all()
    assert str(caught.value) == str(lazily.value)
    assert "bad float32 value '1x5'" in str(caught.value)
    kept = load_state(path, skip_bad=True)
    assert "layer0/kernel" not in kept and "layer0/bias" in kept


def test_closing_waits_for_decodes_and_reads_nothing_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _state(tmp_path)
    started = threading.Event()
    real = csvstate.CsvState._decode
    after_close: list[str] = []

    def slow(self: csvstate.CsvState, entry: object, progress: object) -> np.ndarray:
        started.set()
        time.sleep(0.02)
        if self._mm is None:
            after_close.append("read after close")
        return real(self, entry, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(csvstate.CsvState, "_decode", slow)
    state = open_csv_state(path, decode_ahead=True)
    assert started.wait(5)
    state.close()  # most decodes are still queued: cancelled; the running ones finish first
    assert after_close == []
    assert state._ahead == {}
