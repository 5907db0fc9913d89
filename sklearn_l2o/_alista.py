"""ALISTA: analytic weights, learned steps and thresholds (Liu et al., ICLR 2019)."""

import numbers

from ._base import UnrolledRegressor, net_attribute
from ._shrinkage import support_selection_threshold, support_sizes
from ._sklearn_compat import Interval
from ._starts import analytic_weight, default_threshold, stable_step
from ._unrolled import UnrolledNet


class ALISTANet(UnrolledNet):
    """x <- eta_ss( x - gamma_k W^T (A x - b) ; theta_k, p_k ), W fixed."""

    threshold = "theta"

    def __init__(self, A, W, n_layers, n_selected, gamma, theta, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.constant("A", A)
        self.constant("W", W)
        self.n_selected = list(n_selected)
        self.per_layer("gamma", gamma)
        self.per_layer("theta", theta)

    def layer(self, k, b, state):
        x = state[0]
        z = x - self.at("gamma", k) * ((x @ self.A.T - b) @ self.W)
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
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
        minimiser.
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
    }

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
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
        plateau_decays=0,
        threshold_search="auto",
        refinement_steps=16000,
        refinement_patience=6000,
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

    def _build_net(self, A, y, device, dtype):
        W = analytic_weight(A)
        theta = self.init_threshold
        if theta is None:
            theta = default_threshold(A)
        sizes = support_sizes(
            A.shape[1], self.n_layers, self.support_fraction, self.max_support_fraction
        )
        gamma = stable_step(W, A)
        return self._make_net(A, W, sizes, gamma, theta, dtype, device)

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
