"""GLISTA: gated LISTA with gain and overshoot gates (Wu et al., ICLR 2020)."""

import numbers

import torch

from ._base import net_attribute
from ._lista_family import SUPPORT_CONSTRAINTS, LISTAFamilyRegressor
from ._shrinkage import support_selection_threshold
from ._sklearn_compat import Interval
from ._unrolled import UnrolledNet

#: keeps the gain gate finite at x = 0 (where it multiplies zero anyway)
GAIN_EPS = 1e-3
#: keeps the overshoot gate finite where an entry does not move
OVERSHOOT_EPS = 0.1


def gain_gate(x, scale, sharpness):
    """kappa(x) = 1 + |scale| / (|sharpness| * |x| + GAIN_EPS), elementwise.

    At least 1, largest at x = 0 and decreasing to 1 as |x| grows; the gated
    entry kappa(x) * x is close to x + sign(x) |scale| / |sharpness| once
    |x| is well above GAIN_EPS / |sharpness|, so the gate adds back a bounded
    amount of the magnitude that soft thresholding took away.
    """
    return 1.0 + torch.abs(scale) / (torch.abs(sharpness) * torch.abs(x) + GAIN_EPS)


def overshoot_gate(x_new, x, scale):
    """omega = 1 + scale / (|x_new - x| + OVERSHOOT_EPS), elementwise."""
    return 1.0 + scale / (torch.abs(x_new - x) + OVERSHOOT_EPS)


class GLISTANet(UnrolledNet):
    """LISTA-CP with support selection, a gain gate and an overshoot gate."""

    threshold = "theta"

    def __init__(
        self, A, weight, n_layers, n_selected, theta, gain_scale, dtype, device
    ):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.constant("A", A)
        self.n_selected = list(n_selected)
        self.per_layer("W", weight)
        self.per_layer("theta", theta)
        self.per_layer("gain_scale", gain_scale)
        self.per_layer("gain_sharpness", [1.0] * A.shape[1])
        # zero: the untrained network is LISTA-CPSS with a gain gate, and
        # training decides how far (and whether) to overshoot
        self.per_layer("overshoot", 0.0)

    def gain(self, k, x):
        return gain_gate(x, self.at("gain_scale", k), self.at("gain_sharpness", k))

    def layer(self, k, b, state):
        x = state[0]
        gained = self.gain(k, x) * x
        z = gained + (b - gained @ self.A.T) @ self.at("W", k)
        x_new = support_selection_threshold(z, self.at("theta", k), self.n_selected[k])
        omega = overshoot_gate(x_new, x, self.at("overshoot", k))
        return (x + omega * (x_new - x),)


class GLISTA(LISTAFamilyRegressor):
    """Gated LISTA: LISTA-CP with learned gain gates and overshoot gates.

    GLISTA runs ``n_layers`` iterations of::

        g = kappa_k(x^k) * x^k,
        x~ = eta_ss( g + W^k^T (b - A g) ; theta_k, p_k ),
        x^{k+1} = x^k + omega_k * (x~ - x^k),

    from x^0 = 0, with elementwise gates::

        kappa_k(x) = 1 + abs(mu_k) / (abs(nu_k) * abs(x) + 0.001)         (gain),
        omega_k = 1 + a_k / (abs(x~ - x^k) + 0.1)                   (overshoot).

    ``W^k`` (n_features x n_components), ``theta_k``, ``mu_k``, ``a_k`` and the
    vector ``nu_k`` (one entry per component) are learned per layer; ``eta_ss``
    is soft thresholding with support selection as in ALISTA (in each signal the
    largest ``p_k = min(support_fraction * k, max_support_fraction)`` share of
    entries bypass the shrinkage). The gain gate is at least 1, largest for
    small entries and tends to 1 as abs(x) grows: it restores magnitude that
    earlier thresholds shrank away, by at most about abs(mu_k / nu_k) per entry.
    The overshoot gate lengthens (a_k > 0) or damps (a_k < 0) each entry's
    step, most for entries that move little.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth.
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L) with L = ||A||_2^2.
    init_gain : float, default=0.001
        Initial gain scale mu_k as a multiple of the initial threshold. The
        default starts every layer close to a LISTA-CPSS layer (the gate adds
        back at most a thousandth of a threshold) and lets training raise it;
        a large start (1 adds back about one threshold) made each new layer
        start worse than the layers before it.
    weight_init : {"ista", "analytic"}, default="ista"
        Where the matrices W^k start. "ista": W^k = A / (1.001 L), the
        classic step (the paper's). "analytic": :class:`ALISTA`'s analytic
        weight times its starting step, so that the untrained first layer is
        ALISTA's; it trains to far better solvers in the same budget.
    weight_rate : float, default=1.0
        The Adam step of the matrices ``W^k`` as a multiple of the stage's (0
        holds them at their start).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_features, n_components)
        Learned coupled weights W^k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.
    gain_scales_ : ndarray of shape (n_layers,)
        abs(mu_k), the height of the gain gates.
    gain_sharpness_ : ndarray of shape (n_layers, n_components)
        abs(nu_k), how fast each gain gate falls to 1 as abs(x) grows.
    overshoot_scales_ : ndarray of shape (n_layers,)
        a_k, the strength of the overshoot gates.

    See Also
    --------
    ALISTA : Analytic weights with support selection.
    LAMP : Learned AMP.
    FISTA : The classic solver.

    Notes
    -----
    Reference: K. Wu, Y. Guo, Z. Li, C. Zhang, "Sparse coding with gated
    learned ISTA", ICLR 2020. The authors' code offers piece-wise linear,
    exponential, sigmoid and inverse-proportional gain gates (its headline
    configuration uses piece-wise linear gates in the early layers and
    inverse-proportional ones after); this estimator uses the
    inverse-proportional gain gate in every layer together with the
    inverse-proportional overshoot gate, on LISTA-CP with support selection,
    the form benchmarked by the survey of T. Chen et al., "Learning to
    optimize: a primer and a benchmark", JMLR 2022. The constants 0.001 and
    0.1 are those of the authors' code. Initialisation: W^k as
    ``weight_init`` says, theta_k = ``init_threshold``, mu_k = ``init_gain``
    times it, nu_k = 1, a_k = 0 (no overshoot until trained).

    Examples
    --------
    >>> from sklearn_l2o import GLISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = GLISTA(dictionary=A, n_layers=3, max_steps_per_stage=60,
    ...                refinement_steps=0, device="cpu",
    ...                random_state=0).fit(B[:1000], X[:1000])
    >>> model.gain_sharpness_.shape
    (3, 64)
    >>> bool(nmse_db(X[1000:], model.predict(B[1000:])) < -5)
    True
    """

    _support_selection = True
    _parameter_constraints = {
        **LISTAFamilyRegressor._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
        "init_gain": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
        init_gain=0.001,
        weight_init="ista",
        weight_rate=1.0,
        n_layers=16,
        loss="mse",
        alpha=0.005,
        continuation_iter=0,
        learning_rate=5e-3,
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
        self.init_gain = init_gain
        self.weight_init = weight_init
        self.weight_rate = weight_rate
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

    weights_ = net_attribute(lambda net: net.W)
    thresholds_ = net_attribute(lambda net: net.theta)
    gain_scales_ = net_attribute(lambda net: torch.abs(net.gain_scale))
    gain_sharpness_ = net_attribute(lambda net: torch.abs(net.gain_sharpness))
    overshoot_scales_ = net_attribute(lambda net: net.overshoot)

    def _make_net(self, A, weight, n_selected, theta, dtype, device):
        gain = self.init_gain * theta
        return GLISTANet(
            A, weight, self.n_layers, n_selected, theta, gain, dtype, device
        )
