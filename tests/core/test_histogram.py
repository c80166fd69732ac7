"""Histograms counted chunk by chunk on the codec threads equal NumPy's, whatever the chunks."""

from __future__ import annotations

import numpy as np
import pytest

from csv_state_viewer.core.analysis import stats
from csv_state_viewer.core.analysis.stats import histogram, value_range
from csv_state_viewer.core.csv import nativeparse
from csv_state_viewer.core.progress import Cancelled


@pytest.fixture(params=[1 << 20, 1000, 7])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(stats, "CHUNK", request.param)
    return int(request.param)


def _awkward(seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = (rng.standard_normal(size) * 3).astype(np.float32)
    values[rng.integers(0, size, 40)] = np.nan
    values[rng.integers(0, size, 30)] = np.inf
    values[rng.integers(0, size, 20)] = -np.inf
    return values.reshape(-1, 10)


@pytest.mark.usefixtures("chunk")
@pytest.mark.parametrize("counter", ["accelerator", "numpy"])
def test_counts_equal_numpy_over_the_shared_edges(
    counter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if counter == "numpy":
        monkeypatch.setattr(nativeparse, "histogram_counts", lambda values, edges: None)
    arrays = [_awkward(1, 50_000), _awkward(2, 3_000) * 5]
    result = histogram(arrays, ["a", "b"], bins=257)
    finite = [a[np.isfinite(a)] for a in arrays]
    low = min(float(f.min()) for f in finite)
    high = max(float(f.max()) for f in finite)
    assert value_range(arrays) == (low, high)
    np.testing.assert_array_equal(result.edges, np.linspace(low, high, 258))
    for series, array, values in zip(result.series, arrays, finite, strict=True):
        expected = np.histogram(values, bins=result.edges)[0]
        np.testing.assert_array_equal(series.counts, expected)
        assert series.finite == values.size
        assert series.nan == int(np.isnan(array).sum())
        assert series.posinf == int((array == np.inf).sum())
        assert series.neginf == int((array == -np.inf).sum())
        assert series.constant is None


@pytest.mark.usefixtures("chunk")
def test_a_constant_tensor_and_one_without_finite_values() -> None:
    constant = np.full(5_000, 2.5, np.float32)
    empty = np.array([np.nan, np.inf], np.float32)
    result = histogram([constant, empty], ["c", "e"], bins=10)
    assert result.series[0].constant == 2.5
    assert result.series[0].counts.sum() == 5_000
    assert result.series[1].finite == 0 and result.series[1].counts.sum() == 0
    assert (result.series[1].nan, result.series[1].posinf) == (1, 1)


@pytest.mark.usefixtures("chunk")
def test_progress_reaches_the_total_and_cancelling_stops() -> None:
    values = np.arange(20_000, dtype=np.float64)
    reports: list[tuple[int, int]] = []

    class Recorder:
        def report(self, done: int, total: int) -> None:
            reports.append((done, total))

        def cancelled(self) -> bool:
            return False

    histogram([values], ["v"], bins=16, progress=Recorder())
    assert reports[-1] == (20_000, 20_000)
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)

    class Cancelling(Recorder):
        def cancelled(self) -> bool:
            return True

    with pytest.raises(Cancelled):
        histogram([values], ["v"], bins=16, progress=Cancelling())


@pytest.mark.skipif(nativeparse.library() is None, reason="no C compiler: nothing to compare")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bins", [1, 7, 1000, 1024, 4099])
def test_counts_in_c_equal_numpy_even_on_the_edges(dtype: type, bins: int) -> None:
    rng = np.random.default_rng(bins)
    values = (rng.standard_normal(200_000) * 10.0 ** rng.integers(-3, 3, 200_000)).astype(dtype)
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high, bins + 1)
    on_edges = edges.astype(dtype)  # the edges themselves and their neighbours
    near = np.concatenate(
        [on_edges, np.nextafter(on_edges, dtype(np.inf)), np.nextafter(on_edges, dtype(-np.inf))]
    )
    values = np.concatenate([values, near, [np.nan, np.inf, -np.inf]]).astype(dtype)
    got = nativeparse.histogram_counts(values, edges)
    assert got is not None
    np.testing.assert_array_equal(got, np.histogram(values[np.isfinite(values)], bins=edges)[0])


def test_other_dtypes_are_left_to_numpy() -> None:
    edges = np.linspace(0, 1, 5)
    assert nativeparse.histogram_counts(np.arange(4, dtype=np.int32), edges) is None
    assert nativeparse.histogram_counts(np.ones(4, ">f4"), edges) is None
    assert nativeparse.histogram_counts(np.ones(8, np.float32)[::2], edges) is None
