"""LFISTA: unrolled FISTA with learned matrices (Moreau & Bruna, ICLR 2017)."""

import numbers

import numpy as np

from ._base import UnrolledRegressor, net_attribute
from ._shrinkage import soft_threshold
from ._sklearn_compat import Interval, StrOptions
from ._starts import analytic_start, fista_momentum, lipschitz_constant
from ._unrolled import UnrolledNet


class LFISTANet(UnrolledNet):
    """x^{k+1} = eta( W_b^k b + W_x^k x^k + W_p^k x^{k-1} ; theta_k ).

    The state is ``(x^k, x^{k-1})``.
    """

    threshold = "theta"

    def __init__(self, A, weight, n_layers, alpha, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        gradient_step = np.eye(A.shape[1]) - weight.T @ A
        momentum = fista_momentum(n_layers)
        self.per_layer("W_b", weight.T)
        self.per_layer(
            "W_x", [(1.0 + m) * gradient_step for m in momentum], stacked=True
        )
        self.per_layer("W_p", [-m * gradient_step for m in momentum], stacked=True)
        self.per_layer("theta", alpha / lipschitz_constant(A))

    def initial_state(self, b):
        x = b.new_zeros(b.shape[0], self.n_components)
        return (x, x)

    def layer(self, k, b, state):
        x, x_previous = state
        z = (
            b @ self.at("W_b", k).T
            + x @ self.at("W_x", k).T
            + x_previous @ self.at("W_p", k).T
        )
        return (soft_threshold(z, self.at("theta", k)), x)


class LFISTA(UnrolledRegressor):
    """Learned FISTA: unrolled FISTA whose matrices and thresholds are learned.

    LFISTA runs ``n_layers`` iterations of::

        x^{k+1} = eta( W_b^k b + W_x^k x^k + W_p^k x^{k-1} ; theta_k )

    from x^0 = x^{-1} = 0, where every layer has its own matrices ``W_b^k``
    (n_components x n_features), ``W_x^k`` and ``W_p^k`` (n_components x
    n_components) and threshold ``theta_k``, and ``eta`` is soft thresholding.
    The network starts as FISTA on the LASSO with l1 weight ``init_alpha``::

        W_b^k = A^T / L,  W_x^k = (1 + m_k) S,  W_p^k = -m_k S,
        theta_k = init_alpha / L,

    with S = I - A^T A / L, L = ||A||_2^2 and m_k the FISTA momentum, so the
    untrained network returns exactly the iterates of
    ``FISTA(alpha=init_alpha, max_iter=n_layers)``. Training follows the stage-wise
    recipe shared by the unrolled solvers.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    init_alpha : float, default=0.4
        The l1 weight of the FISTA run the untrained network reproduces; the
        initial thresholds are ``init_alpha / L``. (Not ``alpha``, the l1
        weight of ``loss="lasso"`` and of the continuation, shared by every
        unrolled solver.)
    weight_init : {"ista", "analytic"}, default="ista"
        Where the matrices start. "ista": as above, the untrained network is
        FISTA. "analytic": ``A / L`` is replaced by :class:`ALISTA`'s
        analytic weight W times half its starting step ``s``, i.e.
        W_b^k = s W^T / 2 and S = I - s W^T A / 2: FISTA's momentum on a
        step at which it cannot grow, without support selection. It starts
        far more accurate than FISTA and trains to better solvers.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    input_weights_ : ndarray of shape (n_layers, n_components, n_features)
        Learned W_b^k.
    current_weights_ : ndarray of shape (n_layers, n_components, n_components)
        Learned W_x^k, acting on x^k.
    previous_weights_ : ndarray of shape (n_layers, n_components, n_components)
        Learned W_p^k, acting on x^{k-1}.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    FISTA : The iterations LFISTA starts from.
    LAMP : Learned AMP.
    ALISTA : Analytic weights, 2 learned numbers per layer.

    Notes
    -----
    Reference: T. Moreau, J. Bruna, "Understanding trainable sparse coding via
    matrix factorization", ICLR 2017, whose learned FISTA the survey of
    T. Chen et al., "Learning to optimize: a primer and a benchmark", JMLR
    2022, benchmarks. Here ``W_b^k`` is untied across layers like the other two
    matrices (the survey's code shares it). The momentum follows the FISTA of
    this package exactly, m_0 = m_1 = 0 then (t_{k-1} - 1) / t_k; the survey's
    code starts its momentum one layer early.

    Examples
    --------
    >>> from sklearn_l2o import LFISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LFISTA(dictionary=A, n_layers=3, max_steps_per_stage=60,
    ...                refinement_steps=0, device="cpu",
    ...                random_state=0).fit(B[:1000], X[:1000])
    >>> model.current_weights_.shape
    (3, 64, 64)
    >>> bool(nmse_db(X[1000:], model.predict(B[1000:])) < -3)
    True
    """

    _parameter_constraints = {
        **UnrolledRegressor._parameter_constraints,
        "init_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_init": [StrOptions({"ista", "analytic"})],
    }

    def __init__(
        self,
        dictionary=None,
        *,
        init_alpha=0.4,
        weight_init="ista",
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
        self.init_alpha = init_alpha
        self.weight_init = weight_init
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

    input_weights_ = net_attribute(lambda net: net.W_b)
    current_weights_ = net_attribute(lambda net: net.W_x)
    previous_weights_ = net_attribute(lambda net: net.W_p)
    thresholds_ = net_attribute(lambda net: net.theta)

    def _build_net(self, A, y, device, dtype):
        if self.weight_init == "analytic":
            # half ALISTA's starting step: every eigenvalue of step W^T A is
            # then at most 1, where FISTA's momentum cannot make the
            # untrained iteration grow (with the whole step it diverges)
            weight = 0.5 * analytic_start(A)
        else:
            weight = A / lipschitz_constant(A)
        return LFISTANet(
            A, weight, self.n_layers, float(self.init_alpha), dtype, device
        )
