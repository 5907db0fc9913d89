"""Prediction in bounded memory: the rows go through in batches, and each
batch's result is written into one output array.

Every ``predict``, ``transform`` and ``certify`` of the package works this
way, so the memory it needs beyond its input and output arrays is that of
one batch of ``BATCH_ROWS`` rows, whatever the number of rows. The input may
be a NumPy memmap: only the batch being solved is read into memory.
"""

import numpy as np
from sklearn.utils.validation import validate_data

from ._torch import to_numpy

#: rows that prediction handles at once
BATCH_ROWS = 4096


def row_batches(n_rows, size=BATCH_ROWS):
    """Consecutive slices of at most ``size`` rows covering ``n_rows``."""
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def solve_in_batches(n_rows, n_columns, solve, batches=None):
    """One float64 array of shape (n_rows, n_columns), filled batch by batch
    with ``solve(rows)`` (a tensor or an array of those rows' results)."""
    out = np.empty((n_rows, n_columns))
    for rows in row_batches(n_rows) if batches is None else batches:
        result = solve(rows)
        out[rows] = result if isinstance(result, np.ndarray) else to_numpy(result)
    return out


def row_norms(X):
    """Euclidean norm of every row, batch by batch (no squared copy of X)."""
    out = np.empty(X.shape[0])
    for rows in row_batches(X.shape[0]):
        block = np.asarray(X[rows], dtype=np.float64)
        out[rows] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return out


def check_finite(X):
    """Raise scikit-learn's ValueError when ``X`` holds NaN or infinity,
    batch by batch (no boolean copy of ``X``)."""
    for rows in row_batches(X.shape[0]):
        block = np.asarray(X[rows])
        if np.isfinite(block).all():
            continue
        if np.isnan(block).any():
            raise ValueError("Input X contains NaN.")
        raise ValueError(
            f"Input X contains infinity or a value too large for {block.dtype!r}."
        )


def validated_rows(estimator, X):
    """``X`` checked against the fitted ``estimator`` (scikit-learn's checks;
    finiteness batch by batch), without a copy of a float array or memmap."""
    X = validate_data(
        estimator,
        X,
        reset=False,
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,
    )
    check_finite(X)
    return X
