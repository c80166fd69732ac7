"""Which of the user's modules are imported before a Keras model is loaded (``--import``,
the Write dialog's *Import modules*): one setting for this process and its TensorFlow
worker. The modules are imported only when a model is loaded (see
:mod:`csv_state_viewer.bridge.userimports`), so reading a CSV never runs user code; a
module file that does not exist is refused at once."""

from __future__ import annotations

import os
from collections.abc import Sequence

from csv_state_viewer.bridge import userimports
from csv_state_viewer.bridge.userimports import ImportFailedError

__all__ = ["ImportFailedError", "model_imports", "use_model_imports"]


def use_model_imports(specs: Sequence[str]) -> None:
    """Import these modules (dotted names or ``.py`` paths) before any model is loaded."""
    specs = [spec.strip() for spec in specs if spec.strip()]
    for spec in specs:
        if spec.endswith(".py") and not os.path.isfile(os.path.expanduser(spec)):
            raise ImportFailedError(f"cannot import {spec}: no such file")
    userimports.use(
        [os.path.abspath(os.path.expanduser(s)) if s.endswith(".py") else s for s in specs]
    )


def model_imports() -> tuple[str, ...]:
    """The modules set by :func:`use_model_imports`."""
    return userimports.requested()
