"""How many parameters a Keras model config implies, estimated before Keras builds it.

Rebuilding a ``.keras`` model creates every variable its ``config.json`` declares before a
single stored value is loaded: a 15 KB archive whose config says ``Dense(units=2**25)``
allocated 2.4 GB. :func:`config_problem` compares the bytes the config implies
(:func:`implied_parameters` times
:data:`~csv_state_viewer.core.limits.CONFIG_BYTES_PER_PARAMETER`) with the bytes the
archive's weights file actually stores, and says why the model is not rebuilt when the
config implies more than :data:`~csv_state_viewer.core.limits.CONFIG_STORAGE_MARGIN`
times what is stored plus :data:`~csv_state_viewer.core.limits.CONFIG_SLACK_BYTES`. The
reader then falls back to structural names, with that reason.

The estimate reads each layer's own config and its ``build_config`` input shape (the
shape Keras builds it with when the model is rebuilt) and knows the common layers:
``Dense``, ``EinsumDense``, ``Conv1D/2D/3D`` and their ``Transpose``,
``DepthwiseConv1D/2D``, ``SeparableConv1D/2D``, ``Embedding``, ``BatchNormalization``,
``LayerNormalization``, ``GroupNormalization``, ``LSTM``, ``GRU``, ``SimpleRNN`` (and their
cells), ``MultiHeadAttention``; ``Bidirectional`` and ``TimeDistributed`` count the layer
they wrap, nested models their layers. Where an input size is unknown it counts as 1 (the
least it can be), so the estimate never exceeds what Keras creates for these layers. Any
other layer (custom ones included) counts 0: a model of unknown layers is rebuilt as
before, the estimate only ever errs low.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from csv_state_viewer.core.limits import (
    CONFIG_BYTES_PER_PARAMETER,
    CONFIG_SLACK_BYTES,
    CONFIG_STORAGE_MARGIN,
    size_text,
)

_MAX_NODES = 1_000_000  # dicts and lists walked in a config (a 64 MiB config has fewer)
_CONV = re.compile(r"^(Conv|DepthwiseConv|SeparableConv)([123])D(Transpose)?$")

Shape = list[int | None]


def _count(value: object) -> int:
    """A size from a config: a whole number ≥ 0, or 0 for anything else (Keras refuses
    those itself)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return max(int(value), 0)
    return 0


def _dim(value: object) -> int:
    """A known input size, or 1 for an unknown one (``None``, a missing shape)."""
    return _count(value) or 1


def _shape(value: object) -> Shape | None:
    if not isinstance(value, list):
        return None
    return [_count(v) if v is not None else None for v in value]


def _input_shape(build: object) -> Shape | None:
    """The input shape Keras builds a layer with, from its ``build_config``."""
    if not isinstance(build, dict):
        return None
    shape = _shape(build.get("input_shape"))
    if shape is None and isinstance(build.get("shapes_dict"), dict):
        shapes = build["shapes_dict"]
        shape = _shape(shapes.get("query_shape") or shapes.get("inputs_shape"))
    return shape


def _last(shape: Shape | None) -> int:
    return _dim(shape[-1]) if shape else 1


def _channels(config: dict[str, Any], shape: Shape | None) -> int:
    if not shape:
        return 1
    first = config.get("data_format") == "channels_first" and len(shape) > 1
    return _dim(shape[1] if first else shape[-1])


def _bias(config: dict[str, Any], size: int) -> int:
    return size if config.get("use_bias", True) else 0


def _dense(config: dict[str, Any], shape: Shape | None) -> int:
    units = _count(config.get("units"))
    return _last(shape) * units + _bias(config, units)


def _conv(
    config: dict[str, Any], shape: Shape | None, kind: str, rank: int, transpose: bool
) -> int:
    size = config.get("kernel_size", 1)
    sizes = size if isinstance(size, list) else [size] * rank
    window = math.prod(_dim(s) for s in sizes[:rank])
    channels = _channels(config, shape)
    filters = _count(config.get("filters"))
    if kind == "DepthwiseConv":
        out = channels * _dim(config.get("depth_multiplier", 1))
        return window * out + _bias(config, out)
    if kind == "SeparableConv":
        middle = channels * _dim(config.get("depth_multiplier", 1))
        return window * middle + middle * filters + _bias(config, filters)
    groups = _dim(config.get("groups", 1))
    fan_in = channels if transpose else max(channels // groups, 1)
    return window * fan_in * filters + _bias(config, filters)


def _recurrent(config: dict[str, Any], shape: Shape | None, gates: int) -> int:
    units = _count(config.get("units"))
    biases = gates * units * (2 if gates == 3 and config.get("reset_after", True) else 1)
    return gates * units * (_last(shape) + units) + _bias(config, biases)


def _normalization(config: dict[str, Any], shape: Shape | None, per_channel: int) -> int:
    axes = config.get("axis", -1)
    axes = axes if isinstance(axes, list) else [axes]
    if not shape:
        return per_channel
    size = 1
    for axis in axes:
        if isinstance(axis, int) and -len(shape) <= axis < len(shape):
            size *= _dim(shape[axis])
    return per_channel * size


def _batch_norm(config: dict[str, Any], shape: Shape | None) -> int:
    kept = 2 + int(bool(config.get("center", True))) + int(bool(config.get("scale", True)))
    return _normalization(config, shape, kept)


def _layer_norm(config: dict[str, Any], shape: Shape | None) -> int:
    kept = int(bool(config.get("center", True))) + int(bool(config.get("scale", True)))
    return _normalization(config, shape, kept)


def _embedding(config: dict[str, Any], shape: Shape | None) -> int:
    return _count(config.get("input_dim")) * _count(config.get("output_dim"))


def _attention(config: dict[str, Any], build: object) -> int:
    shapes = build.get("shapes_dict", {}) if isinstance(build, dict) else {}
    shapes = shapes if isinstance(shapes, dict) else {}
    query = _last(_shape(shapes.get("query_shape")))
    value = _last(_shape(shapes.get("value_shape")))
    key = _last(_shape(shapes.get("key_shape"))) if shapes.get("key_shape") else value
    heads, key_dim = _count(config.get("num_heads")), _count(config.get("key_dim"))
    value_dim = _count(config.get("value_dim")) or key_dim
    output = config.get("output_shape")
    out = math.prod(_dim(d) for d in output) if isinstance(output, list) else _count(output)
    out = out or query
    projections = (query + key) * heads * key_dim + value * heads * value_dim
    biases = 2 * heads * key_dim + heads * value_dim + out
    return projections + heads * value_dim * out + _bias(config, biases)


def _einsum(config: dict[str, Any], shape: Shape | None) -> int:
    """Kernel (and bias) of an ``EinsumDense``: each kernel letter sized from the input
    shape or the output shape; an equation with ``...`` counts 0."""
    equation = config.get("equation")
    if not isinstance(equation, str) or "..." in equation:
        return 0
    match = re.fullmatch(r"(\w+),(\w+)->(\w+)", equation.replace(" ", ""))
    if match is None:
        return 0
    inputs, kernel, outputs = match.groups()
    output = config.get("output_shape")
    output = output if isinstance(output, list) else [output]
    sizes: dict[str, int] = {}
    for position, letter in enumerate(outputs):  # output_shape leaves out the batch axis
        at = position - (len(outputs) - len(output))
        if 0 <= at < len(output):
            sizes[letter] = _dim(output[at])
    for position, letter in enumerate(inputs):
        if shape is not None and len(shape) == len(inputs):
            sizes[letter] = _dim(shape[position])
    total = math.prod(sizes.get(letter, 1) for letter in kernel)
    bias_axes = config.get("bias_axes")
    if isinstance(bias_axes, str) and bias_axes:
        total += math.prod(sizes.get(letter, 1) for letter in bias_axes)
    return total


Estimator = Callable[[dict[str, Any], "Shape | None"], int]
_LAYERS: dict[str, Estimator] = {
    "Dense": _dense,
    "EinsumDense": _einsum,
    "Embedding": _embedding,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "GroupNormalization": _layer_norm,
    "LSTM": lambda c, s: _recurrent(c, s, 4),
    "LSTMCell": lambda c, s: _recurrent(c, s, 4),
    "GRU": lambda c, s: _recurrent(c, s, 3),
    "GRUCell": lambda c, s: _recurrent(c, s, 3),
    "SimpleRNN": lambda c, s: _recurrent(c, s, 1),
    "SimpleRNNCell": lambda c, s: _recurrent(c, s, 1),
}
_WRAPPERS = frozenset({"Bidirectional", "TimeDistributed"})


def _layer_parameters(node: dict[str, Any], shape: Shape | None) -> int:
    """Parameters of one serialized layer (``{"class_name", "config", "build_config"}``)
    with ``shape`` as its input when its own build_config does not say."""
    name = node.get("class_name")
    config = node.get("config")
    if not isinstance(name, str) or not isinstance(config, dict):
        return 0
    name = name.rpartition(">")[2]
    build = node.get("build_config")
    shape = _input_shape(build) or shape
    if name in _LAYERS:
        return _LAYERS[name](config, shape)
    if name == "MultiHeadAttention":
        return _attention(config, build)
    conv = _CONV.match(name)
    if conv is not None:
        kind, rank, transpose = conv.group(1), int(conv.group(2)), bool(conv.group(3))
        return _conv(config, shape, kind, rank, transpose)
    if name in _WRAPPERS:
        inner = config.get("layer")
        if not isinstance(inner, dict):
            return 0
        if name == "TimeDistributed":
            return _layer_parameters(inner, [shape[0], *shape[2:]] if shape else None)
        backward = config.get("backward_layer")
        return _layer_parameters(inner, shape) + _layer_parameters(
            backward if isinstance(backward, dict) else inner, shape
        )
    return 0


def implied_parameters(config: object) -> int:
    """The parameters a serialized Keras model (``config.json``) implies: every layer
    known to the estimate (see the module doc), wherever it is nested; 0 for anything else."""
    total, walked = 0, 0
    stack: list[object] = [config]
    while stack and walked < _MAX_NODES:
        node = stack.pop()
        walked += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        name = node.get("class_name")
        if isinstance(name, str) and isinstance(node.get("config"), dict):
            total += _layer_parameters(node, None)
            if name.rpartition(">")[2] in _WRAPPERS:
                continue  # the wrapped layer was counted with the wrapper
        stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return total


def config_problem(config: object, stored_bytes: int) -> str | None:
    """Why a model whose config is ``config`` is not rebuilt when its weights file stores
    ``stored_bytes``, or None when the config fits what is stored."""
    implied = implied_parameters(config) * CONFIG_BYTES_PER_PARAMETER
    allowed = CONFIG_STORAGE_MARGIN * stored_bytes + CONFIG_SLACK_BYTES
    if implied <= allowed:
        return None
    return (
        f"its config implies {size_text(implied)} of variables but the weights file stores "
        f"{size_text(stored_bytes)}"
    )
