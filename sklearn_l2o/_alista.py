"""ALISTA: analytic weights, learned steps and thresholds (Liu et al., ICLR 2019)."""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ._base import UnrolledRegressor
from ._torch import support_selection_threshold, support_sizes
from ._unrolled import UnrolledNet
from ._validation import spectral_norm_sq

# tuned on the canonical problem: with 2 numbers per layer, large steps and
# short stages suffice, and the end-to-end refinement does the rest. On the
# noiseless 256 x 512 setting (51,200 pairs) a 4x longer refinement with 4x
# the patience gave -74.0 / -74.5 / -72.0 dB at 16 layers against -72.4 /
# -71.1 / -71.6 (H200 seed 0, CPU seeds 0 and 1) for about twice the fit time
# (43 s on the H200); benchmarks/refine_length.py. TiLISTA trains this way too.
ALISTA_TRAINING_DEFAULTS = {
    "learning_rate": 2e-2,
    "max_steps_per_stage": 300,
    "patience": 100,
    "refinement_steps": 16000,
    "refinement_patience": 6000,
}


def analytic_weight(A):
    """The ALISTA weight: argmin_W ||W^T A||_F^2 subject to w_j^T a_j = 1.

    Its closed form is, column by column,
    w_j = (A A^T)^+ a_j / (a_j^T (A A^T)^+ a_j), exactly feasible, computed in
    float64. A column whose denominator vanishes (a zero atom) gets w_j = 0.

    Parameters
    ----------
    A : ndarray of shape (n_features, n_components)

    Returns
    -------
    W : ndarray of shape (n_features, n_components)
    """
    A = np.asarray(A, dtype=np.float64)
    P = np.linalg.pinv(A @ A.T, hermitian=True) @ A
    denom = np.einsum("ij,ij->j", A, P)
    scale = np.divide(1.0, denom, out=np.zeros_like(denom), where=denom > 1e-12)
    return P * scale


def stable_step(W, A):
    """min(1, 2 / lambda_max(W^T A)): the largest step (at most 1) at which
    x <- x - step W^T A x does not grow along any direction.

    W^T A is similar to a positive semi-definite matrix, so its eigenvalues are
    real and non-negative; its non-zero ones are those of the smaller A W^T.
    """
    small = np.asarray(A, dtype=np.float64) @ np.asarray(W, dtype=np.float64).T
    largest = float(np.max(np.real(np.linalg.eigvals(small)), initial=0.0))
    return 1.0 if largest <= 2.0 else 2.0 / largest


def analytic_start(A):
    """The analytic weight times its stable step: the matrix with which an
    untrained layer ``x - W^T (A x - b)`` takes ALISTA's first step
    (``weight_init="analytic"`` of the solvers that learn their matrices)."""
    weight = analytic_weight(A)
    return stable_step(weight, A) * weight


class ALISTANet(UnrolledNet):
    """x <- eta_ss( x - gamma_k W^T (A x - b) ; theta_k, p_k ), W fixed."""

    layered = ("gamma", "theta")
    threshold = "theta"

    def __init__(self, A, W, n_layers, n_selected, gamma, theta, dtype, device):
        super().__init__(n_layers, A.shape[1])
        self.register_buffer("A", torch.tensor(A, dtype=dtype, device=device))
        self.register_buffer("W", torch.tensor(W, dtype=dtype, device=device))
        self.n_selected = list(n_selected)
        self.gamma = torch.nn.Parameter(
            torch.full((n_layers,), float(gamma), dtype=dtype, device=device)
        )
        self.theta = torch.nn.Parameter(
            torch.full((n_layers,), float(theta), dtype=dtype, device=device)
        )

    def layer(self, k, b, state):
        x = state[0]
        residual = x @ self.A.T - b
        z = x - self.at("gamma", k) * (residual @ self.W)
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


class ALISTA(UnrolledRegressor):
    """Analytic LISTA: an unrolled sparse solver with 2 learned numbers per layer.

    ALISTA runs ``n_layers`` iterations of

        z = x^k - gamma_k W^T (A x^k - b),
        x^{k+1} = eta_ss(z; theta_k, p_k),

    where ``W`` is computed from the dictionary ``A`` in closed form (not
    learned), ``gamma_k`` and ``theta_k`` are learned, and ``eta_ss`` is soft
    thresholding with support selection: in each signal the largest
    ``p_k = min(support_fraction * k, max_support_fraction)`` share of entries
    bypass the shrinkage. Training follows the stage-wise recipe of the
    LISTA-CPSS and ALISTA papers (one new layer at a time, then refinement of
    all layers at lower learning rates, early stopping on a held-out share of
    the training pairs).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth (1.2% at layer 1,
        2.4% at layer 2, ...). Set it and ``max_support_fraction`` to 0 with
        ``loss="lasso"``: entries passed unshrunk move away from the LASSO
        minimiser (on LASSO (25, 50) problems, R_f at 16 layers was 0.0084
        with the default selection and 0.0056 without).
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L) with L = ||A||_2^2.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weight_ : ndarray of shape (n_features, n_components)
        The analytic weight W.
    steps_ : ndarray of shape (n_layers,)
        Learned step sizes gamma_k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    FISTA : The classic solver ALISTA learns to outrun.
    sklearn.linear_model.Lasso : Coordinate-descent LASSO.

    Notes
    -----
    The weight solves min_W ||W^T A||_F^2 s.t. w_j^T a_j = 1, column by column
    w_j = (A A^T)^{-1} a_j / (a_j^T (A A^T)^{-1} a_j). The steps start at
    min(1, 2 / lambda_max(W^T A)): 1 in the papers, which is 0.93 for a
    Gaussian 250 x 500 dictionary but makes the untrained iteration blow up
    on coherent dictionaries (lambda_max 8.6 for
    :func:`~sklearn_l2o.datasets.load_coherent_dictionary`, where layers
    started at 1 reached +79 dB on the test set). On large problems set
    ``threshold_search=True``: on the 512 x 1024 setting (51,200 pairs, one
    CPU thread) the greedy stages stalled from layer 11 on, once the support
    selection's 13 % passed every entry above a new layer's starting
    threshold, so that the threshold got no gradient (-73.0 dB at 16 layers);
    searching each new layer's starting threshold gave -81.4 dB for about 13 %
    more fit time. It stays off by default because, together with
    ``plateau_decays=2``, it measured worse on the noiseless 256 x 512
    setting (-71.0 against -74.5 dB). Reference: J. Liu,
    X. Chen, Z. Wang, W. Yin, "ALISTA: Analytic weights are as good as learned
    weights in LISTA", ICLR 2019.

    Examples
    --------
    >>> from sklearn_l2o import ALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = ALISTA(dictionary=A, n_layers=4, refinement_steps=200,
    ...                device="cpu", random_state=0).fit(B[:1800], X[:1800])
    >>> model.predict(B[1800:]).shape
    (200, 64)
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _parameter_constraints = {
        **UnrolledRegressor._parameter_constraints,
        "support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "init_threshold": [Interval(numbers.Real, 0, None, closed="left"), None],
    }

    _solver_parameters = {
        "support_fraction": 0.012,
        "max_support_fraction": 0.13,
        "init_threshold": None,
    }
    _training_defaults = ALISTA_TRAINING_DEFAULTS

    def _build_net(self, A, B, X, device, dtype):
        W = analytic_weight(A)
        theta = self.init_threshold
        if theta is None:
            theta = 0.4 / (1.001 * spectral_norm_sq(A))
        sizes = support_sizes(
            A.shape[1], self.n_layers, self.support_fraction, self.max_support_fraction
        )
        gamma = stable_step(W, A)
        return ALISTANet(A, W, self.n_layers, sizes, gamma, theta, dtype, device)

    def _export_parameters(self):
        self.weight_ = self.module_.W.detach().cpu().double().numpy()
        self.steps_ = self.module_.gamma.detach().cpu().double().numpy()
        self.thresholds_ = self.module_.theta.detach().cpu().double().numpy()


class ALISTARegressor(ALISTA):
    """ALISTA under the name ``ALISTARegressor``; identical in every respect.

    Parameters and attributes are those of :class:`ALISTA`.

    Examples
    --------
    >>> from sklearn_l2o import ALISTARegressor
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> B, X, A = make_sparse_recovery(1000, n_components=40, n_features=20,
    ...                                random_state=0)
    >>> model = ALISTARegressor(dictionary=A, n_layers=3, refinement_steps=0,
    ...                         device="cpu", random_state=0).fit(B, X)
    >>> model.thresholds_.shape
    (3,)
    """
