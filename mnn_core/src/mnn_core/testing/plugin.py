"""The command-line options of the conformance suite, as a pytest plugin.

`conformance/conftest.py` uses it, which serves runs that name the suite's directory. pytest reads no
conftest of a ``--pyargs`` package before it parses options, so such runs load it explicitly:
``python -m pytest -p mnn_core.testing.plugin --pyargs mnn_core.testing.conformance --mnn-backend cpu``.
Adding options is idempotent because both ways may meet in one run.
"""
from __future__ import annotations

OPTIONS = {
    "--mnn-backend": dict(action="append", default=[], metavar="NAME",
                          help="backend to test (repeatable, or comma-separated); default: every "
                               "installed backend whose probe finds a device"),
    "--mnn-precision": dict(action="append", default=[], choices=["normal", "high", "low"],
                            help="session precision to test (repeatable); default: normal"),
}


def pytest_addoption(parser) -> None:
    group = parser.getgroup("mnn", "mnn backend conformance")
    known = {name for option in group.options for name in option.names()}
    for name, kwargs in OPTIONS.items():
        if name not in known:
            group.addoption(name, **kwargs)
