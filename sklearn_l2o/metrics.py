"""Metrics for sparse recovery and LASSO minimisation."""

import numbers

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array, check_consistent_length

__all__ = ["lasso_objective", "nmse_db", "nmse_scorer"]


def _as_2d(name, a):
    a = check_array(a, ensure_2d=False, dtype=np.float64, input_name=name)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    return a


@validate_params(
    {"X_true": ["array-like"], "X_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def nmse_db(X_true, X_pred):
    """Normalised mean squared error in decibels, as a ratio of sums.

    NMSE_dB = 10 log10( sum_q ||xhat_q - x_q||^2 / sum_q ||x_q||^2 ),
    the definition of the LISTA-CPSS and ALISTA papers (not the mean of
    per-sample dB values). Lower is better.

    Parameters
    ----------
    X_true : array-like of shape (n_samples, n_components)
        True codes.
    X_pred : array-like of shape (n_samples, n_components)
        Estimated codes.

    Returns
    -------
    nmse : float
        NMSE in dB; ``-inf`` for a perfect estimate.

    Raises
    ------
    ValueError
        If the shapes differ or every true code is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.metrics import nmse_db
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> round(nmse_db(x, 0.9 * x), 6)
    -20.0
    """
    X_true = _as_2d("X_true", X_true)
    X_pred = _as_2d("X_pred", X_pred)
    check_consistent_length(X_true, X_pred)
    if X_true.shape != X_pred.shape:
        raise ValueError(
            f"X_true and X_pred have different shapes: {X_true.shape} and "
            f"{X_pred.shape}."
        )
    reference = np.sum(X_true**2)
    if reference == 0:
        raise ValueError("NMSE is undefined: every true code is zero.")
    error = np.sum((X_pred - X_true) ** 2)
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(error / reference))


#: Scorer for GridSearchCV / cross_val_score: the negated NMSE in dB, so that
#: greater is better as scikit-learn expects.
nmse_scorer = make_scorer(nmse_db, greater_is_better=False)


@validate_params(
    {
        "dictionary": ["array-like"],
        "B": ["array-like"],
        "X": ["array-like"],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def lasso_objective(dictionary, B, X, alpha):
    """Per-sample LASSO objective 1/2 ||A x_q - b_q||^2 + alpha ||x_q||_1.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components)
        The dictionary ``A``.
    B : array-like of shape (n_samples, n_features)
        Measurements.
    X : array-like of shape (n_samples, n_components)
        Codes at which to evaluate.
    alpha : float
        Weight of the l1 term. (scikit-learn's ``Lasso`` minimises the same
        objective divided by n_features, with ``alpha / n_features``.)

    Returns
    -------
    objective : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.metrics import lasso_objective
    >>> A = np.eye(2)
    >>> lasso_objective(A, [[1.0, 0.0]], [[0.5, 0.0]], alpha=1.0)
    array([0.625])
    """
    A = check_array(dictionary, dtype=np.float64, input_name="dictionary")
    B = _as_2d("B", B)
    X = _as_2d("X", X)
    check_consistent_length(B, X)
    if B.shape[1] != A.shape[0] or X.shape[1] != A.shape[1]:
        raise ValueError(
            f"shapes do not match: dictionary {A.shape}, B {B.shape}, X {X.shape}; "
            "expected B (n_samples, n_features) and X (n_samples, n_components)."
        )
    residual = X @ A.T - B
    return 0.5 * np.sum(residual**2, axis=1) + alpha * np.sum(np.abs(X), axis=1)
