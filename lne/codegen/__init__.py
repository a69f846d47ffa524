"""Code generation: turn a planned Graph into a bundle directory."""
from .bundle import write_bundle, c_identifier

__all__ = ["write_bundle", "c_identifier"]
