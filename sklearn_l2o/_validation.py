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


def check_widths(X, Y, A):
    """Check that measurements ``X`` and codes ``Y`` fit the dictionary ``A``."""
    if X.shape[1] != A.shape[0]:
        raise ValueError(
            f"The measurements X have {X.shape[1]} features (columns) but the "
            f"dictionary has {A.shape[0]} rows: each measurement must have "
            f"n_features = {A.shape[0]} entries."
        )
    if Y is not None and Y.shape[1] != A.shape[1]:
        raise ValueError(
            f"The codes y have {Y.shape[1]} columns but the dictionary has "
            f"{A.shape[1]} atoms: each code must have n_components = "
            f"{A.shape[1]} entries."
        )


def estimate_dictionary(X, Y):
    """Least-squares dictionary from (b, x) pairs, measurements ``X`` and codes
    ``Y``: argmin_A ||Y A^T - X||_F."""
    At, *_ = np.linalg.lstsq(Y, X, rcond=None)
    return At.T


def holdout_split(n_samples, fraction, rng):
    """Indices ``(train, validation)``, the validation share ``fraction``.

    With too few samples to hold any out, both are every index: training then
    validates on its own samples.
    """
    n_val = int(round(fraction * n_samples))
    if n_val < 1 or n_samples - n_val < 1:
        index = np.arange(n_samples)
        return index, index
    perm = rng.permutation(n_samples)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
