"""ModelProto -> mnn IR `Graph`.

Each ONNX node goes through three steps: the legacy rules of `legacy.py` rewrite older-opset forms
into the newest-opset form the IR uses; a node whose op the IR registry knows is emitted; any other
node is inlined when ONNX defines its op as a function (model-local, schema body, or
context-dependent), else it is recorded as unsupported. Conversion goes on after an unsupported op so
that one error can list all of them.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from mnn_core.dtypes import DType
from mnn_core.frontend import UnsupportedOp
from mnn_core.ir import Graph, Node, TensorType

from . import legacy

NEWEST_OPSET = onnx.defs.onnx_opset_version()

ELEM_TO_DTYPE = {
    TensorProto.FLOAT: DType.F32, TensorProto.FLOAT16: DType.F16, TensorProto.BFLOAT16: DType.BF16,
    TensorProto.DOUBLE: DType.F64, TensorProto.INT8: DType.I8, TensorProto.UINT8: DType.U8,
    TensorProto.INT16: DType.I16, TensorProto.UINT16: DType.U16, TensorProto.INT32: DType.I32,
    TensorProto.UINT32: DType.U32, TensorProto.INT64: DType.I64, TensorProto.UINT64: DType.U64,
    TensorProto.BOOL: DType.BOOL, TensorProto.STRING: DType.STRING,
}
DTYPE_ATTRS = {"to", "dtype", "output_dtype"}
"""INT attributes holding an ONNX element type; they become `DType` value strings ("f32")."""


def elem_name(elem: int) -> str:
    return TensorProto.DataType.Name(elem) if elem in TensorProto.DataType.values() else str(elem)


def tensor_type(type_proto) -> TensorType:
    """IR type of an ONNX TypeProto; sequences, optionals and maps have no IR type (unknown)."""
    if not type_proto.HasField("tensor_type"):
        return TensorType(None, None)
    tt = type_proto.tensor_type
    dtype = ELEM_TO_DTYPE.get(tt.elem_type)
    if not tt.HasField("shape"):
        return TensorType(dtype, None)
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim)
    return TensorType(dtype, dims)


def to_array(tensor) -> np.ndarray:
    if isinstance(tensor, onnx.SparseTensorProto):
        values, indices = numpy_helper.to_array(tensor.values), numpy_helper.to_array(tensor.indices)
        dense = np.zeros(tuple(tensor.dims), dtype=values.dtype)
        if indices.ndim == 1:  # linearised indices
            dense.reshape(-1)[indices] = values
        else:
            dense[tuple(indices.T)] = values
        return dense
    array = numpy_helper.to_array(tensor)
    if array.dtype.kind == "S":  # keep strings as Python str objects, like onnx's own test data
        array = array.astype(object)
    return array


@dataclass
class OpNode:
    """A node on its way to the IR; legacy rules edit it in place."""

    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    name: str
    domain: str
    version: int
    proto: Any = field(repr=False, default=None)


class Converter:
    """Converts one ModelProto. After `convert()`, `unsupported` lists every problem found."""

    def __init__(self, model, ops, label: str = "model") -> None:
        self.model, self.ops, self.label = model, ops, label
        self.unsupported: list[UnsupportedOp] = []
        self.notes: list[str] = []
        self.opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in model.opset_import}
        if "" not in self.opsets:
            self.opsets[""] = NEWEST_OPSET if not model.opset_import else 1
        self.functions = {(f.domain, f.name): f for f in model.functions}
        self._taken: set[str] = set()
        self._node_names: set[str] = set()
        self._counter = itertools.count()
        self.onnx_types: dict[str, Any] = {}
        """TypeProto of every value ONNX shape inference could type (for rank-dependent rewrites)."""

    # ---- entry -----------------------------------------------------------------------------
    def convert(self) -> Graph:
        self._collect_names(self.model.graph)
        self._infer_onnx_types()
        if self.opsets[""] < 7:
            self.notes.append(f"opset {self.opsets['']} is older than 7: converted best effort")
        graph = self.graph(self.model.graph, self.opsets)
        graph.metadata.update({p.key: p.value for p in self.model.metadata_props})
        graph.metadata.setdefault("source_format", "onnx")
        graph.metadata.setdefault("onnx_opset", str(self.opsets[""]))
        if self.model.producer_name:
            graph.metadata.setdefault("producer", self.model.producer_name)
        return graph

    def _collect_names(self, graph) -> None:
        self._taken.update(i.name for i in graph.input)
        self._taken.update(o.name for o in graph.output)
        self._taken.update(t.name for t in graph.initializer)
        self._taken.update(t.values.name for t in graph.sparse_initializer)
        for node in graph.node:
            self._taken.update(node.input)
            self._taken.update(node.output)
            for attr in node.attribute:
                for sub in ([attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)):
                    self._collect_names(sub)

    def _infer_onnx_types(self) -> None:
        try:
            inferred = onnx.shape_inference.infer_shapes(self.model)
        except Exception as error:  # inference is only a helper for rewrites
            self.notes.append(f"ONNX shape inference failed ({type(error).__name__}); "
                              "rank-dependent rewrites use declared types only")
            inferred = self.model
        self._gather_types(inferred.graph)

    def _gather_types(self, graph) -> None:
        for vi in itertools.chain(graph.input, graph.output, graph.value_info):
            if vi.type.WhichOneof("value") is not None:
                self.onnx_types.setdefault(vi.name, vi.type)
        for t in graph.initializer:
            self.onnx_types.setdefault(t.name, onnx.helper.make_tensor_type_proto(t.data_type, t.dims))
        for node in graph.node:
            for attr in node.attribute:
                for sub in ([attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)):
                    self._gather_types(sub)

    # ---- names -----------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name = base
        while name in self._taken:
            name = f"{base}__{next(self._counter)}"
        self._taken.add(name)
        return name

    def node_name(self, name: str, op: str) -> str:
        """`name` if free, else the first free `name_k` (`op_k` for unnamed nodes)."""
        candidate = name
        if not name or name in self._node_names:
            base = name or op
            candidate = next(f"{base}_{i}" for i in itertools.count(1)
                             if f"{base}_{i}" not in self._node_names)
        self._node_names.add(candidate)
        return candidate

    # ---- graphs ----------------------------------------------------------------------------
    def graph(self, gp, opsets: dict[str, int], name: Optional[str] = None) -> Graph:
        g = Graph(name=name or gp.name or "main")
        for t in gp.initializer:
            self._add_constant(g, t.name, t)
        for sp in gp.sparse_initializer:
            self._add_constant(g, sp.values.name, sp)
        g.inputs = [i.name for i in gp.input if i.name not in g.constants]
        for vi in itertools.chain(gp.input, gp.output, gp.value_info):
            if vi.name in g.constants:
                continue
            t = tensor_type(vi.type)
            g.types[vi.name] = t
            if vi.name in g.inputs and vi.type.HasField("tensor_type") and t.dtype is None:
                self.unsupported.append(UnsupportedOp(
                    "<input>", vi.name, reason=f"element type {elem_name(vi.type.tensor_type.elem_type)} "
                                               "has no mnn dtype"))
        for node in gp.node:
            self.node(node, opsets, g)
        g.outputs = [o.name for o in gp.output]
        return g

    def _add_constant(self, g: Graph, name: str, tensor) -> None:
        try:
            array = to_array(tensor)
            DType.from_numpy(array.dtype)
        except Exception as error:
            self.unsupported.append(UnsupportedOp("<initializer>", name, reason=f"{error}"))
            return
        g.constants[name] = array

    # ---- nodes -----------------------------------------------------------------------------
    def node(self, proto, opsets: dict[str, int], g: Graph) -> None:
        domain = "" if proto.domain == "ai.onnx" else proto.domain
        version = opsets.get(domain, self.opsets.get(domain, 1))
        name = self.node_name(proto.name, proto.op_type)
        if domain == "" and proto.op_type == "Constant":
            self._constant_node(proto, name, g)
            return
        function = self.functions.get((proto.domain, proto.op_type))
        if function is not None:
            self.inline(proto, function, self._function_opsets(function, opsets), name, g)
            return
        try:
            attrs = {a.name: self.attribute(a, opsets, domain) for a in proto.attribute}
        except Exception as error:
            self._unsupported(proto, name, version, f"attribute: {type(error).__name__}: {error}")
            return
        node = OpNode(proto.op_type, list(proto.input), list(proto.output), attrs, name, domain, version,
                      proto)
        rewrite = legacy.Rewrite(self, g, node)
        reason = legacy.apply(node, rewrite) if domain == "" else None
        if reason is None and node.op in self.ops:
            problems = [self._check(n) for n in (*rewrite.before, node, *rewrite.after)]
            problems = [p for p in problems if p]
            if not problems:
                rewrite.commit()
                g.nodes.append(Node(node.op, node.inputs, node.outputs, node.attrs, node.name, node.domain))
                for extra in rewrite.after:
                    g.nodes.append(Node(extra.op, extra.inputs, extra.outputs, extra.attrs, extra.name))
                return
            reason = "; ".join(problems)
        if self.inline_schema_function(proto, domain, version, name, g):
            return
        self._unsupported(proto, name, version, reason or ("no mnn op and no ONNX function body"
                                                           if proto.op_type not in self.ops else ""))

    def _unsupported(self, proto, name: str, version: int, reason: str) -> None:
        domain = proto.domain or "ai.onnx"
        self.unsupported.append(UnsupportedOp(proto.op_type, name, f"{domain} {version}", reason))

    def _check(self, node: OpNode) -> str:
        """Why the IR cannot take this node ('' when it can): unknown op or attribute, arity."""
        if node.op not in self.ops:
            return f"needs op {node.op}, which mnn lacks"
        schema = self.ops.get(node.op)
        for key in [k for k in node.attrs if k not in schema.attrs]:
            default = onnx_default(node.op, node.domain, key)
            if default is not None and _same(default, node.attrs[key]):
                del node.attrs[key]  # an ONNX default the IR leaves implicit
            else:
                return f"attribute {key}={node.attrs[key]!r} is not supported by mnn's {node.op}"
        lo, hi = schema.inputs
        while len(node.inputs) > lo and node.inputs and node.inputs[-1] == "":
            node.inputs.pop()  # trailing omitted optional inputs
        if not lo <= len(node.inputs) <= hi:
            return f"{len(node.inputs)} inputs; mnn's {node.op} takes {lo} to {hi}"
        return ""

    def _constant_node(self, proto, name: str, g: Graph) -> None:
        attr = proto.attribute[0] if proto.attribute else None
        try:
            if attr is None:
                raise ValueError("Constant without a value")
            if attr.type == AttributeProto.TENSOR:
                value = to_array(attr.t)
            elif attr.type == AttributeProto.SPARSE_TENSOR:
                value = to_array(attr.sparse_tensor)
            else:
                raw = onnx.helper.get_attribute_value(attr)
                dtype = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
                         "value_ints": np.int64}.get(attr.name, object)
                if isinstance(raw, bytes):
                    raw = raw.decode()
                elif isinstance(raw, list):
                    raw = [r.decode() if isinstance(r, bytes) else r for r in raw]
                value = np.array(raw, dtype=dtype)
            DType.from_numpy(value.dtype)
        except Exception as error:
            self._unsupported(proto, name, self.opsets.get("", 0), f"{type(error).__name__}: {error}")
            return
        g.constants[proto.output[0]] = value

    # ---- attributes ------------------------------------------------------------------------
    def attribute(self, attr, opsets: dict[str, int], domain: str) -> Any:
        kind = attr.type
        if kind == AttributeProto.GRAPH:
            return self.graph(attr.g, opsets, name=attr.g.name or attr.name)
        if kind == AttributeProto.GRAPHS:
            return tuple(self.graph(g, opsets, name=g.name or attr.name) for g in attr.graphs)
        if kind == AttributeProto.TENSOR:
            return to_array(attr.t)
        if kind == AttributeProto.TENSORS:
            return tuple(to_array(t) for t in attr.tensors)
        if kind == AttributeProto.SPARSE_TENSOR:
            return to_array(attr.sparse_tensor)
        if kind == AttributeProto.STRING:
            return attr.s.decode("utf-8")
        if kind == AttributeProto.STRINGS:
            return tuple(s.decode("utf-8") for s in attr.strings)
        if kind == AttributeProto.TYPE_PROTO:
            return tensor_type(attr.tp)
        if kind == AttributeProto.TYPE_PROTOS:
            return tuple(tensor_type(t) for t in attr.type_protos)
        if kind == AttributeProto.INT and domain == "" and attr.name in DTYPE_ATTRS:
            if attr.i == 0:
                return None  # UNDEFINED: the op's default; the legacy step drops it
            if attr.i not in ELEM_TO_DTYPE:
                raise ValueError(f"element type {elem_name(attr.i)} has no mnn dtype")
            return ELEM_TO_DTYPE[attr.i].value
        if kind == AttributeProto.FLOATS:
            return tuple(float(f) for f in attr.floats)
        if kind == AttributeProto.INTS:
            return tuple(int(i) for i in attr.ints)
        if kind == AttributeProto.FLOAT:
            return float(attr.f)
        if kind == AttributeProto.INT:
            return int(attr.i)
        raise ValueError(f"attribute {attr.name!r} of type {AttributeProto.AttributeType.Name(kind)}")

    # ---- functions -------------------------------------------------------------------------
    def _function_opsets(self, function, caller: dict[str, int]) -> dict[str, int]:
        opsets = dict(caller)
        opsets.update({("" if o.domain == "ai.onnx" else o.domain): o.version for o in function.opset_import})
        return opsets

    def inline_schema_function(self, proto, domain: str, version: int, name: str, g: Graph) -> bool:
        """Inline the ONNX schema's function body for this op, if it has one."""
        try:
            schema = onnx.defs.get_schema(proto.op_type, version, domain)
        except Exception:
            return False
        body = None
        try:
            if schema.has_function:
                v = _pick(schema.function_opset_versions, version)
                body = onnx.FunctionProto.FromString(schema.get_function_with_opset_version(v))
            elif schema.has_context_dependent_function:
                v = _pick(schema.context_dependent_function_opset_versions, version)
                types = [self.onnx_types.get(n, onnx.TypeProto()).SerializeToString() for n in proto.input]
                if any(n and n not in self.onnx_types for n in proto.input):
                    return False  # the body depends on input types we do not know
                data = schema.get_context_dependent_function_with_opset_version(
                    v, proto.SerializeToString(), types)
                body = onnx.FunctionProto.FromString(data)
        except Exception as error:
            self.notes.append(f"{proto.op_type} {name}: no function body ({type(error).__name__}: {error})")
            return False
        if body is None or not body.node:
            return False
        opsets = {"": v}
        opsets.update({("" if o.domain == "ai.onnx" else o.domain): o.version for o in body.opset_import})
        self.inline(proto, body, opsets, name, g)
        return True

    def inline(self, proto, function, opsets: dict[str, int], name: str, g: Graph) -> None:
        """Expand a function call: formal names -> actual names, internal names -> fresh names,
        attribute references -> the caller's attribute values (or the function's defaults)."""
        mapping: dict[str, str] = {}
        for formal, actual in itertools.zip_longest(function.input, proto.input, fillvalue=""):
            if formal:
                mapping[formal] = actual
        for formal, actual in itertools.zip_longest(function.output, proto.output, fillvalue=""):
            if formal:
                mapping[formal] = actual or self.fresh(f"{name}/{formal}")
        given = {a.name: a for a in proto.attribute}
        defaults = {a.name: a for a in function.attribute_proto}
        for body_node in function.node:
            for n in body_node.output:
                if n and n not in mapping:
                    mapping[n] = self.fresh(f"{name}/{n}")
        body = []
        for i, body_node in enumerate(function.node):
            node = onnx.NodeProto()
            node.CopyFrom(body_node)
            node.name = f"{name}/{body_node.name or body_node.op_type + str(i)}"
            _rename(node, mapping)
            _bind_attributes(node, given, defaults)
            body.append(node)
        self._infer_body_types(body, opsets)
        for node in body:
            self.node(node, opsets, g)

    def _infer_body_types(self, nodes: list, opsets: dict[str, int]) -> None:
        """Type the names an inlined body creates, so nested context-dependent functions expand."""
        produced = {o for n in nodes for o in n.output}
        read = {i for n in nodes for i in n.input if i and i not in produced}
        inputs = [onnx.helper.make_value_info(n, self.onnx_types[n]) for n in sorted(read)
                  if n in self.onnx_types]
        graph = onnx.helper.make_graph(nodes, "inlined", inputs, [])
        imports = [onnx.helper.make_opsetid(d, v) for d, v in opsets.items()]
        try:
            model = onnx.helper.make_model(graph, opset_imports=imports, ir_version=self.model.ir_version or 10)
            self._gather_types(onnx.shape_inference.infer_shapes(model).graph)
        except Exception:
            pass  # best effort: untyped names only stop context-dependent expansion


def _pick(versions, opset: int) -> int:
    usable = [v for v in versions if v <= opset]
    return max(usable) if usable else min(versions)


def _rename(node, mapping: dict[str, str]) -> None:
    for i, n in enumerate(node.input):
        if n in mapping:
            node.input[i] = mapping[n]
    for i, n in enumerate(node.output):
        if n in mapping:
            node.output[i] = mapping[n]
    for attr in node.attribute:
        for sub in ([attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)):
            for inner in sub.node:
                _rename(inner, mapping)
            for out in sub.output:
                if out.name in mapping:
                    out.name = mapping[out.name]


def _bind_attributes(node, given: dict, defaults: dict) -> None:
    bound = []
    for attr in node.attribute:
        if attr.ref_attr_name:
            source = given.get(attr.ref_attr_name) or defaults.get(attr.ref_attr_name)
            if source is None:
                continue  # unset and no default: the body op's own default applies
            new = onnx.AttributeProto()
            new.CopyFrom(source)
            new.name = attr.name
            bound.append(new)
        else:
            if attr.type == AttributeProto.GRAPH:
                for inner in attr.g.node:
                    _bind_attributes(inner, given, defaults)
            bound.append(attr)
    del node.attribute[:]
    node.attribute.extend(bound)


_DEFAULTS: dict[tuple[str, str, str], Any] = {}


def onnx_default(op: str, domain: str, attr: str) -> Any:
    """The default value of an attribute in the newest ONNX schema of `op` (None if it has none)."""
    key = (op, domain, attr)
    if key not in _DEFAULTS:
        value = None
        try:
            proto = onnx.defs.get_schema(op, NEWEST_OPSET, domain).attributes[attr].default_value
            if proto.type != AttributeProto.UNDEFINED:
                value = onnx.helper.get_attribute_value(proto)
                value = value.decode() if isinstance(value, bytes) else value
        except Exception:
            value = None
        _DEFAULTS[key] = value
    return _DEFAULTS[key]


def _same(a: Any, b: Any) -> bool:
    if b is None:
        return True
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b
