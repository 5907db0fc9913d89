"""Robust ALISTA: an unrolled encoder computes ALISTA's weight for each
dictionary (Liu et al., ICLR 2019)."""

import numbers

import numpy as np
import torch

from ._base import net_attribute
from ._shrinkage import support_selection_threshold, support_sizes
from ._sklearn_compat import Interval, StrOptions
from ._starts import analytic_weight, default_threshold, stable_step
from ._varying import VaryingDictionaryRegressor, VaryingNet, adjoint_operator
from ._varying import forward_operator as apply


def chebyshev_steps(low, high, n_steps):
    """Steps 1 / r_i at the Chebyshev nodes r_i of [low, high]: ``n_steps``
    Richardson iterations with them shrink the error along every eigenvalue in
    [low, high] by the least possible worst factor."""
    k = np.arange(n_steps)
    nodes = (high + low) / 2 + (high - low) / 2 * np.cos(
        np.pi * (2 * k + 1) / (2 * n_steps)
    )
    return 1.0 / nodes


def _feasible(W, A):
    """Columns of ``W`` scaled so that w_j^T a_j = 1 (ALISTA's constraint); a
    column orthogonal to its atom (which no scale can fix) becomes zero."""
    denom = torch.sum(W * A, dim=-2, keepdim=True)
    usable = denom.abs() > 1e-12
    return torch.where(usable, W / torch.where(usable, denom, 1.0), 0.0)


class RobustALISTANet(VaryingNet):
    """An encoder maps each dictionary to its weight; ALISTA layers use it.

    Encoder: W <- W - s_j M (A A^T W - A) from W = 0, ``n_encoder`` times
    (preconditioned Richardson iterations towards (A A^T)^{-1} A), then every
    column scaled to w_j^T a_j = 1. With ``closed_form`` the weight is solved
    for exactly instead.
    """

    threshold = "theta"

    def __init__(
        self,
        preconditioner,
        encoder_steps,
        n_layers,
        n_components,
        n_selected,
        gamma,
        theta,
        closed_form,
        dtype,
        device,
    ):
        super().__init__(n_layers, n_components, dtype, device)
        self.closed_form = closed_form
        # the closed form has nothing to learn in the encoder
        self.shared("preconditioner", preconditioner, trainable=not closed_form)
        self.shared("encoder_steps", encoder_steps, trainable=not closed_form)
        self.n_selected = list(n_selected)
        self.per_layer("gamma", gamma)
        self.per_layer("theta", theta)

    def encode(self, A):
        gram = A @ A.transpose(-1, -2)
        if self.closed_form:
            # the pseudo-inverse: A A^T is singular when atoms are fewer than rows
            return _feasible(torch.linalg.pinv(gram, hermitian=True) @ A, A)
        W = torch.zeros_like(A)
        for step in self.encoder_steps:
            W = W - step * (self.preconditioner @ (gram @ W - A))
        return _feasible(W, A)

    def initial_state(self, data):
        return super().initial_state(data) + (self.encode(data.A),)

    def layer(self, k, data, state):
        x, W = state
        residual = apply(data.A, x) - data.b
        z = x - self.at("gamma", k) * adjoint_operator(W, residual)
        x = support_selection_threshold(z, self.at("theta", k), self.n_selected[k])
        return x, W


class RobustALISTA(VaryingDictionaryRegressor):
    """ALISTA for dictionaries that change: an unrolled encoder computes the
    weight from each call's dictionary.

    ALISTA's weight ``W`` is computed once from the dictionary it was trained
    on, and a perturbed dictionary ``A~ = A + E`` makes it wrong. Robust ALISTA
    computes ``W~`` from ``A~`` with an *encoder*, ``n_encoder_layers``
    preconditioned Richardson iterations towards the least-squares weight::

        W <- W - s_j M (A~ A~^T W - A~),   from W = 0,
        w~_i <- w_i / (w_i^T a~_i),

    (the last line makes ``W~`` satisfy ALISTA's constraint) and runs
    ALISTA's layers with it (the *decoder*)::

        x^{k+1} = eta_ss(x^k - gamma_k W~^T (A~ x^k - b); theta_k, p_k).

    Encoder and decoder are trained jointly, end to end: the encoder's steps
    ``s_j`` and preconditioner ``M``, the decoder's steps ``gamma_k`` and
    thresholds ``theta_k``. Training draws a perturbed dictionary for every
    batch (``perturbation``) or uses the dictionaries given to ``fit``; each
    call of ``predict`` takes the dictionary of its measurements (one, or one
    per row).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The nominal dictionary ``A``. If None, it is estimated from the
        training pairs by least squares.
    perturbation : float, default=0.03
        Training without ``dictionaries`` draws, for each batch, ``sigma``
        uniformly in [0, perturbation] and the dictionary
        ``A + sigma N(0, 1)`` with unit-norm columns, and remakes the batch's
        measurements from their codes (keeping each pair's noise
        ``b - A x``). 0 trains on the nominal dictionary alone.
    n_encoder_layers : int, default=8
        Richardson iterations of the encoder.
    encoder : {"unrolled", "closed_form"}, default="unrolled"
        "closed_form" solves for the weight of each dictionary exactly,
        ``W~ = (A~ A~^T)^+ A~`` with scaled columns: ALISTA's analytic
        weight for every dictionary, the encoder's target, at the price of a
        linear solve per dictionary.
    support_fraction : float, default=0.012
        As in :class:`ALISTA`.
    max_support_fraction : float, default=0.13
        As in :class:`ALISTA`.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    encoder_steps_ : ndarray of shape (n_encoder_layers,)
        The encoder's learned steps s_j.
    preconditioner_ : ndarray of shape (n_features, n_features)
        The encoder's learned preconditioner M, which starts at
        (A A^T + s I)^{-1} with s = n_components * perturbation^2 / 3, the
        expected Gram matrix of the perturbed dictionaries.
    steps_ : ndarray of shape (n_layers,)
        The decoder's steps gamma_k.
    thresholds_ : ndarray of shape (n_layers,)
        The decoder's thresholds theta_k.

    See Also
    --------
    ALISTA : The same decoder with the weight of one dictionary.
    AdaLISTA : Another solver that takes the dictionary per call.

    Notes
    -----
    The encoder's steps start at the reciprocals of the Chebyshev nodes of
    the interval holding the eigenvalues of ``M A~ A~^T`` (measured on a few
    perturbed dictionaries), the best fixed-degree start for the Richardson
    iteration, so that the untrained encoder already approximates the
    closed-form weight. The encoder, like the decoder's updates, treats the
    atoms alike: permuting the columns of a dictionary permutes the code
    entries the solver returns, and nothing else. Reference: J. Liu, X. Chen,
    Z. Wang, W. Yin, "ALISTA: Analytic weights are as good as learned
    weights in LISTA", ICLR 2019 (the robust ALISTA of its Section 4).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o import RobustALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery, perturb_dictionary
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = RobustALISTA(dictionary=A, n_layers=4, refinement_steps=100,
    ...                      device="cpu", random_state=0).fit(B, X)
    >>> A_new = perturb_dictionary(A, 0.02, random_state=1)
    >>> model.predict(X[:5] @ A_new.T, dictionaries=A_new).shape
    (5, 64)
    """

    _parameter_constraints = {
        **VaryingDictionaryRegressor._parameter_constraints,
        "n_encoder_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "encoder": [StrOptions({"unrolled", "closed_form"})],
        "support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        dictionary=None,
        *,
        perturbation=0.03,
        n_encoder_layers=8,
        encoder="unrolled",
        support_fraction=0.012,
        max_support_fraction=0.13,
        n_layers=16,
        loss="mse",
        alpha=0.005,
        learning_rate=2e-2,
        batch_size=128,
        max_steps_per_stage=300,
        patience=100,
        validation_fraction=0.1,
        validation_interval=50,
        layer_decay=0.3,
        stage_factors=(1.0, 0.2, 0.02),
        plateau_decays=0,
        threshold_search="auto",
        refinement_steps=4000,
        refinement_patience=1500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.perturbation = perturbation
        self.n_encoder_layers = n_encoder_layers
        self.encoder = encoder
        self.support_fraction = support_fraction
        self.max_support_fraction = max_support_fraction
        self.n_layers = n_layers
        self.loss = loss
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps_per_stage = max_steps_per_stage
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.validation_interval = validation_interval
        self.layer_decay = layer_decay
        self.stage_factors = stage_factors
        self.plateau_decays = plateau_decays
        self.threshold_search = threshold_search
        self.refinement_steps = refinement_steps
        self.refinement_patience = refinement_patience
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start

    encoder_steps_ = net_attribute(lambda net: net.encoder_steps)
    preconditioner_ = net_attribute(lambda net: net.preconditioner)
    steps_ = net_attribute(lambda net: net.gamma)
    thresholds_ = net_attribute(lambda net: net.theta)

    #: perturbed dictionaries on which the encoder's spectrum is measured
    _SPECTRUM_DRAWS = 4

    def _rate_factors(self):
        # M's entries are O(1 / n_features) off the diagonal: at the decoder's
        # rate each step would rewrite them
        return {"preconditioner": 1e-2, "encoder_steps": 0.1}

    def _warm_start_mismatch(self):
        if self.module_.closed_form != (self.encoder == "closed_form"):
            return "encoder"
        if self.module_.encoder_steps.numel() != self.n_encoder_layers:
            return "n_encoder_layers"
        return None

    def _build_net(self, A, y, device, dtype):
        m, n = A.shape
        shift = n * self.perturbation**2 / 3
        M = np.linalg.pinv(A @ A.T + shift * np.eye(m), hermitian=True)
        rng = np.random.default_rng(0)
        spectra = []
        for sigma in np.linspace(0, self.perturbation, self._SPECTRUM_DRAWS):
            A_p = A + sigma * rng.standard_normal(A.shape)
            A_p /= np.linalg.norm(A_p, axis=0)
            spectra.append(np.linalg.eigvals(M @ A_p @ A_p.T).real)
        low, high = min(s.min() for s in spectra), max(s.max() for s in spectra)
        steps = chebyshev_steps(0.9 * low, 1.1 * high, self.n_encoder_layers)
        W = analytic_weight(A)
        sizes = support_sizes(
            n, self.n_layers, self.support_fraction, self.max_support_fraction
        )
        return RobustALISTANet(
            M,
            steps,
            self.n_layers,
            n,
            sizes,
            stable_step(W, A),
            default_threshold(A),
            self.encoder == "closed_form",
            dtype,
            device,
        )
