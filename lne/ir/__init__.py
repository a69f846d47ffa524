"""The LNE intermediate representation: a Graph of Nodes over typed Tensors."""
from .graph import Graph, Node, Tensor, GraphError

__all__ = ["Graph", "Node", "Tensor", "GraphError"]
