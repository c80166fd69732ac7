"""Where a job runs: in this process, or in the TensorFlow worker process.

A job runs in the worker (:mod:`csv_state_viewer.ops.tfworker`) when it reads a format
whose reader imports TensorFlow (``Format.reads_with_tensorflow``) or writes one whose
writer does (``Format.writes_with_tensorflow``): TensorFlow's import cannot freeze a
window, and its native code cannot abort the viewer or the command line. Everything else
runs here: opening a checkpoint (our own reader) does, writing one does not. Set
``CSV_STATE_IN_PROCESS=1`` to run TensorFlow in the calling process (debugging).
"""

from __future__ import annotations

import os
from typing import Any

from csv_state_viewer.core.format import Format
from csv_state_viewer.core.progress import NO_PROGRESS, Progress


def isolating(
    *formats: Format | None,
    reads: tuple[Format | None, ...] = (),
    writes: tuple[Format | None, ...] = (),
) -> bool:
    """True when a job must run in the worker process: it reads a format of ``reads``
    or writes one of ``writes`` with TensorFlow, or uses one of ``formats`` both ways (a
    model loaded and written into) and either direction needs TensorFlow."""
    if os.environ.get("CSV_STATE_IN_PROCESS"):
        return False
    return (
        any(fmt is not None and fmt.needs_tensorflow for fmt in formats)
        or any(fmt is not None and fmt.reads_with_tensorflow for fmt in reads)
        or any(fmt is not None and fmt.writes_with_tensorflow for fmt in writes)
    )


def run(
    isolate: bool,
    what: str,
    function: str,
    *args: Any,
    progress: Progress = NO_PROGRESS,
    **kwargs: Any,
) -> Any:
    """Call ``function`` (``"module:name"``) here or, with ``isolate``, in the worker."""
    if isolate:
        from csv_state_viewer.ops.tfworker import shared_worker

        return shared_worker().call(what, function, *args, progress=progress, **kwargs)
    import importlib

    module, name = function.split(":")
    return getattr(importlib.import_module(module), name)(*args, progress=progress, **kwargs)
