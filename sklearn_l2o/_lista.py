"""The LISTA family: learned ISTA with untied, coupled or tied weights.

Every solver here can start, untrained, as the same classic iteration: ISTA
with step ``1 / (1.001 L)`` (L = ||A||_2^2) and threshold ``0.4 / (1.001 L)``,
the initialisation of the LISTA-CPSS and ALISTA reference code
(``weight_init="ista"``, the default of all but TiLISTA), or as the untrained
ALISTA iteration (``weight_init="analytic"``, TiLISTA's default). Training then
moves the per-layer weights and thresholds away from it. The solvers differ
only in what each layer may learn:

- LISTA: two free matrices per layer (``W1`` acting on b, ``W2`` on x);
- LISTA-CP: one matrix per layer, coupled to A so that the true code is a
  fixed point of every layer;
- TiLISTA: one matrix shared by every layer, plus a step per layer;

and the ``SS`` variants add support selection to the thresholding.
"""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._alista import ALISTA_TRAINING_DEFAULTS, analytic_start
from ._base import UnrolledRegressor
from ._torch import support_selection_threshold, support_sizes
from ._unrolled import UnrolledNet
from ._validation import spectral_norm_sq

#: the l1 weight lam whose ISTA iteration every solver starts from
_INIT_LAMBDA = 0.4


def ista_step(A):
    """The step 1 / (1.001 L) of the classic iteration the solvers start from.

    The 0.1% margin below 1 / L follows the LISTA-CPSS reference code: the step
    stays below 1 / L, where ISTA is guaranteed to converge, even when L carries
    rounding error or A was estimated from data.
    """
    return 1.0 / (1.001 * max(spectral_norm_sq(A), np.finfo(np.float64).tiny))


def _stacked(value, n_layers, dtype, device):
    """A parameter holding ``n_layers`` copies of ``value`` (leading axis)."""
    one = torch.as_tensor(np.asarray(value, dtype=np.float64))
    return torch.nn.Parameter(
        one.to(dtype=dtype, device=device).expand(n_layers, *one.shape).clone()
    )


class LISTANet(UnrolledNet):
    """x <- eta_ss( W1_k b + W2_k x ; theta_k, p_k ), all untied."""

    layered = ("W1", "W2", "theta")
    threshold = "theta"

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(n_layers, A.shape[1])
        self.n_selected = list(n_selected)
        self.W1 = _stacked(weight.T, n_layers, dtype, device)
        self.W2 = _stacked(np.eye(A.shape[1]) - weight.T @ A, n_layers, dtype, device)
        self.theta = _stacked(theta, n_layers, dtype, device)

    def layer(self, k, b, state):
        z = b @ self.at("W1", k).T + state[0] @ self.at("W2", k).T
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


class LISTACPNet(UnrolledNet):
    """x <- eta_ss( x + W_k^T (b - A x) ; theta_k, p_k ), W_k untied.

    With ``learned_step`` the matrix of layer k is written gamma_k W_k, with a
    scalar gamma_k that starts at 1 and takes ten times the stage's Adam
    step (ALISTA's rate for its steps, with the family's learning rate): the
    same functions, but the step of a layer can change without every entry
    of W_k moving together.
    """

    layered = ("W", "theta")
    threshold = "theta"

    def __init__(
        self, A, weight, n_layers, n_selected, theta, dtype, device, learned_step=False
    ):
        super().__init__(n_layers, A.shape[1])
        self.register_buffer("A", torch.tensor(A, dtype=dtype, device=device))
        self.n_selected = list(n_selected)
        self.W = _stacked(weight, n_layers, dtype, device)
        self.theta = _stacked(theta, n_layers, dtype, device)
        if learned_step:
            self.gamma = _stacked(1.0, n_layers, dtype, device)
            self.layered = ("W", "gamma", "theta")
            self.rate_factors = {"gamma": 10.0}

    def effective_weights(self):
        """gamma_k W_k for every layer (W_k without a learned step)."""
        if "gamma" in self.layered:
            return self.gamma.reshape(-1, 1, 1) * self.W
        return self.W

    def layer(self, k, b, state):
        x = state[0]
        z = (b - x @ self.A.T) @ self.at("W", k)
        if "gamma" in self.layered:
            z = self.at("gamma", k) * z
        z = x + z
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


class TiLISTANet(UnrolledNet):
    """x <- eta_ss( x - gamma_k W^T (A x - b) ; theta_k, p_k ), one W for all."""

    # W is deliberately absent: it is shared, so the engine trains it in every
    # stage at the stage's full rate
    layered = ("gamma", "theta")
    threshold = "theta"

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(n_layers, A.shape[1])
        self.register_buffer("A", torch.tensor(A, dtype=dtype, device=device))
        self.n_selected = list(n_selected)
        self.W = torch.nn.Parameter(torch.tensor(weight, dtype=dtype, device=device))
        self.gamma = _stacked(1.0, n_layers, dtype, device)
        self.theta = _stacked(theta, n_layers, dtype, device)

    def layer(self, k, b, state):
        x = state[0]
        z = x - self.at("gamma", k) * ((x @ self.A.T - b) @ self.W)
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


class CoupledResidualNet(LISTACPNet):
    """LISTA's untied layer in coupled-plus-residual coordinates:
    x <- eta_ss( x + gamma_k W_k^T (b - A x) + D1_k b + D2_k x ).

    That is W1_k = gamma_k W_k^T + D1_k and W2_k = I - gamma_k W_k^T A + D2_k:
    every untied layer can be written so, and with D1_k = D2_k = 0 it is the
    coupled layer of LISTA-CP(SS), where the net starts. The functions are
    LISTA's; only the coordinates the optimiser moves in differ.
    """

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(
            A, weight, n_layers, n_selected, theta, dtype, device, learned_step=True
        )
        m, n = A.shape
        self.D1 = torch.nn.Parameter(
            torch.zeros(n_layers, n, m, dtype=dtype, device=device)
        )
        self.D2 = torch.nn.Parameter(
            torch.zeros(n_layers, n, n, dtype=dtype, device=device)
        )
        self.layered = ("W", "gamma", "D1", "D2", "theta")

    def layer(self, k, b, state):
        x = state[0]
        z = self.at("gamma", k) * ((b - x @ self.A.T) @ self.at("W", k))
        z = z + x + b @ self.at("D1", k).T + x @ self.at("D2", k).T
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )

    def untied_weights(self):
        """``(W1, W2)``, stacked over layers, as :class:`LISTANet` holds them."""
        coupled = self.effective_weights().transpose(1, 2)
        eye = torch.eye(self.A.shape[1], dtype=self.A.dtype, device=self.A.device)
        return coupled + self.D1, eye - coupled @ self.A + self.D2


def _numpy(param):
    return param.detach().cpu().double().numpy()


# the constraint of _WeightRate's parameter (the LISTA family's and GLISTA's)
WEIGHT_RATE_CONSTRAINT = {
    "weight_rate": [Interval(numbers.Real, 0, None, closed="left")]
}

# what every solver of the family takes besides the training parameters
_FAMILY_CONSTRAINTS = {
    **UnrolledRegressor._parameter_constraints,
    **WEIGHT_RATE_CONSTRAINT,
    "init_threshold": [Interval(numbers.Real, 0, None, closed="left"), None],
    "weight_init": [StrOptions({"ista", "analytic"})],
}

_WEIGHT_INIT_DOC = """weight_init : {"ista", "analytic"}, default="ista"
        Where the matrices start. "ista": the classic iteration's step
        ``s A`` (the papers' initialisation). "analytic": the analytic
        weight of :class:`ALISTA` times ALISTA's starting step, with which
        the untrained solver is the untrained ALISTA; the learned matrices
        then only have to improve on it, which takes far fewer training
        steps (noiseless 256 x 512, 16 layers, stages capped at 300 steps
        with patience 100, starting step 1: LISTA-CPSS -33.9 dB from
        "ista", -58.8 dB from "analytic")."""
_PARAMETRIZATION_DOC = (
    'parametrization : {"plain", "coupled_residual"}, default="plain"\n'
    """        The coordinates training moves the matrices in. "plain": ``W1_k``
        and ``W2_k`` themselves. "coupled_residual": W1_k = gamma_k W_k^T +
        D1_k, W2_k = I - gamma_k W_k^T A + D2_k, with a coupled weight
        ``W_k`` and step ``gamma_k`` as in :class:`LISTACP` plus residuals
        ``D1_k``, ``D2_k`` that start at zero, all three matrices at
        ``weight_rate``. The functions are the same and so is the untrained
        net; what changes is that one Adam step on ``W_k`` moves W1_k and
        W2_k together, as the coupled solvers' steps do. At SNR 20 dB
        (256 x 512, analytic start, ``weight_rate=0.01``, ALISTA's
        schedule, CPU, test NMSE at 16 layers): LISTA-SS -20.57 dB against
        -20.16 in plain coordinates with 51,200 pairs, and -21.24 (a second
        seed: -21.19) against -20.63 with 204,800 pairs (the plain run was
        still improving when its refinement budget ran out; the paper:
        -22.1). LISTA with 204,800 pairs: -20.94 against -18.53 in plain
        coordinates with its own schedule (the paper: -19.3); noiseless,
        with 51,200 pairs and half the refinement budget: -48.18 against
        -38.39 (the paper: -39.2). LISTA trained on the LASSO objective
        (``loss="lasso"``, 25 x 50, l1 weight 0.005, 12,800 instances, the
        same schedule): relative loss at 16 layers 0.0038 against 0.0112 in
        plain coordinates (0.0107 from the ISTA start)."""
)
_SUPPORT_CONSTRAINTS = {
    "support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
    "max_support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
}

# Measured on a noiseless 64 x 128 problem, 8 layers, 4,500 training pairs,
# test NMSE in dB at learning rates 5e-4 (the paper's) / 2e-3 / 5e-3:
# LISTA -12.1 / -13.5 / -14.3, LISTA-SS -12.0 / -13.4 / -14.2, LISTA-CP
# -13.5 / -14.0 / -13.6, LISTA-CPSS -17.8 / -18.0 / -17.3, TiLISTA -20.6 /
# -20.0 / -20.8. 2e-3 is never more than 0.6 dB behind the paper's rate, gains
# 1.3 dB for the untied LISTA, and is a moderate step for larger dictionaries
# (not measured), whose weights are smaller, so that a fixed Adam step moves
# them relatively further. The end-to-end
# refinement stages gained 0 to 2.4 dB (most for TiLISTA), and doubling them
# gained nothing, so the shared budgets stay.
# plateau_decays / threshold_search, measured on the noiseless 256 x 512
# setting (stages capped at 300 / 100, one seed, CPU): LISTA -30.3 -> -34.9 dB,
# LISTA-SS -40.8 -> -48.3, LISTA-CP, LISTA-CPSS, TiLISTA within the spread of
# earlier runs (benchmarks/results/cpu-2026-11-28)
_TRAINING_DEFAULTS = {
    "learning_rate": 2e-3,
    "plateau_decays": 2,
    "threshold_search": True,
}


# LISTACP's and LISTACPSS's: the refinement that their learned steps and
# slow matrices need (see their Notes)
_RECIPE_TRAINING_DEFAULTS = {
    **_TRAINING_DEFAULTS,
    "refinement_steps": 8000,
    "refinement_patience": 1500,
}


class _WeightRate:
    """``weight_rate``: the Adam step of the matrices named in ``_weights`` as
    a factor of the stage's (mixed into the LISTA family and GLISTA)."""

    _weights = ("W",)

    def _train(self, net, train, validate, generator, warm):
        # set here, not when the net is built, so that a warm start trains
        # with the rate set now
        rate = float(self.weight_rate)
        names = self._weight_names(net)
        net.rate_factors = {**net.rate_factors, **dict.fromkeys(names, rate)}
        return super()._train(net, train, validate, generator, warm)

    def _weight_names(self, net):
        """The matrices of ``net`` that ``weight_rate`` scales."""
        return self._weights

    def __setstate__(self, state):
        # pickled before the parameter existed: matrices at the stage's rate
        state.setdefault("weight_rate", 1.0)
        super().__setstate__(state)


class _LISTAFamily(_WeightRate, UnrolledRegressor):
    """What the five solvers share: threshold and support-size schedule, and
    ``weight_rate``."""

    _net = None
    _support_selection = False
    _parameter_constraints = _FAMILY_CONSTRAINTS

    def __init_subclass__(cls, **kwargs):
        if cls.__doc__:
            cls.__doc__ = cls.__doc__.replace(
                "{weight_init}", _WEIGHT_INIT_DOC
            ).replace("{parametrization}", _PARAMETRIZATION_DOC)
        super().__init_subclass__(**kwargs)

    def _build_net(self, A, B, X, device, dtype):
        theta = self.init_threshold
        if theta is None:
            theta = _INIT_LAMBDA * ista_step(A)
        if self._support_selection:
            sizes = support_sizes(
                A.shape[1],
                self.n_layers,
                self.support_fraction,
                self.max_support_fraction,
            )
        else:
            sizes = [0] * self.n_layers
        if self.weight_init == "analytic":
            weight = analytic_start(A)
        else:
            weight = ista_step(A) * A
        return self._net_class()(
            A, weight, self.n_layers, sizes, theta, dtype, device, **self._net_options()
        )

    def _net_class(self):
        return self._net

    def _net_options(self):
        return {}


class _UntiedLISTA(_LISTAFamily):
    _net = LISTANet
    _weights = ("W1", "W2")
    _parameter_constraints = {
        **_FAMILY_CONSTRAINTS,
        "parametrization": [StrOptions({"plain", "coupled_residual"})],
    }

    def _net_class(self):
        if self.parametrization == "coupled_residual":
            return CoupledResidualNet
        return self._net

    def _weight_names(self, net):
        if isinstance(net, CoupledResidualNet):
            return ("W", "D1", "D2")
        return self._weights

    def _export_parameters(self):
        net = self.module_
        if isinstance(net, CoupledResidualNet):
            with torch.no_grad():
                W1, W2 = net.untied_weights()
        else:
            W1, W2 = net.W1, net.W2
        self.input_weights_ = _numpy(W1)
        self.state_weights_ = _numpy(W2)
        self.thresholds_ = _numpy(net.theta)

    def __setstate__(self, state):
        # pickled before the parameter existed: plain coordinates
        state.setdefault("parametrization", "plain")
        super().__setstate__(state)

    def _check_warm_start(self):
        trained = (
            "coupled_residual"
            if isinstance(self.module_, CoupledResidualNet)
            else "plain"
        )
        if trained != self.parametrization:
            raise ValueError(
                f"warm_start=True continues the trained net, which was fitted "
                f"with parametrization={trained!r}, not {self.parametrization!r}; "
                "refit with warm_start=False to change it."
            )


class _CoupledLISTA(_LISTAFamily):
    _net = LISTACPNet
    _parameter_constraints = {**_FAMILY_CONSTRAINTS, "learned_step": ["boolean"]}

    def _export_parameters(self):
        self.weights_ = _numpy(self.module_.effective_weights())
        self.thresholds_ = _numpy(self.module_.theta)

    def _net_options(self):
        return {"learned_step": bool(self.learned_step)}

    def __setstate__(self, state):
        # pickled before these parameters existed (LISTACPSS) or before the
        # defaults changed (LISTACP, LISTACPSS): no learned step (and, through
        # _LISTAFamily, matrices at the stage's rate)
        state.setdefault("learned_step", False)
        super().__setstate__(state)

    def _check_warm_start(self):
        trained = "gamma" in self.module_.layered
        if trained != bool(self.learned_step):
            raise ValueError(
                f"warm_start=True continues the trained net, which was fitted "
                f"with learned_step={trained}, not {bool(self.learned_step)}; "
                "refit with warm_start=False to change it."
            )


class LISTA(_UntiedLISTA):
    """Learned ISTA: an unrolled sparse solver with free weights in every layer.

    LISTA runs ``n_layers`` iterations of

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
        The Adam step of ``W1_k`` and ``W2_k`` as a multiple of the stage's
        (0 holds them at their start). See :class:`LISTASS` for what 0.1
        did there; not measured for LISTA.
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
    less accurate than the coupled and tied variants (on a 64 x 128
    problem with 4,500 pairs, 8 layers: -13.5 dB against -18.0 for
    LISTA-CPSS and -20.0 for TiLISTA). Reference:
    K. Gregor, Y. LeCun, "Learning fast approximations of sparse coding",
    ICML 2010. Initialisation and training recipe: X. Chen, J. Liu, Z. Wang,
    W. Yin, "Theoretical linear convergence of unfolded ISTA and its practical
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

    _solver_parameters = {
        "init_threshold": None,
        "weight_init": "ista",
        "weight_rate": 1.0,
        "parametrization": "plain",
    }
    _training_defaults = _TRAINING_DEFAULTS


class LISTASS(_UntiedLISTA):
    """LISTA with support selection: the largest entries skip the shrinkage.

    LISTA-SS runs ``n_layers`` iterations of

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
        Cap on that share. Above the codes' sparsity, entries that carry
        only noise can pass unshrunk: at SNR 20 dB (256 x 512, 10 % nonzero)
        the layer curve zig-zags from layer 9 with 0.12 and is smooth with
        0.08, but both reached -20.0 dB at 16 layers (one run each, CPU).
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    weight_rate : float, default=1.0
        The Adam step of ``W1_k`` and ``W2_k`` as a multiple of the stage's
        (0 holds them at their start). Measured once (noiseless 256 x 512,
        16 layers, 51,200 pairs, analytic start, stages capped at 300 / 100
        steps, CPU): ``weight_rate=0.1`` with ``refinement_steps=8000,
        refinement_patience=1500`` reached -55.6 dB test NMSE (mean of
        per-sample dB -58.8; the paper: -54.1) against -48.3 with the
        defaults; at SNR 20 -19.75 against -19.21 (the paper: -22.1). One
        run each, so the defaults stay.
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
        **_SUPPORT_CONSTRAINTS,
    }
    _solver_parameters = {
        "support_fraction": 0.012,
        "max_support_fraction": 0.12,
        "init_threshold": None,
        "weight_init": "ista",
        "weight_rate": 1.0,
        "parametrization": "plain",
    }
    _training_defaults = _TRAINING_DEFAULTS


class LISTACP(_CoupledLISTA):
    """LISTA with weight coupling: one learned matrix per layer, tied to A.

    LISTA-CP runs ``n_layers`` iterations of

        x^{k+1} = eta(x^k + W_k^T (b - A x^k); theta_k),

    that is LISTA with W2_k = I - W_k^T A and W1_k = W_k^T. The coupling is
    what a layer needs for the true code of a noiseless measurement to be a
    fixed point, and it halves the parameters. ``W_k`` (n_features x
    n_components) and ``theta_k`` are learned per layer; untrained,
    W_k = A / (1.001 L) and theta_k = 0.4 / (1.001 L), so every layer is an ISTA
    step with step size 1 / (1.001 L).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e, used in every layer. If None, it
        is estimated from the training pairs by least squares.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    learned_step : bool, default=True
        Write each layer's matrix as gamma_k W_k with a learned scalar step
        gamma_k (starting at 1, trained at ten times the stage's Adam step).
        The layers compute the same family of functions, but a layer's step
        can change without all of W_k moving together, which Adam's
        per-entry steps do poorly; the learned steps alternate between about
        0.5 and 4. ``weights_`` holds the products gamma_k W_k.
    weight_rate : float, default=0.1
        The matrices' Adam step as a multiple of the stage's (0 holds them at
        their start). With the steps learned, slow matrices keep the layers
        near the analytic start while the steps and thresholds train.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_features, n_components)
        Learned W_k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    LISTACPSS : LISTA-CP with support selection.
    TiLISTA : One matrix shared by all layers.
    LISTA : Uncoupled weights.

    Notes
    -----
    LISTA-CP learns K (m n + 2) numbers for K layers (K (m n + 1) without
    the learned steps). Reference: X. Chen, J. Liu, Z. Wang, W. Yin,
    "Theoretical linear convergence of unfolded ISTA and its practical
    weights and thresholds", NeurIPS 2018.

    The defaults ``learned_step``, ``weight_rate`` and the longer
    end-to-end refinement (8,000 steps, patience 1,500; the LISTA family's is
    2,000 / 500) are this package's, not the paper's, which trained on fresh
    data for up to 200,000 steps per stage. Measured once each (noiseless
    256 x 512, 16 layers, 51,200 pairs, analytic start, stages capped at
    300 steps / patience 100, CPU), test NMSE at 16 layers as a ratio of sums
    / mean of per-sample dB: plain LISTA-CP -27.1 / -30.9; learned step
    -32.6 / -41.2; and ``weight_rate=0.1`` -37.0 / -43.4; and the longer
    refinement -42.1 / -55.2 (the paper: -39.7). With all three, SNR 40 /
    30 / 20: -38.8 / -29.2 / -19.0 dB (plain: -26.5 / -23.6 / -16.6; the
    paper: -37.9 / -27.8 / -18.9). On the coherent dictionary -16.0 / -17.5,
    and -17.9 / -19.8 with 204,800 pairs and stages capped at 600 / 150 (the
    survey, per-sample: -19.3).

    Examples
    --------
    >>> from sklearn_l2o import LISTACP
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LISTACP(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...                 refinement_steps=200, device="cpu",
    ...                 random_state=0).fit(B[:1800], X[:1800])
    >>> model.weights_.shape
    (4, 32, 64)
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _solver_parameters = {
        "init_threshold": None,
        "weight_init": "ista",
        "learned_step": True,
        "weight_rate": 0.1,
    }
    _training_defaults = _RECIPE_TRAINING_DEFAULTS


class LISTACPSS(_CoupledLISTA):
    """LISTA-CPSS: coupled weights and support selection.

    LISTA-CPSS runs ``n_layers`` iterations of

        x^{k+1} = eta_ss(x^k + W_k^T (b - A x^k); theta_k, p_k),

    the layer of :class:`LISTACP` with the thresholding of :class:`LISTASS`:
    in each signal the largest ``p_k = min(support_fraction * k,
    max_support_fraction)`` share of entries (above ``theta_k``) pass
    unshrunk. ``W_k`` and ``theta_k`` are learned per layer and start as an
    ISTA step, W_k = A / (1.001 L), theta_k = 0.4 / (1.001 L).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e, used in every layer. If None, it
        is estimated from the training pairs by least squares.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth (1.2% at layer 1,
        2.4% at layer 2, ...).
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    learned_step : bool, default=True
        Write each layer's matrix as gamma_k W_k with a learned scalar step
        gamma_k, as :class:`LISTACP` does (``weights_`` then holds the
        products).
    weight_rate : float, default=0.1
        The matrices' Adam step as a multiple of the stage's (0 holds them at
        their start).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_features, n_components)
        Learned W_k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    LISTACP : The same without support selection.
    TiLISTA : One matrix shared by all layers.
    ALISTA : The matrix computed from A instead of learned.

    Notes
    -----
    Reference: X. Chen, J. Liu, Z. Wang, W. Yin, "Theoretical linear
    convergence of unfolded ISTA and its practical weights and thresholds",
    NeurIPS 2018 (-64.8 dB at 16 layers on the noiseless 250 x 500 problem).

    The defaults ``learned_step``, ``weight_rate`` and the longer end-to-end
    refinement (8,000 steps, patience 1,500) are :class:`LISTACP`'s recipe,
    this package's and not the paper's. Measured once per setting (256 x 512,
    16 layers, 51,200 pairs, analytic start, stages capped at 300 / 100
    steps, CPU), test NMSE at 16 layers as a ratio of sums / mean of
    per-sample dB, with it against without it (``learned_step=False,
    weight_rate=1.0, refinement_steps=2000, refinement_patience=500``, the
    earlier defaults): noiseless -73.7 / -78.1 against -62.8 (the paper:
    -64.8); coherent dictionary -22.6 / -26.5 against -17.3 / -19.1 (the
    survey, per-sample: -26.1); SNR 40 -43.5 against -43.0, SNR 30 -32.7
    against -33.2 and SNR 20 -21.5 against -21.5 (earlier runs, on an H200).

    Examples
    --------
    >>> from sklearn_l2o import LISTACPSS
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LISTACPSS(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...                   refinement_steps=200, device="cpu",
    ...                   random_state=0).fit(B[:1800], X[:1800])
    >>> model.weights_.shape
    (4, 32, 64)
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _support_selection = True
    _parameter_constraints = {
        **_CoupledLISTA._parameter_constraints,
        **_SUPPORT_CONSTRAINTS,
    }
    _solver_parameters = {
        "support_fraction": 0.012,
        "max_support_fraction": 0.13,
        "init_threshold": None,
        "weight_init": "ista",
        "learned_step": True,
        "weight_rate": 0.1,
    }
    _training_defaults = _RECIPE_TRAINING_DEFAULTS


class TiLISTA(_LISTAFamily):
    """Tied LISTA: one learned matrix shared by all layers, a step per layer.

    TiLISTA runs ``n_layers`` iterations of

        x^{k+1} = eta_ss(x^k - gamma_k W^T (A x^k - b); theta_k, p_k),

    with a single learned ``W`` (n_features x n_components), learned steps
    ``gamma_k`` and thresholds ``theta_k``, and the support-selecting
    thresholding of :class:`LISTACPSS`. By default it starts as the
    untrained :class:`ALISTA` (``W`` the analytic weight times ALISTA's
    starting step) and is trained as ALISTA is; with ``weight_init="ista"``
    it starts as ISTA: W = A / (1.001 L), gamma_k = 1, theta_k =
    0.4 / (1.001 L). ``W`` is shared, so the stage-wise engine trains it in
    every stage, while ``gamma_k`` and ``theta_k`` follow the per-layer
    schedule.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e, used in every layer. If None, it
        is estimated from the training pairs by least squares.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth (1.2% at layer 1,
        2.4% at layer 2, ...).
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    weight_init : {"ista", "analytic"}, default="analytic"
        Where ``W`` starts. "analytic": the analytic weight of
        :class:`ALISTA` times ALISTA's starting step, so that the untrained
        TiLISTA is the untrained ALISTA and training only has to improve on
        it. "ista": the classic iteration's step ``s A`` (the papers'
        initialisation).
    weight_rate : float, default=0.01
        The shared matrix's Adam step as a multiple of every other
        parameter's. W is trained in every stage of every layer, so each new
        layer's training also moves the matrix all the trained layers use;
        a small step keeps it near the analytic start. 0 keeps W at its
        start (from the analytic start, the iteration of :class:`ALISTA`).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weight_ : ndarray of shape (n_features, n_components)
        The learned shared W.
    steps_ : ndarray of shape (n_layers,)
        Learned step sizes gamma_k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    ALISTA : The same iteration with W computed from A, not learned.
    LISTACPSS : An untied W_k per layer.

    Notes
    -----
    TiLISTA learns m n + 2 K numbers, so its size does not grow with depth.

    The defaults (analytic start, ``weight_rate=0.01`` and ALISTA's training
    schedule: ``learning_rate=0.02``, stages of at most 300 steps with
    patience 100, no plateau decays or threshold search, a 16,000-step
    refinement with patience 6,000) were measured against the earlier ones
    (analytic start, ``weight_rate=1``, ``learning_rate=0.002``, two plateau
    decays, threshold search, stages capped at 300 / 100, a 2,000-step
    refinement) on the four 256 x 512 settings, one run each on the CPU,
    test NMSE in dB at 16 layers: noiseless -73.0 against -63.5 (the
    paper: -70.2), SNR 40 -44.1 against -43.3 (-43.4), SNR 30 -33.9
    against -32.3 (-33.6), SNR 20 -22.7 against -22.0 (-22.1). Fits took
    1.3 to 4.2 times as long, mostly in the refinement (noiseless 2,327 s
    against 556 s, SNR 20 1,132 s against 870 s). With
    ``weight_rate`` 0.1 instead of 1 under the earlier schedule the
    changes were within the spread of repeated runs (up to 1.6 dB).
    Reference: J. Liu, X. Chen, Z. Wang, W. Yin, "ALISTA: Analytic weights are
    as good as learned weights in LISTA", ICLR 2019.

    Examples
    --------
    >>> from sklearn_l2o import TiLISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = TiLISTA(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...                 refinement_steps=200, device="cpu",
    ...                 random_state=0).fit(B[:1800], X[:1800])
    >>> model.weight_.shape, model.steps_.shape
    ((32, 64), (4,))
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _net = TiLISTANet
    _support_selection = True
    _parameter_constraints = {**_FAMILY_CONSTRAINTS, **_SUPPORT_CONSTRAINTS}
    _solver_parameters = {
        "support_fraction": 0.012,
        "max_support_fraction": 0.13,
        "init_threshold": None,
        "weight_init": "analytic",
        "weight_rate": 0.01,
    }
    _training_defaults = ALISTA_TRAINING_DEFAULTS

    def _export_parameters(self):
        self.weight_ = _numpy(self.module_.W)
        self.steps_ = _numpy(self.module_.gamma)
        self.thresholds_ = _numpy(self.module_.theta)
