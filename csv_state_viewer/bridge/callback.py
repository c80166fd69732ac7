"""A Keras callback that records a run: the full training state at every epoch's end (or
every N batches), one file per save, named like Keras's ``ModelCheckpoint`` names them::

    model.fit(x, y, epochs=10, callbacks=[
        CsvStateCheckpoint("run/epoch_{epoch:03d}.csv", encoding="base64"),
    ])

Each file is what :func:`~.training.save_training_state` writes (weights, optimizer
variables, random generator states), plus two counters: ``epoch`` (epochs completed) and
``step`` (batches trained, over every ``fit`` this callback counted). A run folder opens in
``csv-state timeline``/``health --run``; any file of it resumes the run exactly with
:func:`~.training.restore_training_state`.

Paths are formatted as Keras 3's ``ModelCheckpoint._get_file_path`` does: ``{epoch}`` is
1-based, ``{batch}`` (only with an integer ``save_freq``) is the 1-based batch within the
epoch, and any key of the logs (``{loss:.3f}``) can be used. ``save_freq`` counts batches
as ``ModelCheckpoint`` does (the count runs across epochs; with ``steps_per_execution``
it is checked at the end of each execution), so both save at the same batches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from csv_state_viewer.bridge import tfimport
from csv_state_viewer.bridge.training import save_training_state
from csv_state_viewer.core.errors import CsvStateError, StateWriteError
from csv_state_viewer.core.registry import format_for_writing

# Keras is imported quietly (tfimport) and untyped: its base class is Any to mypy.
_Callback: Any = tfimport.keras().callbacks.Callback

ENCODINGS = ("text", "base64")


def _log_value(value: Any) -> Any:
    """A log value as a Python scalar when it is a 0-d array or tensor (so ``{loss:.3f}``
    formats), else unchanged."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray | np.generic) and np.ndim(value) == 0:
        return value.item()
    return value


class CsvStateCheckpoint(_Callback):
    """Write the model's full training state at each epoch's end, or every ``save_freq``
    batches, to ``filepath`` formatted with ``epoch``, ``batch`` and the logs.

    Args:
        filepath: the destination pattern (``"run/epoch_{epoch:03d}.csv"``); its extension
            chooses the format (``.csv``, ``.npz``, ``.safetensors``...). Parent folders are
            created; an existing file is replaced; each write is atomic.
        encoding: ``"text"`` or ``"base64"`` for CSV destinations; a format without
            encodings refuses one given explicitly. ``None``: the format's default.
        save_freq: ``"epoch"``, or a number of batches.
        verbose: 1 prints each file written.
        initial_step: the ``step`` counter before the first batch, when resuming a run
            (``restored.counters["step"]``); ``epoch`` follows ``fit``'s ``initial_epoch``.

    A write that fails raises :class:`~csv_state_viewer.core.errors.StateWriteError` and
    stops ``fit``: a checkpoint is never lost silently.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        *,
        encoding: str | None = None,
        save_freq: str | int = "epoch",
        verbose: int = 0,
        initial_step: int = 0,
    ) -> None:
        super().__init__()
        if encoding is not None and encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(f"save_freq must be 'epoch' or a positive integer, not {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.encoding = encoding
        self.save_freq = save_freq
        self.verbose = verbose
        self.step = int(initial_step)  # batches trained so far (the "step" counter)
        self.saved: list[str] = []  # every path written, in order
        self._current_epoch = 0
        self._last_batch_seen: int | None = None
        self._batches_since_saving = 0

    # ------------------------------------------------------------------ Keras hooks
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._current_epoch = epoch
        self._last_batch_seen = None

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        # Batches are 0-based within the epoch; with steps_per_execution Keras reports the
        # last batch of each execution. A batch not after the last one starts an epoch
        # (as ModelCheckpoint reckons, for callbacks driven without on_epoch_begin).
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            new_batches = batch + 1
        else:
            new_batches = batch - self._last_batch_seen
        self._last_batch_seen = batch
        self.step += new_batches
        if self.save_freq == "epoch":
            return
        self._batches_since_saving += new_batches
        assert isinstance(self.save_freq, int)
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._save(self._current_epoch, batch, logs, epochs_done=self._current_epoch)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, None, logs, epochs_done=epoch + 1)

    # ---------------------------------------------------------------------- saving
    def file_path(self, epoch: int, batch: int | None, logs: Mapping[str, Any] | None) -> str:
        """The destination for 0-based ``epoch`` and ``batch`` (``None`` at an epoch's
        end), formatted as Keras's ``ModelCheckpoint`` formats it."""
        values = {key: _log_value(value) for key, value in (logs or {}).items()}
        values["epoch"] = epoch + 1
        if batch is not None and "batch" not in values:
            values["batch"] = batch + 1
        try:
            return self.filepath.format(**values)
        except (KeyError, IndexError, ValueError) as err:
            available = ", ".join(sorted(values))
            raise KeyError(
                f"CsvStateCheckpoint cannot format its filepath {self.filepath!r} ({err!r}); "
                f"available keys: {available}"
                + (
                    " ({batch} needs an integer save_freq)"
                    if batch is None and "{batch" in self.filepath
                    else ""
                )
            ) from err

    def _save(
        self, epoch: int, batch: int | None, logs: Mapping[str, Any] | None, *, epochs_done: int
    ) -> None:
        path = self.file_path(epoch, batch, logs)
        options: dict[str, Any] = {}
        if "encoding" in format_for_writing(path).save_options:
            options["encoding"] = self.encoding or "text"
        elif self.encoding is not None:
            raise StateWriteError(
                f"{path}: encoding={self.encoding!r} applies to CSV destinations only"
            )
        where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
        try:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            save_training_state(
                self.model,
                path,
                counters={"epoch": epochs_done, "step": self.step},
                overwrite=True,
                **options,
            )
        except CsvStateError as err:
            raise StateWriteError(f"CsvStateCheckpoint ({where}): {err}") from err
        except OSError as err:
            reason = err.strerror or str(err)
            raise StateWriteError(
                f"CsvStateCheckpoint ({where}): {path}: write failed ({reason})"
            ) from err
        self.saved.append(path)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saved {path}", flush=True)
