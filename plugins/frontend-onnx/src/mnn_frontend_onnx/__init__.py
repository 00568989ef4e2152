"""ONNX frontend plugin for mnn: ModelProto -> mnn IR, normalising older opsets to the newest form."""
from .frontend import OnnxFrontend

__version__ = "0.1.0"
__all__ = ["OnnxFrontend", "__version__"]
