"""Keep an int8 embedding table int8 in memory: an ONNX model rewritten so a lookup gathers int8 rows, then dequantizes.

The bundled model stores each weight as int8 with a float scale (per row) and dequantizes it in the graph, a Cast and a
Mul on the whole table, feeding a Gather of the rows a batch uses:

    Gather(Mul(Cast(table_q), scale), ids)          folded by onnxruntime at load: the table held as float32

`gather_before_dequantize` turns that into

    Mul(Cast(Gather(table_q, ids)), Gather(scale, ids))

which nothing can fold, so the word-embedding table stays int8 (11.7 MB instead of 46.9 MB) and only the rows of a
batch become floats: the same Cast and the same float32 Mul on the same values, so the same floats.

The edit is made on protobuf's wire format (a model is a protobuf message): only the graph's nodes and value infos
are decoded, every other field (the initializers' bytes too) is copied as it is, so no `onnx` package is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_VALUE_INFO = 1, 5, 13  # GraphProto fields
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP, _NODE_ATTRIBUTE, _NODE_DOMAIN = 1, 2, 3, 4, 5, 7  # NodeProto
_TENSOR_DIMS, _TENSOR_TYPE, _TENSOR_NAME = 1, 2, 8  # TensorProto
_VALUE_NAME = 1  # ValueInfoProto.name
_ATTR_NAME, _ATTR_INT, _ATTR_TYPE, _ATTR_TYPE_INT = 1, 3, 20, 2  # AttributeProto
_FLOAT, _INT8 = 1, 3  # TensorProto.DataType
_VARINT, _LEN = 0, 2  # wire types


@dataclass
class _Field:
    number: int
    wire: int
    value: int | memoryview  # a varint's value, or the raw bytes of any other wire type
    raw: memoryview  # the whole field as it was read (key included)


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data: memoryview) -> Iterator[_Field]:
    at = 0
    while at < len(data):
        start = at
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == _VARINT:
            value, at = _varint(data, at)
        elif wire == _LEN:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        elif wire == 1:  # 64-bit
            value, at = data[at:at + 8], at + 8
        elif wire == 5:  # 32-bit
            value, at = data[at:at + 4], at + 4
        else:
            raise ValueError(f"not a protobuf message (wire type {wire})")
        yield _Field(number, wire, value, data[start:at])


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _encode_varint(number << 3 | _VARINT) + _encode_varint(value)


@dataclass
class _Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    domain: str
    raw: memoryview


def _node(data: memoryview) -> _Node:
    node = _Node("", [], [], "", data)
    for f in _fields(data):
        if f.wire != _LEN:
            continue
        assert isinstance(f.value, memoryview)
        if f.number == _NODE_OP:
            node.op = bytes(f.value).decode()
        elif f.number == _NODE_INPUT:
            node.inputs.append(bytes(f.value).decode())
        elif f.number == _NODE_OUTPUT:
            node.outputs.append(bytes(f.value).decode())
        elif f.number == _NODE_DOMAIN:
            node.domain = bytes(f.value).decode()
    return node


def _new_node(op: str, name: str, inputs: list[str], outputs: list[str], cast_to: int | None = None) -> bytes:
    parts = [_len_field(_NODE_INPUT, i.encode()) for i in inputs] + [_len_field(_NODE_OUTPUT, o.encode()) for o in outputs]
    parts += [_len_field(_NODE_NAME, name.encode()), _len_field(_NODE_OP, op.encode())]
    if cast_to is not None:
        attribute = _len_field(_ATTR_NAME, b"to") + _varint_field(_ATTR_INT, cast_to) + _varint_field(_ATTR_TYPE, _ATTR_TYPE_INT)
        parts.append(_len_field(_NODE_ATTRIBUTE, attribute))
    return b"".join(parts)


def _tensor_info(data: memoryview) -> tuple[str, int, list[int]]:
    name, dtype, dims = "", 0, []
    for f in _fields(data):
        if f.number == _TENSOR_NAME and isinstance(f.value, memoryview):
            name = bytes(f.value).decode()
        elif f.number == _TENSOR_TYPE and isinstance(f.value, int):
            dtype = f.value
        elif f.number == _TENSOR_DIMS:
            if isinstance(f.value, int):
                dims.append(f.value)
            else:  # packed
                at = 0
                while at < len(f.value):
                    dim, at = _varint(f.value, at)
                    dims.append(dim)
    return name, dtype, dims


def gather_before_dequantize(model: bytes) -> bytes | None:
    """`model` with every Gather over a dequantized int8 initializer (`Mul(Cast(q), scale)`, used by Gathers only)
    rewritten to gather the int8 rows (and their scales) first; None when the model has no such Gather."""
    data = memoryview(model)
    top = list(_fields(data))
    graphs = [f for f in top if f.number == _MODEL_GRAPH and f.wire == _LEN]
    if len(graphs) != 1:
        return None
    assert isinstance(graphs[0].value, memoryview)
    graph = list(_fields(graphs[0].value))
    tensors = {}
    for f in graph:
        if f.number == _GRAPH_INITIALIZER and isinstance(f.value, memoryview):
            name, dtype, dims = _tensor_info(f.value)
            tensors[name] = (dtype, dims)
    nodes = {i: _node(f.value) for i, f in enumerate(graph) if f.number == _GRAPH_NODE and isinstance(f.value, memoryview)}
    producer = {out: i for i, n in nodes.items() for out in n.outputs}
    consumers: dict[str, list[int]] = {}
    for i, n in nodes.items():
        for name in n.inputs:
            consumers.setdefault(name, []).append(i)

    replaced: dict[int, bytes] = {}  # graph field position -> the nodes taking its place (b"" removes it)
    gone: set[str] = set()  # tensors no node produces any more
    for i, mul in nodes.items():
        if mul.op != "Mul" or mul.domain or len(mul.inputs) != 2 or len(mul.outputs) != 1:
            continue
        cast = nodes.get(producer.get(mul.inputs[0], -1))
        scale = tensors.get(mul.inputs[1])
        if cast is None or cast.op != "Cast" or cast.domain or len(cast.inputs) != 1 or scale is None:
            continue
        table = tensors.get(cast.inputs[0])
        if table is None or table[0] != _INT8 or len(table[1]) != 2 or scale[0] != _FLOAT:
            continue
        rows_scale = scale[1] == [table[1][0], 1]  # one scale per row: gathered with its row
        if not rows_scale and any(d != 1 for d in scale[1]):
            continue
        users = consumers.get(mul.outputs[0], [])
        if not users or consumers.get(cast.outputs[0]) != [i]:
            continue
        if any(nodes[u].op != "Gather" or nodes[u].domain or nodes[u].inputs[0] != mul.outputs[0]
               or len(nodes[u].inputs) != 2 or not _on_axis_0(nodes[u].raw) for u in users):
            continue  # only a Gather on axis 0 reads rows
        for u in users:
            gather = nodes[u]
            ids, out = gather.inputs[1], gather.outputs[0]
            rows_q, rows_f, rows_s = f"{out}__rows_q", f"{out}__rows_f", f"{out}__rows_scale"
            replaced[u] = b"".join(_len_field(_GRAPH_NODE, n) for n in (
                _new_node("Gather", f"{out}__gather_q", [cast.inputs[0], ids], [rows_q]),
                _new_node("Cast", f"{out}__cast", [rows_q], [rows_f], cast_to=_FLOAT),
                *([_new_node("Gather", f"{out}__gather_scale", [mul.inputs[1], ids], [rows_s])] if rows_scale else []),
                _new_node("Mul", f"{out}__dequantize", [rows_f, rows_s if rows_scale else mul.inputs[1]], [out]),
            ))
        replaced[i] = replaced[producer[mul.inputs[0]]] = b""
        gone.update((cast.outputs[0], mul.outputs[0]))
    if not replaced:
        return None

    body = bytearray()
    for position, f in enumerate(graph):
        if position in replaced:
            body += replaced[position]
        elif f.number == _GRAPH_VALUE_INFO and isinstance(f.value, memoryview) and _value_name(f.value) in gone:
            continue  # the shape of a tensor that is no longer computed
        else:
            body += f.raw
    rewritten = bytearray()
    for f in top:
        rewritten += _len_field(_MODEL_GRAPH, bytes(body)) if f is graphs[0] else f.raw
    return bytes(rewritten)


def _on_axis_0(node: memoryview) -> bool:
    """A Gather's attributes say axis 0 (or nothing: its default)."""
    for f in _fields(node):
        if f.number == _NODE_ATTRIBUTE and isinstance(f.value, memoryview):
            attribute = {a.number: a.value for a in _fields(f.value)}
            name = attribute.get(_ATTR_NAME)
            if not isinstance(name, memoryview) or bytes(name) != b"axis" or attribute.get(_ATTR_INT, 0) != 0:
                return False
    return True


def _value_name(data: memoryview) -> str:
    for f in _fields(data):
        if f.number == _VALUE_NAME and isinstance(f.value, memoryview):
            return bytes(f.value).decode()
    return ""
