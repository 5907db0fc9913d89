"""Metrics for sparse recovery and LASSO minimisation."""

import numbers

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils.validation import check_array, check_consistent_length

from ._sklearn_compat import Interval, StrOptions, validate_params
from ._starts import generalized_coherence as generalized_coherence_of
from ._validation import check_dictionary, column_norms


def _as_2d(name, a):
    a = check_array(a, ensure_2d=False, dtype=np.float64, input_name=name)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    return a


@validate_params(
    {
        "X_true": ["array-like"],
        "X_pred": ["array-like"],
        "average": [StrOptions({"ratio", "samples"})],
    },
    prefer_skip_nested_validation=True,
)
def nmse_db(X_true, X_pred, *, average="ratio"):
    """Normalised mean squared error in decibels.

    With ``average="ratio"`` (the default), a ratio of sums over the samples::

        NMSE_dB = 10 log10( sum_q ||xhat_q - x_q||^2 / sum_q ||x_q||^2 ),

    the definition of the LISTA-CPSS and ALISTA papers. With
    ``average="samples"``, the mean over the samples of each sample's NMSE in
    dB::

        NMSE_dB = mean_q 10 log10( ||xhat_q - x_q||^2 / ||x_q||^2 ),

    which is what the survey's benchmark code reports (its Figure 5). The two
    agree when every sample has the same relative error. When the samples have
    equal energy, the mean of the logarithms is never above the logarithm of
    the ratio (Jensen's inequality), and the more the per-sample errors
    spread, the lower it is: a few poorly recovered samples dominate a ratio of
    sums but not a mean of dB values. Compare a number only with published
    numbers of the same definition. Lower is better.

    Parameters
    ----------
    X_true : array-like of shape (n_samples, n_components)
        True codes.
    X_pred : array-like of shape (n_samples, n_components)
        Estimated codes.
    average : {"ratio", "samples"}, default="ratio"
        How the samples are combined (see above).

    Returns
    -------
    nmse : float
        NMSE in dB; ``-inf`` for a perfect estimate (with ``"samples"``, as
        soon as one sample is estimated exactly).

    Raises
    ------
    ValueError
        If the shapes differ, if either holds NaN or infinity, or if every
        true code is zero (with ``"samples"``: if any true code is zero, whose
        NMSE is undefined). Codes of any magnitude are compared exactly: the
        squares are taken after a common scaling.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.metrics import nmse_db
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> round(nmse_db(x, 0.9 * x), 6)
    -20.0
    >>> x_hat = np.array([[0.9, 0.0], [0.0, 1.0]])  # errors -20 dB and -6.02 dB
    >>> round(nmse_db(x, x_hat), 2), round(nmse_db(x, x_hat, average="samples"), 2)
    (-6.95, -13.01)
    """
    X_true = _as_2d("X_true", X_true)
    X_pred = _as_2d("X_pred", X_pred)
    check_consistent_length(X_true, X_pred)
    if X_true.shape != X_pred.shape:
        raise ValueError(
            f"X_true and X_pred have different shapes: {X_true.shape} and "
            f"{X_pred.shape}."
        )
    for name, a in (("X_true", X_true), ("X_pred", X_pred)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinity.")
    if average == "ratio":
        # a ratio of sums is unchanged by a common scale: dividing both by the
        # largest true entry keeps the squares from under- or overflowing
        scale = np.max(np.abs(X_true), initial=0.0)
        if scale == 0:
            raise ValueError("NMSE is undefined: every true code is zero.")
        with np.errstate(over="ignore"):
            error = np.sum(((X_pred - X_true) / scale) ** 2)
        reference = np.sum((X_true / scale) ** 2)
    else:
        zero = np.flatnonzero(~np.any(X_true != 0, axis=1))
        if zero.size:
            raise ValueError(
                f"Per-sample NMSE is undefined: the true codes of {zero.size} "
                f"sample(s) are zero (first: row {zero[0]}); use average='ratio'."
            )
        return float(np.mean(_per_sample_db(X_true, X_pred)))
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(error / reference))


def _per_sample_db(X_true, X_pred):
    """Each sample's NMSE in dB (rows of 2-d float arrays, no zero true code),
    each row scaled by its largest true entry so that its squares neither
    under- nor overflow."""
    scale = np.max(np.abs(X_true), axis=1, keepdims=True)
    with np.errstate(over="ignore", divide="ignore"):
        error = np.sum(((X_pred - X_true) / scale) ** 2, axis=1)
        return 10 * np.log10(error / np.sum((X_true / scale) ** 2, axis=1))


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


@validate_params({"dictionary": ["array-like"]}, prefer_skip_nested_validation=True)
def mutual_coherence(dictionary):
    """Largest absolute cosine between two distinct atoms.

    ``max_{i != j} abs(a_i^T a_j)`` over the columns scaled to unit norm.

    The quantity the recovery guarantees of ISTA and LISTA are stated in:
    the smaller, the more atoms a code may use and still be recovered.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components)
        The dictionary ``A``; no column may be zero.

    Returns
    -------
    coherence : float
        In [0, 1]; 0 for a dictionary with one atom.

    See Also
    --------
    generalized_coherence : The same with a weight on one side.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.metrics import mutual_coherence
    >>> A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> round(mutual_coherence(A), 4)  # 1 / sqrt(2)
    0.7071
    """
    A = check_dictionary(dictionary)
    unit = A / column_norms(A)
    return generalized_coherence_of(unit, unit)


@validate_params(
    {"weight": ["array-like"], "dictionary": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def generalized_coherence(weight, dictionary):
    """How much atom j leaks into entry i of ``W^T A``, at most.

    ``max_{i != j} abs(w_i^T a_j)``.

    ALISTA's weight is the W with w_i^T a_i = 1 for every i that minimises
    this (in a least-squares sense); HyperLISTA's thresholds are set from it.
    With ``weight=dictionary`` and unit-norm atoms it is the mutual coherence.

    Parameters
    ----------
    weight : array-like of shape (n_features, n_components)
        The weight ``W``, used as given (no column scaling).
    dictionary : array-like of shape (n_features, n_components)
        The dictionary ``A``, used as given.

    Returns
    -------
    coherence : float
        0 for a single atom.

    See Also
    --------
    mutual_coherence : The dictionary's coherence with itself.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.metrics import generalized_coherence
    >>> A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> W = np.array([[1.0, -0.5, 0.5], [-0.5, 1.0, 0.5]])
    >>> generalized_coherence(W, A)
    0.5
    """
    A = check_dictionary(dictionary)
    W = check_dictionary(weight, name="weight")
    if W.shape != A.shape:
        raise ValueError(
            f"weight has shape {W.shape} and dictionary {A.shape}: W^T A needs "
            "the same shape (n_features, n_components)."
        )
    return generalized_coherence_of(W, A)
