"""Exception families and problem records of the core.

One exception type per failure family; problems found in single rows are *values*
(:class:`RowProblem`) so that a file with a bad row still opens with its good rows.

The libraries a format uses (zipfile, zlib, struct, h5py, NumPy, Keras...) raise their
own exceptions on damaged files. :func:`is_library_failure` tells those from our own
errors, cancellation and bugs, and :func:`reading_failure`, :func:`writing_failure` and
:func:`row_failure` word them for a user, on one line; the registry and
:meth:`State.read <csv_state_viewer.core.state.State.read>` apply them, so nothing a file
holds ends in a traceback. The original exception is kept as ``__cause__`` only when
``CSV_STATE_DEBUG`` is set.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from csv_state_viewer.core.formatting import human_bytes, one_line, safe_text
from csv_state_viewer.core.progress import Cancelled

OUR_PACKAGE = "csv_state_viewer"
# What libraries raise on damaged input or a failing system, whoever raised it (a C
# function such as struct.unpack or numpy.frombuffer raises it from our own frame).
DATA_FAILURES: tuple[type[Exception], ...] = (
    MemoryError,
    OverflowError,
    RecursionError,
    struct.error,
    ValueError,
    TypeError,
    zlib.error,
    zipfile.BadZipFile,
    EOFError,
    OSError,
)


@dataclass(frozen=True)
class RowProblem:
    """One bad row (or tensor) of a state file.

    ``line`` is the 1-based physical line on which the row starts, as compilers count
    lines; it is ``None`` for formats without lines (``.npz``).
    """

    path: str
    line: int | None
    name: str | None
    message: str

    def __str__(self) -> str:
        """``FILE:LINE: 'name': message``, safe to print: control, bidi and zero-width
        characters of the name (``repr``), the path and the message are escapes."""
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        message = safe_text(self.message)
        what = f"{self.name!r}: {message}" if self.name else message
        return f"{safe_text(where)}: {what}"


class CsvStateError(Exception):
    """Base class of every error the library raises on purpose.

    Every one pickles with its type, message and attributes (the TensorFlow worker
    process sends them back to the caller): a subclass whose ``__init__`` does not take
    the message defines ``__reduce__`` to give its own arguments, plus ``__dict__`` so that
    attributes added later (a hint) come along.
    """


class NotAStateError(CsvStateError):
    """The file is not a training state at all (empty, binary, no recognisable columns).

    ``str(error)`` is one line: ``PATH: reason``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason), self.__dict__)


class RowError(CsvStateError):
    """A single tensor could not be read; carries the :class:`RowProblem`."""

    def __init__(self, problem: RowProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problem,), self.__dict__)


class BadRowsError(CsvStateError):
    """A whole-state operation met bad rows and was asked not to skip them."""

    def __init__(self, path: str, problems: list[RowProblem]) -> None:
        count = len(problems)
        super().__init__(
            f"{path}: {count} bad row{'s' if count != 1 else ''}; first: {problems[0]}"
        )
        self.path = path
        self.problems = problems

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problems), self.__dict__)


class StateWriteError(CsvStateError):
    """A write was refused or failed; the destination is left as it was."""


class UnsupportedFormatError(CsvStateError):
    """No registered format reads or writes the given path."""


# ------------------------------------------------------------ library failures
def debugging() -> bool:
    """``CSV_STATE_DEBUG`` is set: reworded errors keep the original as ``__cause__``."""
    return bool(os.environ.get("CSV_STATE_DEBUG"))


def _raised_in_our_code(error: BaseException) -> bool:
    traceback = error.__traceback__
    if traceback is None:
        return False
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    module = traceback.tb_frame.f_globals.get("__name__", "")
    return isinstance(module, str) and module.partition(".")[0] == OUR_PACKAGE


def is_library_failure(error: BaseException) -> bool:
    """True for an exception that a format's library raised on a damaged file or a failing
    system, to be reworded for a user; False for our own errors (:class:`CsvStateError`),
    :class:`Cancelled`, ``KeyboardInterrupt``/``SystemExit``, and for a bug in our own code
    (an ``AttributeError``, ``KeyError``... raised by a frame of this package), which must
    stay an internal error."""
    if not isinstance(error, Exception) or isinstance(error, CsvStateError | Cancelled):
        return False
    return isinstance(error, DATA_FAILURES) or not _raised_in_our_code(error)


def _detail(error: BaseException) -> str:
    text = one_line(str(error))
    if isinstance(error, DATA_FAILURES) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _reason(error: BaseException) -> str | None:
    """What the failures every reader and writer can meet say, or None for the others."""
    detail = _detail(error)
    if isinstance(error, MemoryError):
        return "declares more data than this machine's memory can hold"
    if isinstance(error, RecursionError):
        return "nested too deeply to read"
    if isinstance(error, zipfile.BadZipFile):
        return f"not a valid zip archive: truncated or damaged ({detail})"
    if isinstance(error, zlib.error):
        return f"damaged compressed data ({detail})"
    if isinstance(error, EOFError):
        return f"truncated: the data ends too early ({detail})"
    if isinstance(error, struct.error):
        return f"truncated or malformed binary data ({detail})"
    if isinstance(error, OverflowError):
        return f"a size or value out of range ({detail})"
    return None


def _os_reason(error: OSError) -> str:
    return one_line(error.strerror) if error.strerror else _detail(error)


def failure_cause(error: Exception, failure: CsvStateError) -> CsvStateError:
    """``failure`` raised for ``error``: the original stays its ``__cause__`` only when
    debugging; otherwise it is not shown (``raise ... from None``)."""
    failure.__cause__ = error if debugging() else None
    failure.__suppress_context__ = True
    return failure


def reading_failure(path: str, label: str, error: Exception) -> NotAStateError:
    """The one-line :class:`NotAStateError` for a library failure opening ``path`` as
    ``label`` (a format's name for people)."""
    reason = _reason(error)
    if reason is None:
        if isinstance(error, OSError):
            reason = f"cannot be read ({_os_reason(error)})"
        else:
            reason = f"not readable as {label} ({_detail(error)})"
    failure = failure_cause(error, NotAStateError(path, reason))
    assert isinstance(failure, NotAStateError)
    return failure


def writing_failure(path: str, label: str, error: Exception) -> StateWriteError:
    """The one-line :class:`StateWriteError` for a library failure writing ``path``."""
    if isinstance(error, MemoryError):
        reason = "writing it needs more memory than this machine can give"
    elif isinstance(error, OSError):
        reason = f"write failed ({_os_reason(error)})"
    else:
        reason = f"cannot be written as {label} ({_detail(error)})"
    failure = failure_cause(error, StateWriteError(f"{path}: {reason}"))
    assert isinstance(failure, StateWriteError)
    return failure


def row_failure(error: Exception, nbytes: int = 0) -> str:
    """The message of a bad row for a library failure decoding one tensor."""
    if isinstance(error, MemoryError):
        size = f" ({human_bytes(nbytes)} decoded)" if nbytes else ""
        return f"declares more data{size} than this machine's memory can hold"
    reason = _reason(error)
    if reason is not None:
        return reason
    if isinstance(error, OSError):
        return f"cannot be read ({_os_reason(error)})"
    return f"unreadable data ({_detail(error)})"
