"""Benchmark commands: ``python -m sklearn_l2o.benchmark --help``."""
