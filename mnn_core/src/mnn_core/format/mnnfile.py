"""Reading and writing `.mnn` files (the layout is described in the package docstring)."""
from __future__ import annotations

import base64
import hashlib
import json
import math
import mmap as _mmap
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..dtypes import DType
from ..ir import Graph, Node, QuantParams, TensorType

MAGIC = b"\x89MNN\r\n\x1a\n"
"""PNG-style: a high byte and line endings, so text-mode or 7-bit transfers visibly break the file."""
FORMAT_VERSION = 1
FLAGS_KNOWN = 0
"""Feature flags this reader understands; a file with any other flag set is refused."""
HEADER_SIZE = 128
ALIGNMENT = 64
_FIELDS = struct.Struct("<8sIIQQQQQ8x")  # magic, version, flags, s_off, s_len, w_off, w_len, file_len
_DIGEST_AT = _FIELDS.size  # 64: SHA-256 of everything else, then zero padding up to HEADER_SIZE
_DIGEST_END = _DIGEST_AT + 32

PathLike = Union[str, Path]


class FormatError(ValueError):
    """A file is not a readable `.mnn` file. `kind` is one of "magic", "version", "flags",
    "truncated", "corrupt" (checksum, trailing bytes, malformed structure) or "unsupported" (save)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Header:
    version: int
    flags: int
    structure_offset: int
    structure_length: int
    weights_offset: int
    weights_length: int
    file_length: int
    digest: bytes


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


# ---- writing -----------------------------------------------------------------------------------
class _Encoder:
    """Turns a graph into JSON-ready values and a list of tensor blobs with their weight offsets."""

    def __init__(self) -> None:
        self.tensors: list[dict] = []
        self.blobs: list[tuple[int, np.ndarray]] = []
        self.size = 0
        self._seen: dict[int, tuple[Any, int]] = {}  # id -> (array kept alive, index)

    def tensor(self, value: Any, where: str) -> int:
        if id(value) in self._seen:
            return self._seen[id(value)][1]
        array = np.asarray(value)
        if array.dtype.byteorder == (">" if np.little_endian else "<"):
            array = array.astype(array.dtype.newbyteorder("="))  # stored little-endian anyway
        try:
            dtype = DType.from_numpy(array.dtype)
        except TypeError as error:
            raise FormatError(f"{where}: {error}", "unsupported") from None
        entry: dict[str, Any] = {"dtype": dtype.value, "shape": [int(d) for d in array.shape]}
        if dtype is DType.STRING:
            entry["strings"] = [_encode_string(s, where) for s in array.reshape(-1).tolist()]
            if array.dtype.kind != "O":
                entry["numpy"] = array.dtype.str  # restore fixed-width "<U5"/"|S3" arrays exactly
        else:
            data = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
            self.size = _align(self.size)
            entry["offset"], entry["nbytes"] = self.size, int(data.nbytes)
            self.blobs.append((self.size, data))
            self.size += data.nbytes
        self.tensors.append(entry)
        self._seen[id(value)] = (value, len(self.tensors) - 1)
        return len(self.tensors) - 1

    def value(self, v: Any, where: str) -> Any:
        """Attribute values, tagged where JSON alone would lose the Python type."""
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if math.isfinite(v) else {"float": repr(float(v))}
        if isinstance(v, (np.ndarray, np.generic)):
            return {"tensor" if isinstance(v, np.ndarray) else "scalar": self.tensor(v, where)}
        if isinstance(v, Graph):
            return {"graph": self.graph(v, where)}
        if isinstance(v, tuple):
            return {"tuple": [self.value(x, where) for x in v]}
        if isinstance(v, list):
            return [self.value(x, where) for x in v]
        if isinstance(v, bytes):
            return {"bytes": base64.b64encode(v).decode("ascii")}
        if isinstance(v, DType):
            return {"dtype": v.value}
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {"dict": {k: self.value(x, f"{where}.{k}") for k, x in v.items()}}
        raise FormatError(f"{where}: cannot store a value of type {type(v).__name__}", "unsupported")

    def type(self, t: TensorType, where: str) -> dict:
        out: dict[str, Any] = {"dtype": t.dtype.value if t.dtype is not None else None,
                               "shape": None if t.shape is None else [_dim(d, where) for d in t.shape]}
        if t.quant is not None:
            out["quant"] = {"scale": self.tensor(t.quant.scale, where),
                            "zero_point": self.tensor(t.quant.zero_point, where), "axis": t.quant.axis}
        return out

    def graph(self, g: Graph, where: str) -> dict:
        nodes = []
        for i, node in enumerate(g.nodes):
            at = f"{where}/{node.op}({node.name or i})"
            entry: dict[str, Any] = {"op": node.op, "inputs": list(node.inputs),
                                     "outputs": list(node.outputs)}
            if node.name:
                entry["name"] = node.name
            if node.domain:
                entry["domain"] = node.domain
            if node.attrs:
                entry["attrs"] = {k: self.value(v, f"{at}.{k}") for k, v in node.attrs.items()}
            nodes.append(entry)
        return {"name": g.name, "inputs": list(g.inputs), "outputs": list(g.outputs),
                "metadata": dict(g.metadata),
                "types": {n: self.type(t, f"{where}:{n}") for n, t in g.types.items()},
                "constants": {n: self.tensor(a, f"{where}:{n}") for n, a in g.constants.items()},
                "nodes": nodes}


def _dim(d: Any, where: str) -> Any:
    if d is None or isinstance(d, str):
        return d
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
        return int(d)
    raise FormatError(f"{where}: dimension {d!r} is not an int, a symbol or None", "unsupported")


def _encode_string(s: Any, where: str) -> Any:
    if isinstance(s, str):
        return s
    if isinstance(s, bytes):
        return {"b64": base64.b64encode(s).decode("ascii")}
    raise FormatError(f"{where}: string tensor holds a {type(s).__name__}", "unsupported")


def _tensor_bytes(data: np.ndarray) -> memoryview:
    return memoryview(data.reshape(-1).view(np.uint8))


def save(graph: Graph, path: PathLike) -> Path:
    """Write `graph` to `path` atomically: a temporary file in the same folder, renamed when complete."""
    from .. import __version__

    path = Path(path)
    encoder = _Encoder()
    encoded_graph = encoder.graph(graph, "graph")  # fails on unstorable values before any write
    document = {"format": FORMAT_VERSION, "producer": f"mnn-core {__version__}",
                "tensors": encoder.tensors, "graph": encoded_graph}
    structure = json.dumps(document, ensure_ascii=False, allow_nan=False,
                           separators=(",", ":")).encode("utf-8")
    weights_offset = _align(HEADER_SIZE + len(structure))
    file_length = weights_offset + encoder.size
    fields = _FIELDS.pack(MAGIC, FORMAT_VERSION, 0, HEADER_SIZE, len(structure), weights_offset,
                          encoder.size, file_length)
    tail = bytes(HEADER_SIZE - _DIGEST_END)

    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            digest = hashlib.sha256(fields)
            digest.update(tail)
            f.write(fields + bytes(32) + tail)

            def put(data) -> None:
                f.write(data)
                digest.update(data)

            put(structure)
            put(bytes(weights_offset - HEADER_SIZE - len(structure)))
            position = 0
            for offset, data in encoder.blobs:
                put(bytes(offset - position))
                put(_tensor_bytes(data))
                position = offset + data.nbytes
            f.seek(_DIGEST_AT)
            f.write(digest.digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


# ---- reading -----------------------------------------------------------------------------------
def _parse_header(buf, where: str) -> Header:
    head = bytes(buf[:HEADER_SIZE])
    if head[:len(MAGIC)] != MAGIC:
        if len(head) < len(MAGIC) and MAGIC.startswith(head):
            raise FormatError(f"{where}: truncated .mnn file ({len(head)} bytes)", "truncated")
        raise FormatError(f"{where}: not an .mnn file (wrong magic {head[:len(MAGIC)]!r}, "
                          f"expected {MAGIC!r})", "magic")
    if len(head) < HEADER_SIZE:
        raise FormatError(f"{where}: truncated .mnn file: {len(head)} bytes, shorter than the "
                          f"{HEADER_SIZE}-byte header", "truncated")
    _, version, flags, s_off, s_len, w_off, w_len, length = _FIELDS.unpack_from(head)
    if version > FORMAT_VERSION or version < 1:
        raise FormatError(f"{where}: .mnn format version {version} is newer than this mnn-core reads "
                          f"(up to {FORMAT_VERSION}); upgrade mnn-core or re-convert the model",
                          "version")
    if flags & ~FLAGS_KNOWN:
        raise FormatError(f"{where}: the file uses feature flags {flags & ~FLAGS_KNOWN:#x} that this "
                          f"mnn-core does not know; upgrade mnn-core", "flags")
    return Header(version, flags, s_off, s_len, w_off, w_len, length, head[_DIGEST_AT:_DIGEST_END])


def read_header(path: PathLike) -> Header:
    """The header of an `.mnn` file, checked for magic and version but not for integrity."""
    with open(path, "rb") as f:
        return _parse_header(f.read(HEADER_SIZE), str(path))


def _check(buf, header: Header, where: str) -> None:
    size = len(buf)
    if size < header.file_length:
        raise FormatError(f"{where}: truncated .mnn file: {size} bytes of {header.file_length}",
                          "truncated")
    if size > header.file_length:
        raise FormatError(f"{where}: corrupt .mnn file: {size - header.file_length} unexpected bytes "
                          f"after the end", "corrupt")
    if not (HEADER_SIZE <= header.structure_offset
            and header.structure_offset + header.structure_length <= header.weights_offset
            and header.weights_offset % ALIGNMENT == 0
            and header.weights_offset + header.weights_length == header.file_length):
        raise FormatError(f"{where}: corrupt .mnn file: inconsistent section offsets", "corrupt")
    view = memoryview(buf)
    try:
        digest = hashlib.sha256(view[:_DIGEST_AT])
        digest.update(view[_DIGEST_END:])
    finally:
        view.release()
    if digest.digest() != header.digest:
        raise FormatError(f"{where}: corrupt .mnn file: SHA-256 checksum mismatch", "corrupt")


class _Decoder:
    def __init__(self, buf, header: Header, table: list[dict]) -> None:
        self.buf, self.header, self.table = buf, header, table
        self.arrays: dict[int, np.ndarray] = {}

    def tensor(self, index: int) -> np.ndarray:
        if index not in self.arrays:
            self.arrays[index] = self._read(self.table[index])
        return self.arrays[index]

    def _read(self, entry: dict) -> np.ndarray:
        dtype, shape = DType.parse(entry["dtype"]), tuple(int(d) for d in entry["shape"])
        if dtype is DType.STRING:
            items = [s if isinstance(s, str) else base64.b64decode(s["b64"]) for s in entry["strings"]]
            array = np.empty(len(items), object)
            array[:] = items
            array = array.reshape(shape)
            if "numpy" in entry:
                array = array.astype(np.dtype(entry["numpy"]))
        else:
            npdtype = dtype.numpy.newbyteorder("<")
            count = int(np.prod(shape, dtype=np.int64))
            offset, nbytes = int(entry["offset"]), int(entry["nbytes"])
            if (nbytes != count * npdtype.itemsize or offset % ALIGNMENT
                    or offset + nbytes > self.header.weights_length):
                raise ValueError(f"tensor entry {entry} does not fit the weights section")
            array = np.frombuffer(self.buf, npdtype, count, self.header.weights_offset + offset)
            array = array.reshape(shape)
        array.flags.writeable = False
        return array

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        (tag, body), = v.items()
        if tag == "tuple":
            return tuple(self.value(x) for x in body)
        if tag == "tensor":
            return self.tensor(body)
        if tag == "scalar":
            return self.tensor(body)[()]
        if tag == "graph":
            return self.graph(body)
        if tag == "float":
            return float(body)
        if tag == "bytes":
            return base64.b64decode(body)
        if tag == "dtype":
            return DType.parse(body)
        if tag == "dict":
            return {k: self.value(x) for k, x in body.items()}
        raise ValueError(f"unknown attribute value tag {tag!r}")

    def type(self, t: dict) -> TensorType:
        quant = None
        if t.get("quant") is not None:
            q = t["quant"]
            quant = QuantParams(self.tensor(q["scale"]), self.tensor(q["zero_point"]), q["axis"])
        shape = None if t["shape"] is None else tuple(t["shape"])
        return TensorType(None if t["dtype"] is None else DType.parse(t["dtype"]), shape, quant)

    def graph(self, g: dict) -> Graph:
        nodes = [Node(n["op"], list(n["inputs"]), list(n["outputs"]),
                      {k: self.value(v) for k, v in n.get("attrs", {}).items()},
                      n.get("name", ""), n.get("domain", "")) for n in g["nodes"]]
        return Graph(nodes, list(g["inputs"]), list(g["outputs"]),
                     {n: self.type(t) for n, t in g["types"].items()},
                     {n: self.tensor(i) for n, i in g["constants"].items()},
                     g.get("name", "main"), dict(g.get("metadata", {})))


def load_graph(path: PathLike, mmap: bool = True, verify: bool = True) -> Graph:
    """Read an `.mnn` file. With `mmap`, weights are read-only views over a memory map of the file
    (zero-copy); otherwise over one in-memory copy of it. `verify=False` skips the checksum pass."""
    where = str(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if mmap and size > 0:
            buf = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ)
        else:
            buf = f.read()
    header = _parse_header(buf, where)
    if verify:
        _check(buf, header, where)
    elif len(buf) < header.file_length:
        raise FormatError(f"{where}: truncated .mnn file: {len(buf)} bytes of {header.file_length}",
                          "truncated")
    start = header.structure_offset
    try:
        document = json.loads(bytes(buf[start:start + header.structure_length]).decode("utf-8"))
        return _Decoder(buf, header, document["tensors"]).graph(document["graph"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise FormatError(f"{where}: corrupt .mnn file: malformed structure section "
                          f"({type(error).__name__}: {error})", "corrupt") from None
