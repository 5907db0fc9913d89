"""Input checks shared by the estimators and the dataset makers."""

import numbers

import numpy as np


def column_norms(A):
    """The l2 norm of every column, without under- or overflow: each column
    is scaled by its largest entry before it is squared."""
    peak = np.max(np.abs(A), axis=0)
    safe = np.where(peak > 0, peak, 1.0)
    return peak * np.linalg.norm(A / safe, axis=0)


def check_dictionary(dictionary, name="dictionary"):
    """Return ``dictionary`` as a finite float64 2-D array with no zero column."""
    if np.iscomplexobj(dictionary):
        raise ValueError(
            f"{name} is complex; the solvers work on real dictionaries and signals."
        )
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
    norms = column_norms(A)
    if not np.all(np.isfinite(norms)):
        raise ValueError(
            f"{name} has columns whose norm overflows float64 (entries up to "
            f"{np.max(np.abs(A)):.3g}); rescale it."
        )
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


def reject_bool_integers(estimator):
    """Raise if an integer parameter was given a bool (which Python counts as an
    integer, so that ``n_layers=True`` would pass as 1)."""
    for name, constraints in estimator._parameter_constraints.items():
        value = getattr(estimator, name, None)
        if not isinstance(value, bool | np.bool_):
            continue
        integral = [
            c for c in constraints if getattr(c, "type", None) is numbers.Integral
        ]
        if integral and "boolean" not in constraints:
            raise ValueError(
                f"The {name!r} parameter of {type(estimator).__name__} must be an "
                f"int; got the bool {value!r}."
            )
