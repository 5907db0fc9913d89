"""Synthetic sparse-recovery problems (survey Test 1)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from .._sklearn_compat import Interval, validate_params
from .._validation import check_dictionary


@validate_params(
    {
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_gaussian_dictionary(n_features, n_components, random_state=None):
    """Gaussian dictionary with unit-norm columns: A_ij ~ N(0, 1/m), normalised.

    Parameters
    ----------
    n_features : int
        Rows m (length of a measurement).
    n_components : int
        Columns n (length of a code).
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    A : ndarray of shape (n_features, n_components)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.datasets import make_gaussian_dictionary
    >>> A = make_gaussian_dictionary(25, 50, random_state=0)
    >>> np.allclose(np.linalg.norm(A, axis=0), 1.0)
    True
    """
    rng = check_random_state(random_state)
    A = rng.normal(0.0, 1.0 / np.sqrt(n_features), size=(n_features, n_components))
    return A / np.linalg.norm(A, axis=0, keepdims=True)


@validate_params(
    {
        "dictionary": ["array-like"],
        "sigma": [Interval(numbers.Real, 0, None, closed="left")],
        "n_dictionaries": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def perturb_dictionary(dictionary, sigma, *, n_dictionaries=None, random_state=None):
    """Random perturbations of a dictionary: A + sigma N(0, 1), unit-norm columns.

    The drifting dictionaries of the robust-ALISTA experiments: every entry
    gets independent Gaussian noise of standard deviation ``sigma``, then
    every column is scaled to unit norm.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components)
        The nominal dictionary A.
    sigma : float
        Standard deviation of the added noise (for a Gaussian dictionary with
        unit-norm columns, whose entries have standard deviation
        1 / sqrt(n_features), 0.03 is a large drift).
    n_dictionaries : int, default=None
        How many independent perturbations to draw; None draws one.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    dictionaries : ndarray of shape (n_features, n_components), or \
(n_dictionaries, n_features, n_components) when ``n_dictionaries`` is given

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.datasets import make_gaussian_dictionary, perturb_dictionary
    >>> A = make_gaussian_dictionary(20, 40, random_state=0)
    >>> D = perturb_dictionary(A, 0.01, n_dictionaries=3, random_state=0)
    >>> D.shape
    (3, 20, 40)
    >>> bool(np.allclose(np.linalg.norm(D, axis=1), 1.0))
    True
    """
    A = check_dictionary(dictionary)
    rng = check_random_state(random_state)
    shape = A.shape if n_dictionaries is None else (n_dictionaries,) + A.shape
    D = A + sigma * rng.standard_normal(shape)
    return D / np.linalg.norm(D, axis=-2, keepdims=True)


@validate_params(
    {
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "condition_number": [Interval(numbers.Real, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_conditioned_dictionary(
    n_features, n_components, condition_number, random_state=None
):
    """Ill-conditioned dictionary of the LISTA-CPSS experiments.

    A Gaussian matrix with N(0, 1/m) entries keeps its singular vectors, its
    singular values are replaced by ``logspace(0, log10(1 / kappa), r)`` (r =
    min(m, n)), from 1 down to 1/kappa, and its columns are normalised to unit
    l2 norm, as in the LISTA-CPSS code (whose experiments normalise them).
    The normalisation moves the condition number by a few percent at most
    (29.8 for kappa = 30 at 250 x 500 with ``random_state=0``).

    Parameters
    ----------
    n_features : int
        Rows m (length of a measurement).
    n_components : int
        Columns n (length of a code).
    condition_number : float
        kappa >= 1, the ratio of the largest to the smallest singular value
        before the columns are normalised.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    A : ndarray of shape (n_features, n_components)

    See Also
    --------
    make_gaussian_dictionary : The well-conditioned Gaussian dictionary.

    Notes
    -----
    X. Chen, J. Liu, Z. Wang, W. Yin, "Theoretical linear convergence of
    unfolded ISTA and its practical weights and thresholds", NeurIPS 2018
    (its experiments use kappa = 5, 30 and 50).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.datasets import make_conditioned_dictionary
    >>> A = make_conditioned_dictionary(250, 500, 30, random_state=0)
    >>> bool(np.allclose(np.linalg.norm(A, axis=0), 1.0))
    True
    >>> round(float(np.linalg.cond(A)), 1)
    29.8
    """
    rng = check_random_state(random_state)
    raw = rng.normal(0.0, 1.0 / np.sqrt(n_features), size=(n_features, n_components))
    U, _, Vt = np.linalg.svd(raw, full_matrices=False)
    singular = np.logspace(0.0, np.log10(1.0 / condition_number), U.shape[1])
    A = (U * singular) @ Vt
    return A / np.linalg.norm(A, axis=0, keepdims=True)


def _add_noise(clean, snr, rng):
    """Add Gaussian noise at ``snr`` dB relative to each row's own spread.

    sigma_q = std(A x_q) * 10^(-snr/20), one per sample, kept as a column so
    that it broadcasts over the row (the reference code's shape bug).
    """
    if snr is None or np.isinf(snr):
        return clean
    sigma = clean.std(axis=1, keepdims=True) * 10.0 ** (-snr / 20.0)
    return clean + sigma * rng.standard_normal(clean.shape)


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "sparsity": [Interval(numbers.Real, 0, 1, closed="right")],
        # -inf would be noise of infinite power: rejected, as NaN is
        "snr": [Interval(numbers.Real, -np.inf, np.inf, closed="right"), None],
        "dictionary": ["array-like", None],
        "random_state": ["random_state"],
        "condition_number": [Interval(numbers.Real, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def make_sparse_recovery(
    n_samples,
    *,
    n_components=500,
    n_features=250,
    sparsity=0.1,
    snr=None,
    dictionary=None,
    random_state=None,
    condition_number=None,
):
    """Generate sparse codes, their measurements and the dictionary.

    Follows the canonical problem of the LISTA-CPSS and ALISTA papers and of
    the survey's Test 1: ``A`` has N(0, 1/m) entries and unit-norm columns;
    each entry of a code is non-zero with probability ``sparsity`` and then
    standard normal; ``b = A x + e`` with Gaussian noise at ``snr`` dB.

    Parameters
    ----------
    n_samples : int
        Number of (b, x) pairs.
    n_components : int, default=500
        Length n of a code (atoms in the dictionary).
    n_features : int, default=250
        Length m of a measurement.
    sparsity : float, default=0.1
        Probability that an entry of a code is non-zero.
    snr : float, default=None
        Signal-to-noise ratio in dB; per sample the noise has standard
        deviation std(A x) * 10^(-snr/20). None or inf: noiseless.
    dictionary : array-like of shape (n_features, n_components), default=None
        Reuse this dictionary (so train and test sets share it); its shape
        overrides ``n_features`` and ``n_components``. None draws a new one.
    random_state : int, RandomState instance or None, default=None
        Seed for the dictionary, codes and noise.
    condition_number : float, default=None
        Draw an ill-conditioned dictionary instead, with singular values from
        1 down to 1/kappa (see :func:`make_conditioned_dictionary`). Only with
        ``dictionary=None``.

    Returns
    -------
    B : ndarray of shape (n_samples, n_features)
        Measurements, one per row: B = X A^T + noise.
    X : ndarray of shape (n_samples, n_components)
        Sparse codes.
    A : ndarray of shape (n_features, n_components)
        The dictionary.

    See Also
    --------
    load_sparse_recovery : The benchmark's named settings.
    sklearn.datasets.make_sparse_coded_signal : A related maker with a fixed
        number of non-zeros per code.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> B, X, A = make_sparse_recovery(100, random_state=0)
    >>> B.shape, X.shape, A.shape
    ((100, 250), (100, 500), (250, 500))
    >>> B_test, X_test, _ = make_sparse_recovery(10, dictionary=A, random_state=1)
    >>> B_test.shape
    (10, 250)
    >>> _, _, A = make_sparse_recovery(10, condition_number=30, random_state=0)
    >>> round(float(np.linalg.cond(A)), 1)
    29.8
    """
    rng = check_random_state(random_state)
    if dictionary is not None and condition_number is not None:
        raise ValueError(
            "condition_number applies to a newly drawn dictionary; it cannot be "
            "combined with a given dictionary."
        )
    if condition_number is not None:
        A = make_conditioned_dictionary(n_features, n_components, condition_number, rng)
    elif dictionary is None:
        A = make_gaussian_dictionary(n_features, n_components, rng)
    else:
        A = check_dictionary(dictionary)
    n_features, n_components = A.shape
    support = rng.uniform(size=(n_samples, n_components)) < sparsity
    X = support * rng.standard_normal((n_samples, n_components))
    B = _add_noise(X @ A.T, snr, rng)
    return B, X, A
