"""The one home of what errors advise, worded for each front end.

The core, the bridge and the operations raise errors whose message says what is wrong;
what the user can do about it (replace the file, allow a partial write, skip bad rows...)
is a :class:`Hint` attached to the error. The command line words it as an option
(``use --force``), the viewer as the control that does it (tick “Overwrite existing”), so
the viewer never tells anybody to ``use --force``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class Hint(StrEnum):
    OVERWRITE = "overwrite"
    ALLOW_PARTIAL = "allow_partial"
    MATCH_ORDER = "match_order"
    SKIP_BAD = "skip_bad"
    MODEL = "model"
    UNSAFE = "unsafe"
    IMPORT = "import"


COMMAND_LINE: dict[Hint, str] = {
    Hint.OVERWRITE: "use --force to replace it",
    Hint.ALLOW_PARTIAL: "--allow-partial writes the matched tensors only",
    Hint.MATCH_ORDER: "the counts and shapes line up: --match order pairs them by position",
    Hint.SKIP_BAD: "use --skip-bad to convert the good rows",
    Hint.MODEL: "give the model with --model",
    Hint.UNSAFE: "use --unsafe if you trust this file",
    Hint.IMPORT: "import the module that defines it with --import MODULE_OR_FILE",
}

VIEWER: dict[Hint, str] = {
    Hint.OVERWRITE: "tick “Overwrite existing” to replace it",
    Hint.ALLOW_PARTIAL: "tick “Allow partial” to write the matched tensors only",
    Hint.MATCH_ORDER: "the counts and shapes line up: choose “order” to pair them by position",
    Hint.SKIP_BAD: "tick “Skip bad rows” to convert the good rows",
    Hint.MODEL: "choose the model the weights belong to",
    Hint.UNSAFE: "the viewer loads only models whose file carries no code",
    Hint.IMPORT: "add the module that defines it under “Import modules”",
}


def hinted(error: E, hint: Hint) -> E:
    """``error`` with ``hint`` attached (an attribute, so it survives pickling)."""
    error.hint = hint  # type: ignore[attr-defined]
    return error


def hint_of(error: BaseException) -> Hint | None:
    hint = getattr(error, "hint", None)
    return Hint(hint) if hint is not None else None


def advice(error: BaseException, words: dict[Hint, str]) -> str:
    """The error's message, followed by its hint in ``words`` (``COMMAND_LINE`` or ``VIEWER``)."""
    message = str(error)
    hint = hint_of(error)
    return f"{message} ({words[hint]})" if hint is not None else message
