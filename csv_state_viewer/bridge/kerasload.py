"""Loading a user's Keras model file as Keras would, without what Keras forgets.

:func:`load_keras_model` is the one place a model file is loaded (``apply --model``, the
Write dialog, rebuilding a ``.keras`` to name its variables): it imports the modules given
with ``--import`` first (:mod:`.userimports`), and loads under the dtype policy the model
was saved with. Keras wraps a model's optimizer in a ``LossScaleOptimizer`` when the model
is compiled under ``mixed_float16``; a ``.keras`` file records the policy in its config,
but ``load_model`` compiles under the *global* policy, so a mixed-precision model came back
with a bare optimizer that cannot take its saved loss scale. Here the command line needs no
global setting.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from csv_state_viewer.bridge import tfimport, userimports
from csv_state_viewer.core.limits import MAX_CONFIG_BYTES

# the policies under which Keras's compile() wraps the optimizer for loss scaling
_LOSS_SCALED = frozenset({"mixed_float16"})


def load_keras_model(
    path: str, *, safe_mode: bool = True, config: dict[str, Any] | None = None
) -> Any:
    """``keras.saving.load_model(path, compile=True)`` after the user's imports, under the
    model's own dtype policy (from ``config``, the file's parsed ``config.json`` when the
    caller has read it already). Keras's exceptions pass through."""
    userimports.import_requested()
    keras = tfimport.keras()
    policy = policy_of(config) if config is not None else saved_policy(path)
    with _global_policy(policy):
        return keras.saving.load_model(path, compile=True, safe_mode=safe_mode)


def saved_policy(path: str) -> str | None:
    """The dtype policy of the model saved at ``path`` (``.keras`` or legacy HDF5): the
    model's own, or, for a functional model (whose config does not record one: Keras gives
    it the global policy at construction), a loss-scaled policy when one of its layers has
    it. None when the file does not say."""
    return policy_of(_saved_config(path))


def policy_of(config: object) -> str | None:
    """:func:`saved_policy` of a parsed model config."""
    if not isinstance(config, dict):
        return None
    own = _policy_name(config)
    if own is not None:
        return own
    found = _layer_policies(config, 0)
    return next((name for name in found if name in _LOSS_SCALED), None)


def _policy_name(item: object) -> str | None:
    """``mixed_float16`` from ``{"config": {"dtype": <policy>}}`` (a policy is a name or
    ``{"class_name": "DTypePolicy", "config": {"name": ...}}``)."""
    inner = item.get("config") if isinstance(item, dict) else None
    dtype = inner.get("dtype") if isinstance(inner, dict) else None
    if isinstance(dtype, dict):
        policy = dtype.get("config")
        dtype = policy.get("name") if isinstance(policy, dict) else None
    return dtype if isinstance(dtype, str) else None


def _layer_policies(item: object, depth: int) -> list[str]:
    inner = item.get("config") if isinstance(item, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list) or depth > 32:
        return []
    out = []
    for layer in layers:
        name = _policy_name(layer)
        if name is not None:
            out.append(name)
        out += _layer_policies(layer, depth + 1)
    return out


def _saved_config(path: str) -> object:
    with contextlib.suppress(OSError, ValueError, KeyError, zipfile.BadZipFile, RecursionError):
        if zipfile.is_zipfile(path):
            from csv_state_viewer.bridge.kerasfiles.archive import CONFIG_MEMBER, _read_config

            with zipfile.ZipFile(path) as archive:  # the archive reader's bounded read
                return _read_config(path, archive.getinfo(CONFIG_MEMBER))[0]
        import h5py

        with h5py.File(path, "r") as file:
            text = file.attrs.get("model_config")
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            if isinstance(text, str) and len(text) <= MAX_CONFIG_BYTES:
                return json.loads(text)
    return None


@contextlib.contextmanager
def _global_policy(name: str | None) -> Iterator[None]:
    """The global dtype policy set to ``name`` for the block when it is one under which
    Keras scales the loss; otherwise nothing changes."""
    if name not in _LOSS_SCALED:
        yield
        return
    keras = tfimport.keras()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
