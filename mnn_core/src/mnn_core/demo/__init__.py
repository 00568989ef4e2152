"""The bundled demo model (`tiny_cnn.onnx`, made by `make_demo_model.py`) that `mnn demo` runs."""
from __future__ import annotations

from pathlib import Path

DEMO_MODEL = Path(__file__).with_name("tiny_cnn.onnx")
"""f32 image [1, 3, 64, 64] -> class probabilities [1, 10]."""
