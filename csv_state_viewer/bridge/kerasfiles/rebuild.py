"""Real variable names from Keras: the model rebuilt, or the weights loaded into a model.

A ``.keras`` archive's model is rebuilt by
:func:`~csv_state_viewer.bridge.kerasload.load_keras_model` (safe mode, the user's
``--import`` modules, the saved dtype policy); a Keras 3 ``.weights.h5`` file is loaded
into the model given as ``model=`` (``model.load_weights``; an unbuilt optimizer of a
compiled model is built first). The variables are then named as
:func:`~csv_state_viewer.bridge.kerasmodel.model_tensors` names them; stored optimizer
values the model did not take (no optimizer, or a different number of variables) are
added by structural name. A Keras error, or a Keras warning that some saved values were
not loaded, is a :class:`_NotRebuilt` whose reason goes to the structural fallback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from csv_state_viewer.bridge import kerasmodel, tfimport, userimports
from csv_state_viewer.bridge.kerasfiles.h5source import (
    _count_datasets,
    _count_optimizer_variables,
    _H5Source,
    _structural_tensors,
)
from csv_state_viewer.bridge.kerasfiles.reasons import _clip, _describe, _first_line
from csv_state_viewer.bridge.kerasload import load_keras_model
from csv_state_viewer.core.lazystate import LazyState
from csv_state_viewer.core.progress import Progress

# Keras warns (instead of raising) when some saved values were not loaded into the model.
_LOAD_FAILURE_WARNINGS = ("could not be loaded", "Skipping nested container")
# Handled here: the optimizer's values are then read from the file instead.
_OPTIMIZER_SKIPPED_WARNING = "Skipping variable loading for optimizer"


class _NotRebuilt(Exception):  # noqa: N818 - an outcome, carried to the fallback
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextlib.contextmanager
def _named(path: str, suffix: str) -> Iterator[str]:
    """``path``, or a link to it named ``*<suffix>`` (Keras picks its reader by the name)."""
    if path.endswith(suffix):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="csv-state-") as folder:
        alias = os.path.join(folder, "model" + suffix)
        try:
            os.symlink(os.path.abspath(path), alias)
        except OSError:
            shutil.copyfile(path, alias)
        yield alias


def _call_keras(call: Callable[[], Any], failure: str) -> Any:
    """Run a Keras load; a raised error or a "not loaded" warning becomes :class:`_NotRebuilt`.

    Every warning is recorded (so none is lost to the once-per-location registry); the
    ones that are not about loading are re-issued for the caller's filters to judge.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as err:  # Keras raises anything from a bad config or file
            raise _NotRebuilt(f"{failure}: {_describe(err)}") from None
    for item in caught:
        text = str(item.message)
        if any(marker in text for marker in _LOAD_FAILURE_WARNINGS):
            raise _NotRebuilt(f"{failure}: {_clip(_first_line(text))}")
    for item in caught:
        if _OPTIMIZER_SKIPPED_WARNING not in str(item.message):
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return result


def _rebuild_model(path: str, config: dict[str, Any] | None = None) -> Any:
    try:
        tfimport.keras()
    except ImportError as err:
        raise _NotRebuilt(f"Keras is not available ({_describe(err)})") from None
    userimports.import_requested()  # a module the user named that fails is their error
    # building the model probes devices, and TensorFlow's C++ runtime reports a missing
    # GPU on file descriptor 2: keep it out of the CLI's stderr, as for the import
    with _named(path, ".keras") as alias, tfimport.quiet_native_stderr():
        return _call_keras(
            lambda: load_keras_model(alias, safe_mode=True, config=config),
            "the model could not be rebuilt",
        )


def _load_weights_into(model: Any, path: str, source: _H5Source) -> None:
    optimizer = getattr(model, "optimizer", None)
    if (
        optimizer is not None
        and not getattr(optimizer, "built", True)
        and getattr(model, "built", False)
        and _count_datasets(source.file, "optimizer")
    ):
        with contextlib.suppress(Exception):  # as Keras does when it compiles a loaded model
            optimizer.build(model.trainable_variables)
    with _named(path, ".weights.h5") as alias:
        _call_keras(lambda: model.load_weights(alias), "the weights do not fit the given model")


def _model_state(
    path: str,
    format_name: str,
    model: Any,
    source: _H5Source,
    progress: Progress,
    *,
    optimizer_class: str | None,
) -> LazyState:
    """The model's variables by their real names; stored optimizer values the model did not
    take (no optimizer, or a different number of variables) are added by structural name."""
    stored = _count_optimizer_variables(source.file)
    optimizer = getattr(model, "optimizer", None)
    loaded = (
        stored > 0
        and optimizer is not None
        and getattr(optimizer, "built", False)
        and len(optimizer.variables) == stored
    )
    tensors = kerasmodel.model_tensors(model, include_optimizer=loaded)
    if stored and not loaded:
        if optimizer is None:
            reason = "the model has no optimizer to load the stored optimizer variables into"
        else:
            count = len(optimizer.variables) if getattr(optimizer, "built", False) else 0
            reason = f"the model's optimizer has {count} variables, the file stores {stored}"
        kind = optimizer_class or (type(optimizer).__name__ if optimizer is not None else None)
        tensors += _structural_tensors(source.file, progress, reason, kind, only="optimizer")
        return LazyState(path, format_name, tensors, on_close=source.close)
    source.close()
    progress.report(1, 1)
    return LazyState(path, format_name, tensors)
