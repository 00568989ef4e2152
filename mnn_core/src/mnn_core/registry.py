"""Registries that plugins fill through the registration hooks. A `Context` owns one of each."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from .backend import BackendFactory
from .frontend import Frontend, Source
from .ir import Graph


class RegistryError(ValueError):
    pass


class BackendRegistry:
    """Backend factories by name."""

    def __init__(self) -> None:
        self._factories: dict[str, BackendFactory] = {}
        self.owner: dict[str, str] = {}
        """Backend name -> name of the plugin that registered it."""

    def add(self, factory: BackendFactory, *, plugin: str = "") -> None:
        name = getattr(factory, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"backend factory {factory!r} has no name")
        if name in self._factories:
            raise RegistryError(f"backend {name!r} is registered twice "
                                f"(by {self.owner.get(name) or '?'} and {plugin or '?'})")
        self._factories[name] = factory
        self.owner[name] = plugin

    def get(self, name: str) -> BackendFactory:
        try:
            return self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories)) or "none"
            raise KeyError(f"no backend named {name!r} is installed (installed: {known})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[BackendFactory]:
        return iter(sorted(self._factories.values(), key=lambda f: (-f.priority, f.name)))

    def names(self) -> list[str]:
        return [f.name for f in self]


class FrontendRegistry:
    """Model importers by name; `for_source` picks the one that accepts a file."""

    def __init__(self) -> None:
        self._frontends: dict[str, Frontend] = {}

    def add(self, frontend: Frontend) -> None:
        if frontend.name in self._frontends:
            raise RegistryError(f"frontend {frontend.name!r} is registered twice")
        self._frontends[frontend.name] = frontend

    def get(self, name: str) -> Frontend:
        try:
            return self._frontends[name]
        except KeyError:
            raise KeyError(f"no frontend named {name!r} is installed") from None

    def for_source(self, source: Source) -> Optional[Frontend]:
        for frontend in self._frontends.values():
            if frontend.accepts(source):
                return frontend
        return None

    def __iter__(self) -> Iterator[Frontend]:
        return iter(self._frontends.values())


GraphPassFn = Callable[[Graph, "PassContext"], bool]


@dataclass(frozen=True)
class GraphPass:
    """A named graph rewrite. `run(graph, ctx)` edits in place and returns whether it changed."""

    name: str
    run: GraphPassFn
    doc: str = ""
    repeat: bool = False
    """Run again until it reports no change (fixpoint passes such as folding)."""


@dataclass
class PassContext:
    ops: "object"
    """The context's OpRegistry (for shape inference and reference kernels inside passes)."""
    input_shapes: Optional[dict] = None


class PassRegistry:
    """The optimisation pipeline, in order. Plugins may insert passes before or after others."""

    def __init__(self) -> None:
        self._passes: list[GraphPass] = []

    def add(self, graph_pass: GraphPass, *, before: Optional[str] = None,
            after: Optional[str] = None) -> None:
        if any(p.name == graph_pass.name for p in self._passes):
            raise RegistryError(f"pass {graph_pass.name!r} is registered twice")
        anchor = before or after
        if anchor is None:
            self._passes.append(graph_pass)
            return
        names = [p.name for p in self._passes]
        if anchor not in names:
            raise RegistryError(f"pass {graph_pass.name!r} refers to unknown pass {anchor!r}")
        index = names.index(anchor) + (1 if after else 0)
        self._passes.insert(index, graph_pass)

    def __iter__(self) -> Iterator[GraphPass]:
        return iter(list(self._passes))

    def names(self) -> list[str]:
        return [p.name for p in self._passes]
