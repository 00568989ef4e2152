"""The plugin contract is documented: every hook states what each of its parameters is."""
from __future__ import annotations

import inspect
import re

import pytest

from mnn_core import hookspecs

HOOKS = [fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, f"{hookspecs.PROJECT}_spec")]


def test_hookspecs_exist() -> None:
    names = {fn.__name__ for fn in HOOKS}
    assert {"mnn_register_backends", "mnn_register_frontends", "mnn_register_ops",
            "mnn_register_passes", "mnn_on_plan"} <= names
    assert all(name.startswith("mnn_") for name in names)


@pytest.mark.parametrize("hook", HOOKS, ids=lambda fn: fn.__name__)
def test_hook_documents_every_parameter(hook) -> None:
    doc = inspect.getdoc(hook) or ""
    assert doc.strip(), f"{hook.__name__} has no docstring"
    params = list(inspect.signature(hook).parameters)
    documented = dict(re.findall(r":param (\w+):\s*(\S.*)", doc))
    for param in params:
        assert documented.get(param), f"{hook.__name__}: parameter {param!r} is not documented with ':param {param}:'"
    extra = set(documented) - set(params)
    assert not extra, f"{hook.__name__} documents parameters it does not take: {sorted(extra)}"
