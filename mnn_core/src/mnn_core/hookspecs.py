"""The plugin contract: every hook an mnn plugin may implement, each documented here.

A plugin is a module named by an entry point in the ``mnn.plugins`` group. It may set
``MNN_PLUGIN_API = <int>`` to the `PLUGIN_API_VERSION` it targets (a mismatch skips it with a reason)
and implements any of these hooks with ``@mnn_core.hookimpl``. Hooks are called with keyword
arguments. Registration hooks run once per `Context`, each plugin in isolation: a plugin whose hook
raises is reported as failed and none of its registrations are kept.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .ops.schema import OpRegistry
    from .registry import BackendRegistry, FrontendRegistry, PassRegistry
    from .session import Plan

PROJECT = "mnn"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mnn_register_backends(registry: BackendRegistry) -> None:
    """Register backend factories with ``registry.add(factory)``.

    :param registry: the context's backend registry.

    Must be import-cheap: do not load drivers or probe devices here; ``BackendFactory.probe`` does.
    """


@hookspec
def mnn_register_frontends(registry: FrontendRegistry) -> None:
    """Register model importers with ``registry.add(frontend)``.

    :param registry: the context's frontend registry; `mnn_core.load` asks it which frontend accepts
        a file.
    """


@hookspec
def mnn_register_ops(registry: OpRegistry) -> None:
    """Add custom ops (schema with type inference and a numpy reference kernel) with
    ``registry.add(schema)``, so models using them convert, plan and run on the reference backend.

    :param registry: the context's op registry, already holding the standard ops.
    """


@hookspec
def mnn_register_passes(registry: PassRegistry) -> None:
    """Add graph passes to the optimisation pipeline with ``registry.add(pass, before=..., after=...)``.

    :param registry: the context's pass registry, already holding the standard pipeline.
    """


@hookspec
def mnn_on_plan(plan: Plan) -> None:
    """Observe a session's plan (placement, copies, planned memory) each time it is made or remade.

    :param plan: the new plan; observers must not modify it.
    """
