"""Fixtures for the Caffe tests: reference nets as (prototxt, caffemodel, module), each
caffemodel written once per session (AlexNet's is 244 MB)."""
from __future__ import annotations

import pytest

# Caffe's own BatchNorm layers store mean and variance multiplied by a running scale factor
# (about 1000 after training); writing the weights with one exercises the division.
BN_SCALE_FACTOR = 999.982


@pytest.fixture(scope="session")
def caffe_reference(tmp_path_factory):
    """caffe_reference(name) -> (prototxt path, caffemodel path, NetParameter, torch module)."""
    pytest.importorskip("torch")
    from .reference_nets import REFERENCE_DIR, reference_net
    from .torch2caffe import write_caffemodel

    cache = {}
    folder = tmp_path_factory.mktemp("caffe_reference")

    def get(name: str):
        if name not in cache:
            net, module = reference_net(name)
            weights = write_caffemodel(module, net, folder / f"{name}.caffemodel", BN_SCALE_FACTOR)
            cache[name] = (REFERENCE_DIR / f"{name}.prototxt", weights, net, module)
        return cache[name]
    return get
