"""LAMP: learned approximate message passing (Borgerding et al., IEEE TSP 2017)."""

import math
import numbers

import numpy as np
import torch

from ._base import UnrolledRegressor, net_attribute
from ._shrinkage import bernoulli_gauss_shrink, soft_threshold
from ._sklearn_compat import Interval, StrOptions
from ._starts import lipschitz_constant
from ._unrolled import UnrolledNet


def amp_step(A):
    """The scale s of AMP's starting matrix ``s A^T``: min(1, L_iid / ||A||_2^2).

    AMP's step of 1 is tuned to i.i.d.-like dictionaries, whose squared
    spectral norm with unit-norm columns is about L_iid = (1 + sqrt(n / m))^2
    (the edge of the Marchenko-Pastur law) for an m x n matrix. A dictionary
    with a larger norm (a coherent one) makes the untrained iteration blow
    up, and layers started there are not brought back by their training
    stage; scaling the step by L_iid / ||A||_2^2 keeps every untrained layer
    from growing, and leaves i.i.d. dictionaries alone.
    """
    m, n = A.shape
    iid_norm = (1.0 + math.sqrt(n / m)) ** 2
    return min(1.0, iid_norm / lipschitz_constant(A))


class LAMPNet(UnrolledNet):
    """AMP with a learned matrix and shrinkage parameters per layer.

    The state is ``(x, v, c)``: the estimate, the Onsager-corrected residual of
    the previous layer, and the Onsager coefficient for the next one (the mean
    slope of the last shrinkage, times n / m).
    """

    def __init__(
        self, A, n_layers, W, theta, dtype, device, shrinkage="soft", learn_scale=False
    ):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.n_features = A.shape[0]
        self.shrinkage = shrinkage
        # the soft threshold's theta scales the threshold; the Bernoulli-Gauss
        # parameters are not thresholds
        self.threshold = "theta" if shrinkage == "soft" else None
        self.constant("A", A)
        self.per_layer("W", W)
        self.per_layer("theta", theta)
        # the soft threshold's output gain per layer (1: plain soft
        # thresholding); trained only with learn_scale
        self.per_layer(
            "scale", 1.0, trainable=bool(learn_scale) and shrinkage == "soft"
        )
        # keeps the estimated noise variance positive once the residual of a
        # noiseless problem has vanished
        self._variance_floor = torch.finfo(dtype).eps ** 2

    def initial_state(self, b):
        x = b.new_zeros(b.shape[0], self.n_components)
        return (x, torch.zeros_like(b), b.new_zeros(b.shape[0], 1))

    def layer(self, k, b, state):
        x, v, onsager = state
        v = b - x @ self.A.T + onsager * v
        r = x + v @ self.at("W", k).T
        theta = self.at("theta", k)
        if self.shrinkage == "soft":
            noise_level = torch.linalg.vector_norm(v, dim=1, keepdim=True)
            x = soft_threshold(r, theta * noise_level / math.sqrt(self.n_features))
            # the coefficient ||x||_0 / m counts entries: a step function
            # whose gradient is zero almost everywhere, so it is kept out of
            # autograd
            with torch.no_grad():
                onsager = (x != 0).sum(dim=1, keepdim=True).to(b.dtype)
            # a gain g on the shrinkage multiplies its slope, and so the
            # Onsager coefficient, by g
            gain = self.at("scale", k)
            x = gain * x
            onsager = gain * onsager
        else:
            # theta = (log-odds of an active entry, log signal variance,
            # log scale of the noise variance)
            noise_var = (v * v).sum(dim=1, keepdim=True) / self.n_features
            x, slope = bernoulli_gauss_shrink(
                r,
                torch.exp(theta[2]) * noise_var + self._variance_floor,
                theta[0],
                torch.exp(theta[1]),
            )
            onsager = slope.sum(dim=1, keepdim=True)
        return (x, v, onsager / self.n_features)


class LAMP(UnrolledRegressor):
    """Learned AMP: unrolled approximate message passing with learned matrices.

    LAMP runs ``n_layers`` iterations of AMP with soft thresholding (the
    paper's LAMP-l1, the default)::

        v^k = b - A x^k + (g_{k-1} ||x^k||_0 / m) v^{k-1},
        x^{k+1} = g_k eta( x^k + W^k v^k ; theta_k ||v^k||_2 / sqrt(m) ),

    from x^0 = 0 and v^{-1} = 0, where ``m`` is the number of measurements, the
    matrices ``W^k`` (n_components x n_features), the threshold scales
    ``theta_k`` and the output gains ``g_k`` (``learn_scale``) are learned per
    layer, and ``eta`` is soft thresholding. The Onsager term (the last term
    of v^k) is what sets AMP apart from ISTA: it keeps the error in
    ``x^k + W^k v^k`` close to Gaussian noise of level ``||v^k|| / sqrt(m)``,
    which the threshold tracks. Training follows the
    stage-wise recipe shared by the unrolled solvers (one new layer at a time,
    then refinement at lower rates, early stopping on a held-out share of the
    training pairs).

    With ``shrinkage="bg"`` (the paper's LAMP-bg) the soft threshold is
    replaced by the posterior mean of a Bernoulli-Gaussian signal seen through
    Gaussian noise::

        x^{k+1} = E[ x | r = x + N(0, s_k ||v^k||^2 / m) ],  r = x^k + W^k v^k,
        x_i = 0 with probability 1 - rho_k, else x_i ~ N(0, sigma_k^2),

    and the Onsager coefficient ``g_{k-1} ||x^k||_0 / m`` by the sum of the
    shrinkage's slopes divided by m. The three numbers (rho_k, sigma_k^2, s_k)
    are learned per layer and start from the training codes: rho at their
    share of non-zero entries, sigma^2 at the mean square of the non-zero
    ones, s at 1. Untrained, this is AMP with the prior's minimum-mean-square
    denoiser, which on i.i.d. Gaussian dictionaries and Bernoulli-Gaussian
    codes comes close to the smallest error any estimator can have; it needs
    the codes ``y`` in ``fit``, and assumes codes of that kind.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    init_threshold : float, default=1.0
        Initial theta_k, in units of the estimated noise level
        ``||v^k|| / sqrt(m)`` (used by ``shrinkage="soft"``).
    shrinkage : {"soft", "bg"}, default="soft"
        The per-entry shrinkage: soft thresholding ("soft", LAMP-l1), or the
        Bernoulli-Gaussian posterior mean ("bg", LAMP-bg), whose prior is
        estimated from the training codes.
    learn_scale : bool, default=True
        Also learn a gain ``g_k`` per layer on the soft threshold's output,
        ``x^{k+1} = g_k eta(...)``, which multiplies the Onsager coefficient
        by ``g_k`` too, as the authors' code does for LAMP-l1 (starting from
        1). It undoes part of the soft threshold's shrinkage bias, which
        matters most on noisy data. With False the gains stay at 1. Ignored
        by ``shrinkage="bg"``.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_components, n_features)
        Learned matrices W^k (the paper's B_t).
    thresholds_ : ndarray of shape (n_layers,)
        Learned threshold scales theta_k (``shrinkage="soft"`` only).
    scales_ : ndarray of shape (n_layers,)
        Output gains g_k of the soft threshold (``shrinkage="soft"`` only;
        all 1 unless ``learn_scale=True``).
    shrinkage_parameters_ : ndarray of shape (n_layers, 3)
        Learned (rho_k, sigma_k^2, s_k) per layer (``shrinkage="bg"`` only):
        the prior's share of non-zero entries, their variance, and the scale
        of the noise variance ``||v^k||^2 / m``.

    See Also
    --------
    ALISTA : Analytic weights, 2 learned numbers per layer.
    LFISTA : Unrolled FISTA with learned matrices.
    FISTA : The classic solver.

    Notes
    -----
    Reference: M. Borgerding, P. Schniter, S. Rangan, "AMP-inspired deep
    networks for sparse linear inverse problems", IEEE Transactions on Signal
    Processing 65(16), 2017. The matrices are untied (one per layer), as in
    the survey's benchmark code (T. Chen et al., "Learning to optimize: a
    primer and a benchmark", JMLR 2022). They start at ``A^T``, the matrix of
    AMP itself, so the untrained network is AMP with threshold
    ``init_threshold`` times the noise level, far more accurate than as many
    FISTA iterations. (The authors' code starts from ``A^T / (1.01 L)``;
    with theta = 1 those untrained layers leave almost every entry at
    zero.) A
    dictionary whose squared spectral norm exceeds that of an i.i.d. one of
    its shape, ``(1 + sqrt(n / m))^2``, starts from ``A^T`` scaled down by the
    ratio instead: AMP's step of 1 diverges there (the shipped coherent
    dictionary). From the second layer on, a new
    layer starts as a copy of the trained layer before it when that validates
    better than AMP's start. The count ``||x^k||_0`` is treated as a constant
    by back-propagation (its gradient is zero almost everywhere).

    Examples
    --------
    >>> from sklearn_l2o import LAMP
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LAMP(dictionary=A, n_layers=3, max_steps_per_stage=60,
    ...              refinement_steps=0, device="cpu",
    ...              random_state=0).fit(B[:1000], X[:1000])
    >>> model.weights_.shape
    (3, 64, 32)
    >>> bool(nmse_db(X[1000:], model.predict(B[1000:])) < -5)
    True

    The Bernoulli-Gaussian shrinkage reads its prior off the training codes:

    >>> bg = LAMP(dictionary=A, n_layers=3, shrinkage="bg",
    ...           max_steps_per_stage=60, refinement_steps=0, device="cpu",
    ...           random_state=0).fit(B[:1000], X[:1000])
    >>> bg.shrinkage_parameters_.shape
    (3, 3)
    >>> bool(nmse_db(X[1000:], bg.predict(B[1000:])) < -5)
    True
    """

    _needs_codes = True  # the shrinkage's prior is read off the codes

    _parameter_constraints = {
        **UnrolledRegressor._parameter_constraints,
        "init_threshold": [Interval(numbers.Real, 0, None, closed="left")],
        "shrinkage": [StrOptions({"soft", "bg"})],
        "learn_scale": ["boolean"],
    }
    # AMP's start for a new layer is poor on coherent dictionaries, where the
    # trained layer before it is a better one
    _reuse_previous_layer = True

    def __init__(
        self,
        dictionary=None,
        *,
        init_threshold=1.0,
        shrinkage="soft",
        learn_scale=True,
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
        plateau_decays=0,
        threshold_search=False,
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
        self.shrinkage = shrinkage
        self.learn_scale = learn_scale
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
    thresholds_ = net_attribute(lambda net: _soft_only(net, net.theta))
    scales_ = net_attribute(lambda net: _soft_only(net, net.scale))
    shrinkage_parameters_ = net_attribute(lambda net: _bg_parameters(net))

    def _build_net(self, A, y, device, dtype):
        A = np.asarray(A)
        W = amp_step(A) * A.T
        if self.shrinkage == "soft":
            theta = float(self.init_threshold)
        else:
            theta = bernoulli_gauss_start(y)
        return LAMPNet(
            A,
            self.n_layers,
            W,
            theta,
            dtype,
            device,
            self.shrinkage,
            learn_scale=self.learn_scale,
        )

    def _warm_start_mismatch(self):
        net = self.module_
        if net.shrinkage != self.shrinkage:
            return f"shrinkage (now {self.shrinkage!r})"
        if net.scale.requires_grad != (
            bool(self.learn_scale) and self.shrinkage == "soft"
        ):
            return f"learn_scale (now {bool(self.learn_scale)})"
        return None


# the attributes follow the fitted net's shrinkage, not the parameter's:
# set_params after fit does not change what the net computes
def _soft_only(net, tensor):
    if net.shrinkage != "soft":
        raise AttributeError("fitted with shrinkage='bg'")
    return tensor


def _bg_parameters(net):
    """(rho, sigma^2, s) per layer from the stored (logit, log, log)."""
    if net.shrinkage != "bg":
        raise AttributeError("fitted with shrinkage='soft'")
    theta = net.theta
    return torch.stack(
        [torch.sigmoid(theta[:, 0]), torch.exp(theta[:, 1]), torch.exp(theta[:, 2])],
        dim=1,
    )


def bernoulli_gauss_start(X):
    """LAMP-bg's starting (log-odds, log signal variance, log noise scale).

    The prior is read off the training codes: the share of non-zero entries
    and the mean square of the non-zero ones.
    """
    if X is None:
        raise ValueError(
            'shrinkage="bg" estimates its signal prior from the training codes: '
            'pass y to fit, or use shrinkage="soft" to train on B alone.'
        )
    X = np.asarray(X)
    active = X != 0
    share = float(active.mean())
    if share == 0.0:
        raise ValueError(
            'shrinkage="bg" needs training codes with non-zero entries; '
            "every entry of y is zero."
        )
    share = min(max(share, 1e-4), 1.0 - 1e-4)
    signal_var = max(float(np.mean(X[active] ** 2)), np.finfo(float).tiny)
    return [math.log(share / (1.0 - share)), math.log(signal_var), 0.0]
