"""No conversion writes fewer tensors than it read without failing: a repeated name is a
bad row in every format (not silently the first one only), and a writer that writes fewer
tensors than it was given fails the conversion, leaving no file behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csv_state_viewer.core.atomic import atomic_write
from csv_state_viewer.core.errors import BadRowsError, StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.lazystate import LazyState, tensor_from_array
from csv_state_viewer.core.registry import register_format, unregister_format
from csv_state_viewer.core.tensors import Tensors, tensor_items
from csv_state_viewer.ops.convert import ConvertOptions, convert, export
from csv_state_viewer.ops.opening import open_state


def repeated() -> LazyState:
    """A state whose reader listed two tensors under one name (as Keras paths can be)."""
    tensors = [
        tensor_from_array("adafactor/kernel", np.ones(3, np.float32)),
        tensor_from_array("adafactor/kernel", np.zeros(4, np.float32)),
        tensor_from_array("dense/bias", np.ones(2, np.float32)),
    ]
    return LazyState("made.keras", "keras", tensors)


def test_a_repeated_name_is_a_bad_row_in_any_format(tmp_path: Path) -> None:
    with repeated() as state:
        assert state.names() == ["adafactor/kernel", "dense/bias"]
        assert state.entries[1].error == "duplicate name (first at tensor 1)"
        assert [p.name for p in state.errors] == ["adafactor/kernel"]
        with pytest.raises(BadRowsError):
            export(state, str(tmp_path / "out.csv"))
        assert not (tmp_path / "out.csv").exists()
        done = export(state, str(tmp_path / "out.csv"), ConvertOptions(skip_bad=True))
    assert done.written == 2 and len(done.skipped) == 1  # said, not silent


def _dropping_save(path: str, tensors: Tensors, **options: Any) -> int:
    """A faulty writer: it leaves out the last tensor and says so in its count."""
    items = tensor_items(tensors, options.get("metadata"), skip_bad=options["skip_bad"])
    with atomic_write(path, overwrite=options["overwrite"]) as handle:
        handle.write(b"\n".join(item.name.encode() for item in items[:-1]))
    return len(items) - 1


LOSSY = Format(
    name="lossy",
    description="a writer that loses a tensor",
    label="Lossy",
    extensions=(".lossy",),
    sniff=lambda path, head: False,
    save=_dropping_save,
)


@pytest.fixture
def lossy() -> Iterator[Format]:
    register_format(LOSSY)
    yield LOSSY
    unregister_format(LOSSY.name)


def test_a_writer_that_loses_a_tensor_fails_the_conversion(lossy: Format, tmp_path: Path) -> None:
    source = tmp_path / "s.npz"
    np.savez(source, a=np.ones(2), b=np.zeros(3))
    with pytest.raises(StateWriteError, match="only 1 of 2 tensors were written"):
        convert(str(source), str(tmp_path / "out.lossy"))
    assert not (tmp_path / "out.lossy").exists()
    with open_state(str(source)) as state:
        assert len(state.names()) == 2  # the source is untouched
