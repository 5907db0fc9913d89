"""TiLISTA: one learned matrix shared by all layers, a step per layer."""

from ._base import net_attribute
from ._lista_family import SUPPORT_CONSTRAINTS, LISTAFamilyRegressor
from ._shrinkage import support_selection_threshold
from ._unrolled import UnrolledNet, descend


class TiLISTANet(UnrolledNet):
    """x <- eta_ss( x - gamma_k W^T (A x - b) ; theta_k, p_k ), one W for all."""

    threshold = "theta"
    reads_residual = True

    def __init__(self, A, weight, n_layers, n_selected, theta, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.constant("A", A)
        self.n_selected = list(n_selected)
        # shared: the engine trains it in every stage at the stage's rate
        self.shared("W", weight)
        self.per_layer("gamma", 1.0)
        self.per_layer("theta", theta)

    def layer(self, k, b, state):
        x = state[0]
        z = descend(x, self.residual(x, b), self.W, self.at("gamma", k))
        return (
            support_selection_threshold(z, self.at("theta", k), self.n_selected[k]),
        )


class TiLISTA(LISTAFamilyRegressor):
    """Tied LISTA: one learned matrix shared by all layers, a step per layer.

    TiLISTA runs ``n_layers`` iterations of::

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
    Its defaults (analytic start, a slow shared matrix, ALISTA's training
    schedule) are this package's. Reference: J. Liu, X. Chen, Z. Wang,
    W. Yin, "ALISTA: Analytic weights are as good as learned weights in
    LISTA", ICLR 2019.

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

    _support_selection = True
    _parameter_constraints = {
        **LISTAFamilyRegressor._parameter_constraints,
        **SUPPORT_CONSTRAINTS,
    }

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
        weight_init="analytic",
        weight_rate=0.01,
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
        threshold_search=False,
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

    weight_ = net_attribute(lambda net: net.W)
    steps_ = net_attribute(lambda net: net.gamma)
    thresholds_ = net_attribute(lambda net: net.theta)

    def _make_net(self, A, weight, n_selected, theta, dtype, device):
        return TiLISTANet(A, weight, self.n_layers, n_selected, theta, dtype, device)
