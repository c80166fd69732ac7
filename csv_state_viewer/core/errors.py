"""Exception families and problem records of the core.

One exception type per failure family; problems found in single rows are *values*
(:class:`RowProblem`) so that a file with a bad row still opens with its good rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        what = f"{self.name!r}: {self.message}" if self.name else self.message
        return f"{where}: {what}"


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
