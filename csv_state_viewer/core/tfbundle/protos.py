"""The few TensorFlow protocol buffers a checkpoint holds, decoded without protobuf.

``BundleHeaderProto`` and ``BundleEntryProto`` (``tensor_bundle.proto``), the
``TensorShapeProto`` of an entry, and the ``TrackableObjectGraph`` saved under
``_CHECKPOINTABLE_OBJECT_GRAPH``. Each becomes a dataclass whose attributes carry the
protocol buffer's field names, so code written against TensorFlow's generated classes
(``graph.nodes[i].children[j].local_name``) reads these the same way. Only the fields
the reader uses are decoded; the others are skipped. Errors are :class:`WireError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from csv_state_viewer.core.tfbundle.wire import (
    LENGTH,
    Field,
    WireError,
    fields,
    read_varint,
    signed,
)

__all__ = [
    "BundleEntryProto",
    "BundleHeaderProto",
    "TensorShapeProto",
    "TrackableObjectGraph",
    "WireError",
    "parse_entry",
    "parse_graph",
    "parse_header",
]

LITTLE_ENDIAN, BIG_ENDIAN = 0, 1


# ------------------------------------------------------------------- tensor bundle
@dataclass(slots=True)
class VersionDef:
    producer: int = 0
    min_consumer: int = 0
    bad_consumers: list[int] = field(default_factory=list)


@dataclass(slots=True)
class BundleHeaderProto:
    num_shards: int = 0
    endianness: int = LITTLE_ENDIAN
    version: VersionDef = field(default_factory=VersionDef)


@dataclass(slots=True)
class Dim:
    size: int = 0
    name: str = ""


@dataclass(slots=True)
class TensorShapeProto:
    dim: list[Dim] = field(default_factory=list)
    unknown_rank: bool = False


@dataclass(slots=True)
class BundleEntryProto:
    dtype: int = 0
    shape: TensorShapeProto = field(default_factory=TensorShapeProto)
    shard_id: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int = 0
    slices: list[bytes] = field(default_factory=list)  # TensorSliceProto, left encoded


def _int32(item: Field, what: str) -> int:
    """An int32 field (a wider varint is cut to 32 bits, as protobuf does)."""
    return ((item.as_int(what) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def _repeated_ints(item: Field, what: str) -> list[int]:
    """A repeated int32 field's values, packed or not."""
    if item.wire != LENGTH:
        return [_int32(item, what)]
    data, pos, out = item.as_bytes(what), 0, []
    while pos < len(data):
        value, pos = read_varint(data, pos, len(data))
        out.append(((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)
    return out


def _version(data: bytes) -> VersionDef:
    version = VersionDef()
    for item in fields(data, frozenset({1, 2, 3})):
        if item.number == 1:
            version.producer = _int32(item, "version.producer")
        elif item.number == 2:
            version.min_consumer = _int32(item, "version.min_consumer")
        else:
            version.bad_consumers.extend(_repeated_ints(item, "version.bad_consumers"))
    return version


def parse_header(data: bytes) -> BundleHeaderProto:
    header = BundleHeaderProto()
    for item in fields(data, frozenset({1, 2, 3})):
        if item.number == 1:
            header.num_shards = _int32(item, "num_shards")
        elif item.number == 2:
            header.endianness = _int32(item, "endianness")
        else:
            header.version = _version(item.as_bytes("version"))
    return header


def _shape(data: bytes) -> TensorShapeProto:
    shape = TensorShapeProto()
    for item in fields(data, frozenset({2, 3})):
        if item.number == 2:
            dim = Dim()
            for part in fields(item.as_bytes("shape.dim"), frozenset({1, 2})):
                if part.number == 1:
                    dim.size = signed(part.as_int("shape.dim.size"))
                else:
                    dim.name = part.as_text("shape.dim.name")
            shape.dim.append(dim)
        else:
            shape.unknown_rank = bool(item.as_int("shape.unknown_rank"))
    return shape


def parse_entry(data: bytes) -> BundleEntryProto:
    entry = BundleEntryProto()
    for item in fields(data, frozenset(range(1, 8))):
        number = item.number
        if number == 1:
            entry.dtype = _int32(item, "dtype")
        elif number == 2:
            entry.shape = _shape(item.as_bytes("shape"))
        elif number == 3:
            entry.shard_id = _int32(item, "shard_id")
        elif number == 4:
            entry.offset = signed(item.as_int("offset"))
        elif number == 5:
            entry.size = signed(item.as_int("size"))
        elif number == 6:
            entry.crc32c = item.as_int("crc32c") & 0xFFFFFFFF
        else:
            entry.slices.append(item.as_bytes("slices"))
    return entry


# -------------------------------------------------------------- object graph
@dataclass(slots=True)
class ObjectReference:
    node_id: int = 0
    local_name: str = ""


@dataclass(slots=True)
class SerializedTensor:
    name: str = ""
    full_name: str = ""
    checkpoint_key: str = ""


@dataclass(slots=True)
class SlotVariableReference:
    original_variable_node_id: int = 0
    slot_name: str = ""
    slot_variable_node_id: int = 0


@dataclass(slots=True)
class TrackableObject:
    children: list[ObjectReference] = field(default_factory=list)
    attributes: list[SerializedTensor] = field(default_factory=list)
    slot_variables: list[SlotVariableReference] = field(default_factory=list)


@dataclass(slots=True)
class TrackableObjectGraph:
    nodes: list[TrackableObject] = field(default_factory=list)


def _child(data: bytes) -> ObjectReference:
    ref = ObjectReference()
    for item in fields(data, frozenset({1, 2})):
        if item.number == 1:
            ref.node_id = _int32(item, "children.node_id")
        else:
            ref.local_name = item.as_text("children.local_name")
    return ref


def _attribute(data: bytes) -> SerializedTensor:
    tensor = SerializedTensor()
    for item in fields(data, frozenset({1, 2, 3})):
        text = item.as_text("attributes")
        if item.number == 1:
            tensor.name = text
        elif item.number == 2:
            tensor.full_name = text
        else:
            tensor.checkpoint_key = text
    return tensor


def _slot(data: bytes) -> SlotVariableReference:
    ref = SlotVariableReference()
    for item in fields(data, frozenset({1, 2, 3})):
        if item.number == 1:
            ref.original_variable_node_id = _int32(item, "slot_variables.original_variable")
        elif item.number == 2:
            ref.slot_name = item.as_text("slot_variables.slot_name")
        else:
            ref.slot_variable_node_id = _int32(item, "slot_variables.slot_variable")
    return ref


def _node(data: bytes) -> TrackableObject:
    node = TrackableObject()
    for item in fields(data, frozenset({1, 2, 3})):
        body = item.as_bytes("nodes")
        if item.number == 1:
            node.children.append(_child(body))
        elif item.number == 2:
            node.attributes.append(_attribute(body))
        else:
            node.slot_variables.append(_slot(body))
    return node


def parse_graph(data: bytes) -> TrackableObjectGraph:
    """The ``TrackableObjectGraph`` of a checkpoint (raises :class:`WireError`)."""
    return TrackableObjectGraph(
        [_node(item.as_bytes("nodes")) for item in fields(data, frozenset({1}))]
    )
