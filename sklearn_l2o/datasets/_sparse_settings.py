"""The named settings of the sparse-recovery benchmark (survey Test 1)."""

import math
import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._sklearn_compat import Interval, StrOptions, validate_params
from ._coherent import load_coherent_dictionary
from ._sparse_recovery import make_sparse_recovery

_CANONICAL = {"n_features": 250, "n_components": 500}
_SURVEY = {"n_features": 256, "n_components": 512}

#: Setting name -> keywords of :func:`make_sparse_recovery` that define it.
#: ``"dictionary": "coherent"`` stands for :func:`load_coherent_dictionary`.
SPARSE_RECOVERY_SETTINGS = {
    "canonical": {**_CANONICAL, "snr": None},
    "noiseless": {**_SURVEY, "snr": None},
    "snr40": {**_SURVEY, "snr": 40.0},
    "snr30": {**_SURVEY, "snr": 30.0},
    "snr20": {**_SURVEY, "snr": 20.0},
    "coherent": {**_SURVEY, "snr": None, "dictionary": "coherent"},
    "large": {"n_features": 512, "n_components": 1024, "snr": None},
    "kappa5": {**_CANONICAL, "snr": None, "condition_number": 5.0},
    "kappa30": {**_CANONICAL, "snr": None, "condition_number": 30.0},
    "kappa50": {**_CANONICAL, "snr": None, "condition_number": 50.0},
}

_SOURCES = {
    "canonical": "the LISTA-CPSS and ALISTA papers",
    "noiseless": "the survey",
    "snr40": "the survey's size, the papers' noise levels",
    "snr30": "the survey's size, the papers' noise levels",
    "snr20": "the survey",
    "coherent": "the survey, BSD500 replaced by scikit-learn's sample images",
    "large": "the survey",
    "kappa5": "the LISTA-CPSS paper",
    "kappa30": "the LISTA-CPSS paper",
    "kappa50": "the LISTA-CPSS paper",
}


def _describe(setting, keywords):
    m, n = keywords["n_features"], keywords["n_components"]
    if keywords.get("dictionary") == "coherent":
        kind = "coherent dictionary learned from natural-image patches"
    elif "condition_number" in keywords:
        kind = (
            "Gaussian dictionary with singular values from 1 to "
            f"1/{keywords['condition_number']:g}"
        )
    else:
        kind = "Gaussian dictionary"
    snr = keywords.get("snr")
    noise = "noiseless" if snr is None else f"SNR {snr:g} dB"
    return (
        f"Sparse recovery, setting {setting!r} ({_SOURCES[setting]}): "
        f"b = A x + e with a {m} x {n} {kind} (unit-norm columns); codes "
        f"Bernoulli(0.1) x N(0, 1); {noise}."
    )


@validate_params(
    {
        "setting": [StrOptions(set(SPARSE_RECOVERY_SETTINGS))],
        "n_train": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_test": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_sparse_recovery(
    setting="noiseless",
    *,
    n_train=51200,
    n_test=1000,
    random_state=0,
    return_X_y=False,
):
    """Training and test pairs of one named sparse-recovery setting.

    Every setting draws b = A x + e with codes that are non-zero with
    probability 0.1 and then standard normal, and one fixed dictionary A for
    training and test, as :func:`make_sparse_recovery` does:

    ============  ==========  ==============================================
    setting       A           dictionary and noise
    ============  ==========  ==============================================
    "canonical"   250 x 500   Gaussian, noiseless (LISTA-CPSS/ALISTA papers)
    "noiseless"   256 x 512   Gaussian, noiseless (survey)
    "snr40"       256 x 512   Gaussian, SNR 40 dB
    "snr30"       256 x 512   Gaussian, SNR 30 dB
    "snr20"       256 x 512   Gaussian, SNR 20 dB (survey)
    "coherent"    256 x 512   :func:`load_coherent_dictionary`, noiseless
    "large"       512 x 1024  Gaussian, noiseless (survey)
    "kappa5"      250 x 500   condition number 5, noiseless (LISTA-CPSS)
    "kappa30"     250 x 500   condition number 30, noiseless
    "kappa50"     250 x 500   condition number 50, noiseless
    ============  ==========  ==============================================

    The keywords behind each name are in ``SPARSE_RECOVERY_SETTINGS``.

    Parameters
    ----------
    setting : str, default="noiseless"
        One of the names above.
    n_train : int, default=51200
        Training pairs (the survey's fixed training set has 51,200).
    n_test : int, default=1000
        Test pairs.
    random_state : int, RandomState instance or None, default=0
        Seeds the dictionary (except the shipped coherent one), the training
        pairs and the test pairs, each from its own stream: the test set does
        not depend on ``n_train``.
    return_X_y : bool, default=False
        Return ``(B_train, X_train, B_test, X_test, dictionary)`` instead of a
        Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``B_train`` (n_train, m) and ``X_train`` (n_train, n),
        ``B_test`` (n_test, m) and ``X_test`` (n_test, n), ``dictionary``
        (m, n), ``setting`` (the name), ``snr`` (dB; ``inf`` when noiseless)
        and ``DESCR``, the setting described (also as ``description``).
    (B_train, X_train, B_test, X_test, dictionary) : tuple
        If ``return_X_y`` is True.

    See Also
    --------
    make_sparse_recovery : Any size, sparsity and noise level.

    Examples
    --------
    >>> from sklearn_l2o.datasets import load_sparse_recovery
    >>> data = load_sparse_recovery("snr20", n_train=200, n_test=50)
    >>> data.B_train.shape, data.X_test.shape, data.dictionary.shape
    ((200, 256), (50, 512), (256, 512))
    >>> data.snr
    20.0
    >>> print(data.DESCR)  # doctest: +ELLIPSIS
    Sparse recovery, setting 'snr20' ...
    >>> B, X, B_test, X_test, A = load_sparse_recovery(
    ...     "kappa30", n_train=10, n_test=10, return_X_y=True)
    >>> A.shape
    (250, 500)
    """
    keywords = dict(SPARSE_RECOVERY_SETTINGS[setting])
    rng = check_random_state(random_state)
    seed_dictionary, seed_train, seed_test = rng.randint(np.iinfo(np.int32).max, size=3)
    if keywords.get("dictionary") == "coherent":
        A = load_coherent_dictionary()
    else:
        # a single draw returns the dictionary the setting defines
        _, _, A = make_sparse_recovery(1, random_state=seed_dictionary, **keywords)
    snr = keywords.get("snr")
    B_train, X_train, _ = make_sparse_recovery(
        n_train, dictionary=A, snr=snr, random_state=seed_train
    )
    B_test, X_test, _ = make_sparse_recovery(
        n_test, dictionary=A, snr=snr, random_state=seed_test
    )
    if return_X_y:
        return B_train, X_train, B_test, X_test, A
    description = _describe(setting, keywords)
    return Bunch(
        B_train=B_train,
        X_train=X_train,
        B_test=B_test,
        X_test=X_test,
        dictionary=A,
        setting=setting,
        snr=math.inf if snr is None else float(snr),
        DESCR=description,
        description=description,
    )
