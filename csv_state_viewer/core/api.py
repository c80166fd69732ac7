"""The public functions: open, load and save a state in any registered format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.registry import (
    format_for_reading,
    format_for_writing,
    format_named,
    open_with,
    save_with,
)
from csv_state_viewer.core.state import State
from csv_state_viewer.core.tensors import Tensors


def open_state(
    path: str | os.PathLike[str],
    progress: Progress = NO_PROGRESS,
    layout: str | None = None,
    **options: Any,
) -> State:
    """Open a state lazily: every tensor is indexed, none is decoded.

    ``layout`` names the format to read it with (``csv-state formats`` lists them) when
    the content fits several; by default the format is recognised from the content.
    ``options`` are the format's reading options (``scale`` for fixed-point matrices).

    Raises :class:`~csv_state_viewer.NotAStateError` (one-line message) when the file is
    not a state at all; bad rows are listed in ``state.errors`` and the rest stays readable.
    """
    path = os.fspath(path)
    return open_with(format_for_reading(path, layout), path, progress, **options)


def load_state(
    path: str | os.PathLike[str],
    progress: Progress = NO_PROGRESS,
    *,
    skip_bad: bool = False,
) -> dict[str, np.ndarray]:
    """Read every tensor into a dict ordered as in the file.

    Bad rows raise :class:`~csv_state_viewer.BadRowsError` naming them, unless
    ``skip_bad`` leaves them out.
    """
    path = os.fspath(path)
    fmt = format_for_reading(path)
    # a format that indexes row by row decodes each tensor as soon as it is indexed
    ahead = {"decode_ahead": True} if "decode_ahead" in fmt.open_options else {}
    with open_with(fmt, path, progress, **ahead) as state:
        return state.read_all(progress, skip_bad=skip_bad)


def save_state(
    path: str | os.PathLike[str],
    tensors: Tensors,
    encoding: str = "text",
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    options: Mapping[str, Any] | None = None,
    format_name: str | None = None,
) -> int:
    """Write ``tensors`` (a mapping of names to arrays, or an open state) atomically.

    The format follows the extension (``.csv``, ``.csv.gz``, ``.npz``, ...). ``encoding``
    ("text" or "base64") applies to CSV. ``metadata`` maps names to extra metadata keys.
    A destination that is open for reading is refused; with ``overwrite=False`` so is
    an existing one. ``options`` are format-specific (``model`` for Keras destinations);
    ``format_name`` chooses the format instead of the extension.
    Returns the number of tensors written.
    """
    path = os.fspath(path)
    fmt = format_named(format_name) if format_name else format_for_writing(path)
    settings: dict[str, Any] = {
        "metadata": metadata,
        "progress": progress,
        "overwrite": overwrite,
        "skip_bad": skip_bad,
    }
    if "encoding" in fmt.save_options:
        settings["encoding"] = encoding
    settings.update(options or {})
    return save_with(fmt, path, tensors, **settings)
