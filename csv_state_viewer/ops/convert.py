"""Convert one state file into another format: the job behind ``csv-state convert``, the
Convert dialog, *Save As* and *Export*."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from csv_state_viewer.core import api
from csv_state_viewer.core.errors import BadRowsError, RowProblem, StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.messages import Hint, hinted
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, Span
from csv_state_viewer.core.registry import format_for_reading, format_for_writing, format_named
from csv_state_viewer.core.selection import select
from csv_state_viewer.core.state import State
from csv_state_viewer.core.tensors import Tensors
from csv_state_viewer.ops import isolation
from csv_state_viewer.ops.destinations import check_destination
from csv_state_viewer.ops.opening import open_like


@dataclass(frozen=True)
class ConvertOptions:
    """How to convert. ``format_name`` picks the format (default: by the extension);
    ``save_options`` go to its writer (CSV's ``encoding``); ``model`` (a path) is what a
    Keras or model-checkpoint destination is written into."""

    format_name: str | None = None
    layout: str | None = None  # the source's format, when its content fits several
    like: str | None = None  # a model or state whose weight shapes the source takes
    read_options: Mapping[str, Any] = field(default_factory=dict)  # the source's (scale)
    save_options: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    match: str = "auto"
    unsafe: bool = False
    overwrite: bool = False
    skip_bad: bool = False
    tensors: tuple[str, ...] = ()  # write only these tensors or scopes (all when empty)


@dataclass(frozen=True)
class Converted:
    source: str
    destination: str
    format_name: str
    written: int
    skipped: tuple[RowProblem, ...]  # bad rows left out (with skip_bad)


def convert(
    source: str,
    destination: str,
    options: ConvertOptions = ConvertOptions(),
    progress: Progress = NO_PROGRESS,
    *,
    keep: tuple[str, ...] = (),
    produced: tuple[str, ...] = (),
) -> Converted:
    """Convert ``source`` to ``destination``; nothing is written on any refusal.

    ``keep`` are other files the destination must not replace (the rest of a queue),
    ``produced`` files the same job wrote already. Raises BadRowsError (with the
    problems) when the source has bad rows and ``skip_bad`` is false, StateWriteError
    for a refused destination, MappingError (with the report) for a refused mapping.
    """
    fmt = _destination_format(destination, options)
    sources = (source, *(p for p in (options.model,) if p), *keep)
    check_destination(
        destination, fmt, overwrite=options.overwrite, sources=sources, produced=produced
    )
    return isolation.run(
        isolation.isolating(reads=(format_for_reading(source, options.layout),), writes=(fmt,)),
        f"converting {source}",
        "csv_state_viewer.ops.convert:convert_here",
        source,
        destination,
        options,
        progress=progress,
    )


def _destination_format(destination: str, options: ConvertOptions) -> Format:
    """The format chosen in ``options``, else the one the destination's extension names."""
    if options.format_name:
        return format_named(options.format_name)
    return format_for_writing(destination)


def convert_here(
    source: str, destination: str, options: ConvertOptions, progress: Progress = NO_PROGRESS
) -> Converted:
    """:func:`convert` in this process (the worker runs this for TensorFlow formats)."""
    opened = _open_source(source, options, Span(progress, 0, 100))
    try:
        chosen = select(opened, options.tensors)
    except BaseException:
        opened.close()
        raise
    with chosen as state:
        if state.errors and not options.skip_bad:
            raise hinted(BadRowsError(source, state.errors), Hint.SKIP_BAD)
        return save_here(state, destination, options, progress=Span(progress, 100, 1000))


def _open_source(source: str, options: ConvertOptions, progress: Progress) -> State:
    extra = options.read_options
    if options.like:
        return open_like(source, options.like, progress, options.layout, **extra)
    return api.open_state(source, progress, options.layout, **extra)


def export(
    state: State,
    destination: str,
    options: ConvertOptions = ConvertOptions(),
    progress: Progress = NO_PROGRESS,
) -> Converted:
    """Write an open state (as the viewer shows it: files opened together, shapes taken
    from a model, a chosen layout) to ``destination``; :func:`convert` re-reads a path."""
    fmt = _destination_format(destination, options)
    sources = (state.path, *(p for p in (options.model,) if p))
    check_destination(destination, fmt, overwrite=options.overwrite, sources=sources)
    state = select(state, options.tensors)  # not closed here: the caller's state
    if state.errors and not options.skip_bad:
        raise hinted(BadRowsError(state.path, state.errors), Hint.SKIP_BAD)
    if not isolation.isolating(writes=(fmt,)):
        return save_here(state, destination, options, progress=progress)
    # the worker cannot read this process's state: its tensors travel with the call
    tensors = state.read_all(Span(progress, 0, 500), skip_bad=True)
    metadata = {e.name: e.metadata for e in state.entries if e.ok and e.name in tensors}
    return isolation.run(
        True,
        f"exporting {state.path}",
        "csv_state_viewer.ops.convert:save_here",
        tensors,
        destination,
        options,
        metadata=metadata,
        skipped=tuple(state.errors),
        progress=Span(progress, 500, 1000),
    )


def save_here(
    tensors: Tensors,
    destination: str,
    options: ConvertOptions,
    *,
    metadata: dict[str, dict[str, Any]] | None = None,
    skipped: tuple[RowProblem, ...] = (),
    progress: Progress = NO_PROGRESS,
) -> Converted:
    """Write ``tensors`` (an open state, or arrays) as ``options`` say, in this process.

    Rows whose data turns out bad while writing are left out only with ``skip_bad``; they
    are then among ``skipped``, with the state's bad rows."""
    fmt = _destination_format(destination, options)
    # options of other formats (the CLI's --encoding for an .npz) do not apply here
    save: dict[str, Any] = {
        key: value for key, value in options.save_options.items() if key in fmt.save_options
    }
    if options.model is not None:
        save.update(model=options.model, match=options.match, unsafe=options.unsafe)
    written = api.save_state(
        destination,
        tensors,
        metadata=metadata,
        progress=progress,
        overwrite=options.overwrite,
        skip_bad=options.skip_bad,
        options=save,
        format_name=fmt.name,
    )
    if options.model is None:  # into a model, the mapping accounts for every tensor
        _check_all_written(tensors, destination, written)
    path = getattr(tensors, "path", destination)
    skipped = tuple(getattr(tensors, "errors", skipped))  # an open state knows them all
    return Converted(os.fspath(path), destination, fmt.name, written, skipped)


def _check_all_written(tensors: Tensors, destination: str, written: int) -> None:
    """A conversion never silently writes fewer tensors than it read: every good tensor
    (bad rows left out with ``skip_bad`` are reported) must have been written, or the
    written file is removed and the conversion fails."""
    if isinstance(tensors, State):
        expected = sum(1 for entry in tensors.entries if tensors.problem_of(entry) is None)
    else:
        expected = len(tensors)
    if written >= expected:
        return
    removed = ""
    if os.path.isfile(destination):
        with contextlib.suppress(OSError):
            os.remove(destination)
            removed = "; the file was removed"
    raise StateWriteError(
        f"{destination}: only {written} of {expected} tensors were written{removed}"
    )
