"""What the Keras-file readers share: one-line reasons, and the loader of unreadable tensors."""

from __future__ import annotations

import numpy as np

MAX_REASON = 240


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _one_line(err: BaseException) -> str:
    return _clip(" ".join(str(err).split()) or type(err).__name__)


def _describe(err: BaseException) -> str:
    """``TypeError: <first line of the message>`` on one line.

    Keras wraps a failed layer in "<class> could not be deserialized properly ... Exception
    encountered: <the cause>. <advice> Full object config: ..."; the cause's first sentence
    is what says why.
    """
    text = str(err)
    marker = "Exception encountered:"
    if marker in text:
        cause = _first_line(text.rpartition(marker)[2])
        sentence, dot, _rest = cause.partition(". ")
        text = sentence + dot.strip()
    return _clip(f"{type(err).__name__}: {_first_line(text)}".rstrip(": "))


def _unreadable() -> np.ndarray:
    raise ValueError("the tensor cannot be read")
