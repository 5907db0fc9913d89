"""ALISTA: analytic weights, learned steps and thresholds (Liu et al., ICLR 2019)."""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ._base import UnrolledRegressor
from ._torch import support_selection_threshold, support_sizes
from ._unrolled import UnrolledNet
from ._validation import spectral_norm_sq


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


class ALISTANet(UnrolledNet):
    """x <- eta_ss( x - gamma_k W^T (A x - b) ; theta_k, p_k ), W fixed."""

    layered = ("gamma", "theta")

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
        z = x - self.gamma[k] * (residual @ self.W)
        return (support_selection_threshold(z, self.theta[k], self.n_selected[k]),)


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
    n_layers : int, default=16
        Number of unrolled iterations.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth (1.2% at layer 1,
        2.4% at layer 2, ...).
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L) with L = ||A||_2^2.
    learning_rate : float, default=2e-2
        Adam step of stage "a"; stages "b" and "c" use it times
        ``stage_factors[1]`` and ``stage_factors[2]``.
    batch_size : int, default=128
        Pairs per training step, drawn on the training device.
    max_steps_per_stage : int, default=150
        Step budget of each stage.
    patience : int, default=50
        A stage ends when its best validation NMSE is this many steps old.
    validation_fraction : float, default=0.1
        Share of the pairs held out to validate on.
    validation_interval : int, default=50
        Steps between validations.
    layer_decay : float, default=0.3
        In stages "b" and "c", layer k moves at ``layer_decay ** (t - k)`` of the
        newest layer t's rate.
    stage_factors : tuple of 3 floats, default=(1.0, 0.2, 0.02)
        Learning-rate factors of stages "a", "b", "c".
    refinement_steps : int, default=4000
        Step budget of each of two final stages ("b" then "c") that train all
        layers end to end at one rate (no layer decay), with the same early
        stopping. The greedy layer-by-layer schedule leaves the per-layer steps
        near their starting values; moving them jointly is worth about 10 dB on
        the canonical problem. 0 skips these stages.
    refinement_patience : int, default=1500
        Patience of those final stages, in steps.
    dtype : {"float32", "float64"}, default="float32"
        Precision of training and prediction.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and the batches.
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
    verbose : int, default=0
        1 shows a progress bar on stderr, 2 a line per stage.
    warm_start : bool, default=False
        Refit starting from the fitted layers, running only the final
        end-to-end stages (``refinement_steps`` must then be positive).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : torch.device
        Where the model was trained and predicts.
    dictionary_ : ndarray of shape (n_features, n_components)
        The dictionary used (given or estimated).
    weight_ : ndarray of shape (n_features, n_components)
        The analytic weight W.
    steps_ : ndarray of shape (n_layers,)
        Learned step sizes gamma_k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.
    history_ : list of dict
        One record per training stage: layer, stage, steps, best validation
        NMSE in dB (``val_score``), seconds.
    validation_nmse_db_ : ndarray of shape (n_layers,)
        Validation NMSE (dB) after each layer, once trained.
    n_iter_ : int
        Training steps taken in all.
    fit_seconds_ : float
        Wall time of the training loop.
    n_components_ : int
        Length of a code.
    n_features_in_ : int
        Length of a measurement.

    See Also
    --------
    FISTA : The classic solver ALISTA learns to outrun.
    sklearn.linear_model.Lasso : Coordinate-descent LASSO.

    Notes
    -----
    The weight solves min_W ||W^T A||_F^2 s.t. w_j^T a_j = 1, column by column
    w_j = (A A^T)^{-1} a_j / (a_j^T (A A^T)^{-1} a_j). Reference: J. Liu,
    X. Chen, Z. Wang, W. Yin, "ALISTA: Analytic weights are as good as learned
    weights in LISTA", ICLR 2019.

    Examples
    --------
    >>> from sklearn_l2o import ALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = ALISTA(dictionary=A, n_layers=4, max_steps_per_stage=100,
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

    def __init__(
        self,
        dictionary=None,
        *,
        n_layers=16,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
        learning_rate=2e-2,
        batch_size=128,
        max_steps_per_stage=150,
        patience=50,
        validation_fraction=0.1,
        validation_interval=50,
        layer_decay=0.3,
        stage_factors=(1.0, 0.2, 0.02),
        refinement_steps=4000,
        refinement_patience=1500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.n_layers = n_layers
        self.support_fraction = support_fraction
        self.max_support_fraction = max_support_fraction
        self.init_threshold = init_threshold
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps_per_stage = max_steps_per_stage
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.validation_interval = validation_interval
        self.layer_decay = layer_decay
        self.stage_factors = stage_factors
        self.refinement_steps = refinement_steps
        self.refinement_patience = refinement_patience
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start

    def _build_net(self, A, B, X, device, dtype):
        W = analytic_weight(A)
        theta = self.init_threshold
        if theta is None:
            theta = 0.4 / (1.001 * spectral_norm_sq(A))
        sizes = support_sizes(
            A.shape[1], self.n_layers, self.support_fraction, self.max_support_fraction
        )
        return ALISTANet(A, W, self.n_layers, sizes, 1.0, theta, dtype, device)

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
    >>> model = ALISTARegressor(dictionary=A, n_layers=3, max_steps_per_stage=50,
    ...                         device="cpu", random_state=0).fit(B, X)
    >>> model.thresholds_.shape
    (3,)
    """
