"""The backend conformance suite: every op case and lifecycle check against one or more backends.

    mnn-conformance --backend cpu [-- pytest args]
    python -m pytest "$(python -c 'import mnn_core.testing as t; print(t.CONFORMANCE_DIR)')" --mnn-backend cpu
    python -m pytest -p mnn_core.testing.plugin --pyargs mnn_core.testing.conformance --mnn-backend cpu
"""
