"""The native plan: one call per run, no allocation while running, one arena with reuse, ISA
selection, the plugin contract (cheap import, probe details) and re-planning for new shapes."""
import os
import subprocess
import sys

import numpy as np
import pytest

from cpu_helpers import context, graph_of, isas, node, rand, run
from mnn_core.ir import Graph, Node, TensorType
from mnn_core.dtypes import DType
from mnn_core.session import Model


def small_cnn():
    x = rand(1, 3, 20, 20)
    consts = {"w1": rand(8, 3, 3, 3, seed=1) * 0.3, "b1": rand(8, seed=2), "w2": rand(8, 1, 3, 3, seed=3),
              "w3": rand(16, 8, 1, 1, seed=4) * 0.3, "fc": rand(16, 10, seed=5), "shape": np.array([1, -1], np.int64)}
    nodes = [
        Node("Conv", ["x", "w1", "b1"], ["c1"], dict(pads=(1, 1, 1, 1), activation="Relu", activation_params=())),
        Node("Conv", ["c1", "w2"], ["c2"], dict(pads=(1, 1, 1, 1), group=8, strides=(2, 2))),
        Node("Clip", ["c2", "lo", "hi"], ["c3"]),
        Node("Conv", ["c3", "w3"], ["c4"]),
        Node("MaxPool", ["c4"], ["p"], dict(kernel_shape=(2, 2), strides=(2, 2))),
        Node("Add", ["p", "p"], ["a"]),
        Node("GlobalAveragePool", ["a"], ["g"]),
        Node("Reshape", ["g", "shape"], ["f"]),
        Node("MatMul", ["f", "fc"], ["y"]),
    ]
    consts.update(lo=np.float32(0), hi=np.float32(6))
    return graph_of(nodes, {"x": x}, consts), x


def cpu_session(graph, **kw):
    return Model(graph, context()).session(backends=["cpu"], strict=True, **kw)


def test_one_segment_one_native_call_and_matches_reference():
    graph, x = small_cnn()
    session = cpu_session(graph, threads=2)
    assert len(session.plan.segments) == 1
    got = session.run({"x": x})["y"]
    want = run(graph, {"x": x}, "reference")["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_no_heap_allocation_while_running():
    from mnn_backend_cpu import _native

    before = _native.allocation_count()
    _native._debug_allocate()
    assert _native.allocation_count() > before, "the counting hook does not see module allocations"
    graph, x = small_cnn()
    for threads in (1, 2):
        session = cpu_session(graph, threads=threads)
        native = session.plan.segments[0].executable.native
        for _ in range(3):
            session.run({"x": x})
            assert native.last_run_allocations == 0


def test_arena_reuses_memory_by_liveness():
    graph, x = small_cnn()
    native = cpu_session(graph).plan.segments[0].executable.native
    assert 0 < native.memory.peak_bytes < native.memory.naive_bytes
    assert native.plan.arena_bytes == native.memory.peak_bytes


def test_refusals_carry_reasons_and_fall_back():
    x = rand(2, 3).astype(np.float64)
    graph = graph_of(node("Relu", ["x"]), {"x": x})
    session = Model(graph, context()).session(backends=["cpu"])  # not strict: reference runs it
    assert session.plan.backend_counts() == {"reference": 1}
    claim = session.backends[0].capability(__import__("mnn_core").GraphView(graph, graph.types, context().ops))
    assert "f64" in claim.refused[0]
    np.testing.assert_array_equal(session.run({"x": x})["y"], np.maximum(x, 0))


def test_replans_for_new_input_shapes():
    graph, x = small_cnn()
    graph.types["x"] = TensorType(DType.F32, ("n", 3, "h", "w"))
    graph.nodes[-2:] = [Node("Flatten", ["g"], ["f"]), Node("MatMul", ["f", "fc"], ["y"])]
    session = cpu_session(graph)
    for shape in [(1, 3, 20, 20), (2, 3, 9, 13), (1, 3, 20, 20)]:
        xi = rand(*shape)
        got = session.run({"x": xi})["y"]
        want = run(graph, {"x": xi}, "reference")["y"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("isa", isas())
def test_isa_option_and_device_details(isa):
    graph, x = small_cnn()
    session = cpu_session(graph, options={"cpu.isa": isa})
    assert session.plan.segments[0].executable.isa == isa
    probe = context().backends.get("cpu").probe()
    assert probe.devices[0].details["isa"] in isas()


def test_isa_cap_env_and_api():
    code = ("import mnn_backend_cpu as m, mnn_backend_cpu._native as n; print(n.select_isa());"
            "m.set_isa('baseline'); print(n.select_isa())")
    env = dict(os.environ, MNN_CPU_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["baseline", "baseline"]
    env["MNN_CPU_ISA"] = "bogus"
    code = "import mnn_core; print(mnn_core.Context().backends.get('cpu').probe().unavailable_reason)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "bogus" in out.stdout


def test_plugin_import_is_cheap():
    code = "import sys, mnn_backend_cpu.plugin; print('mnn_backend_cpu._native' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_profiler_gets_per_op_times():
    graph, x = small_cnn()
    session = cpu_session(graph)
    seen = []

    class Sink:
        runs = 0

        def op(self, node, backend, start, end):
            seen.append((node.op, backend, end - start))

        def span(self, *args):
            pass

    session.run({"x": x}, profiler=Sink())
    assert [s[0] for s in seen][:2] == ["Conv", "Conv"] and all(s[1] == "cpu" for s in seen)
