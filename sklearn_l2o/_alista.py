"""ALISTA: analytic weights, learned steps and thresholds (Liu et al., ICLR 2019)."""

import math
import numbers
import time

import numpy as np
import torch

from ._base import UnrolledRegressor, net_attribute
from ._engine import schedule, stage_record
from ._shrinkage import support_selection_threshold, support_sizes
from ._sklearn_compat import Interval, StrOptions
from ._starts import analytic_weight, default_threshold, stable_step
from ._unrolled import UnrolledNet, descend


class ALISTANet(UnrolledNet):
    """x <- eta_ss( x - gamma_k W^T (A x - b) ; theta_k, p_k ), W fixed."""

    threshold = "theta"
    reads_residual = True

    def __init__(self, A, W, n_layers, n_selected, gamma, theta, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.constant("A", A)
        self.constant("W", W)
        self.n_selected = list(n_selected)
        self.per_layer("gamma", gamma)
        self.per_layer("theta", theta)

    def layer(self, k, b, state):
        x = state[0]
        z = descend(x, self.residual(x, b), self.W, self.at("gamma", k))
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


#: the geometric start's first grid: theta_0 from 1/64 to 1 times the
#: measurements' scale (the typical largest entry of gamma W^T b, about the
#: largest entry of a code), and the ratio r; a finer grid around the best
#: point follows
_START_SCALES = np.geomspace(1 / 64, 1, 7)
_START_RATIOS = (0.6, 0.7, 0.8, 0.9, 0.95)
_FINE_SCALES = (0.7, 0.85, 1.0, 1.2, 1.4)
_FINE_RATIOS = (-0.04, -0.02, 0.0, 0.02, 0.04)


def measurement_scale(W, gamma, measurements, rows=1024):
    """The median over (up to ``rows``) measurements of max |gamma W^T b|."""
    b = np.asarray(measurements[:rows], dtype=np.float64)
    if b.size == 0:
        return 1.0
    scale = float(np.median(np.max(np.abs(gamma * (b @ W)), axis=1)))
    return scale if scale > 0 else 1.0


@torch.no_grad()
def geometric_start(net, validate, scale):
    """Set the thresholds to the best geometric schedule theta_0 r^k.

    Scores a grid of (theta_0, r) by the validation score at the last layer,
    then a finer grid around its best point, and keeps the best schedule;
    returns the search's :func:`~sklearn_l2o._engine.stage_record`.
    """
    start = time.perf_counter()
    theta = net.theta
    depth = torch.arange(net.n_layers, dtype=theta.dtype, device=theta.device)
    before = theta.detach().clone()
    scores, curve = {}, []

    def score(theta_0, ratio):
        key = (float(theta_0), float(ratio))
        if key not in scores:
            theta.copy_(key[0] * key[1] ** depth)
            value = validate(net.n_layers)
            scores[key] = value if math.isfinite(value) else math.inf
            curve.append((len(scores), scores[key]))
        return scores[key]

    start_score = validate(net.n_layers)
    for factor in _START_SCALES:
        for ratio in _START_RATIOS:
            score(scale * factor, ratio)
    theta_0, ratio = min(scores, key=scores.get)
    for factor in _FINE_SCALES:
        for step in _FINE_RATIOS:
            if 0 < ratio + step <= 1:
                score(theta_0 * factor, ratio + step)
    best = min(scores, key=scores.get)
    if math.isfinite(scores[best]):
        theta.copy_(best[0] * best[1] ** depth)
    else:  # every schedule diverged: back to the constant start
        theta.copy_(before)
    return stage_record(
        phase="search",
        stage="geometric",
        layer=net.n_layers,
        steps=len(scores),
        best_step=list(scores).index(best) + 1,
        start_score=start_score,
        val_score=scores[best],
        seconds=time.perf_counter() - start,
        stop="done",
        curve=curve,
        theta_0=best[0],
        ratio=best[1],
    )


class ALISTA(UnrolledRegressor):
    """Analytic LISTA: an unrolled sparse solver with 2 learned numbers per layer.

    ALISTA runs ``n_layers`` iterations of::

        z = x^k - gamma_k W^T (A x^k - b),
        x^{k+1} = eta_ss(z; theta_k, p_k),

    where ``W`` is computed from the dictionary ``A`` in closed form (not
    learned), ``gamma_k`` and ``theta_k`` are learned, and ``eta_ss`` is soft
    thresholding with support selection: in each signal the largest
    ``p_k = min(support_fraction * k, max_support_fraction)`` share of entries
    bypass the shrinkage. By default training starts the thresholds on a
    geometric schedule theta_k = theta_0 r^k searched on a held-out share of
    the training pairs, then refines all layers end to end at decreasing
    learning rates, with early stopping on those pairs; ``start="stagewise"``
    follows the stage-wise recipe of the LISTA-CPSS and ALISTA papers instead
    (one new layer at a time before the refinement).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk, per layer of depth (1.2% at layer 1,
        2.4% at layer 2, ...). Set it and ``max_support_fraction`` to 0 with
        ``loss="lasso"``: entries passed unshrunk move away from the LASSO
        minimiser.
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k of ``start="stagewise"``; None uses 0.4 / (1.001 L)
        with L = ||A||_2^2.
    start : {"geometric", "stagewise"}, default="geometric"
        How the layers start before the end-to-end refinement.
        "geometric": the steps stay at their stable start and the thresholds
        follow theta_k = theta_0 r^k, (theta_0, r) chosen by a grid search on
        the held-out pairs (about 60 validations at the last layer; the
        search is the first record of ``history_``, with its ``theta_0`` and
        ``ratio``). The stage options (``max_steps_per_stage``, ``patience``,
        ``layer_decay``, ``threshold_search``, the first ``stage_factors``)
        are then unused. "stagewise": the layer-by-layer stages of the papers,
        from ``init_threshold``, then the refinement.
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
    threshold_search_ : bool
        Whether the threshold search ran (``threshold_search`` resolved).

    See Also
    --------
    TiLISTA : The same iteration with W learned.
    HyperLISTA : The same step with momentum, tuned by three numbers.
    FISTA : The classic solver ALISTA learns to outrun.
    sklearn.linear_model.Lasso : Coordinate-descent LASSO.

    Notes
    -----
    The weight solves min_W ||W^T A||_F^2 s.t. w_j^T a_j = 1, column by column
    w_j = (A A^T)^{-1} a_j / (a_j^T (A A^T)^{-1} a_j). The steps start at
    min(1, 2 / lambda_max(W^T A)): 1 in the papers, close to 1 for a Gaussian
    dictionary, smaller on coherent dictionaries, where a step of 1 makes the
    untrained iteration blow up. On large problems the threshold search
    helps (``threshold_search="auto"`` turns it on from 1,024 atoms): once
    the support selection passes every entry above a new layer's starting
    threshold, that threshold gets no gradient, and the greedy stages stall.
    Reference: J. Liu, X. Chen, Z. Wang, W. Yin, "ALISTA:
    Analytic weights are as good as learned weights in LISTA", ICLR 2019.

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
        "start": [StrOptions({"geometric", "stagewise"})],
    }

    _needs_measurements = True

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
        start="geometric",
        n_layers=16,
        loss="mse",
        alpha=0.005,
        continuation_iter=0,
        learning_rate=2e-2,
        batch_size=128,
        max_steps_per_stage=300,
        patience=100,
        validation_fraction=0.1,
        validation_interval=50,
        layer_decay=0.3,
        stage_factors=(1.0, 0.2, 0.02),
        plateau_decays=2,
        threshold_search="auto",
        refinement_steps=6000,
        refinement_patience=1000,
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
        self.start = start
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

    weight_ = net_attribute(lambda net: net.W)
    steps_ = net_attribute(lambda net: net.gamma)
    thresholds_ = net_attribute(lambda net: net.theta)

    def _build_net(self, A, y, device, dtype, measurements=None):
        W = analytic_weight(A)
        theta = self.init_threshold
        if theta is None:
            theta = default_threshold(A)
        sizes = support_sizes(
            A.shape[1], self.n_layers, self.support_fraction, self.max_support_fraction
        )
        gamma = stable_step(W, A)
        net = self._make_net(A, W, sizes, gamma, theta, dtype, device)
        if measurements is not None:
            net.measurement_scale = measurement_scale(W, gamma, measurements)
        return net

    def _stages(self, n_layers, recipe):
        return schedule(n_layers, recipe, layerwise=self.start == "stagewise")

    def _start_search(self, net, validate):
        if self.start != "geometric":
            return []
        scale = getattr(net, "measurement_scale", 1.0)
        return [geometric_start(net, validate, scale)]

    def _threshold_search(self, n_components):
        # the geometric start has no layer-wise stages to search in
        return self.start == "stagewise" and super()._threshold_search(n_components)

    def _make_net(self, A, W, n_selected, gamma, theta, dtype, device):
        return ALISTANet(A, W, self.n_layers, n_selected, gamma, theta, dtype, device)


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
