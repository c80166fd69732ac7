"""The ``checkpoint`` state file of a training directory, read without protobuf.

TensorFlow writes a ``CheckpointState`` in protobuf text format::

    model_checkpoint_path: "ckpt-3"
    all_model_checkpoint_paths: "ckpt-2"
    all_model_checkpoint_paths: "ckpt-3"
    all_model_checkpoint_timestamps: 1700000000.5
    last_preserved_timestamp: 1699999999.25

:func:`latest_checkpoint` returns the ``model_checkpoint_path`` (the last one given, as
text format's parser does), or raises :class:`StateFileError` for text that is not such a
message (an unknown field, a value of the wrong kind, an unclosed string).
"""

from __future__ import annotations

import re

_STRING_FIELDS = frozenset({"model_checkpoint_path", "all_model_checkpoint_paths"})
_NUMBER_FIELDS = frozenset({"all_model_checkpoint_timestamps", "last_preserved_timestamp"})
_TOKEN = re.compile(
    r"""\s+|\#[^\n]*
    |(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|[-+]?(?:inf|nan)\b)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<punct>[:;,])""",
    re.VERBOSE,
)
_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"a": b"\a", b"b": b"\b", b"f": b"\f"}
_SIMPLE |= {b"v": b"\v", b"\\": b"\\", b"'": b"'", b'"': b'"', b"?": b"?"}


class StateFileError(ValueError):
    """Not a checkpoint state (one-line reason)."""


def _unescape(literal: str) -> str:
    def one(match: re.Match[bytes]) -> bytes:
        code = match[1]
        if code[:1] == b"x":
            return bytes([int(code[1:], 16)])
        if code[:1].isdigit():
            return bytes([int(code, 8) & 0xFF])
        if code in _SIMPLE:
            return _SIMPLE[code]
        raise StateFileError(f"an unknown escape \\{code.decode(errors='replace')}")

    raw = _ESCAPE.sub(one, literal[1:-1].encode("utf-8"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StateFileError("a path that is not UTF-8") from None


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise StateFileError(f"unexpected text {text[pos : pos + 20]!r}")
        pos = match.end()
        if match.lastgroup is not None:
            out.append((match.lastgroup, match[match.lastgroup]))
    return out


def latest_checkpoint(text: str) -> str:
    """The ``model_checkpoint_path`` of a checkpoint state ("" when it names none)."""
    tokens = _tokens(text)
    latest, index = "", 0
    while index < len(tokens):
        kind, name = tokens[index]
        if kind != "name" or name not in _STRING_FIELDS | _NUMBER_FIELDS:
            raise StateFileError(f"unexpected {name!r}")
        index += 1
        if index < len(tokens) and tokens[index] == ("punct", ":"):
            index += 1
        wanted = "string" if name in _STRING_FIELDS else "number"
        if index >= len(tokens) or tokens[index][0] != wanted:
            raise StateFileError(f"{name} needs a {wanted}")
        value = ""
        while index < len(tokens) and tokens[index][0] == wanted:  # "a" "b" is "ab"
            value += _unescape(tokens[index][1]) if wanted == "string" else ""
            index += 1
            if wanted == "number":
                break
        if name == "model_checkpoint_path":
            latest = value
        if index < len(tokens) and tokens[index] in (("punct", ";"), ("punct", ",")):
            index += 1
    return latest
