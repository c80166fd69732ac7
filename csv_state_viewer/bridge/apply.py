"""Write a state into a Keras model, optimizer included, after a checked mapping.

:func:`plan_apply` returns the :class:`~csv_state_viewer.bridge.mapping.MappingReport`
(the GUI shows it before anything is written); :func:`apply_state` refuses the whole
write on any problem unless ``allow_partial``, decodes and casts every value before it
assigns the first one, so a failure leaves the model untouched; :func:`save_model`
writes the result atomically as ``.keras``, ``.weights.h5`` or a TensorFlow checkpoint.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from csv_state_viewer.bridge import tfcheckpoint, tfimport
from csv_state_viewer.bridge.kerasload import load_keras_model
from csv_state_viewer.bridge.kerasmodel import (
    GLOBAL_RNG,
    ROLE_RNG,
    NamedVariable,
    create_global_rng,
    named_variables,
    rng_variables,
)
from csv_state_viewer.bridge.mapping import MATCHED, MappingReport, MappingRow, Slot, plan
from csv_state_viewer.bridge.userimports import ImportFailedError
from csv_state_viewer.core.atomic import atomic_path
from csv_state_viewer.core.dtypes import resolve_dtype
from csv_state_viewer.core.errors import CsvStateError, NotAStateError, StateWriteError
from csv_state_viewer.core.lazystate import LazyState, LazyTensor
from csv_state_viewer.core.messages import Hint, hinted
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.registry import format_for_writing, formats
from csv_state_viewer.core.state import State
from csv_state_viewer.core.tensors import Tensors, tensor_items

BAD_ROW = "bad row"
_UNKNOWN_CLASS = re.compile(r"Could not locate class '([^']+)'")


class MappingError(CsvStateError):
    """The mapping has problems and a partial write was not allowed; nothing was written."""

    def __init__(self, report: MappingReport) -> None:
        count = len(report.problems)
        super().__init__(
            f"nothing written: {count} problem{'s' if count != 1 else ''} in the mapping"
        )
        self.report = report
        by_position = report.order_fits and report.match == "name"
        self.hint = Hint.MATCH_ORDER if by_position else Hint.ALLOW_PARTIAL

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.report,))


def _dtype_name(dtype: Any) -> str:
    keras = tfimport.keras()
    return str(keras.backend.standardize_dtype(dtype))


# ---------------------------------------------------------------- descriptions
def state_slots(state: State) -> list[Slot]:
    """The state's good tensors as mapping items (first of duplicate names only)."""
    out = []
    for name in state.names():
        entry = state.entry(name)
        meta = entry.metadata
        out.append(
            Slot(
                name=name,
                shape=tuple(entry.shape or ()),
                dtype=str(entry.dtype),
                role=str(meta.get("role", "weight")),
                slot_of=meta.get("slot_of"),
                slot=meta.get("slot"),
                scalar=meta.get("optimizer_variable"),
                optimizer=meta.get("optimizer"),
            )
        )
    return out


def model_slots(model: Any) -> list[Slot]:
    return [_slot(item) for item in named_variables(model, include_optimizer=False)]


def optimizer_slots(model: Any) -> list[Slot] | None:
    """The compiled optimizer's variables (built for the model if needed), or None."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return [_slot(item) for item in named_variables(model) if item.metadata["role"] == "optimizer"]


def rng_slots(model: Any, state: State) -> list[Slot]:
    """The model's random generators (Keras's global one too when the state has it)."""
    if GLOBAL_RNG in state:
        create_global_rng()
    return [_slot(item) for item in rng_variables(model)]


def _slot(item: NamedVariable) -> Slot:
    meta = item.metadata
    return Slot(
        name=item.name,
        shape=tuple(item.variable.shape),
        dtype=_dtype_name(item.variable.dtype),
        role=meta["role"],
        slot_of=meta.get("slot_of"),
        slot=meta.get("slot"),
        scalar=meta.get("optimizer_variable"),
        optimizer=meta.get("optimizer"),
    )


# ------------------------------------------------------------------------ apply
def plan_apply(
    state: State, model: Any, *, match: str = "auto", optimizer: bool = True
) -> MappingReport:
    """The mapping report of writing ``state`` into ``model``; nothing is written."""
    targets = optimizer_slots(model) if optimizer else None
    kind = type(model.optimizer).__name__ if targets is not None else None
    report = plan(
        state_slots(state),
        model_slots(model),
        targets,
        match=match,
        optimizer_name=kind,
        rng_variables=rng_slots(model, state),
    )
    if (
        optimizer
        and targets is None
        and any(e.metadata.get("role") == "optimizer" for e in state.entries)
    ):
        report.notes.append("the model is not compiled: optimizer state cannot be restored")
    for problem in state.errors:
        report.rows.insert(
            0,
            MappingRow(status=BAD_ROW, role="weight", state_name=problem.name, how=problem.message),
        )
    return report


def _variables(model: Any) -> dict[str, Any]:
    return {item.name: item.variable for item in named_variables(model, include_rng=True)}


def apply_state(
    state: State,
    model: Any,
    *,
    match: str = "auto",
    optimizer: bool = True,
    allow_partial: bool = False,
    dry_run: bool = False,
    progress: Progress = NO_PROGRESS,
) -> MappingReport:
    """Write ``state`` into ``model`` (and its optimizer); returns the mapping report.

    Raises :class:`MappingError` (nothing written) when the report has problems and
    ``allow_partial`` is false. With ``dry_run`` only the report is made.
    """
    report = plan_apply(state, model, match=match, optimizer=optimizer)
    if dry_run:
        return report
    if report.problems and not allow_partial:
        raise MappingError(report)
    variables = _variables(model)
    rows = [row for row in report.rows if row.status == MATCHED]
    values: list[tuple[Any, np.ndarray]] = []
    for index, row in enumerate(rows):  # decode everything before writing anything
        check_cancelled(progress)
        assert row.state_name is not None and row.target is not None
        value = state.read(row.state_name)
        if row.target_shape is not None and value.shape != row.target_shape:
            value = value.reshape(row.target_shape)  # same size: a reshape the report shows
        target_dtype = resolve_dtype(row.target_dtype or str(value.dtype))
        values.append((variables[row.target], value.astype(target_dtype, copy=False)))
        progress.report(index + 1, 2 * len(rows))
    for index, (variable, value) in enumerate(values):
        variable.assign(value)
        progress.report(len(rows) + index + 1, 2 * len(rows))
    return report


# ----------------------------------------------------------------- model files
def load_model(path: str, *, safe_mode: bool = True) -> Any:
    """A compiled Keras model from a ``.keras`` archive or a legacy full-model ``.h5``.

    ``safe_mode`` (Keras's own) refuses models whose config carries code (``Lambda``
    layers); pass False only for files you trust.
    """
    if not os.path.exists(path):
        raise NotAStateError(path, "no such file")
    if path.lower().endswith(".keras") and not _starts_with(path, b"PK\x03\x04"):
        raise NotAStateError(path, "not a Keras .keras archive (not a zip file)")
    try:
        with warnings.catch_warnings(), tfimport.quiet_native_stderr():
            # A model saved before its first training step has an unbuilt optimizer;
            # Keras warns that it cannot load those (absent) variables. apply builds it.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            return load_keras_model(path, safe_mode=safe_mode)
    except ImportFailedError:
        raise
    except Exception as err:  # Keras raises many types for bad files
        reason = " ".join(str(err).split())[:300]
        unknown = _UNKNOWN_CLASS.search(reason)
        if unknown:
            refused = NotAStateError(
                path, f"cannot load a Keras model: its class {unknown.group(1)!r} is not registered"
            )
            raise hinted(refused, Hint.IMPORT) from None
        if safe_mode and "safe_mode" in reason:
            refused = NotAStateError(path, "cannot load a Keras model: it contains code (Lambda)")
            raise hinted(refused, Hint.UNSAFE) from None
        if path.lower().endswith(".keras") and not zipfile.is_zipfile(path):
            # Keras says "File not found" of a .keras whose zip directory cannot be read
            raise NotAStateError(
                path,
                "cannot load a Keras model: the .keras file is truncated or damaged "
                "(not a valid zip archive)",
            ) from None
        raise NotAStateError(path, f"cannot load a Keras model ({reason})") from None


def _starts_with(path: str, magic: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def save_model(model: Any, path: str, *, overwrite: bool = False) -> list[str]:
    """Write ``model`` (with its optimizer) atomically in the format of ``path``'s
    extension (one whose Format ``takes_model``); returns the files written."""
    fmt = format_for_writing(path)
    if fmt.name == "tf-checkpoint":
        return _save_checkpoint(model, tfcheckpoint.prefix_for_writing(path), overwrite)
    if fmt.name not in ("keras", "keras-weights"):
        kinds = ", ".join(f.display_name for f in formats() if f.takes_model)
        raise StateWriteError(f"{path}: a model is written as one of: {kinds}")
    suffix = fmt.default_extension
    with atomic_path(path, overwrite=overwrite, suffix=suffix) as tmp:
        if fmt.name == "keras-weights":
            model.save_weights(tmp, overwrite=True)
        else:
            model.save(tmp, overwrite=True)
    return [path]


def _save_checkpoint(model: Any, prefix: str, overwrite: bool) -> list[str]:
    """The model's own ``tf.train.Checkpoint(model=..., optimizer=...)`` at ``prefix``;
    refused (nothing placed) when TensorFlow's tracking leaves variables out of it, as it
    does with a MultiOptimizer's sub-optimizers."""
    tf = tfimport.tensorflow()
    expected = len(named_variables(model))

    def write(work: str) -> str:
        objects = {"model": model}
        if getattr(model, "optimizer", None) is not None:
            objects["optimizer"] = model.optimizer
        checkpoint = tf.train.Checkpoint(**objects)
        # save() would number the prefix; write() keeps it but skips the save counter,
        # which restore().assert_consumed() then misses: create it as one save would.
        checkpoint.save_counter.assign(1)
        written = str(checkpoint.write(os.path.join(work, "ckpt")))
        saved = sum(
            1
            for key, _shape in tf.train.list_variables(written)
            if key.endswith("/.ATTRIBUTES/VARIABLE_VALUE") and not key.startswith("save_counter")
        )
        if saved < expected:
            raise StateWriteError(
                f"{prefix}: a TensorFlow checkpoint of this model holds only {saved} of its "
                f"{expected} variables (TensorFlow does not track them all, e.g. a "
                "MultiOptimizer's sub-optimizers): write .keras or .weights.h5 instead"
            )
        return written

    return tfcheckpoint.place_checkpoint(prefix, write, overwrite=overwrite)


def save_into_model(
    path: str,
    tensors: Tensors,
    *,
    model: Any,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
    match: str = "auto",
    allow_partial: bool = False,
    unsafe: bool = False,
) -> int:
    """The registry's saver for model destinations: apply ``tensors`` to ``model``, save it.

    ``model`` is a live Keras model or the path of one. Returns the tensors written.
    """
    if isinstance(model, str | os.PathLike):
        model = load_model(os.fspath(model), safe_mode=not unsafe)
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    lazy = [LazyTensor(i.name, i.shape, i.dtype, i.load, i.metadata) for i in items]
    with LazyState(path, "tensors", lazy) as state:
        report, _files = apply_and_save(
            state,
            model,
            path,
            match=match,
            allow_partial=allow_partial,
            overwrite=overwrite,
            progress=progress,
        )
    return len(report.matched())


def apply_and_save(
    state: State,
    model: Any,
    path: str,
    *,
    match: str = "auto",
    optimizer: bool = True,
    allow_partial: bool = False,
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> tuple[MappingReport, list[str]]:
    """Write ``state`` into ``model`` and save the model at ``path``: the one workflow of
    ``apply``, the Write dialog and conversions with a model. Cancelling is possible until
    the save starts; a refused mapping raises :class:`MappingError` and writes nothing."""
    report = apply_state(
        state,
        model,
        match=match,
        optimizer=optimizer,
        allow_partial=allow_partial,
        progress=progress,
    )
    check_cancelled(progress)  # the last point where cancelling leaves no file behind
    files = save_model(model, path, overwrite=overwrite)
    rng = sum(1 for row in report.matched() if row.role == ROLE_RNG)
    if rng:
        kind = format_for_writing(path).display_name
        report.notes.append(
            f"{kind} cannot carry RNG state: the {rng} RNG states written into the model are "
            "not in the saved file (save_training_state writes a state that has them)"
        )
    return report, files
