"""The numpy oracle of the fused activation epilogue (lne::Act), shared by the kernel tests."""
import numpy as np

import lne._kernels as K

def act_np(act, v):
    kind, alpha, beta = act
    v = np.asarray(v, dtype=np.float64)
    if kind == K.ACT_NONE:
        return v
    if kind == K.ACT_RELU:
        return np.maximum(v, 0)
    if kind == K.ACT_CLIP:
        return np.minimum(np.maximum(v, alpha), beta)
    if kind == K.ACT_LEAKY_RELU:
        return np.where(v >= 0, v, alpha * v)
    if kind == K.ACT_SIGMOID:
        return 1 / (1 + np.exp(-v))
    if kind == K.ACT_TANH:
        return np.tanh(v)
    if kind == K.ACT_HARD_SIGMOID:
        return np.clip(alpha * v + beta, 0, 1)
    if kind == K.ACT_HARD_SWISH:
        return v * np.clip(v / 6 + 0.5, 0, 1)
    raise ValueError(kind)
