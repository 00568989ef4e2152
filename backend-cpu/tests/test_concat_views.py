"""Concat views: producers write straight into a Concat's output where their piece is one
contiguous block of it, and copy where that would be wrong (other readers, segment boundaries,
non-contiguous pieces)."""
import numpy as np
import pytest

from cpu_helpers import check, context, graph_of, isas, rand
from mnn_core.ir import Node
from mnn_core.session import Model

RELU = dict(activation="Relu", activation_params=())


def fire(x, extra_nodes=(), outputs=None, axis=1, feeds=None, e1_channels=7):
    """squeeze 1x1 -> (expand 1x1 || expand 3x3) -> Concat, as in squeezenet (odd sizes)."""
    C = x.shape[1]
    consts = {"ws": rand(5, C, 1, 1, seed=1) * 0.3, "w1": rand(e1_channels, 5, 1, 1, seed=2) * 0.3,
              "w3": rand(9, 5, 3, 3, seed=3) * 0.3, "b3": rand(9, seed=4)}
    nodes = [Node("Conv", ["x", "ws"], ["s"], RELU),
             Node("Conv", ["s", "w1"], ["e1"], RELU),
             Node("Conv", ["s", "w3", "b3"], ["e3"], dict(pads=(1, 1, 1, 1), **RELU)),
             Node("Concat", ["e1", "e3"], ["cat"], dict(axis=axis)),
             Node("Relu", ["cat"], ["y"]), *extra_nodes]
    return graph_of(nodes, feeds or {"x": x}, consts, outputs or ["y"])


def cpu_plan(graph, feeds, threads=1, isa=""):
    options = {"cpu.isa": isa} if isa else {}
    session = Model(graph, context()).session(backends=["cpu"], strict=True, threads=threads,
                                              options=options)
    session.run(feeds)
    (segment,) = session.plan.segments
    return segment.executable.native


@pytest.mark.parametrize("isa", isas())
@pytest.mark.parametrize("threads", [1, 2])
def test_fire_module_producers_write_into_the_concat(isa, threads):
    x = rand(1, 6, 13, 11)
    graph = fire(x)
    check(graph, {"x": x}, isa=isa, threads=threads)
    native = cpu_plan(graph, {"x": x}, threads, isa)
    assert set(native.views) == {"e1", "e3"}
    assert not any(lop.node is not None and lop.node.op == "Concat" for lop in native.lops)


def test_batch_two_on_channels_is_not_contiguous_so_it_copies():
    x = rand(2, 6, 9, 7)
    graph = fire(x)
    check(graph, {"x": x})
    assert cpu_plan(graph, {"x": x}).views == {}


def test_leading_axis_concat_of_batch_two_is_contiguous():
    x = rand(2, 6, 9, 7)
    graph = fire(x, axis=0, e1_channels=9)
    check(graph, {"x": x})
    assert set(cpu_plan(graph, {"x": x}).views) == {"e1", "e3"}


def test_producer_read_elsewhere_keeps_its_own_buffer():
    x = rand(1, 6, 9, 7)
    graph = fire(x, [Node("Sigmoid", ["e1"], ["z"]), Node("Add", ["z", "z"], ["w"])],
                 outputs=["y", "w"])
    check(graph, {"x": x})
    assert set(cpu_plan(graph, {"x": x}).views) == {"e3"}


def test_producer_that_is_a_segment_output_is_copied():
    x = rand(1, 6, 9, 7)
    graph = fire(x, outputs=["y", "e3"])
    check(graph, {"x": x})
    assert set(cpu_plan(graph, {"x": x}).views) == {"e1"}


def test_concat_that_is_a_segment_output_copies():
    x = rand(1, 6, 9, 7)
    graph = fire(x, outputs=["cat", "y"])
    check(graph, {"x": x})
    assert cpu_plan(graph, {"x": x}).views == {}


def test_graph_inputs_and_repeated_inputs_are_copied():
    x, u = rand(1, 3, 5, 4), rand(1, 2, 5, 4, seed=9)
    nodes = [Node("Relu", ["x"], ["r"]),
             Node("Concat", ["r", "u", "r", "x"], ["cat"], dict(axis=1)),
             Node("Sigmoid", ["x"], ["q"]),
             Node("Concat", ["q", "u"], ["cat2"], dict(axis=1)),
             Node("Concat", ["cat2", "cat"], ["yc"], dict(axis=-3)),
             Node("Relu", ["yc"], ["y"])]
    graph = graph_of(nodes, {"x": x, "u": u}, outputs=["y"])
    check(graph, {"x": x, "u": u}, threads=2)
    # q writes into cat2, which itself writes into yc, as does cat; r is read twice, x and u are inputs
    views = cpu_plan(graph, {"x": x, "u": u}).views
    assert set(views) == {"q", "cat2", "cat"}


def test_switch_off_gives_the_same_result(monkeypatch):
    x = rand(1, 6, 13, 11)
    graph = fire(x)
    on = cpu_plan(graph, {"x": x})
    monkeypatch.setenv("MNN_CPU_CONCAT_VIEWS", "0")
    off = cpu_plan(graph, {"x": x})
    assert off.views == {} and on.views
    np.testing.assert_array_equal(on.run([x])[0], off.run([x])[0])
