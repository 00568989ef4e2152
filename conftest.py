"""Repository-wide pytest setup: the conformance suite's options (--mnn-backend, --mnn-precision), so
`python -m pytest --pyargs mnn_core.testing.conformance --mnn-backend NAME` works from the checkout."""
pytest_plugins = ["mnn_core.testing.plugin"]
