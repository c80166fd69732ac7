"""The lazy state model shared by every format: an ordered list of tensor entries.

A :class:`State` knows each tensor's name, shape, dtype and where it lives without
decoding any data; :meth:`State.read` decodes one tensor. Rows that could not be
understood stay in :attr:`State.entries` with ``error`` set, and are listed in
:attr:`State.errors`, so a viewer can show them and everything else stays readable.
"""

from __future__ import annotations

import contextlib
import math
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from csv_state_viewer.core.errors import (
    BadRowsError,
    RowError,
    RowProblem,
    failure_cause,
    is_library_failure,
    row_failure,
)
from csv_state_viewer.core.parallel import cancel_and_wait, read_ahead_pool
from csv_state_viewer.core.progress import NO_PROGRESS, Progress, check_cancelled


@dataclass
class TensorEntry:
    """What is known about one tensor before its data is decoded."""

    name: str
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    encoding: str | None
    line: int | None = None
    span: tuple[int, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def size(self) -> int:
        """Number of elements (0 when the shape is unknown)."""
        return math.prod(self.shape) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        """Decoded size in bytes (0 when shape or dtype is unknown)."""
        return self.size * self.dtype.itemsize if self.dtype is not None else 0


def _mark_duplicates(entries: list[TensorEntry]) -> None:
    """A repeated name is an error on its later entries, in every format: a second tensor
    of the same name could not be told apart (nor written: a conversion refuses to drop it
    silently). All entries stay in the list."""
    first: dict[str, tuple[int, TensorEntry]] = {}
    for index, entry in enumerate(entries):
        if entry.name in first:
            if entry.error is None:
                number, earlier = first[entry.name]
                where = f"line {earlier.line}" if earlier.line is not None else f"tensor {number}"
                entry.error = f"duplicate name (first at {where})"
        elif entry.name:
            first[entry.name] = (index + 1, entry)


class State(ABC):
    """A lazily opened training state. Use as a context manager or call :meth:`close`."""

    format_name: str = ""
    # Whether two tensors may be decoded at once on different threads (see decoded()).
    concurrent_reads: bool = False

    def __init__(
        self,
        path: str,
        entries: list[TensorEntry],
        ahead: dict[int, Future[np.ndarray]] | None = None,
    ) -> None:
        self.path = path
        self.entries = entries
        # id(entry): its decode, started while the file was indexed (see decode_ahead())
        self._ahead: dict[int, Future[np.ndarray]] = ahead if ahead is not None else {}
        self._by_name: dict[str, TensorEntry] = {}
        _mark_duplicates(entries)
        for entry in entries:
            self._by_name.setdefault(entry.name, entry)
        self.notes: list[str] = []  # what a reader decided that the user should know
        self._lock = threading.Lock()
        self._problem_of: dict[int, RowProblem] = {  # id(entry): its first problem
            id(entry): self._problem(entry, entry.error)
            for entry in entries
            if entry.error is not None
        }
        self._problems: list[RowProblem] = list(self._problem_of.values())

    # --------------------------------------------------------------- introspection
    @property
    def errors(self) -> list[RowProblem]:
        """Every problem known so far: index-time ones, and data errors met by reads."""
        with self._lock:
            return list(self._problems)

    def names(self) -> list[str]:
        """Names of the good tensors, in file order (the first of duplicate names)."""
        return [e.name for e in self.entries if e.ok and self._by_name.get(e.name) is e]

    def problem_of(self, entry: TensorEntry) -> RowProblem | None:
        """The problem recorded for ``entry`` (one of this state's): its bad row, or the bad
        data a read met; None while none is known. Safe to call from any thread."""
        with self._lock:
            return self._problem_of.get(id(entry))

    def entry(self, name: str) -> TensorEntry:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.path}: no tensor named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[TensorEntry]:
        return iter(self.entries)

    # ---------------------------------------------------------------------- reading
    def read(self, which: str | TensorEntry, progress: Progress = NO_PROGRESS) -> np.ndarray:
        """Decode one tensor (by name, or by entry for rows that share a name).

        Raises :class:`RowError` when the row is bad or its data does not match its
        metadata, or when the format's library fails on it (a damaged archive member, a
        truncated HDF5 dataset, more data than memory holds: see
        :func:`~csv_state_viewer.core.errors.is_library_failure`); the problem is also
        added to :attr:`errors`.
        """
        entry = self.entry(which) if isinstance(which, str) else which
        if entry.error is not None:
            raise RowError(self._problem(entry, entry.error))
        try:
            return self._decode(entry, progress)
        except ValueError as err:  # DataError and other decoding failures of the data
            message = str(err) if "\n" not in str(err) else " ".join(str(err).split())
            failure: Exception = err
        except Exception as err:
            if not is_library_failure(err):
                raise
            message, failure = row_failure(err, entry.nbytes), err
        problem = self._problem(entry, message)
        self._record(problem, entry)
        raise failure_cause(failure, RowError(problem))

    def read_all(
        self, progress: Progress = NO_PROGRESS, *, skip_bad: bool = False
    ) -> dict[str, np.ndarray]:
        """Decode every tensor, in file order.

        With ``skip_bad`` bad rows are left out (their problems are in :attr:`errors`);
        without it the first bad row raises :class:`BadRowsError` listing every problem.
        """
        if self.errors and not skip_bad:
            raise BadRowsError(self.path, self.errors)
        total = sum(e.nbytes for e in self.entries if e.ok) or 1
        done = 0
        out: dict[str, np.ndarray] = {}
        wanted: dict[str, TensorEntry] = {}
        for entry in self.entries:
            if entry.ok:
                wanted.setdefault(entry.name, entry)
        for entry, decoded in self.decoded(wanted.values(), progress):
            if isinstance(decoded, RowError):
                if not skip_bad:
                    raise BadRowsError(self.path, [decoded.problem]) from None
            else:
                out[entry.name] = decoded
            done += entry.nbytes
            progress.report(done, total)
        return out

    def validate(self, progress: Progress = NO_PROGRESS) -> list[RowProblem]:
        """Decode every row to find data errors too; returns all problems in line order."""
        good = [entry for entry in self.entries if entry.ok]
        total = len(good) or 1
        for index, _ in enumerate(self.decoded(good, progress)):  # reads record problems
            progress.report(index + 1, total)
        return sorted(self.errors, key=lambda p: (p.line or 0, p.name or ""))

    def decoded(
        self, entries: Iterable[TensorEntry], progress: Progress = NO_PROGRESS
    ) -> Iterator[tuple[TensorEntry, np.ndarray | RowError]]:
        """Each entry with its tensor, or the RowError its read raised, in order.

        Formats whose reads may run side by side (:attr:`concurrent_reads`) decode the
        next tensor on another thread while the caller works on this one, so the codec
        threads never wait at a tensor's end; at most two tensors are decoded at a time,
        and the caller holds a third. Other formats read one tensor at a time.
        """
        if self._ahead or not self.concurrent_reads:
            for entry in entries:
                check_cancelled(progress)
                yield entry, self._read_or_error(entry)
            return
        pool = read_ahead_pool()
        pending: deque[tuple[TensorEntry, Future[np.ndarray | RowError]]] = deque()
        try:
            for entry in entries:
                check_cancelled(progress)
                pending.append((entry, pool.submit(self._read_or_error, entry)))
                if len(pending) == 2:
                    first, future = pending.popleft()
                    yield first, future.result()
            while pending:
                check_cancelled(progress)
                first, future = pending.popleft()
                yield first, future.result()
        finally:
            cancel_and_wait(future for _, future in pending)  # the state may be closed next

    def _read_or_error(self, entry: TensorEntry) -> np.ndarray | RowError:
        future = self._ahead.pop(id(entry), None)
        if future is not None:
            with contextlib.suppress(Exception):  # read again: errors are recorded there
                return future.result()
        try:
            return self.read(entry)
        except RowError as err:
            return err

    @staticmethod
    def decode_ahead(
        decode: Callable[[TensorEntry, Progress], np.ndarray],
    ) -> tuple[Callable[[TensorEntry], None], dict[int, Future[np.ndarray]]]:
        """For a format that indexes row by row: a callback that starts decoding each good
        entry as soon as it is indexed (on the read-ahead threads), and the futures it
        fills, to pass to ``State.__init__`` as ``ahead``. :meth:`read_all` then takes
        the decoded tensors (``load_state`` asks for this: indexing and decoding overlap,
        a tenth of a full text load). A decode that failed is read again by
        :meth:`read`, which words and records its problem."""
        pool = read_ahead_pool()
        ahead: dict[int, Future[np.ndarray]] = {}

        def start(entry: TensorEntry) -> None:
            ahead[id(entry)] = pool.submit(decode, entry, NO_PROGRESS)

        return start, ahead

    def _stop_ahead(self) -> None:
        """Cancel the decodes started ahead and wait for those running (before closing)."""
        futures, self._ahead = list(self._ahead.values()), {}
        cancel_and_wait(futures)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:  # noqa: B027 - formats without resources need nothing
        """Release the file; reading afterwards is an error."""

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- for formats
    @abstractmethod
    def _decode(self, entry: TensorEntry, progress: Progress) -> np.ndarray:
        """Decode a good entry; raise ValueError (e.g. DataError) for bad data."""

    def _problem(self, entry: TensorEntry, message: str) -> RowProblem:
        return RowProblem(self.path, entry.line, entry.name, message)

    def _record(self, problem: RowProblem, entry: TensorEntry | None = None) -> None:
        with self._lock:
            if problem not in self._problems:
                self._problems.append(problem)
            if entry is not None:  # entries live as long as the state: their ids are keys
                self._problem_of.setdefault(id(entry), problem)


def check_decoded(entry: TensorEntry, data: object) -> np.ndarray:
    """``data`` as a C-contiguous array, or ValueError when it is not what ``entry`` says
    (for formats whose loaders come from elsewhere: a library, another process)."""
    array = np.asarray(data)
    if entry.shape is not None and array.shape != entry.shape:
        raise ValueError(f"the data has shape {list(array.shape)}, not {list(entry.shape)}")
    if entry.dtype is not None and array.dtype != entry.dtype:
        raise ValueError(f"the data has dtype {array.dtype}, not {entry.dtype}")
    return np.require(array, requirements="C")
