"""Where a TensorFlow checkpoint is: its prefix, from any of the paths that name one.

:func:`~csv_state_viewer.bridge.tfcheckpoint.read.open_tf_checkpoint` accepts a checkpoint
prefix (``dir/ckpt-3``), its ``.index`` file, one of its ``.data-XXXXX-of-YYYYY`` files, a
directory holding a ``checkpoint`` state file (its latest checkpoint is opened), a
SavedModel directory (or its ``saved_model.pb``; the ``variables/variables`` checkpoint is
opened), and the ``checkpoint`` state file itself. The sniffers here are pure file-system
checks that import no TensorFlow; :func:`prefix_for_writing` is the prefix a destination
names.
"""

from __future__ import annotations

import os
import re

from csv_state_viewer.core.errors import NotAStateError
from csv_state_viewer.core.tfbundle import StateFileError, latest_checkpoint

INDEX_SUFFIX = ".index"
STATE_FILE = "checkpoint"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
SAVED_MODEL_VARIABLES = os.path.join("variables", "variables")

_DATA_FILE = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$", re.DOTALL)
_MAX_REASON = 300


# ------------------------------------------------------------------------ sniffing
def looks_like_tf_checkpoint(path: str, head: bytes) -> bool:
    """A checkpoint prefix, its ``.index`` or ``.data-`` file, or a directory with a
    ``checkpoint`` state file (or that file). Pure file-system checks, no TensorFlow."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, STATE_FILE))
    if os.path.isfile(path):
        if path.endswith(INDEX_SUFFIX):
            return True
        match = _DATA_FILE.match(path)
        if match is not None:
            return os.path.isfile(match["prefix"] + INDEX_SUFFIX)
        if os.path.basename(path) == STATE_FILE and head.lstrip().startswith(
            (b"model_checkpoint_path", b"all_model_checkpoint_paths")
        ):
            return True
    return os.path.isfile(path + INDEX_SUFFIX)


def looks_like_saved_model(path: str, head: bytes) -> bool:
    """A SavedModel directory (or its ``saved_model.pb``). No TensorFlow is imported."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILES)
    return os.path.isfile(path) and os.path.basename(path) in SAVED_MODEL_FILES


# ---------------------------------------------------------- reasons (read, write)
def _one_line(err: BaseException) -> str:
    """An exception's message (TensorFlow's included) as one short line."""
    text = getattr(err, "message", None)
    if not isinstance(text, str) or not text.strip():
        text = str(err) or type(err).__name__
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


# ------------------------------------------------------------------ locating files
def _saved_model_prefix(path: str, folder: str) -> str:
    prefix = os.path.join(folder, SAVED_MODEL_VARIABLES)
    if not os.path.isfile(prefix + INDEX_SUFFIX):
        raise NotAStateError(
            path, "a SavedModel without variables (variables/variables.index is missing)"
        )
    return prefix


def _latest(path: str, folder: str) -> str:
    """The prefix a ``checkpoint`` state file names as the latest checkpoint."""
    state_file = os.path.join(folder, STATE_FILE)
    try:
        with open(state_file, encoding="utf-8") as handle:
            text = handle.read(1 << 20)
    except (OSError, UnicodeDecodeError) as err:
        raise NotAStateError(
            path, f"cannot read the 'checkpoint' file ({_one_line(err)})"
        ) from None
    try:
        recorded = latest_checkpoint(text)
    except StateFileError as err:
        raise NotAStateError(
            path, f"the 'checkpoint' file is not a checkpoint state ({_one_line(err)})"
        ) from None
    if not recorded:
        raise NotAStateError(path, "the 'checkpoint' file names no checkpoint")
    candidates = [os.path.join(folder, recorded)]  # join keeps an absolute path as it is
    if os.path.isabs(recorded):  # a directory moved since: look for the prefix beside
        candidates.append(os.path.join(folder, os.path.basename(recorded)))
    for prefix in candidates:
        if os.path.isfile(prefix + INDEX_SUFFIX):
            return prefix
    raise NotAStateError(
        path, f"the 'checkpoint' file names {recorded!r}, whose .index file does not exist"
    )


def _locate(path: str) -> tuple[str, str]:
    """(checkpoint prefix, format name) for any of the accepted forms of ``path``."""
    if os.path.isdir(path):
        if any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILES):
            return _saved_model_prefix(path, path), "savedmodel"
        if os.path.isfile(os.path.join(path, STATE_FILE)):
            return _latest(path, path), "tf-checkpoint"
        raise NotAStateError(
            path, "a directory with neither a 'checkpoint' file nor a saved_model.pb"
        )
    if os.path.isfile(path):
        base = os.path.basename(path)
        folder = os.path.dirname(path) or "."
        if base in SAVED_MODEL_FILES:
            return _saved_model_prefix(path, folder), "savedmodel"
        if base == STATE_FILE and not os.path.isfile(path + INDEX_SUFFIX):
            return _latest(path, folder), "tf-checkpoint"
        if path.endswith(INDEX_SUFFIX):
            return path[: -len(INDEX_SUFFIX)], "tf-checkpoint"
        match = _DATA_FILE.match(path)
        if match is not None:
            if not os.path.isfile(match["prefix"] + INDEX_SUFFIX):
                raise NotAStateError(path, "a checkpoint data file without its .index file")
            return match["prefix"], "tf-checkpoint"
        if os.path.isfile(path + INDEX_SUFFIX):
            return path, "tf-checkpoint"
        raise NotAStateError(
            path,
            "not a TensorFlow checkpoint (expected a prefix with a .index file, a .index or "
            ".data- file, a directory with a 'checkpoint' file, or a SavedModel directory)",
        )
    if os.path.isfile(path + INDEX_SUFFIX):
        return path, "tf-checkpoint"
    raise NotAStateError(path, "no such file, directory or checkpoint prefix")


def _checkpoint_files(prefix: str) -> list[str]:
    """The ``.index`` and ``.data-*`` files that exist for ``prefix``."""
    folder = os.path.dirname(os.path.abspath(prefix))
    base = os.path.basename(prefix)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(
        os.path.join(folder, name)
        for name in names
        if name == base + INDEX_SUFFIX
        or ((m := _DATA_FILE.match(name)) is not None and m["prefix"] == base)
    )


# ----------------------------------------------------------------- writing prefix
def prefix_for_writing(path: str) -> str:
    """The checkpoint prefix a destination names (``X.index`` and ``X.data-*`` name ``X``)."""
    if path.endswith(INDEX_SUFFIX):
        return path[: -len(INDEX_SUFFIX)]
    match = _DATA_FILE.match(path)
    return match["prefix"] if match is not None else path
