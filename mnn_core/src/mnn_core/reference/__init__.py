"""The reference backend: numpy kernels of the op registry, run node by node. It claims every op
the registry knows, runs on the host, and is the fallback for nodes no other backend claims."""
from .interpreter import Interpreter, KernelError, run_node

__all__ = ["Interpreter", "KernelError", "run_node"]
