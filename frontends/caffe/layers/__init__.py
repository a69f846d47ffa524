"""Per-layer lowering, one module per family. Each function takes the Builder (with the layer
being lowered in `b.layer`) and returns one IR tensor per top blob."""
from . import activation, conv, norm, pool, tensor

LOWERINGS = {**conv.LAYERS, **pool.LAYERS, **norm.LAYERS, **activation.LAYERS, **tensor.LAYERS}

# Layers that exist only for training; a deploy net may keep them in TRAIN-only includes.
TRAINING_ONLY = ("Accuracy", "SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
                 "InfogainLoss", "MultinomialLogisticLoss", "ContrastiveLoss", "Data", "ImageData", "HDF5Data",
                 "WindowData", "MemoryData", "DummyData")
