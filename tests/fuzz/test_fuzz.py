"""Fuzzing: structure-aware mutations of every format, each batch read in a child process
under a memory and a time limit. A file may be refused, but only with a ``CsvStateError``
(a one-line message): no other exception, no signal, no limit hit.

The CI part draws a fixed set of batches (hypothesis, derandomized) and runs in well under
a minute. Long mode, for as long as you like::

    CSV_STATE_FUZZ_EXAMPLES=500 pytest tests/fuzz -p no:cacheprovider

(random seeds; hypothesis shrinks a failing batch to the files that break it and prints
them; a failing file is kept under the test's tmp folder).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutators

DRIVER = Path(__file__).with_name("driver.py")
LONG = int(os.environ.get("CSV_STATE_FUZZ_EXAMPLES", "0"))
MEMORY_MB = 1024  # the address-space limit of a child that does not start TensorFlow
SECONDS = 20  # per file

fuzz = settings(
    max_examples=LONG or 2,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the fixture makes a new folder per call
    ],
    database=None,
)


def run_batch(files: list[Path], *, memory_mb: int = MEMORY_MB) -> None:
    """Read ``files`` in one child; fail naming the file that broke a rule."""
    env = dict(os.environ)
    if memory_mb:  # no TensorFlow worker: these formats are read without TensorFlow
        env.update(CSV_STATE_IN_PROCESS="1", CSV_STATE_FUZZ_NO_TF="1")
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(memory_mb), str(SECONDS), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=SECONDS * len(files) + 120,
        env=env,
        check=False,
    )
    lines = done.stdout.splitlines()
    started = [line for line in lines if line.startswith("start ")]
    culprit = files[int(started[-1].split()[1])] if started else None
    assert done.returncode == 0, (
        f"exit {done.returncode} on {culprit}: {lines[-1:]} {done.stderr[-2000:]}"
    )
    assert len([line for line in lines if line.startswith("done ")]) == len(files)


def batch(
    folder: Path,
    plans: list[dict[str, Any]],
    write: Callable[[Path, dict[str, Any]], Any],
    suffix: str,
) -> list[Path]:
    files = []
    for number, plan in enumerate(plans):
        path = folder / f"case{number}{suffix}"
        made = write(path, plan)
        files.append(Path(made) if made is not None else path)
    return files


@pytest.fixture
def folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    return lambda: tmp_path_factory.mktemp("fuzz")


@fuzz
@given(plans=st.lists(mutators.csv_plans, min_size=40, max_size=40))
def test_csv_files(plans: list[dict[str, Any]], folder: Callable[[], Path]) -> None:
    run_batch(batch(folder(), plans, mutators.write_csv, ".csv"))


@fuzz
@given(plans=st.lists(mutators.npz_plans, min_size=40, max_size=40))
def test_npz_files(plans: list[dict[str, Any]], folder: Callable[[], Path]) -> None:
    run_batch(batch(folder(), plans, mutators.write_npz, ".npz"))


@fuzz
@given(plans=st.lists(mutators.h5_plans, min_size=30, max_size=30))
def test_hdf5_weight_files(plans: list[dict[str, Any]], folder: Callable[[], Path]) -> None:
    run_batch(batch(folder(), plans, mutators.write_h5, ".weights.h5"))


@fuzz
@given(plans=st.lists(mutators.checkpoint_plans, min_size=30, max_size=30))
def test_checkpoints(plans: list[dict[str, Any]], folder: Callable[[], Path]) -> None:
    base = folder()

    def write(path: Path, plan: dict[str, Any]) -> Path:
        path.mkdir()
        return mutators.write_checkpoint(path, plan)

    run_batch(batch(base, plans, write, ""))


@pytest.mark.slow
@fuzz
@given(plans=st.lists(mutators.keras_plans, min_size=8, max_size=8))
def test_keras_archives(plans: list[dict[str, Any]], folder: Callable[[], Path]) -> None:
    """``.keras`` files are rebuilt by Keras in the TensorFlow worker, whose address space
    cannot be limited (TensorFlow reserves gigabytes it never touches): the peak resident
    memory of the child processes is measured instead."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run_batch(batch(folder(), plans, mutators.write_keras, ".keras"), memory_mb=0)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_mb < max(1536, before / 1024 + 1), f"a child peaked at {peak_mb:.0f} MB"
