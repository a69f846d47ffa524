"""Caffe frontend: a deploy prototxt (+ caffemodel) to an lne.ir.Graph.

    from lne.frontends import caffe
    graph = caffe.load("deploy.prototxt", "net.caffemodel")   # weights may be None
"""
from .loader import load, supported_layers

__all__ = ["load", "supported_layers"]
