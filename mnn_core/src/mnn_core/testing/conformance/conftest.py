"""Backend selection for the conformance suite: `--mnn-backend` names backends (an unavailable one
fails its tests), otherwise every installed backend whose probe finds a device is tested."""
from __future__ import annotations

import pytest

from mnn_core.plugins import Context
from mnn_core.testing.harness import backend_availability, parse_backends
from mnn_core.testing.plugin import pytest_addoption  # noqa: F401  (registers the options)

_CONTEXT = pytest.StashKey[Context]()


def _context(config) -> Context:
    if _CONTEXT not in config.stash:
        config.stash[_CONTEXT] = Context()
    return config.stash[_CONTEXT]


def _option(config, name: str) -> list[str]:
    return list(config.getoption(name, default=None) or [])


def pytest_generate_tests(metafunc) -> None:
    config = metafunc.config
    if "backend_name" in metafunc.fixturenames:
        names = parse_backends(_option(config, "mnn_backend"))
        if not names:
            names = [n for n, why in backend_availability(_context(config)).items() if why is None]
        metafunc.parametrize("backend_name", names)
    if "precision" in metafunc.fixturenames:
        metafunc.parametrize("precision", _option(config, "mnn_precision") or ["normal"])


def pytest_report_header(config) -> list[str]:
    rows = [f"{name}: {'available' if why is None else why}"
            for name, why in backend_availability(_context(config)).items()]
    return ["mnn backends: " + "; ".join(rows)]


@pytest.fixture(scope="session")
def mnn_context(pytestconfig) -> Context:
    return _context(pytestconfig)


@pytest.fixture
def available(mnn_context, backend_name) -> str:
    """The backend under test; a requested backend that is missing or has no device fails the test."""
    if backend_name not in mnn_context.backends:
        pytest.fail(f"backend {backend_name!r} is not installed "
                    f"(installed: {', '.join(mnn_context.backends.names())})", pytrace=False)
    why = backend_availability(mnn_context)[backend_name]
    if why is not None:
        pytest.fail(f"backend {backend_name!r} was requested but is unavailable: {why}", pytrace=False)
    return backend_name
