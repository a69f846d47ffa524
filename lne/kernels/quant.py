"""Quantized kernels (runtime/kernels/quant): QuantizeLinear / DequantizeLinear, integer Conv
(reference, depthwise, packed int8 with AVX2 vpmaddwd inside), integer Gemm, QAdd, integer global
average, and MaxPool / Concat on quantized tensors.

dtype "int8" kernels take int8 / uint8 activations, "int16" kernels int16 activations; each
applies() checks the node's tensor types (select_kernels keeps float32 kernels off them)."""
from __future__ import annotations

import math

import numpy as np

from .pool import pool_params
from .registry import Emitter, KernelDef, c_value, register
from .tensor import concat_layout

CTYPE = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t", "int32": "int32_t",
         "float32": "float"}
FAMILY = {"int8": "int8", "uint8": "int8", "int16": "int16", "uint16": "int16"}
HEADER = "kernels/quant/quant_ref.h"
PACKED = "kernels/quant/qgemm_avx2.h"


def _dt(g, name) -> str:
    return g.tensors[name].dtype


def _cin(e: Emitter, i: int) -> str:
    name = e.node.inputs[i] if i < len(e.node.inputs) else ""
    if not name:
        return "nullptr"
    return f"reinterpret_cast<const {CTYPE[_dt(e.graph, name)]}*>({e.inputs[i]})"


def _cout(e: Emitter, i: int = 0) -> str:
    return f"reinterpret_cast<{CTYPE[_dt(e.graph, e.node.outputs[i])]}*>({e.outputs[i]})"


def _array(e: Emitter, ctype: str, values, tag: str) -> str:
    name = f"k{tag}{e.uid}"
    e.decls.append(f"static const {ctype} {name}[] = {c_value([float(v) if ctype == 'float' else int(v) for v in values])};")
    return name


def _act_family(fam: str):
    def ok(g, name) -> bool:
        return FAMILY.get(_dt(g, name)) == fam
    return ok


# -- QuantizeLinear / DequantizeLinear -------------------------------------------------------
def _axis_layout(node, shape):
    a = node.attrs
    if not a.get("per_axis") or not shape:
        return math.prod(shape), 1, 1
    axis = a.get("axis", 1) % len(shape)
    return (math.prod(shape[:axis]), shape[axis],
            math.prod(shape[axis + 1:]))


def _qdq(fn, quant: bool):
    def emit(e: Emitter) -> str:
        outer, axis_len, inner = _axis_layout(e.node, e.in_shape(0))
        s = _array(e, "float", e.node.attrs["scale"], "S")
        z = _array(e, "int32_t", e.node.attrs["zp"], "Z")
        qt = CTYPE[e.node.attrs["qdtype"]]
        x = e.inputs[0] if quant else _cin(e, 0)
        y = _cout(e) if quant else e.outputs[0]
        return f"lne::{fn}<{qt}>({outer}, {axis_len}, {inner}, {s}, {z}, {x}, {y});"
    return emit


for _fam in ("int8", "int16"):
    register(KernelDef("QuantizeLinear", "ref", HEADER, _qdq("quantize_linear_ref", True), family="quantize",
                       dtype=_fam, applies=lambda n, g, f=_fam: FAMILY.get(n.attrs["qdtype"]) == f))
    register(KernelDef("DequantizeLinear", "ref", HEADER, _qdq("dequantize_linear_ref", False), family="dequantize",
                       dtype=_fam, applies=lambda n, g, f=_fam: FAMILY.get(n.attrs["qdtype"]) == f))
register(KernelDef("DequantizeLinear", "ref", HEADER, _qdq("dequantize_linear_ref", False), family="dequantize",
                   dtype="int32", applies=lambda n, g: n.attrs["qdtype"] == "int32"))


# -- QConv ------------------------------------------------------------------------------------
def qconv_params(e: Emitter) -> list:
    n, c, h, w = e.in_shape(0)
    _, m, oh, ow = e.out_shape()
    a = e.node.attrs
    (kh, kw), (sh, sw), (dh, dw), pads = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    return [n, c, h, w, m, oh, ow, kh, kw, sh, sw, dh, dw, pads[0], pads[1], a["group"],
            a["x_zp"], a["y_zp"], a["lo"], a["hi"]]


def _qconv(fn):
    def emit(e: Emitter) -> str:
        p = e.params("lne::QConvParams", qconv_params(e))
        mult = _array(e, "float", e.node.attrs["mult"], "M")
        return f"lne::{fn}({p}, {_cin(e, 0)}, {_cin(e, 1)}, {_cin(e, 2)}, {mult}, {_cout(e)});"
    return emit


def _is_depthwise(node, g) -> bool:
    c = g.tensors[node.inputs[0]].shape[1]
    return node.attrs["group"] == c == g.tensors[node.outputs[0]].shape[1]


def _qconv_k(node, g) -> int:
    w = g.tensors[node.inputs[1]].shape
    return int(w[1] * w[2] * w[3])


def _weights_int8(node, g) -> bool:
    return _dt(g, node.inputs[1]) == "int8"


for _fam in ("int8", "int16"):
    _ok = _act_family(_fam)
    register(KernelDef("QConv", "ref", HEADER, _qconv("qconv2d_ref"), family="qconv2d", dtype=_fam,
                       applies=lambda n, g, ok=_ok: ok(g, n.inputs[0])))
    register(KernelDef("QConv", "depthwise", HEADER, _qconv("qconv2d_depthwise"), family="qconv2d", dtype=_fam,
                       priority=20, applies=lambda n, g, ok=_ok: ok(g, n.inputs[0]) and _is_depthwise(n, g)))


def pack_weights(w: np.ndarray, group: int) -> np.ndarray:
    """int8 (or int16) weights [m, ...] -> per group, panels of 16 output channels [kp/2][16][2] (the last
    one 8 wide when it holds <= 8 channels), zero padded: the layout
    runtime/kernels/quant/qgemm_avx2.h reads (qpanel_width)."""
    m = w.shape[0]
    k = math.prod(w.shape[1:])
    mg, kp = m // group, k + (k & 1)
    panels = []
    for wg in w.reshape(group, mg, k):
        for m0 in range(0, mg, 16):
            rem = mg - m0
            tw = 8 if rem <= 8 else 16
            tile = np.zeros((tw, kp), w.dtype)
            tile[:min(rem, 16), :k] = wg[m0:m0 + 16]
            panels.append(tile.reshape(tw, kp // 2, 2).transpose(1, 0, 2).reshape(-1))
    return np.ascontiguousarray(np.concatenate(panels))


def column_block(k: int, cols: int) -> int:
    """Columns packed per block: a multiple of 16 whose int16 panels stay near 256 KiB (in L2
    with the weight panels streaming through), at most the (rounded up) column count."""
    kp = k + (k & 1)
    nb = max(16, (256 * 1024 // (2 * kp)) // 16 * 16)
    return min(nb, -(-cols // 16) * 16)


def pack_scratch(k: int, nb: int, window: int = 0) -> int:
    """Scratch bytes of the packed kernels (runtime/kernels/quant/qgemm_avx2.h): column panels
    nb x kp, two staging rows, and the padded int16 input window of a convolution."""
    kp = k + (k & 1)
    return 2 * (nb * kp + 2 * nb + window)


def _pack_prepare(node, g) -> dict:
    w = g.const(node.inputs[1])
    group = node.attrs.get("group", 1)
    name = g.fresh_name(f"{node.inputs[1]}_qpack")
    return {1: g.add_const(name, pack_weights(w, group)).name}


def _packed_conv_q(node, g) -> list:
    """QPack {k, kp, nb, scratch bytes} of a QConv."""
    k = _qconv_k(node, g)
    _, c, h, w = g.tensors[node.inputs[0]].shape
    _, _, oh, ow = g.tensors[node.outputs[0]].shape
    a = node.attrs
    (kh, kw), (sh, sw), (dh, dw), pads = a["kernel_shape"], a["strides"], a["dilations"], a["pads"]
    pointwise = kh == kw == sh == sw == 1 and not any(pads[:2]) and (oh, ow) == (h, w)
    window = 0 if pointwise else (c // a["group"]) * ((oh - 1) * sh + (kh - 1) * dh + 1) * ((ow - 1) * sw + (kw - 1) * dw + 1)
    nb = column_block(k, oh * ow)
    return [k, k + (k & 1), nb, pack_scratch(k, nb, window)]


def conv_call(fn: str, struct: str | None = None, fields=None, wtype: str = "int8_t"):
    """Emitter of a QConv kernel with compile-time packed weights:
    lne::fn(params, [struct constant,] x, (const wtype*) weights, bias, mult, y, scratch), the
    struct's fields from fields(node, graph)."""
    def emit(e: Emitter) -> str:
        args = [e.params("lne::QConvParams", qconv_params(e))]
        if struct:
            args.append(f"kQ{e.uid}")
            e.decls.append(f"static const lne::{struct} {args[-1]} = {c_value(fields(e.node, e.graph))};")
        mult = _array(e, "float", e.node.attrs["mult"], "M")
        return (f"lne::{fn}({', '.join(args)}, {_cin(e, 0)}, reinterpret_cast<const {wtype}*>({e.inputs[1]}), "
                f"{_cin(e, 2)}, {mult}, {_cout(e)}, {e.scratch});")
    return emit


def _packed_conv_scratch(node, g) -> int:
    return _packed_conv_q(node, g)[3]


_ok8 = _act_family("int8")
register(KernelDef("QConv", "packed", PACKED, conv_call("qconv2d_packed", "QPack", _packed_conv_q), family="qconv2d", dtype="int8", priority=10,
                   applies=lambda n, g: _ok8(g, n.inputs[0]) and _weights_int8(n, g) and _qconv_k(n, g) < 65536,
                   scratch=_packed_conv_scratch, prepare=_pack_prepare))


def _sym16(node, g) -> bool:
    """16-bit fixed point as the packed int16 kernels take it: int16 activations with zero point 0
    (x - zp fits int16) and int16 weights."""
    return _dt(g, node.inputs[0]) == "int16" and node.attrs["x_zp"] == 0 and _dt(g, node.inputs[1]) == "int16"


register(KernelDef("QConv", "packed", PACKED, conv_call("qconv2d_packed", "QPack", _packed_conv_q, "int16_t"),
                   family="qconv2d", dtype="int16", isa="avx2", priority=10,
                   applies=lambda n, g: _sym16(n, g) and _qconv_k(n, g) < 65536,
                   scratch=_packed_conv_scratch, prepare=_pack_prepare))


# AVX2 / NEON depthwise (runtime/kernels/quant/qdepthwise.h): int8 weights, dilation 1, horizontal
# stride 1 or 2; scratch = one zero-padded int16 plane (qdepthwise_scratch_bytes there).
def _qdw_scratch(node, g) -> int:
    a = node.attrs
    (kh, kw), (sh, sw) = a["kernel_shape"], a["strides"]
    _, _, oh, ow = g.tensors[node.outputs[0]].shape
    step = 16 if sw == 1 else 8
    cols = -(-ow // step) * step * sw + kw + 16
    return 2 * ((oh - 1) * sh + kh) * cols


def _qdw_applies(node, g) -> bool:
    a = node.attrs
    (kh, kw), sw = a["kernel_shape"], a["strides"][1]
    return (_ok8(g, node.inputs[0]) and _ok8(g, node.outputs[0]) and _weights_int8(node, g)
            and _is_depthwise(node, g) and tuple(a["dilations"]) == (1, 1) and sw in (1, 2)
            and kh * ((kw + 1) // 2) <= 64)


for _isa in ("avx2", "neon"):   # NEON: AArch64 (armv7 builds run the portable loop in the same call)
    register(KernelDef("QConv", "depthwise", "kernels/quant/qdepthwise.h", conv_call("qconv2d_depthwise_vec"), family="qconv2d",
                       dtype="int8", isa=_isa, priority=30, applies=_qdw_applies, scratch=_qdw_scratch))


# -- QGemm ------------------------------------------------------------------------------------
def _qgemm_params(e: Emitter) -> list:
    x, w = e.in_shape(0), e.in_shape(1)
    rows = math.prod(x[:-1])
    a = e.node.attrs
    return [rows, w[0], w[1], a["x_zp"], a["y_zp"], a["lo"], a["hi"]]


def _qgemm_emit(e: Emitter) -> str:
    p = e.params("lne::QGemmParams", _qgemm_params(e))
    mult = _array(e, "float", e.node.attrs["mult"], "M")
    return f"lne::qgemm_ref({p}, {_cin(e, 0)}, {_cin(e, 1)}, {_cin(e, 2)}, {mult}, {_cout(e)});"


def _qgemm_q(node, g) -> list:
    x, w = g.tensors[node.inputs[0]].shape, g.tensors[node.inputs[1]].shape
    rows = math.prod(x[:-1])
    nb = column_block(w[1], rows)
    return [w[1], w[1] + (w[1] & 1), nb, pack_scratch(w[1], nb)]


def _qgemm_packed_emit(e: Emitter) -> str:
    p = e.params("lne::QGemmParams", _qgemm_params(e))
    q = f"kQ{e.uid}"
    e.decls.append(f"static const lne::QPack {q} = {c_value(_qgemm_q(e.node, e.graph))};")
    mult = _array(e, "float", e.node.attrs["mult"], "M")
    w = CTYPE[_dt(e.graph, e.node.inputs[1])]
    return (f"lne::qgemm_packed({p}, {q}, {_cin(e, 0)}, reinterpret_cast<const {w}*>({e.inputs[1]}), "
            f"{_cin(e, 2)}, {mult}, {_cout(e)}, {e.scratch});")


for _fam in ("int8", "int16"):
    register(KernelDef("QGemm", "ref", HEADER, _qgemm_emit, family="qgemm", dtype=_fam,
                       applies=lambda n, g, ok=_act_family(_fam): ok(g, n.inputs[0])))
register(KernelDef("QGemm", "packed", PACKED, _qgemm_packed_emit, family="qgemm", dtype="int8", priority=10,
                   applies=lambda n, g: _ok8(g, n.inputs[0]) and _weights_int8(n, g)
                   and g.tensors[n.inputs[1]].shape[1] < 65536,
                   scratch=lambda n, g: _qgemm_q(n, g)[3], prepare=_pack_prepare))
register(KernelDef("QGemm", "packed", PACKED, _qgemm_packed_emit, family="qgemm", dtype="int16", isa="avx2",
                   priority=10, applies=lambda n, g: _sym16(n, g) and g.tensors[n.inputs[1]].shape[1] < 65536,
                   scratch=lambda n, g: _qgemm_q(n, g)[3], prepare=_pack_prepare))


# -- elementwise, pooling, concat -------------------------------------------------------------
def _qadd_emit(e: Emitter) -> str:
    a = e.node.attrs
    count = math.prod(e.out_shape())
    return (f"lne::qadd({count}, {_cin(e, 0)}, {c_value(float(a['ra']))}, {_cin(e, 1)}, {c_value(float(a['rb']))}, "
            f"{c_value(float(a['k']))}, {a['lo']}, {a['hi']}, {_cout(e)});")


def _qgap_emit(e: Emitter) -> str:
    a = e.node.attrs
    shape = e.in_shape(0)
    hw = math.prod(shape[2:])
    return (f"lne::qglobal_avgpool_ref({shape[0] * shape[1]}, {hw}, {_cin(e, 0)}, {a['x_zp']}, "
            f"{c_value(float(a['mult']))}, {a['y_zp']}, {a['lo']}, {a['hi']}, {_cout(e)});")


def _maxpool(fn):
    def emit(e: Emitter) -> str:
        p = e.params("lne::PoolParams", pool_params(e))
        return f"lne::{fn}({p}, {_cin(e, 0)}, {_cout(e)});"
    return emit


def _concat_emit(e: Emitter) -> str:
    outer, inner = concat_layout(e.node, e.graph)
    size = np.dtype(_dt(e.graph, e.node.outputs[0])).itemsize
    xs, sizes = f"kX{e.uid}", f"kS{e.uid}"
    e.decls.append(f"static const int64_t {sizes}[] = {{{', '.join(str(i * size) for i in inner)}}};")
    return (f"const void* {xs}[] = {{{', '.join(e.inputs)}}};\n"
            f"  lne::concat_bytes_ref({outer}, {len(inner)}, {xs}, {sizes}, {e.outputs[0]});")


for _fam in ("int8", "int16"):
    _ok = _act_family(_fam)
    register(KernelDef("QAdd", "ref", HEADER, _qadd_emit, family="qadd", dtype=_fam,
                       applies=lambda n, g, ok=_ok: ok(g, n.inputs[0]) and ok(g, n.inputs[1])))
    register(KernelDef("QGlobalAveragePool", "ref", HEADER, _qgap_emit, family="qglobal_avgpool", dtype=_fam,
                       applies=lambda n, g, ok=_ok: ok(g, n.inputs[0])))
    for _v, _fn, _pr in (("ref", "maxpool2d_q_ref", 0), ("rows", "maxpool2d_q_rows", 10)):
        register(KernelDef("MaxPool", _v, HEADER, _maxpool(_fn), family="maxpool2d", dtype=_fam, priority=_pr,
                           applies=lambda n, g, ok=_ok: ok(g, n.inputs[0]) and len(g.tensors[n.inputs[0]].shape) == 4))
    register(KernelDef("Concat", "ref", HEADER, _concat_emit, family="concat", dtype=_fam, inplace=False,
                       applies=lambda n, g, ok=_ok: all(ok(g, i) for i in n.inputs)))


def _qclamp_emit(e: Emitter) -> str:
    count = math.prod(e.out_shape())
    return f"lne::qclamp_ref({count}, {_cin(e, 0)}, {e.node.attrs['lo']}, {e.node.attrs['hi']}, {_cout(e)});"


for _fam in ("int8", "int16"):
    register(KernelDef("QClamp", "ref", HEADER, _qclamp_emit, family="qclamp", dtype=_fam,
                       applies=lambda n, g, ok=_act_family(_fam): ok(g, n.inputs[0])))


# -- fp32 arithmetic for quantized layers where it is faster (Winograd 3x3) --------------------
def _winograd_variant(mt: int):
    """QConv by fp32 Winograd F(mt x mt, 3x3): the int8 and fp32 kernels are candidates for the
    same quantized layer (where the fp32 cost model picks F(mt,3) and predicts it faster than the
    int8 GEMM). Not exact (within one step per layer), so the default heuristic ranks it below the
    exact integer kernels (the integer Winograd F(2x2,3x3) among them); a measured plan from
    `lne tune` may choose it; `lne compile --exact` refuses it."""
    from . import winograd as wg

    def applies(node, g) -> bool:
        if not (_ok8(g, node.inputs[0]) and wg.eligible(node, g) and node.attrs["kernel_shape"][0] == 3):
            return False
        (c, m, oh, ow), _ = wg._shape(node, g)
        if wg.choose(c, m, oh, ow, r=3) != mt:
            return False
        return wg.cost(c, m, oh, ow, mt) < 0.5 * wg.cost(c, m, oh, ow, None)

    def scratch(node, g) -> int:
        (c, m, oh, ow), grp = wg._shape(node, g)
        n = g.tensors[node.inputs[0]].shape[0]
        h, w = g.tensors[node.inputs[0]].shape[2:]
        return 4 * (n * c * grp * h * w + n * m * grp * oh * ow + wg.scratch_floats(c * grp, m * grp, oh, ow, mt, grp))

    def prepare(node, g) -> dict:
        w = g.const(node.inputs[1]).astype(np.float32)
        out = {1: g.add_const(g.fresh_name(f"{node.inputs[1]}_wino{mt}3"),
                              wg.transform_weights(w, mt, node.attrs["group"])).name}
        if node.input(2):
            b = g.const(node.inputs[2]).astype(np.float32)
            out[2] = g.add_const(g.fresh_name(f"{node.inputs[2]}_f32"), b).name
        return out

    def emit(e: Emitter) -> str:
        from .conv import conv_params

        p = e.params("lne::QConvParams", qconv_params(e))
        cp = f"kC{e.uid}"
        e.decls.append(f"static const lne::ConvParams {cp} = {c_value(conv_params(e)[:-1] + [[0, 0.0, 0.0]])};")
        mult = _array(e, "float", e.node.attrs["mult"], "M")
        bias = f"reinterpret_cast<const float*>({e.inputs[2]})" if len(e.inputs) > 2 else "nullptr"
        return (f"lne::qconv2d_via_f32({p}, {cp}, lne::conv2d_f32_winograd_f{mt}3, {_cin(e, 0)}, {e.inputs[1]}, "
                f"{bias}, {mult}, {_cout(e)}, {e.scratch});")

    return KernelDef("QConv", f"f32_winograd_f{mt}3", "kernels/quant/qconv_f32.h", emit, family="qconv2d",
                     dtype="int8", priority=5, applies=applies, scratch=scratch, prepare=prepare,
                     exact=False)


for _mt in (2, 4):
    register(_winograd_variant(_mt))
