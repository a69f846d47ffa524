"""Model frontends: each reads one file format and returns an lne.ir.Graph."""
