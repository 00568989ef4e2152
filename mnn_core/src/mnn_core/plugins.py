"""Plugin discovery and the `Context` that owns a plugin manager and the registries.

stevedore finds and imports the modules named in the ``mnn.plugins`` entry-point group, each in
isolation; pluggy checks them against `hookspecs` and calls their hooks. A plugin that fails to
import, targets another plugin API version, or raises while registering is recorded in
`Context.plugin_reports` with its reason and skipped; the rest keep working.

Environment: ``MNN_PLUGINS=a,b`` loads only the named entry points; ``MNN_DISABLE_PLUGINS=a,b``
skips the named ones. The built-in reference backend is always loaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from typing import Iterable, Optional

import pluggy

from . import hookspecs
from .backend import PLUGIN_API_VERSION
from .ops import standard_ops
from .ops.schema import OpRegistry
from .registry import BackendRegistry, FrontendRegistry, PassRegistry

ENTRY_POINT_GROUP = "mnn.plugins"
BUILTIN_PLUGINS = ("mnn_core.reference.plugin", "mnn_core.passes.plugin")


@dataclass(frozen=True)
class PluginReport:
    name: str
    module: str
    status: str
    """"loaded", "failed" or "disabled"."""
    version: str = ""
    distribution: str = ""
    reason: str = ""


def _env_list(name: str) -> Optional[set[str]]:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class Context:
    """Owns a plugin manager and the registries plugins fill. Tests build their own.

    :param plugins: extra plugin objects (modules or instances) to register, after the built-ins.
    :param entry_points: discover installed plugins through the ``mnn.plugins`` entry points.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.backends = BackendRegistry()
        self.frontends = FrontendRegistry()
        self.ops: OpRegistry = standard_ops()
        self.passes = PassRegistry()
        self.plugin_reports: list[PluginReport] = []

        for module_name in BUILTIN_PLUGINS:
            module = __import__(module_name, fromlist=["_"])
            self.add_plugin(module, name=module_name.rsplit(".", 2)[-2], builtin=True)
        if entry_points:
            self._load_entry_points()
        for plugin in plugins:
            self.add_plugin(plugin)

    # ---- loading -------------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        from stevedore import ExtensionManager, NamedExtensionManager

        allow, deny = _env_list("MNN_PLUGINS"), _env_list("MNN_DISABLE_PLUGINS") or set()
        eps = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
        selected = []
        for ep in eps:
            if ep.name in deny or (allow is not None and ep.name not in allow):
                why = "MNN_DISABLE_PLUGINS" if ep.name in deny else "MNN_PLUGINS"
                self.plugin_reports.append(PluginReport(ep.name, ep.value, "disabled", *_dist(ep),
                                                        reason=f"excluded by {why}"))
            else:
                selected.append(ep)
        failures: dict[str, str] = {}

        def on_failure(_manager, entry_point, error) -> None:
            failures[entry_point.name] = f"import failed: {type(error).__name__}: {error}"

        # Only selected entry points are imported, each in isolation. stevedore caches the entry
        # points of a group per process; drop that so it sees what importlib.metadata saw above.
        ExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)
        manager = NamedExtensionManager(ENTRY_POINT_GROUP, names=[ep.name for ep in selected],
                                        on_load_failure_callback=on_failure)
        loaded = {ext.name: ext.plugin for ext in manager}
        for ep in selected:
            if ep.name in loaded:
                self.add_plugin(loaded[ep.name], name=ep.name, entry_point=ep)
            else:
                reason = failures.get(ep.name, "entry point could not be loaded")
                self.plugin_reports.append(PluginReport(ep.name, ep.value, "failed", *_dist(ep),
                                                        reason=reason))

    def add_plugin(self, plugin: object, *, name: Optional[str] = None, builtin: bool = False,
                   entry_point: Optional[metadata.EntryPoint] = None) -> bool:
        """Register one plugin and run its registration hooks in isolation. Returns success."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        module = getattr(plugin, "__name__", type(plugin).__name__)
        version, dist = _dist(entry_point) if entry_point else ("", "mnn-core" if builtin else "")

        def report(status: str, reason: str = "") -> None:
            self.plugin_reports.append(PluginReport(name, module, status, version, dist, reason))

        api = getattr(plugin, "MNN_PLUGIN_API", PLUGIN_API_VERSION)
        if api != PLUGIN_API_VERSION:
            report("failed", f"targets plugin API {api}; this mnn-core speaks {PLUGIN_API_VERSION}")
            return False
        try:
            self.pm.register(plugin, name=name)
        except Exception as error:  # pluggy validation: bad signature, duplicate name
            report("failed", f"invalid plugin: {type(error).__name__}: {error}")
            return False
        unknown = sorted(h.name for h in self.pm.get_hookcallers(plugin) or () if h.spec is None)
        if unknown:  # pluggy accepts these silently; a misspelt hook would just never be called
            self.pm.unregister(plugin)
            report("failed", f"implements unknown hook(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(n for n, h in vars(self.pm.hook).items() if h.spec))}")
            return False

        staged = (BackendRegistry(), FrontendRegistry(), self.ops.copy(), PassRegistry())
        for p in self.passes:
            staged[3].add(p)
        calls = (("mnn_register_backends", staged[0]), ("mnn_register_frontends", staged[1]),
                 ("mnn_register_ops", staged[2]), ("mnn_register_passes", staged[3]))
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        try:
            for hook_name, registry in calls:
                caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
                caller(registry=registry)
            for factory in staged[0]:
                self.backends.add(factory, plugin=name)
            for frontend in staged[1]:
                self.frontends.add(frontend)
        except Exception as error:
            self.pm.unregister(plugin)
            report("failed", f"raised while registering: {type(error).__name__}: {error}")
            return False
        self.ops, self.passes = staged[2], staged[3]
        report("loaded")
        return True

    # ---- queries -------------------------------------------------------------------------------
    def failed_plugins(self) -> list[PluginReport]:
        return [r for r in self.plugin_reports if r.status == "failed"]

    def notify_plan(self, plan) -> None:
        self.pm.hook.mnn_on_plan(plan=plan)


def _dist(entry_point: Optional[metadata.EntryPoint]) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "", ""
    return dist.version, dist.metadata["Name"]


_default: Optional[Context] = None


def default_context() -> Context:
    """The context `mnn_core.load` uses when none is given, made on first use."""
    global _default
    if _default is None:
        _default = Context()
    return _default
