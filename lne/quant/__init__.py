"""Post-training quantization: calibration, the QDQ ONNX writer, per-layer sensitivity analysis.

``lne quantize model.onnx --calib data.h5 -o model.q.onnx`` (see :mod:`lne.quant.cli`) writes a
standard ONNX QDQ model that onnxruntime runs as the oracle and ``lne compile`` compiles.

The QDQ format written (the contract with the compiler's QDQ import)
---------------------------------------------------------------------
Quantized layers are Conv, Gemm (``transA=0``) and MatMul whose weight is an initializer.

* **Weights**: stored as integer initializers ``<W>_quantized`` (int8, or int16 in int16 mode),
  symmetric per output channel -- axis 0 for Conv and for Gemm with ``transB=1``, axis 1 for
  Gemm with ``transB=0`` and for MatMul -- with ``scale[c] = max|W[c]| / qmax`` (``qmax`` 127 or
  32767; 1.0 for an all-zero channel), zero point 0 (a vector of zeros of the weight's type),
  values in ``[-qmax, qmax]`` (``--reduce-range``: int8 ``qmax`` 64, see ``qdq.REDUCED_QMAX``).
  A ``DequantizeLinear(<W>_quantized, <W>_scale, <W>_zero_point,
  axis=...)`` feeds the layer; the float weight is gone from the file.
* **Biases** (Conv B, Gemm C of shape [N] with ``alpha = beta = 1``): int32 initializers
  ``<B>_quantized`` with ``scale[c] = input_scale * weight_scale[c]``, zero point 0 (int32), and
  a ``DequantizeLinear(axis=0)``. If a bias does not fit int32 at that scale (possible in int16
  mode with a huge bias) it stays a float initializer; the report says so.
* **Activations**: per tensor, as a ``QuantizeLinear -> DequantizeLinear`` pair (scale and zero
  point are scalar initializers ``<t>_scale``, ``<t>_zero_point``) on: every input of a quantized
  layer, and its output -- taken after a Relu/Clip that is its only consumer. int8 mode: uint8
  asymmetric (``scale = (hi - lo) / 255`` with ``lo <= 0 <= hi``, zero point
  ``round(-lo / scale)`` in [0, 255]). int16 mode: int16 symmetric (zero point 0, ``scale =
  max(|lo|, |hi|) / 32767``). The output of MaxPool / Reshape / Flatten / Transpose / Squeeze /
  Unsqueeze / Identity reuses the scale and zero point of its input, so those ops stay integer.
  Graph outputs, Softmax inputs and anything left in float (``--keep-float``, the mixed
  precision plan) carry no Q/DQ.
* **Opset**: int8 models keep the input model's opset (at least 13, converted with
  ``onnx.version_converter`` if older). int16 models are converted to opset 21 (int16
  QuantizeLinear needs it). BatchNormalization after a Conv is folded into the Conv first.

Calibration methods (:mod:`lne.quant.calibrate`): ``minmax`` (exact range), ``percentile``
(``np.percentile`` of the values, or of ``|x|`` for symmetric ranges, estimated from a fine
histogram) and ``entropy`` (the histogram / KL-divergence threshold search on ``|x|``).

Python API::

    from lne.quant import quantize
    report = quantize("model.onnx", "model.q.onnx", calib="features.h5", mode="int8")
"""
from __future__ import annotations

MODES = ("int8", "int16")
METHODS = ("minmax", "percentile", "entropy")


def quantize(model, output, calib, **kwargs) -> dict:
    """Quantize ``model`` (path or ModelProto) with calibration data ``calib`` into ``output``.

    See :func:`lne.quant.api.quantize_model` for the keyword arguments; returns the report dict."""
    from .api import quantize_model

    return quantize_model(model, output, calib, **kwargs)
