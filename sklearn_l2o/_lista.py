"""LISTA and LISTA-SS: learned ISTA with free (untied) weights in every layer."""

import numpy as np
import torch

from ._base import net_attribute
from ._lista_family import (
    SUPPORT_CONSTRAINTS,
    LISTAFamilyRegressor,
)
from ._shrinkage import support_selection_threshold
from ._sklearn_compat import StrOptions
from ._unrolled import UnrolledNet


class LISTANet(UnrolledNet):
    """x <- eta_ss( W1_k b + W2_k x ; theta_k, p_k ), all untied."""

    threshold = "theta"

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.n_selected = list(n_selected)
        self.per_layer("W1", weight.T)
        self.per_layer("W2", np.eye(A.shape[1]) - weight.T @ A)
        self.per_layer("theta", theta)

    def layer(self, k, b, state):
        z = b @ self.at("W1", k).T + state[0] @ self.at("W2", k).T
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )

    def untied_weights(self):
        """``(W1, W2)``, stacked over layers."""
        return self.W1, self.W2


class CoupledResidualNet(UnrolledNet):
    """LISTA's untied layer in coupled-plus-residual coordinates:
    x <- eta_ss( x + gamma_k W_k^T (b - A x) + D1_k b + D2_k x ).

    That is W1_k = gamma_k W_k^T + D1_k and W2_k = I - gamma_k W_k^T A + D2_k:
    every untied layer can be written so, and with D1_k = D2_k = 0 it is the
    coupled layer of LISTA-CP(SS), where the net starts. The functions are
    LISTA's; only the coordinates the optimiser moves in differ.
    """

    threshold = "theta"

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        m, n = A.shape
        self.constant("A", A)
        self.n_selected = list(n_selected)
        self.per_layer("W", weight)
        self.per_layer("gamma", 1.0)
        self.per_layer("D1", np.zeros((n, m)))
        self.per_layer("D2", np.zeros((n, n)))
        self.per_layer("theta", theta)

    def layer(self, k, b, state):
        x = state[0]
        z = self.at("gamma", k) * ((b - x @ self.A.T) @ self.at("W", k))
        z = z + x + b @ self.at("D1", k).T + x @ self.at("D2", k).T
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )

    def untied_weights(self):
        """``(W1, W2)``, stacked over layers, as :class:`LISTANet` holds them."""
        coupled = (self.gamma.reshape(-1, 1, 1) * self.W).transpose(1, 2)
        eye = torch.eye(self.A.shape[1], dtype=self.A.dtype, device=self.A.device)
        return coupled + self.D1, eye - coupled @ self.A + self.D2


_NETS = {"plain": LISTANet, "coupled_residual": CoupledResidualNet}

_PARAMETRIZATION_DOC = """\
parametrization : {"plain", "coupled_residual"}, default="plain"
        The coordinates training moves the matrices in. "plain": ``W1_k``
        and ``W2_k`` themselves. "coupled_residual": W1_k = gamma_k W_k^T +
        D1_k, W2_k = I - gamma_k W_k^T A + D2_k, with a coupled weight
        ``W_k`` and step ``gamma_k`` as in :class:`LISTACP` plus residuals
        ``D1_k``, ``D2_k`` that start at zero, all three matrices at
        ``weight_rate``. The functions are the same and so is the untrained
        net; what changes is that one Adam step on ``W_k`` moves W1_k and
        W2_k together, as the coupled solvers' steps do. It trains to
        better solvers where the plain coordinates are slow, for example
        on noisy data, and on the LASSO objective (``loss="lasso"``)."""


class _UntiedLISTA(LISTAFamilyRegressor):
    """LISTA and LISTA-SS (not public)."""

    _parameter_constraints = {
        **LISTAFamilyRegressor._parameter_constraints,
        "parametrization": [StrOptions(set(_NETS))],
    }

    def __init_subclass__(cls, **kwargs):
        if cls.__doc__:
            cls.__doc__ = cls.__doc__.replace("{parametrization}", _PARAMETRIZATION_DOC)
        super().__init_subclass__(**kwargs)

    input_weights_ = net_attribute(lambda net: net.untied_weights()[0])
    state_weights_ = net_attribute(lambda net: net.untied_weights()[1])
    thresholds_ = net_attribute(lambda net: net.theta)

    def _make_net(self, A, weight, n_selected, theta, dtype, device):
        net = _NETS[self.parametrization]
        return net(A, weight, self.n_layers, n_selected, theta, dtype, device)

    def _weight_names(self):
        if self.parametrization == "coupled_residual":
            return ("W", "D1", "D2")
        return ("W1", "W2")

    def _rate_factors(self):
        factors = super()._rate_factors()
        if self.parametrization == "coupled_residual":
            # a scalar in front of a matrix needs larger steps than its entries
            factors["gamma"] = 10.0
        return factors

    def _warm_start_mismatch(self):
        if not isinstance(self.module_, _NETS[self.parametrization]):
            return f"parametrization (now {self.parametrization!r})"
        return None


class LISTA(_UntiedLISTA):
    """Learned ISTA: an unrolled sparse solver with free weights in every layer.

    LISTA runs ``n_layers`` iterations of::

        x^{k+1} = eta(W1_k b + W2_k x^k; theta_k),

    where ``eta`` is soft thresholding, eta(z; t) = sign(z) max(abs(z) - t, 0),
    and the matrices ``W1_k`` (n_components x n_features), ``W2_k``
    (n_components x n_components) and the threshold ``theta_k`` are learned
    separately for each layer ("untied"). Untrained, every layer is one ISTA
    step: W1_k = s A^T, W2_k = I - s A^T A and theta_k = 0.4 s, with
    s = 1 / (1.001 L) and L = ||A||_2^2. Training follows the stage-wise
    recipe of the LISTA-CPSS paper (one new layer at a time, then all layers
    at lower rates, early stopping on a held-out share of the pairs), then
    two end-to-end refinement stages.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e; it sets the initial weights. If
        None, it is estimated from the training pairs by least squares and the
        weights start from that estimate.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    weight_rate : float, default=1.0
        The Adam step of the matrices as a multiple of the stage's (0 holds
        them at their start).
    {parametrization}
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    input_weights_ : ndarray of shape (n_layers, n_components, n_features)
        Learned W1_k, applied to the measurement.
    state_weights_ : ndarray of shape (n_layers, n_components, n_components)
        Learned W2_k, applied to the previous estimate.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    LISTASS : LISTA with support selection.
    LISTACP : One matrix per layer, coupled to the dictionary.
    ISTA : The iteration LISTA starts from.

    Notes
    -----
    LISTA learns K (n m + n^2 + 1) numbers for K layers, n components and m
    features, the most of the family, and with a fixed training set it ends
    less accurate than the coupled and tied variants. Reference: K. Gregor,
    Y. LeCun, "Learning fast approximations of sparse coding", ICML 2010.
    Initialisation and training recipe: X. Chen, J. Liu, Z. Wang, W. Yin,
    "Theoretical linear convergence of unfolded ISTA and its practical
    weights and thresholds", NeurIPS 2018.

    Examples
    --------
    >>> from sklearn_l2o import LISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LISTA(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...               refinement_steps=200, device="cpu",
    ...               random_state=0).fit(B[:1800], X[:1800])
    >>> model.input_weights_.shape
    (4, 64, 32)
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    def __init__(
        self,
        dictionary=None,
        *,
        init_threshold=None,
        weight_init="ista",
        weight_rate=1.0,
        parametrization="plain",
        n_layers=16,
        loss="mse",
        alpha=0.005,
        continuation_iter=0,
        learning_rate=2e-3,
        batch_size=128,
        max_steps_per_stage=1000,
        patience=300,
        validation_fraction=0.1,
        validation_interval=50,
        layer_decay=0.3,
        stage_factors=(1.0, 0.2, 0.02),
        plateau_decays=2,
        threshold_search=True,
        refinement_steps=2000,
        refinement_patience=500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.init_threshold = init_threshold
        self.weight_init = weight_init
        self.weight_rate = weight_rate
        self.parametrization = parametrization
        self.n_layers = n_layers
        self.loss = loss
        self.alpha = alpha
        self.continuation_iter = continuation_iter
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


class LISTASS(_UntiedLISTA):
    """LISTA with support selection: the largest entries skip the shrinkage.

    LISTA-SS runs ``n_layers`` iterations of::

        x^{k+1} = eta_ss(W1_k b + W2_k x^k; theta_k, p_k),

    with untied learned ``W1_k``, ``W2_k``, ``theta_k`` as in :class:`LISTA`.
    ``eta_ss`` is soft thresholding except that, in each signal, the entries
    whose magnitude is among the largest ``p_k = min(support_fraction * k,
    max_support_fraction)`` share (and above ``theta_k``) pass through
    unshrunk: they are trusted to be in the support, so shrinking them would
    only add bias. Untrained, it is ISTA with step 1 / (1.001 L) apart from
    that selection.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e; it sets the initial weights. If
        None, it is estimated from the training pairs by least squares.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth (1.2% at layer 1,
        2.4% at layer 2, ...).
    max_support_fraction : float, default=0.12
        Cap on that share. Above the codes' sparsity, entries that carry only
        noise can pass unshrunk.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    weight_rate : float, default=1.0
        The Adam step of the matrices as a multiple of the stage's (0 holds
        them at their start).
    {parametrization}
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    input_weights_ : ndarray of shape (n_layers, n_components, n_features)
        Learned W1_k, applied to the measurement.
    state_weights_ : ndarray of shape (n_layers, n_components, n_components)
        Learned W2_k, applied to the previous estimate.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    LISTA : The same without support selection.
    LISTACPSS : Coupled weights with support selection.

    Notes
    -----
    The selection mask is a comparison, so no gradient flows through it.
    Reference: X. Chen, J. Liu, Z. Wang, W. Yin, "Theoretical linear
    convergence of unfolded ISTA and its practical weights and thresholds",
    NeurIPS 2018 (its LISTA-SS uses a 12% cap).

    Examples
    --------
    >>> from sklearn_l2o import LISTASS
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LISTASS(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...                 refinement_steps=200, device="cpu",
    ...                 random_state=0).fit(B[:1800], X[:1800])
    >>> model.thresholds_.shape
    (4,)
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _support_selection = True
    _parameter_constraints = {
        **_UntiedLISTA._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
    }

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.012,
        max_support_fraction=0.12,
        init_threshold=None,
        weight_init="ista",
        weight_rate=1.0,
        parametrization="plain",
        n_layers=16,
        loss="mse",
        alpha=0.005,
        continuation_iter=0,
        learning_rate=2e-3,
        batch_size=128,
        max_steps_per_stage=1000,
        patience=300,
        validation_fraction=0.1,
        validation_interval=50,
        layer_decay=0.3,
        stage_factors=(1.0, 0.2, 0.02),
        plateau_decays=2,
        threshold_search=True,
        refinement_steps=2000,
        refinement_patience=500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.support_fraction = support_fraction
        self.max_support_fraction = max_support_fraction
        self.init_threshold = init_threshold
        self.weight_init = weight_init
        self.weight_rate = weight_rate
        self.parametrization = parametrization
        self.n_layers = n_layers
        self.loss = loss
        self.alpha = alpha
        self.continuation_iter = continuation_iter
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
