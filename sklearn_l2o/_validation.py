"""Input checks shared by the estimators and the dataset makers."""

import numpy as np


def check_dictionary(dictionary, name="dictionary"):
    """Return ``dictionary`` as a finite float64 2-D array with no zero column."""
    try:
        A = np.asarray(dictionary, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 2-D array.") from exc
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_features, n_components); "
            f"got an array with {A.ndim} dimension(s)."
        )
    if A.size == 0:
        raise ValueError(f"{name} is empty: got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity.")
    norms = np.linalg.norm(A, axis=0)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"{name} has {zero.size} zero column(s) (first: column {zero[0]}); "
            "every atom needs a non-zero norm."
        )
    return A


def check_widths(B, X, A):
    """Check that measurements ``B`` and codes ``X`` fit the dictionary ``A``."""
    if B.shape[1] != A.shape[0]:
        raise ValueError(
            f"B has {B.shape[1]} features (columns) but the dictionary has "
            f"{A.shape[0]} rows: each measurement must have n_features = "
            f"{A.shape[0]} entries."
        )
    if X is not None and X.shape[1] != A.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} columns but the dictionary has {A.shape[1]} "
            f"atoms: each code must have n_components = {A.shape[1]} entries."
        )


def estimate_dictionary(B, X):
    """Least-squares dictionary from (b, x) pairs: argmin_A ||X A^T - B||_F."""
    At, *_ = np.linalg.lstsq(X, B, rcond=None)
    return At.T


def spectral_norm_sq(A):
    """L = ||A||_2^2, the Lipschitz constant of the gradient of 1/2||Ax - b||^2."""
    return float(np.linalg.norm(A, ord=2) ** 2)
