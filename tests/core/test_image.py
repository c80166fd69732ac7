"""The heatmap image: pooling by blocks, colour limits, what the title says."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from csv_state_viewer.core.analysis.image import (
    MAX_ABS,
    MAX_SIDE,
    MEAN,
    TIMES,
    block_size,
    color_limits,
    heatmap_image,
    pool,
)
from csv_state_viewer.core.progress import Cancelled


def reference(data: np.ndarray, block: tuple[int, int], how: str) -> np.ndarray:
    rows, cols = data.shape
    br, bc = block
    out = np.empty((-(-rows // br), -(-cols // bc)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            cell = data[i * br : (i + 1) * br, j * bc : (j + 1) * bc].astype(np.float64)
            cell = cell[~np.isnan(cell)]
            if cell.size == 0:
                out[i, j] = np.nan
            elif how == MEAN:
                out[i, j] = cell.mean()
            else:
                out[i, j] = cell[np.argmax(np.abs(cell))]
    return out


@pytest.mark.parametrize("how", [MAX_ABS, MEAN])
@pytest.mark.parametrize("shape", [(7, 10), (64, 33), (5, 1)])
@pytest.mark.parametrize("block", [(1, 1), (2, 3), (4, 4)])
def test_pooling_matches_a_loop(how: str, shape: tuple[int, int], block: tuple[int, int]) -> None:
    data = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    data.flat[::5] = np.nan
    np.testing.assert_allclose(pool(data, block, how), reference(data, block, how), rtol=1e-6)


def test_max_abs_keeps_the_sign_of_an_outlier_and_ints_pool() -> None:
    data = np.array([[1, -9, 2, 3], [0, 4, 5, -1]], np.int64)
    np.testing.assert_array_equal(pool(data, (2, 2), MAX_ABS), [[-9.0, 5.0]])
    np.testing.assert_array_equal(pool(data, (2, 2), MEAN), [[-1.0, 2.25]])
    block_of_nan = np.full((2, 2), np.nan)
    assert np.isnan(pool(block_of_nan, (2, 2))).all()


def test_the_image_fits_the_budget_and_says_how() -> None:
    data = np.random.default_rng(2).standard_normal((4096, 4096)).astype(np.float32)
    result = heatmap_image(data, 1024, 1024)
    assert result.image.shape == (1024, 1024) and result.block == (4, 4)
    x = TIMES
    assert result.description() == f"4096{x}4096 shown as 1024{x}1024, max |x| per 4{x}4 block"
    peak = float(np.abs(data).max())
    assert result.limits == (-peak, peak)
    big = heatmap_image(np.zeros((5000, 3)), 10_000, 10_000)
    assert big.image.shape[0] <= MAX_SIDE
    small = heatmap_image(np.ones((3, 4)), 100, 100)
    assert not small.reduced and small.description() == f"3{x}4"
    assert block_size((10, 10), 3, 10) == (4, 1)


def test_constant_maps_get_a_symmetric_range() -> None:
    assert color_limits(np.zeros((2, 3))) == ((-1.0, 1.0), 0.0)
    assert color_limits(np.full(4, -2.5)) == ((-2.5, 2.5), -2.5)
    assert color_limits(np.array([np.nan, np.inf])) == ((-1.0, 1.0), None)
    result = heatmap_image(np.array([[np.nan, 1.0], [np.inf, -3.0]]))
    assert result.limits == (-3.0, 3.0) and result.nan == 1 and result.inf == 1


def test_pooling_reports_progress_and_stops_when_cancelled(recorder: Any) -> None:
    data = np.zeros((4096, 4096), np.float32)
    progress = recorder()
    heatmap_image(data, 512, 512, progress=progress)
    assert progress.reports and progress.reports[-1][0] == progress.reports[-1][1]
    with pytest.raises(Cancelled):
        heatmap_image(data, 512, 512, progress=recorder(cancel_after=1))
