"""Problem generators and loaders for the learning-to-optimize benchmarks."""

from ._sparse_recovery import make_gaussian_dictionary, make_sparse_recovery

__all__ = ["make_gaussian_dictionary", "make_sparse_recovery"]
