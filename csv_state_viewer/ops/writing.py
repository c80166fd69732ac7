"""Write a state into a Keras model: plan the mapping, then write — the job behind
``csv-state apply`` and the viewer's *Write into Keras model* dialog.

Both steps load the model afresh in the TensorFlow worker, so a refused or cancelled
write never leaves a half-applied model anywhere, and the caller's process never runs
TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from csv_state_viewer.core import api
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.format import Format
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, Span, check_cancelled
from csv_state_viewer.core.registry import format_for_reading, format_for_writing, formats
from csv_state_viewer.core.state import State
from csv_state_viewer.ops import isolation
from csv_state_viewer.ops.destinations import check_destination
from csv_state_viewer.ops.opening import open_like

if TYPE_CHECKING:
    from csv_state_viewer.bridge.mapping import MappingReport


@dataclass(frozen=True)
class WriteRequest:
    """What to write where: the state file, the Keras model file, and how to match."""

    state: str
    model: str
    match: str = "auto"
    optimizer: bool = True
    allow_partial: bool = False
    unsafe: bool = False
    layout: str | None = None  # the state's format, when its content fits several
    like: str | None = None  # a model or state whose weight shapes the state takes
    read_options: Mapping[str, Any] = field(default_factory=dict)  # the state's (scale)


@dataclass(frozen=True)
class Written:
    report: MappingReport
    files: tuple[str, ...]

    @property
    def count(self) -> int:
        """Tensors written into the model."""
        return len(self.report.matched())


def model_formats() -> list[Format]:
    """The formats a model can be written to (``.keras``, ``.weights.h5``, checkpoints)."""
    return [f for f in formats() if f.takes_model]


def model_destination(path: str) -> Format:
    """The format a model is written in at ``path``; refuses other extensions."""
    fmt = format_for_writing(path)
    if not fmt.takes_model:
        kinds = ", ".join(f.display_name for f in model_formats())
        raise StateWriteError(f"{path}: a model is written as one of: {kinds}")
    return fmt


def check_output(request: WriteRequest, output: str, *, overwrite: bool) -> Format:
    """Refuse an ``output`` the model cannot be written to (a few ``stat`` calls: a dialog
    may call it on the UI thread to answer at once); returns its format."""
    fmt = model_destination(output)
    check_destination(output, fmt, overwrite=overwrite, sources=(request.state, request.model))
    return fmt


def _isolate(request: WriteRequest) -> bool:
    return isolation.isolating(format_for_reading(request.model))


def plan_write(request: WriteRequest, progress: Progress = NO_PROGRESS) -> MappingReport:
    """The mapping report of writing the state into the model; nothing is written."""
    return isolation.run(
        _isolate(request),
        f"checking the mapping onto {request.model}",
        "csv_state_viewer.ops.writing:plan_here",
        request,
        progress=progress,
    )


def write_into_model(
    request: WriteRequest,
    output: str,
    *,
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> Written:
    """Write the state into a fresh copy of the model and save it at ``output``.

    Raises MappingError (with the report; nothing written) when the mapping has problems
    and ``allow_partial`` is false, StateWriteError for a refused destination.
    """
    check_output(request, output, overwrite=overwrite)
    return isolation.run(
        _isolate(request),
        f"writing into {request.model}",
        "csv_state_viewer.ops.writing:write_here",
        request,
        output,
        overwrite,
        progress=progress,
    )


def plan_here(request: WriteRequest, progress: Progress = NO_PROGRESS) -> MappingReport:
    from csv_state_viewer.bridge.apply import load_model, plan_apply

    model = load_model(request.model, safe_mode=not request.unsafe)
    check_cancelled(progress)
    with _open_state(request) as state:
        return plan_apply(state, model, match=request.match, optimizer=request.optimizer)


def write_here(
    request: WriteRequest, output: str, overwrite: bool, progress: Progress = NO_PROGRESS
) -> Written:
    from csv_state_viewer.bridge.apply import apply_and_save, load_model

    model = load_model(request.model, safe_mode=not request.unsafe)
    progress.report(100, 1000)
    check_cancelled(progress)
    with _open_state(request) as state:
        report, files = apply_and_save(
            state,
            model,
            output,
            match=request.match,
            optimizer=request.optimizer,
            allow_partial=request.allow_partial,
            overwrite=overwrite,
            progress=Span(progress, 100, 1000),
        )
    return Written(report, tuple(files))


def _open_state(request: WriteRequest) -> State:
    options = request.read_options
    if request.like:
        return open_like(request.state, request.like, layout=request.layout, **options)
    return api.open_state(request.state, layout=request.layout, **options)
