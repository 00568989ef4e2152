"""Entry point of the ONNX frontend. Import-cheap: onnx itself is imported only when converting."""
import mnn_core

from .frontend import OnnxFrontend


@mnn_core.hookimpl
def mnn_register_frontends(registry) -> None:
    registry.add(OnnxFrontend())
