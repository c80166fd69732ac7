"""Writing a state as a name-based TensorFlow checkpoint.

:func:`save_tf_checkpoint` writes a name-based checkpoint whose keys are exactly the
tensors' names, with ``tf.raw_ops.SaveV2`` (``tf.train.Checkpoint`` would rename
everything into ``.ATTRIBUTES`` paths). ``tf.train.load_checkpoint(prefix)`` returns every
tensor bit for bit, and
:func:`~csv_state_viewer.bridge.tfcheckpoint.read.open_tf_checkpoint` gives back the same
names. Tensors are streamed into shards of at most :data:`SHARD_BYTES`, merged by
``MergeV2Checkpoints``. The files are written in a temporary directory beside the
destination and renamed into place, data files first, the ``.index`` last; data files of a
replaced checkpoint that the new one does not reuse are removed afterwards. Missing folders
of the destination are created (and removed again when the write fails), as TensorFlow's
own writer creates them. No
``checkpoint`` state file is written or changed: it would redirect "the latest checkpoint"
of a training directory to a converted file; open the result by its prefix. Metadata
(roles...) is not stored: a checkpoint has no place for it. Refused before anything is
written: an empty name (TensorFlow would abort the process), the reserved
``_CHECKPOINTABLE_OBJECT_GRAPH``, dtypes TensorFlow has no type for (``float8_e8m0fnu``,
``float8_e3m4``, ``float8_e4m3``, ``float6_*``, ``longdouble``...), and an empty state.
Big-endian arrays are stored by value in native order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.tfcheckpoint.locate import (
    INDEX_SUFFIX,
    _checkpoint_files,
    _one_line,
    prefix_for_writing,
)
from csv_state_viewer.bridge.tfcheckpoint.naming import GRAPH_KEY
from csv_state_viewer.core.atomic import (
    check_destination,
    created_folders,
    fsync_folders,
    temporary_folder,
)
from csv_state_viewer.core.errors import StateWriteError
from csv_state_viewer.core.messages import Hint, hinted
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled
from csv_state_viewer.core.tensors import TensorItem, Tensors, iter_loaded, tensor_items

SHARD_BYTES = 1 << 30  # the writer passes at most this much data to one SaveV2 call


def _check_items(tf: Any, items: list[TensorItem]) -> None:
    """Refuse, before anything is written, what a checkpoint cannot hold."""
    for item in items:
        if not item.name:
            raise StateWriteError("a tensor with an empty name cannot be stored in a checkpoint")
        if item.name == GRAPH_KEY:
            raise StateWriteError(f"tensor {item.name!r}: this name is reserved by TensorFlow")
        try:
            item.name.encode("utf-8")
        except UnicodeEncodeError:
            raise StateWriteError(f"tensor {item.name!r}: the name is not valid UTF-8") from None
        try:
            tf.as_dtype(item.dtype.newbyteorder("="))
        except (TypeError, ValueError):
            raise StateWriteError(
                f"tensor {item.name!r}: dtype {item.dtype} cannot be stored in a "
                "TensorFlow checkpoint"
            ) from None


def _check_prefix(prefix: str, *, overwrite: bool) -> list[str]:
    """The files of an existing checkpoint at ``prefix`` (refusing what must be refused)."""
    if os.path.isdir(prefix):
        raise StateWriteError(
            f"{prefix}: is a directory (a checkpoint is written as PREFIX.index and "
            "PREFIX.data-* files: give a prefix such as DIR/ckpt)"
        )
    existing = _checkpoint_files(prefix)
    for name in [*existing, prefix + INDEX_SUFFIX]:
        check_destination(name, overwrite=True)  # open for reading, or a directory
    if existing and not overwrite:
        raise hinted(StateWriteError(f"{prefix}: a checkpoint exists here"), Hint.OVERWRITE)
    return existing


def _fsync(path: str, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _write_shards(
    tf: Any, work: str, items: list[TensorItem], progress: Progress, skip_bad: bool
) -> tuple[str, int]:
    """SaveV2 the tensors into ``work``; return the prefix of the result and the count."""
    total = sum(int(np.prod(item.shape)) * item.dtype.itemsize for item in items) or 1
    done = written = 0
    parts: list[str] = []
    names: list[str] = []
    values: list[Any] = []
    pending = 0

    def flush() -> None:
        nonlocal pending
        part = os.path.join(work, f"part-{len(parts)}")
        tf.raw_ops.SaveV2(
            prefix=part, tensor_names=names, shape_and_slices=[""] * len(names), tensors=values
        )
        parts.append(part)
        names.clear()
        values.clear()
        pending = 0

    for item, loaded in iter_loaded(items, skip_bad=skip_bad):
        check_cancelled(progress)
        native = loaded if loaded.dtype.isnative else loaded.astype(loaded.dtype.newbyteorder("="))
        names.append(item.name)
        values.append(tf.convert_to_tensor(native))
        pending += native.nbytes
        written += 1
        done += native.nbytes
        progress.report(done, total)
        if pending >= SHARD_BYTES:
            flush()
    if not written:  # every tensor was a bad row, skipped
        return "", 0
    if names:
        flush()
    check_cancelled(progress)
    if len(parts) == 1:
        return parts[0], written
    merged = os.path.join(work, "merged")
    tf.raw_ops.MergeV2Checkpoints(
        checkpoint_prefixes=parts, destination_prefix=merged, delete_old_dirs=False
    )
    return merged, written


def save_tf_checkpoint(
    path: str,
    tensors: Tensors,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress = NO_PROGRESS,
    overwrite: bool = True,
    skip_bad: bool = False,
) -> int:
    """Write ``tensors`` as a name-based TensorFlow checkpoint at the prefix ``path``.

    Every tensor becomes the checkpoint key of its exact name (``PREFIX.index`` and
    ``PREFIX.data-*`` files; a ``path`` ending in ``.index`` names its prefix). Written
    atomically, see the module docstring; ``metadata`` cannot be stored and is ignored.
    Returns the number of tensors written.
    """
    prefix = prefix_for_writing(os.fspath(path))
    items = tensor_items(tensors, metadata, skip_bad=skip_bad)
    if not items:
        raise StateWriteError(f"{prefix}: no tensors to write (a checkpoint holds at least one)")
    tf = tfimport.tensorflow()
    _check_items(tf, items)
    written = 0

    def write(work: str) -> str:
        nonlocal written
        try:
            result, written = _write_shards(tf, work, items, progress, skip_bad)
        except tf.errors.OpError as err:
            raise StateWriteError(
                f"{prefix}: TensorFlow could not write the checkpoint ({_one_line(err)})"
            ) from None
        if not written:
            raise StateWriteError(
                f"{prefix}: no tensors to write (a checkpoint holds at least one)"
            )
        return result

    place_checkpoint(prefix, write, overwrite=overwrite)
    return written


def place_checkpoint(
    prefix: str, write: Callable[[str], str], *, overwrite: bool = True
) -> list[str]:
    """Write a checkpoint atomically at ``prefix``; returns the files placed.

    ``write(work)`` writes a checkpoint inside the temporary folder ``work`` (beside the
    destination) and returns the prefix it used. Its files are fsynced and renamed into
    place, data files first and the ``.index`` last; data files of a replaced checkpoint
    that the new one does not reuse are removed afterwards. Missing folders of ``prefix``
    are created, and removed again when the write fails or is cancelled.
    """
    existing = _check_prefix(prefix, overwrite=overwrite)
    with created_folders(os.path.dirname(os.path.abspath(prefix))) as made:
        targets = _place(prefix, existing, write)
        fsync_folders([os.path.dirname(made_folder) for made_folder in made])
    return targets


def _place(prefix: str, existing: list[str], write: Callable[[str], str]) -> list[str]:
    """The body of :func:`place_checkpoint`, once the destination folder exists. The work
    folder is named like every atomic write's temporary, so a killed write's folder is
    swept by the next write (:func:`~csv_state_viewer.core.atomic.temporary_folder`)."""
    folder = os.path.dirname(os.path.abspath(prefix))
    with temporary_folder(prefix) as work:
        try:
            result = write(work)
            produced = _checkpoint_files(result)
            if not any(f.endswith(INDEX_SUFFIX) for f in produced):
                raise StateWriteError(f"{prefix}: TensorFlow wrote no .index file")
            targets = []
            for source in sorted(produced, key=lambda p: p.endswith(INDEX_SUFFIX)):
                _fsync(source)
                target = prefix + os.path.basename(source)[len(os.path.basename(result)) :]
                os.replace(source, target)  # data files first, the index last
                targets.append(os.path.abspath(target))
            for old in existing:
                if os.path.abspath(old) not in targets:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(old)
            with contextlib.suppress(OSError):
                _fsync(folder, directory=True)
        except OSError as err:
            raise StateWriteError(f"{prefix}: write failed ({err.strerror or err})") from None
    return targets
