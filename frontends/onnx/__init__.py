"""ONNX frontend (opsets 7 to 28)."""
from .loader import load, MIN_OPSET, MAX_OPSET

__all__ = ["load", "MIN_OPSET", "MAX_OPSET"]
