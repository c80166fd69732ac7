"""A state opened in the TensorFlow worker process and read from here, one tensor a call.

The worker keeps the real state under a key; :class:`RemoteState` holds the entries it
described and asks the worker for each tensor it reads. If the worker died and a new one
started since the state was opened, the next read opens the file again in the new worker
(its tensors must still have the same names), so one crash leaves the other open files
readable. The functions at the end of the module run in the worker.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np

from csv_state_viewer.core.dtypes import DtypeError, dtype_name, resolve_dtype
from csv_state_viewer.core.errors import CsvStateError, NotAStateError, RowError
from csv_state_viewer.core.progress import NO_PROGRESS, Progress
from csv_state_viewer.core.state import State, TensorEntry, check_decoded

if TYPE_CHECKING:
    from csv_state_viewer.ops.tfworker import TensorFlowWorker

HERE = "csv_state_viewer.ops.remotestate"
Opened = tuple[str, str, str, list[dict[str, Any]]]  # key, path, format name, entries


class StaleStateError(CsvStateError):
    """The worker holds no state under the key: it was restarted since the state opened."""


class RemoteState(State):
    """A state whose file is open in a :class:`TensorFlowWorker`."""

    def __init__(
        self, worker: TensorFlowWorker, opened: Opened, entries: list[TensorEntry]
    ) -> None:
        self._key, path, self.format_name, _ = opened
        self._worker = worker
        self._closed = False
        self._guard = threading.Lock()  # _key and _closed
        self._reopening = threading.Lock()
        super().__init__(path, entries)
        self._index = {id(entry): index for index, entry in enumerate(entries)}

    @classmethod
    def open(
        cls, worker: TensorFlowWorker, path: str, progress: Progress = NO_PROGRESS
    ) -> RemoteState:
        opened = worker.call(f"reading {path}", f"{HERE}:open_remote", path, progress=progress)
        return cls(worker, opened, [_entry(described) for described in opened[3]])

    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        key = self._current_key()
        try:
            array = self._read(key, entry, progress)
        except StaleStateError:
            self._reopen(key, progress)
            array = self._read(self._current_key(), entry, progress)
        return check_decoded(entry, array)

    def _current_key(self) -> str:
        with self._guard:
            if self._closed:
                raise ValueError("the state is closed")
            return self._key

    def _read(self, key: str, entry: TensorEntry, progress: Progress) -> np.ndarray:
        what = f"reading {entry.name!r} from {self.path}"
        index = self._index[id(entry)]
        try:
            array = self._worker.call(what, f"{HERE}:read_remote", key, index, progress=progress)
        except RowError as err:  # State.read records a ValueError as the row's problem
            raise ValueError(err.problem.message) from None
        return np.asarray(array)

    def _reopen(self, old_key: str, progress: Progress) -> None:
        """Open the file again in a new worker; its tensors must have the same names."""
        with self._reopening:
            if self._current_key() != old_key:
                return  # another thread did it
            try:
                opened = self._worker.call(
                    f"reading {self.path}", f"{HERE}:open_remote", self.path, progress=progress
                )
            except NotAStateError as err:
                raise ValueError(
                    f"cannot open the file again after the TensorFlow worker restarted "
                    f"({err.reason})"
                ) from None
            names = [described["name"] for described in opened[3]]
            if names != [entry.name for entry in self.entries]:
                self._worker.call(f"closing {self.path}", f"{HERE}:close_remote", opened[0])
                raise ValueError(
                    "the file changed since it was opened (its tensors differ now that it "
                    "was opened again after the TensorFlow worker restarted)"
                )
            with self._guard:
                self._key = opened[0]

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
        if self._worker.alive:  # a dead worker holds nothing; do not start one to close
            with contextlib.suppress(CsvStateError):
                self._worker.call(f"closing {self.path}", f"{HERE}:close_remote", self._key)


def _entry(described: dict[str, Any]) -> TensorEntry:
    """The entry a worker described (:func:`describe`)."""
    dtype, error = None, described["error"]
    if described["dtype"] is not None:
        try:
            dtype = resolve_dtype(described["dtype"])
        except DtypeError as err:
            error = error or str(err)
    shape = described["shape"]
    return TensorEntry(
        name=described["name"],
        shape=tuple(shape) if shape is not None else None,
        dtype=dtype,
        encoding=described["encoding"],
        line=described["line"],
        metadata=described["metadata"],
        extra=described["extra"],
        error=error,
    )


# ------------------------------------------------------------------ in the worker
_OPEN: dict[str, State] = {}


def describe(entry: TensorEntry) -> dict[str, Any]:
    """What the parent needs to rebuild ``entry``: plain values, the dtype by name."""
    return {
        "name": entry.name,
        "shape": tuple(int(size) for size in entry.shape) if entry.shape is not None else None,
        "dtype": dtype_name(entry.dtype) if entry.dtype is not None else None,
        "encoding": entry.encoding,
        "line": entry.line,
        "metadata": dict(entry.metadata),
        "extra": dict(entry.extra),
        "error": entry.error,
    }


def open_remote(path: str, progress: Progress = NO_PROGRESS) -> Opened:
    from csv_state_viewer.core.api import open_state

    state = open_state(path, progress)
    key = uuid.uuid4().hex
    _OPEN[key] = state
    return key, state.path, state.format_name, [describe(entry) for entry in state.entries]


def read_remote(key: str, index: int, progress: Progress = NO_PROGRESS) -> np.ndarray:
    state = _OPEN.get(key)
    if state is None:
        raise StaleStateError(f"the worker has no open state {key}")
    return state.read(state.entries[index], progress)


def close_remote(key: str) -> None:
    state = _OPEN.pop(key, None)
    if state is not None:
        state.close()
