"""The plugin host: plugins given as objects and real entry-point plugins (a temporary *.dist-info on
sys.path), broken plugins reported with their reason while the core keeps working, the MNN_PLUGINS /
MNN_DISABLE_PLUGINS lists, a backend with its own memory, strict placement and unavailable backends.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
import importlib
from pathlib import Path

import numpy as np
import pytest

import mnn_core
from mnn_core import (Backend, BackendFactory, BackendUnavailable, Claim, Context, DeviceInfo, DType,
                      Executable, Graph, Node, PlacementError, ProbeResult, TensorType, hookimpl)
from mnn_core.backend import Allocator
from mnn_core.session import Model

# ---- entry-point plugins written to a temporary site directory ----------------------------------


class SiteDir:
    """A directory on sys.path holding plugin modules and the dist-info that declares them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tag = uuid.uuid4().hex[:8]
        self.modules: list[str] = []

    def add(self, entry_point: str, source: str) -> str:
        """Install a one-module distribution whose `mnn.plugins` entry point `entry_point` names a
        module with `source`; returns the module name (unique per test)."""
        module = f"mnn_test_{entry_point}_{self.tag}"
        dist = f"mnn_test_{entry_point}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.root / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[mnn.plugins]\n{entry_point} = {module}\n")
        self.modules.append(module)
        importlib.invalidate_caches()
        return module


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("MNN_PLUGINS", raising=False)
    monkeypatch.delenv("MNN_DISABLE_PLUGINS", raising=False)
    site = SiteDir(tmp_path)
    yield site
    for module in site.modules:
        sys.modules.pop(module, None)


GOOD = """
    import numpy as np
    from mnn_core import hookimpl
    from mnn_core.ops.infer import same_as_input
    from mnn_core.ops.schema import OpSet

    OPS = OpSet()

    @OPS.define("TimesThree", infer=same_as_input(0), inputs=(1, 1))
    def times_three(ctx, x):
        return (x * 3).astype(x.dtype)

    @hookimpl
    def mnn_register_ops(registry):
        registry.add_set(OPS)
"""
BROKEN_IMPORT = "import mnn_core.no_such_module\n"
OTHER_API = """
    from mnn_core import hookimpl
    MNN_PLUGIN_API = 99

    @hookimpl
    def mnn_register_ops(registry):
        raise AssertionError("must not be called")
"""
RAISES = """
    from mnn_core import hookimpl
    from mnn_core.reference.backend import ReferenceFactory

    class Shadow(ReferenceFactory):
        name = "shadow"

    @hookimpl
    def mnn_register_backends(registry):
        registry.add(Shadow())

    @hookimpl
    def mnn_register_passes(registry):
        raise RuntimeError("boom in registration")
"""
UNKNOWN_HOOK = """
    from mnn_core import hookimpl

    @hookimpl
    def mnn_register_widgets(registry):
        pass
"""
IMPORT_MARKS = """
    import os
    os.environ["MNN_TEST_IMPORTED"] = os.environ.get("MNN_TEST_IMPORTED", "") + ",{name}"
    raise RuntimeError("this plugin must never be imported")
"""


def report(ctx: Context, name: str):
    found = [r for r in ctx.plugin_reports if r.name == name]
    assert len(found) == 1, f"expected one report for {name!r}: {ctx.plugin_reports}"
    return found[0]


def tiny_model(ctx: Context, op: str = "Relu") -> Model:
    graph = Graph([Node(op, ["x"], ["y"], name="n")], ["x"], ["y"], {"x": TensorType(DType.F32, (2, 3))})
    return Model(graph, ctx)


def assert_core_works(ctx: Context) -> None:
    x = np.array([[-1, 0, 2], [3, -4, 5]], np.float32)
    out = tiny_model(ctx).session(backends=["reference"], strict=True).run({"x": x})["y"]
    np.testing.assert_array_equal(out, np.maximum(x, 0))


def test_broken_entry_point_plugins_are_reported_and_core_keeps_working(site) -> None:
    site.add("tp_good", GOOD)
    site.add("tp_import", BROKEN_IMPORT)
    site.add("tp_api", OTHER_API)
    site.add("tp_raises", RAISES)
    site.add("tp_unknown", UNKNOWN_HOOK)
    ctx = Context()

    good = report(ctx, "tp_good")
    assert (good.status, good.distribution, good.version) == ("loaded", "mnn_test_tp_good", "0.1")
    assert "TimesThree" in ctx.ops
    reasons = {name: report(ctx, name) for name in ("tp_import", "tp_api", "tp_raises", "tp_unknown")}
    assert all(r.status == "failed" for r in reasons.values())
    assert "import failed" in reasons["tp_import"].reason and "no_such_module" in reasons["tp_import"].reason
    assert "plugin API 99" in reasons["tp_api"].reason
    assert "boom in registration" in reasons["tp_raises"].reason
    assert "mnn_register_widgets" in reasons["tp_unknown"].reason
    assert {r.name for r in ctx.failed_plugins()} >= set(reasons)
    assert "shadow" not in ctx.backends, "a plugin that raised keeps none of its registrations"

    assert_core_works(ctx)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = tiny_model(ctx, "TimesThree").session(backends=["reference"]).run({"x": x})["y"]
    np.testing.assert_array_equal(out, x * 3)


def test_allow_list_loads_only_named_plugins(site, monkeypatch) -> None:
    good = site.add("tp_good", GOOD)
    never = site.add("tp_never", IMPORT_MARKS.format(name="tp_never"))
    monkeypatch.setenv("MNN_PLUGINS", "tp_good")
    monkeypatch.delenv("MNN_TEST_IMPORTED", raising=False)
    ctx = Context()
    assert report(ctx, "tp_good").status == "loaded" and good in sys.modules
    skipped = report(ctx, "tp_never")
    assert skipped.status == "disabled" and "MNN_PLUGINS" in skipped.reason
    assert never not in sys.modules and "tp_never" not in os.environ.get("MNN_TEST_IMPORTED", "")
    assert "reference" in ctx.backends, "built-in plugins are always loaded"
    assert_core_works(ctx)


def test_deny_list_never_imports_disabled_plugins(site, monkeypatch) -> None:
    site.add("tp_good", GOOD)
    never = site.add("tp_off", IMPORT_MARKS.format(name="tp_off"))
    monkeypatch.setenv("MNN_DISABLE_PLUGINS", "tp_off, other")
    monkeypatch.delenv("MNN_TEST_IMPORTED", raising=False)
    ctx = Context()
    off = report(ctx, "tp_off")
    assert off.status == "disabled" and "MNN_DISABLE_PLUGINS" in off.reason
    assert never not in sys.modules and not os.environ.get("MNN_TEST_IMPORTED")
    assert report(ctx, "tp_good").status == "loaded"


def test_without_lists_a_plugin_that_raises_on_import_fails(site, monkeypatch) -> None:
    site.add("tp_loud", IMPORT_MARKS.format(name="tp_loud"))
    monkeypatch.delenv("MNN_TEST_IMPORTED", raising=False)
    ctx = Context()
    loud = report(ctx, "tp_loud")
    assert loud.status == "failed" and "must never be imported" in loud.reason
    assert "tp_loud" in os.environ["MNN_TEST_IMPORTED"]


# ---- plugins given as objects -------------------------------------------------------------------


class Recorder:
    """An object plugin observing plans."""

    def __init__(self) -> None:
        self.plans = []

    @hookimpl
    def mnn_on_plan(self, plan) -> None:
        self.plans.append(plan)


def test_object_plugins_register_and_observe_plans() -> None:
    recorder = Recorder()
    ctx = Context([recorder], entry_points=False)
    assert [r.status for r in ctx.plugin_reports] == ["loaded"] * 3
    assert_core_works(ctx)
    assert len(recorder.plans) == 1 and recorder.plans[0].backend_counts() == {"reference": 1}


def test_object_plugin_with_unknown_hook_or_other_api_is_reported() -> None:
    class Typo:
        @hookimpl
        def mnn_register_backend(self, registry) -> None:  # missing "s"
            pass

    class Future:
        MNN_PLUGIN_API = 2

    ctx = Context([Typo(), Future()], entry_points=False)
    assert "mnn_register_backend" in report(ctx, "Typo").reason
    assert "plugin API 2" in report(ctx, "Future").reason
    assert_core_works(ctx)


# ---- a backend with its own memory --------------------------------------------------------------


class DeviceBuffer:
    """Device memory: opaque to everyone but its allocator (numpy refuses to convert it)."""

    def __init__(self, data: np.ndarray) -> None:
        self._data = np.array(data, copy=True)

    def __array__(self, *args, **kwargs):
        raise TypeError("device memory reached host code without a to_host copy")


class DeviceAllocator(Allocator):
    memory = "fakedev"

    def __init__(self) -> None:
        super().__init__()
        self.uploads = self.downloads = 0

    def to_device(self, array: np.ndarray) -> DeviceBuffer:
        assert isinstance(array, np.ndarray), f"to_device got {type(array).__name__}"
        self.uploads += 1
        return DeviceBuffer(array)

    def to_host(self, buf: DeviceBuffer) -> np.ndarray:
        assert isinstance(buf, DeviceBuffer), f"to_host got {type(buf).__name__}"
        self.downloads += 1
        return buf._data.copy()


KERNELS = {"Add": np.add, "Mul": np.multiply, "Relu": lambda x: np.maximum(x, 0).astype(x.dtype)}


class DeviceExecutable(Executable):
    def __init__(self, graph: Graph, allocator: DeviceAllocator) -> None:
        self.graph = graph
        self.weights = {n: allocator.to_device(v) for n, v in graph.constants.items()}

    def resize(self, input_types) -> None:
        pass

    def run(self, inputs, profiler=None):
        for name, buf in zip(self.graph.inputs, inputs):
            if not isinstance(buf, DeviceBuffer):
                raise TypeError(f"{name} is {type(buf).__name__}, not device memory")
        env = {**self.weights, **dict(zip(self.graph.inputs, inputs))}
        for node in self.graph.nodes:
            env[node.outputs[0]] = DeviceBuffer(KERNELS[node.op](*(env[n]._data for n in node.inputs)))
        return [env[n] for n in self.graph.outputs]


class DeviceBackend(Backend):
    def make_allocator(self) -> Allocator:
        return DeviceAllocator()

    def capability(self, view) -> Claim:
        nodes = view.graph.nodes
        return Claim(frozenset(i for i, n in enumerate(nodes) if n.op in KERNELS),
                     {i: f"no {n.op} kernel" for i, n in enumerate(nodes) if n.op not in KERNELS})

    def compile(self, subgraph, view) -> Executable:
        return DeviceExecutable(subgraph, self.allocator)


class DeviceFactory(BackendFactory):
    name = "fakedev"
    priority = 10

    def probe(self) -> ProbeResult:
        return ProbeResult((DeviceInfo("fakedev", "fake0", "gpu", memory="fakedev"),))

    def create(self, device, config) -> Backend:
        return DeviceBackend(device, config)


class NoDriverFactory(BackendFactory):
    name = "nodriver"

    def probe(self) -> ProbeResult:
        return ProbeResult.unavailable("libfake.so not found")

    def create(self, device, config) -> Backend:
        raise AssertionError("never created without a device")


class BackendsPlugin:
    @hookimpl
    def mnn_register_backends(self, registry) -> None:
        registry.add(DeviceFactory())
        registry.add(NoDriverFactory())


C1 = np.linspace(-1, 1, 5, dtype=np.float32)
C2 = np.float32(0.25)


def mixed_model(ctx: Context) -> Model:
    """Add (device) -> Sub (host only) -> Mul reading both (device) -> Relu (device)."""
    nodes = [Node("Add", ["x", "c1"], ["a"], name="add"), Node("Sub", ["a", "c2"], ["s"], name="sub"),
             Node("Mul", ["s", "a"], ["m"], name="mul"), Node("Relu", ["m"], ["y"], name="relu")]
    graph = Graph(nodes, ["x"], ["y"], {"x": TensorType(DType.F32, (3, 5))}, {"c1": C1, "c2": np.asarray(C2)})
    return Model(graph, ctx)


def test_separate_memory_gets_copies_at_segment_boundaries() -> None:
    ctx = Context([BackendsPlugin()], entry_points=False)
    session = mixed_model(ctx).session(backends=["fakedev", "reference"])
    plan = session.plan
    assert [(s.backend.name, [plan.graph.nodes[i].op for i in s.nodes]) for s in plan.segments] == [
        ("fakedev", ["Add"]), ("reference", ["Sub"]), ("fakedev", ["Mul", "Relu"])]
    copies = [[(c.tensor, c.src, c.dst) for c in step] for step in plan.copies]
    assert copies == [[("x", "host", "fakedev")], [("a", "fakedev", "host")], [("s", "host", "fakedev")]]
    x = np.random.default_rng(0).uniform(-2, 2, (3, 5)).astype(np.float32)
    allocator = session.backends[0].allocator
    before = allocator.uploads, allocator.downloads
    y = session.run({"x": x})["y"]
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    a = x + C1
    np.testing.assert_allclose(y, np.maximum((a - C2) * a, 0), rtol=1e-6)
    assert (allocator.uploads - before[0], allocator.downloads - before[1]) == (2, 2)  # x, s up; a, y down
    assert "copy a: fakedev -> host" in str(plan)


def test_strict_mode_names_unclaimed_ops() -> None:
    ctx = Context([BackendsPlugin()], entry_points=False)
    with pytest.raises(PlacementError, match=r"Sub \(sub\).*no Sub kernel"):
        mixed_model(ctx).session(backends=["fakedev"], strict=True)


def test_unavailable_backend_raises_in_strict_mode_and_warns_otherwise() -> None:
    ctx = Context([BackendsPlugin()], entry_points=False)
    model = tiny_model(ctx)
    with pytest.raises(BackendUnavailable, match="libfake.so not found"):
        model.session(backends=["nodriver"], strict=True)
    with pytest.raises(BackendUnavailable, match="no backend named 'nosuch'"):
        model.session(backends=["nosuch"], strict=True)
    with pytest.warns(RuntimeWarning, match="nodriver.*libfake.so not found"):
        session = model.session(backends=["nodriver"])
    assert [b.name for b in session.backends] == ["reference"]
    assert session.unavailable == {"nodriver": "libfake.so not found"}
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(session.run({"x": x})["y"], x)


# ---- the conformance suite itself ---------------------------------------------------------------

WRONG_BACKEND = """
    import numpy as np
    from mnn_core import hookimpl
    from mnn_core.backend import Claim
    from mnn_core.reference.backend import ReferenceBackend, ReferenceExecutable, ReferenceFactory

    class Executable(ReferenceExecutable):
        def run(self, inputs, profiler=None):
            out = super().run(inputs, profiler)
            return [o + np.asarray(1e-2, o.dtype) for o in out] if {bug} else out

    class Backend(ReferenceBackend):
        def capability(self, view):
            return Claim(frozenset(i for i, n in enumerate(view.graph.nodes) if n.op == "Add"))

        def compile(self, subgraph, view):
            return Executable(subgraph, view)

    class Factory(ReferenceFactory):
        name = "{name}"
        priority = 0

        def create(self, device, config):
            return Backend(device, config)

    @hookimpl
    def mnn_register_backends(registry):
        registry.add(Factory())
"""


def run_suite(site: SiteDir, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join([str(site.root), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "mnn_core.testing.cli", *args], env=env, text=True,
                          capture_output=True, timeout=120, cwd=site.root)


def test_conformance_suite_passes_skips_and_fails(site) -> None:
    """One run over three backends: a right one passes (and skips what it does not claim), a wrong
    one fails, a missing one errors instead of skipping."""
    site.add("tp_right", WRONG_BACKEND.format(name="rightadd", bug=False))
    site.add("tp_wrong", WRONG_BACKEND.format(name="wrongadd", bug=True))
    run = run_suite(site, "--backend", "rightadd", "--backend", "wrongadd,nosuch", "--",
                    "-q", "-rfEs", "-k", "Add-3x13 or Sub-3x13 or allocator_counts")
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    lines = [line for line in out.splitlines() if line.startswith(("FAILED", "ERROR", "SKIPPED"))]
    assert not any(("[rightadd" in line) for line in lines if not line.startswith("SKIPPED")), out
    assert any(line.startswith("SKIPPED") and "not claimed by rightadd: Sub" in line for line in lines), out
    assert any(line.startswith("FAILED") and "wrongadd-normal-Add-3x13" in line for line in lines), out
    assert "Mismatched elements" in out
    assert any(line.startswith("ERROR") and "nosuch" in line for line in lines), out
    assert "backend 'nosuch' is not installed" in out
    assert " 4 passed" in out, out  # rightadd: Add case, broadcast Add, allocator; wrongadd: allocator


def test_run_conformance_arguments() -> None:
    from mnn_core.testing import CONFORMANCE_DIR, conformance_args

    args = conformance_args(["cpu", "gpu"], ["-x"], precision="low")
    assert args[0] == str(CONFORMANCE_DIR) and args[-1] == "-x"
    assert args.count("--mnn-backend") == 2 and args[args.index("--mnn-precision") + 1] == "low"
    assert mnn_core.testing is not None
