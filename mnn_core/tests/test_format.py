"""The .mnn format: exact round trips, zero-copy loading, refusal of damaged files, atomic saves."""
from __future__ import annotations

import math
import mmap
import struct

import numpy as np
import pytest

from mnn_core.dtypes import DType
from mnn_core.format import FORMAT_VERSION, HEADER_SIZE, FormatError, load_graph, mnnfile, save
from mnn_core.ir import Graph, Node, QuantParams, TensorType


def every_dtype_constants() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    consts = {}
    for dt in DType:
        if dt is DType.STRING:
            continue
        values = rng.integers(0, 100, size=(3, 5)) if not dt.is_float else rng.normal(size=(3, 5))
        consts[f"c_{dt.value}"] = np.asarray(values).astype(dt.numpy)
        consts[f"scalar_{dt.value}"] = np.asarray(values[0, 0]).astype(dt.numpy)  # 0-d
        consts[f"empty_{dt.value}"] = np.zeros((0, 7), dt.numpy)
    consts["c_f32_strided"] = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]  # not contiguous
    consts["strings"] = np.array(["", "ascii", "ünïcode", "\x00nul"], dtype=object).reshape(2, 2)
    consts["bytes"] = np.array([b"\xff\x00raw", b""], dtype=object)
    consts["fixed_width"] = np.array(["ab", "c"])
    consts["nan_inf"] = np.array([np.nan, np.inf, -np.inf, -0.0], np.float32)
    return consts


def sample_graph() -> Graph:
    body = Graph(
        nodes=[Node("Add", ["x", "k"], ["y"], name="inner")],
        inputs=[], outputs=["y"], types={"y": TensorType(DType.F32, ("batch", 4))},
        constants={"k": np.full(4, 2.0, np.float32)}, name="then_body")
    nested = Graph(nodes=[Node("If", ["flag"], ["z"], {"then_branch": body, "else_branch": body})],
                   inputs=["flag"], outputs=["z"], name="nested")
    attrs = {"i": 3, "f": 0.25, "s": "text", "b": True, "none": None,
             "ints": (1, 2, 3), "floats": [0.5, -1.0], "strs": ("a", "b"), "empty": (),
             "non_finite": (math.inf, -math.inf), "tensor": np.arange(6, dtype=np.int64).reshape(2, 3),
             "np_scalar": np.float32(1.5), "blob": b"\x00\x01", "dtype": DType.BF16,
             "graphs": [body, nested], "then_branch": body, "else_branch": nested}
    types = {
        "x": TensorType(DType.F32, ("batch", None, 4)),
        "flag": TensorType(DType.BOOL, ()),
        "unknown_rank": TensorType(DType.F16, None),
        "unknown": TensorType(None, None),
        "q": TensorType(DType.U8, (2, 3), QuantParams(np.array([0.5], np.float32),
                                                     np.array([7], np.uint8))),
        "qa": TensorType(DType.I8, (4, 2), QuantParams(np.array([0.1, 0.2], np.float32),
                                                      np.zeros(2, np.int8), axis=1)),
    }
    return Graph(nodes=[Node("If", ["flag"], ["out"], attrs, name="branch", domain="ai.test")],
                 inputs=["x", "flag"], outputs=["out"], types=types,
                 constants=every_dtype_constants(), name="sample",
                 metadata={"producer": "test", "ünï": "côde"})


def assert_same(a, b, where="value"):
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        if a.dtype.kind in "OUS":
            assert a.tolist() == b.tolist(), where
        else:  # compare bits: exact for NaN, -0.0, bf16
            assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif isinstance(a, Graph):
        for field in ("inputs", "outputs", "name", "metadata"):
            assert getattr(a, field) == getattr(b, field), f"{where}.{field}"
        assert list(a.types) == list(b.types) and list(a.constants) == list(b.constants), where
        for name in a.types:
            assert_same(a.types[name], b.types[name], f"{where}:{name}")
        for name in a.constants:
            assert_same(a.constants[name], b.constants[name], f"{where}:{name}")
        assert len(a.nodes) == len(b.nodes), where
        for na, nb in zip(a.nodes, b.nodes):
            assert (na.op, na.inputs, na.outputs, na.name, na.domain) == \
                   (nb.op, nb.inputs, nb.outputs, nb.name, nb.domain), where
            assert list(na.attrs) == list(nb.attrs), where
            for key in na.attrs:
                assert_same(na.attrs[key], nb.attrs[key], f"{where}/{na.op}.{key}")
    elif isinstance(a, TensorType):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert [type(d) for d in a.shape or ()] == [type(d) for d in b.shape or ()], where
        assert (a.quant is None) == (b.quant is None), where
        if a.quant is not None:
            assert a.quant.axis == b.quant.axis, where
            assert_same(a.quant.scale, b.quant.scale, where)
            assert_same(a.quant.zero_point, b.quant.zero_point, where)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("use_mmap", [True, False])
def test_round_trip_is_exact(tmp_path, use_mmap):
    graph = sample_graph()
    path = save(graph, tmp_path / "m.mnn")
    loaded = load_graph(path, mmap=use_mmap)
    assert_same(graph, loaded, "graph")
    then_branch = loaded.nodes[0].attrs["then_branch"]
    assert loaded.nodes[0].attrs["graphs"][0].nodes[0].name == then_branch.nodes[0].name == "inner"


def test_weights_are_aligned_read_only_views_of_the_mapping(tmp_path):
    path = save(sample_graph(), tmp_path / "m.mnn")
    loaded = load_graph(path)
    header = mnnfile.read_header(path)
    assert header.version == FORMAT_VERSION
    weights = loaded.constants["c_f32"]
    assert not weights.flags.writeable and not weights.flags.owndata
    base = weights
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(getattr(base, "obj", base), mmap.mmap)
    for name, array in loaded.constants.items():
        if array.dtype.kind not in "OUS" and array.size:
            assert array.__array_interface__["data"][0] % 64 == 0, name
    with pytest.raises(ValueError):
        weights[0, 0] = 1


def test_shared_arrays_are_stored_once(tmp_path):
    big = np.ones(10_000, np.float32)
    graph = Graph(constants={"a": big, "b": big})
    size = save(graph, tmp_path / "m.mnn").stat().st_size
    assert size < big.nbytes * 1.5


def test_big_endian_arrays_load_with_equal_values(tmp_path):
    path = save(Graph(constants={"be": np.arange(5, dtype=">f4")}), tmp_path / "m.mnn")
    loaded = load_graph(path).constants["be"]
    assert loaded.dtype == np.float32 and loaded.tolist() == [0, 1, 2, 3, 4]


def corrupt(path, at, value=None):
    data = bytearray(path.read_bytes())
    data[at] = (data[at] ^ 0xFF) if value is None else value
    path.write_bytes(bytes(data))


@pytest.fixture
def saved(tmp_path):
    return save(sample_graph(), tmp_path / "m.mnn")


def test_flipped_weight_byte_fails_the_checksum(saved):
    corrupt(saved, saved.stat().st_size - 3)
    with pytest.raises(FormatError, match="checksum") as info:
        load_graph(saved)
    assert info.value.kind == "corrupt"


def test_flipped_structure_byte_fails_the_checksum(saved):
    corrupt(saved, HEADER_SIZE + 10)
    with pytest.raises(FormatError, match="checksum"):
        load_graph(saved)


@pytest.mark.parametrize("keep", [0, 5, 60, HEADER_SIZE + 40, -1])
def test_truncated_file_is_refused(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(FormatError, match="truncated") as info:
        load_graph(saved)
    assert info.value.kind == "truncated"


def test_trailing_bytes_are_refused(saved):
    saved.write_bytes(saved.read_bytes() + b"\0")
    with pytest.raises(FormatError, match="after the end"):
        load_graph(saved)


def test_wrong_magic_is_refused(saved, tmp_path):
    corrupt(saved, 1)
    with pytest.raises(FormatError, match="wrong magic") as info:
        load_graph(saved)
    assert info.value.kind == "magic"
    onnx_like = tmp_path / "model.mnn"
    onnx_like.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(200))
    with pytest.raises(FormatError, match="not an .mnn file"):
        load_graph(onnx_like)


def test_newer_format_version_is_refused(saved):
    data = bytearray(saved.read_bytes())
    struct.pack_into("<I", data, 8, FORMAT_VERSION + 1)
    saved.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=f"version {FORMAT_VERSION + 1} is newer") as info:
        load_graph(saved)
    assert info.value.kind == "version"


def test_unknown_flags_are_refused(saved):
    data = bytearray(saved.read_bytes())
    struct.pack_into("<I", data, 12, 1 << 7)
    saved.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="flags"):
        load_graph(saved)


def test_unstorable_attribute_fails_before_touching_the_target(tmp_path):
    target = save(Graph(name="old"), tmp_path / "m.mnn")
    before = target.read_bytes()
    bad = Graph(nodes=[Node("Relu", ["x"], ["y"], {"oops": object()})], inputs=["x"], outputs=["y"])
    with pytest.raises(FormatError, match="oops") as info:
        save(bad, target)
    assert info.value.kind == "unsupported"
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mnn"]


def test_failed_write_leaves_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = save(Graph(name="old"), tmp_path / "m.mnn")
    before = target.read_bytes()
    calls = []

    def failing(data):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return memoryview(data.reshape(-1).view(np.uint8))

    monkeypatch.setattr(mnnfile, "_tensor_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        save(sample_graph(), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mnn"]
    assert load_graph(target).name == "old"


def test_failed_rename_cleans_up(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise PermissionError("read-only folder")

    monkeypatch.setattr(mnnfile.os, "replace", refuse)
    with pytest.raises(PermissionError):
        save(sample_graph(), tmp_path / "m.mnn")
    assert list(tmp_path.iterdir()) == []


def test_load_refuses_unknown_ops(tmp_path):
    import mnn_core
    from mnn_core.plugins import Context

    graph = Graph(nodes=[Node("NoSuchOp", ["x"], ["y"], name="mystery")], inputs=["x"], outputs=["y"],
                  types={"x": TensorType(DType.F32, (2,))})
    path = save(graph, tmp_path / "m.mnn")
    with pytest.raises(mnn_core.ConversionError, match="NoSuchOp"):
        mnn_core.load(path, context=Context(entry_points=False))
