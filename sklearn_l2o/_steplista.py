"""Step-LISTA: ISTA with a learned step per layer (Ablin et al., NeurIPS 2019)."""

from ._base import UnrolledRegressor, net_attribute
from ._shrinkage import soft_threshold
from ._starts import lipschitz_constant
from ._unrolled import UnrolledNet, descend


class StepLISTANet(UnrolledNet):
    """u <- eta_{alpha g_k / d}( u - g_k A^T (A u - b) ), g_k = s_k / L.

    In unit-norm atom coordinates u = d x, the LASSO's weight on u_j is
    alpha / d_j, so the thresholds carry the atoms' norms; ``atom_norms`` is
    set by the estimator before the net runs.
    """

    reads_residual = True

    def __init__(self, A, n_layers, alpha, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.constant("A", A)
        self.inverse_lipschitz = 1.0 / lipschitz_constant(A)
        self.alpha = float(alpha)
        # in units of 1 / L: ISTA's step is 1, for every dictionary's scale
        self.per_layer("step", 1.0)

    def layer(self, k, b, state):
        u = state[0]
        g = self.at("step", k) * self.inverse_lipschitz
        z = descend(u, self.residual(u, b), self.A, g)
        return (soft_threshold(z, g * self.alpha / self.atom_norms),)


class StepLISTA(UnrolledRegressor):
    """Step-LISTA: ISTA whose step size is learned layer by layer.

    Step-LISTA runs ``n_layers`` iterations of::

        x^{k+1} = eta(x^k - gamma_k A^T (A x^k - b); alpha gamma_k),

    ISTA on the LASSO min_x 1/2 ||A x - b||^2 + alpha ||x||_1 with one learned
    step ``gamma_k`` per layer and the threshold tied to it (``alpha`` times
    the step), as ISTA's is. Nothing else is learned, so every layer is a
    proximal-gradient step on the LASSO itself: the iterates approach its
    solution, and the steps learned are those that approach it fastest on the
    training distribution. Once the support of the iterate is found, the
    problem is smooth on it with a smaller Lipschitz constant, so the learned
    steps grow beyond ISTA's ``1 / L``. By default it trains without ground
    truth, on the LASSO objective (``loss="lasso"``, ``fit(X)``), and the
    FISTA iterations of ``continuation_iter`` carry it on to the LASSO
    solution.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A``. If None, it is estimated from (measurement,
        code) pairs by least squares (which needs ``y``).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    steps_ : ndarray of shape (n_layers,)
        The learned steps gamma_k in units of ``1 / L`` (ISTA's step is 1),
        for the dictionary scaled to unit-norm atoms (``1 / L`` of that
        dictionary).

    See Also
    --------
    ISTA : The iteration with the fixed step 1 / L.
    FISTA : ISTA with momentum; the continuation.
    ALISTA : Learned steps and free thresholds, with support selection.

    Notes
    -----
    Reference: P. Ablin, T. Moreau, M. Massias, A. Gramfort, "Learning step
    sizes for unfolded sparse coding", NeurIPS 2019 (its SLISTA). The steps
    start at ISTA's ``1 / L``, so the untrained net is ISTA. The net works
    with the atoms scaled to unit norm, where the LASSO's weight on atom j is
    ``alpha / ||a_j||``: with unit-norm atoms that is ISTA on the LASSO as
    written above, and otherwise ISTA with a diagonal preconditioner, whose
    solution is the same.

    Examples
    --------
    >>> from sklearn_l2o import FISTA, StepLISTA
    >>> from sklearn_l2o.datasets import make_lasso_problems
    >>> from sklearn_l2o.metrics import lasso_objective
    >>> task = make_lasso_problems(1200, n_features=25, n_components=50,
    ...                            random_state=0)
    >>> B, A = task.data, task.dictionary
    >>> model = StepLISTA(dictionary=A, n_layers=8, alpha=0.005,
    ...                   max_steps_per_stage=100, refinement_steps=200,
    ...                   device="cpu", random_state=0).fit(B[:1000])
    >>> learned = lasso_objective(A, B[1000:], model.predict(B[1000:]), 0.005)
    >>> fista = FISTA(dictionary=A, alpha=0.005, max_iter=8, tol=0.0,
    ...               device="cpu").fit(B[1000:])
    >>> classic = lasso_objective(A, B[1000:], fista.predict(B[1000:]), 0.005)
    >>> bool(learned.mean() < classic.mean())
    True
    """

    def __init__(
        self,
        dictionary=None,
        *,
        n_layers=16,
        loss="lasso",
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
        refinement_steps=2000,
        refinement_patience=500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
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

    steps_ = net_attribute(lambda net: net.step)

    def _build_net(self, A, y, device, dtype):
        return StepLISTANet(A, self.n_layers, self.alpha, dtype, device)

    def _warm_start_mismatch(self):
        if self.module_.alpha != float(self.alpha):
            return f"alpha (now {self.alpha})"
        return None
