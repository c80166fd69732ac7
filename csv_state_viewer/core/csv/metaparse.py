"""The metadata field of a row: JSON as the recipe writes it, and the near-misses people write.

Besides a JSON object this reads what ``str(dict)`` prints (``{'shape': (3, 4), 'dtype':
'float32'}``) with :func:`ast.literal_eval`, which builds literals and never calls or
evaluates anything; the text is size- and depth-bounded first. Values that are not
literals but that libraries print inside such a dict (``dtype('float32')``,
``torch.float32``, ``torch.Size([3, 4])``, ``TensorShape([3, 4])``,
``<dtype: 'float32'>``, ``<class 'numpy.float32'>``) are quoted into strings before
parsing, for :func:`parse_shape` and :func:`~csv_state_viewer.core.dtypes.resolve_dtype`
to read. A shape may also be a string: ``"(3, 4)"``, ``"[3, 4]"``, ``"3x4"``, ``"()"``.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

MAX_METADATA_BYTES = 1 << 20
MAX_LITERAL_BYTES = 64 << 10  # a Python literal is parsed into an AST: keep it small
MAX_LITERAL_DEPTH = 32
MAX_DIMENSIONS = 64

# Printed values that are not Python literals, each quoted whole into a string.
_NOT_LITERALS = re.compile(
    r"""dtype\(\s*(?:'[^'()]*'|"[^"()]*"|[\w]+)\s*\)"""  # repr(np.dtype('float32'))
    r"|(?:torch\.Size|TensorShape)\(\s*\[[\d\s,]*\]\s*\)"  # torch / TensorFlow shapes
    r"|<dtype:\s*'\w+'>"  # str(tf.float32)
    r"|<class\s+'[\w.]+'>"  # str(np.float32)
    r"|\b(?:torch|tf|np|numpy)\.\w+"  # repr(torch.float32), repr(tf.float32)
)
_SHAPE_WRAPPER = re.compile(r"^(?:torch\.Size|TensorShape)\((.*)\)$", re.S)
_SHAPE_SEPARATOR = re.compile(r"\s*[,xX\u00d7]\s*")  # comma, x or the multiplication sign


def parse_metadata(raw: bytes) -> dict[str, Any]:
    """The metadata object of a row, or ValueError saying why it cannot be read."""
    if len(raw) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {len(raw)} bytes (at most {MAX_METADATA_BYTES} are read)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"metadata is not valid UTF-8 (byte 0x{raw[err.start]:02x})") from None
    if not text.strip():
        raise ValueError("metadata is empty (expected JSON with shape and dtype)")
    try:
        meta = json.loads(text)
    except RecursionError:
        raise ValueError("metadata JSON is nested too deeply") from None
    except json.JSONDecodeError as err:
        meta = _python_literal(text)
        if meta is None:
            also = " nor a Python dict of literals" if text.lstrip().startswith("{'") else ""
            raise ValueError(
                f"metadata is not valid JSON{also}: {err.msg} at column {err.colno}"
            ) from None
    if not isinstance(meta, dict):
        raise ValueError(f"metadata must be a JSON object, not {type(meta).__name__}")
    return meta


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _python_literal(text: str) -> dict[str, Any] | None:
    """A dict as ``str(dict)`` prints it, or None when the text is not one."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")) or "'" not in stripped:
        return None
    if len(stripped) > MAX_LITERAL_BYTES or _depth(stripped) > MAX_LITERAL_DEPTH:
        return None
    value = _literal(stripped)
    if value is None:
        value = _literal(_NOT_LITERALS.sub(lambda m: repr(m.group(0)), stripped))
    if not isinstance(value, dict):
        return None
    try:
        return _json_like(value)
    except ValueError:
        return None


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _json_like(value: Any) -> Any:
    """The literal with tuples as lists; refuse what JSON could not hold (sets, bytes...)."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("metadata keys must be strings")
        return {key: _json_like(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_like(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"metadata holds a {type(value).__name__}")


def parse_shape(value: object) -> tuple[int, ...]:
    """A shape from metadata: a list of integers, one integer, or a string such as
    ``"(3, 4)"``, ``"[3, 4]"``, ``"3x4"``, ``"()"`` or ``"torch.Size([3, 4])"``."""
    if isinstance(value, str):
        value = _shape_from_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    ):
        raise ValueError(f"shape must be a list of integers, not {json.dumps(value)[:60]}")
    for dim in value:
        if dim < 0:
            raise ValueError(f"negative dimension {dim} in shape {list(value)}")
    if len(value) > MAX_DIMENSIONS:
        raise ValueError(
            f"shape has {len(value)} dimensions (at most {MAX_DIMENSIONS} are allowed)"
        )
    return tuple(value)


def _shape_from_text(text: str) -> list[int]:
    body = text.strip()
    if not body:
        raise ValueError("shape is an empty string (a scalar's shape is [] or '()')")
    wrapped = _SHAPE_WRAPPER.match(body)
    if wrapped:
        body = wrapped.group(1).strip()
    if body[:1] + body[-1:] in ("()", "[]"):
        body = body[1:-1].strip()
    if not body:
        return []
    parts = _SHAPE_SEPARATOR.split(body.rstrip(", "))
    if len(parts) > MAX_DIMENSIONS or not all(_is_dimension(p) for p in parts):
        raise ValueError(
            f"shape {text[:60]!r} is not a list of dimensions "
            "(expected e.g. [3, 4], '(3, 4)' or '3x4')"
        )
    return [int(p.strip()) for p in parts]


def _is_dimension(part: str) -> bool:
    part = part.strip()
    return 0 < len(part) <= 20 and part.isascii() and part.isdigit()
