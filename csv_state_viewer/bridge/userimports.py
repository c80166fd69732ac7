"""The user's own modules that register custom Keras classes (``--import``).

A subclassed model or a custom layer is rebuilt from a ``.keras`` file only when its class
is registered (``@keras.saving.register_keras_serializable``), which happens when the
module defining it is imported. :func:`use` records the modules (a dotted module name, or
the path of a ``.py`` file) for this process; :func:`import_requested` imports them, once,
right before a model is loaded, so commands that never load a model never run user code.
The TensorFlow worker gets the same list with every call
(:mod:`csv_state_viewer.ops.tfworker`). Safe mode still applies to what the modules do not
register: a ``Lambda`` stays refused without ``--unsafe``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

from csv_state_viewer.core.errors import CsvStateError

_lock = threading.Lock()
_requested: list[str] = []  # the modules asked for, in order
_imported: dict[str, ModuleType] = {}


class ImportFailedError(CsvStateError):
    """A module given with ``--import`` could not be imported: one line, with why."""


def use(specs: Sequence[str]) -> None:
    """Import these modules (names or ``.py`` paths) before any Keras model is loaded."""
    with _lock:
        _requested[:] = [str(spec) for spec in specs if str(spec).strip()]


def requested() -> tuple[str, ...]:
    with _lock:
        return tuple(_requested)


def import_requested() -> list[ModuleType]:
    """Import every requested module not imported yet (in the order given)."""
    with _lock:
        return [_import_one(spec) for spec in _requested]


def _import_one(spec: str) -> ModuleType:
    if spec in _imported:
        return _imported[spec]
    is_path = spec.endswith(".py") or os.sep in spec or (os.altsep or os.sep) in spec
    try:
        module = _import_file(spec) if is_path else importlib.import_module(spec)
    except ImportFailedError:
        raise
    except SystemExit as err:
        raise ImportFailedError(f"cannot import {spec}: it called exit({err.code})") from None
    except BaseException as err:  # user code: anything can come out of it
        if isinstance(err, KeyboardInterrupt):
            raise
        reason = " ".join(str(err).split())[:300]
        raise ImportFailedError(f"cannot import {spec}: {type(err).__name__}: {reason}") from None
    _imported[spec] = module
    return module


def _import_file(path: str) -> ModuleType:
    """A ``.py`` file as the module named by its stem; its folder goes on ``sys.path`` so
    the file's own imports of its neighbours work."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise ImportFailedError(f"cannot import {path}: no such file")
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportFailedError(f"cannot import {path}: not a Python module")
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
