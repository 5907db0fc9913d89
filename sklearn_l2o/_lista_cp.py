"""LISTA-CP and LISTA-CPSS: one learned matrix per layer, coupled to A."""

from ._base import net_attribute
from ._lista_family import SUPPORT_CONSTRAINTS, LISTAFamilyRegressor
from ._shrinkage import SHRINKAGES, support_selection_threshold
from ._sklearn_compat import StrOptions
from ._unrolled import UnrolledNet, descend


class LISTACPNet(UnrolledNet):
    """x <- eta_ss( x + gamma_k W_k^T (b - A x) ; theta_k, p_k ), W_k untied.

    With ``learned_step`` the matrix of layer k is written gamma_k W_k, with a
    scalar gamma_k that starts at 1: the same functions, but the step of a
    layer can change without every entry of W_k moving together.
    """

    threshold = "theta"
    reads_residual = True

    def __init__(
        self,
        A,
        weight,
        n_layers,
        n_selected,
        theta,
        dtype,
        device,
        learned_step,
        shrinkage="soft",
    ):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.constant("A", A)
        self.n_selected = list(n_selected)
        self.shrinkage = shrinkage
        self.per_layer("W", weight)
        self.per_layer("gamma", 1.0, trainable=learned_step)
        self.per_layer("theta", theta)

    def layer(self, k, b, state):
        x = state[0]
        z = descend(x, self.residual(x, b), self.at("W", k), self.at("gamma", k))
        return (
            support_selection_threshold(
                z,
                self.at("theta", k),
                self.n_selected[k],
                SHRINKAGES[self.shrinkage],
            ),
        )


class _CoupledLISTA(LISTAFamilyRegressor):
    """LISTA-CP and LISTA-CPSS (not public)."""

    _parameter_constraints = {
        **LISTAFamilyRegressor._parameter_constraints,
        "learned_step": ["boolean"],
        "shrinkage": [StrOptions(set(SHRINKAGES))],
    }

    weights_ = net_attribute(lambda net: net.gamma.reshape(-1, 1, 1) * net.W)
    thresholds_ = net_attribute(lambda net: net.theta)

    def _make_net(self, A, weight, n_selected, theta, dtype, device):
        return LISTACPNet(
            A,
            weight,
            self.n_layers,
            n_selected,
            theta,
            dtype,
            device,
            learned_step=bool(self.learned_step),
            shrinkage=self._shrinkage(),
        )

    def _shrinkage(self):
        return self.shrinkage

    def _rate_factors(self):
        # a scalar in front of a matrix needs larger steps than its entries
        return {**super()._rate_factors(), "gamma": 10.0}

    def _warm_start_mismatch(self):
        if self.module_.gamma.requires_grad != bool(self.learned_step):
            return f"learned_step (now {bool(self.learned_step)})"
        if getattr(self.module_, "shrinkage", "soft") != self._shrinkage():
            return f"shrinkage (now {self._shrinkage()!r})"
        return None


class LISTACP(_CoupledLISTA):
    """LISTA with weight coupling: one learned matrix per layer, tied to A.

    LISTA-CP runs ``n_layers`` iterations of::

        x^{k+1} = eta(x^k + gamma_k W_k^T (b - A x^k); theta_k),

    that is LISTA with W2_k = I - gamma_k W_k^T A and W1_k = gamma_k W_k^T. The
    coupling is what a layer needs for the true code of a noiseless
    measurement to be a fixed point, and it halves the parameters. ``W_k``
    (n_features x n_components), the step ``gamma_k`` and ``theta_k`` are
    learned per layer; untrained, W_k = A / (1.001 L), gamma_k = 1 and
    theta_k = 0.4 / (1.001 L), so every layer is an ISTA step with step size
    1 / (1.001 L).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e, used in every layer. If None, it
        is estimated from the training pairs by least squares.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    learned_step : bool, default=True
        Learn the scalar step gamma_k of each layer (trained at ten times the
        stage's Adam step); False holds it at 1, as in the paper. The layers
        compute the same family of functions, but a layer's step can change
        without all of W_k moving together, which Adam's per-entry steps do
        poorly. ``weights_`` holds the products gamma_k W_k.
    shrinkage : {"soft", "mcp", "scad", "hard"}, default="soft"
        The thresholding of the entries not selected: soft thresholding (the
        l1 penalty's proximal map), or the proximal map of a nonconvex
        penalty, which shrinks large entries less or not at all: "mcp" (firm
        thresholding, minimax concave penalty with ratio 2), "scad" (ratio
        3.7), "hard" (firm thresholding with a ramp 10 % of the threshold
        wide, which keeps the threshold trainable).
    weight_rate : float, default=0.1
        The matrices' Adam step as a multiple of the stage's (0 holds them at
        their start). With the steps learned, slow matrices keep the layers
        near their start while the steps and thresholds train.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_features, n_components)
        Learned gamma_k W_k.
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
    weights and thresholds", NeurIPS 2018. The defaults ``learned_step``,
    ``weight_rate`` and the longer end-to-end refinement (8,000 steps,
    patience 1,500) are this package's recipe, not the paper's, which
    trained on fresh data for up to 200,000 steps per stage; the docs'
    benchmarks page shows what each part of it gains.

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

    def __init__(
        self,
        dictionary=None,
        *,
        init_threshold=None,
        weight_init="ista",
        learned_step=True,
        shrinkage="soft",
        weight_rate=0.1,
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
        refinement_steps=8000,
        refinement_patience=1500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.init_threshold = init_threshold
        self.weight_init = weight_init
        self.learned_step = learned_step
        self.shrinkage = shrinkage
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


class LIHT(_CoupledLISTA):
    """Learned iterative hard thresholding with coupled weights (LIHT-CP).

    LIHT runs ``n_layers`` iterations of::

        x^{k+1} = H(x^k + gamma_k W_k^T (b - A x^k); theta_k),

    the layer of :class:`LISTACP` with hard thresholding ``H`` in place of
    soft thresholding: entries above the threshold keep their value, the
    others become zero, the step of iterative hard thresholding (IHT) for the
    l0-constrained problem. ``W_k``, ``gamma_k`` and ``theta_k`` are learned
    per layer, stage-wise as LISTA-CP is, from the ISTA start W_k = A /
    (1.001 L), gamma_k = 1, theta_k = 0.4 / (1.001 L).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e, used in every layer. If None, it
        is estimated from the training pairs by least squares.
    init_threshold : float, default=None
        Initial theta_k; None uses 0.4 / (1.001 L).
    {weight_init}
    learned_step : bool, default=True
        Learn the scalar step gamma_k of each layer, as :class:`LISTACP`
        does (``weights_`` then holds the products gamma_k W_k).
    weight_rate : float, default=0.1
        The matrices' Adam step as a multiple of the stage's (0 holds them at
        their start).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_features, n_components)
        Learned gamma_k W_k.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    LISTACP : The same layer with soft thresholding.
    LISTACPSS : Soft thresholding, with the largest entries passed unshrunk;
        ``shrinkage=`` gives it the nonconvex operators.

    Notes
    -----
    Hard thresholding has no gradient in its threshold; the operator used is
    firm thresholding with a ramp 10 % of the threshold wide (zero below
    theta, the identity above 1.1 theta, linear in between), as the
    continuous hard-thresholding units of the paper are, so that training
    can move theta. It is :class:`LISTACP` with ``shrinkage="hard"``.
    Reference: B. Xin, Y. Wang, W. Gao, D. Wipf, B. Wang, "Maximal sparsity
    with deep networks?", NeurIPS 2016.

    Examples
    --------
    >>> from sklearn_l2o import LIHT
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LIHT(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...              refinement_steps=200, device="cpu",
    ...              random_state=0).fit(B[:1800], X[:1800])
    >>> model.thresholds_.shape
    (4,)
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _parameter_constraints = {
        name: rule
        for name, rule in _CoupledLISTA._parameter_constraints.items()
        if name != "shrinkage"
    }

    def __init__(
        self,
        dictionary=None,
        *,
        init_threshold=None,
        weight_init="ista",
        learned_step=True,
        weight_rate=0.1,
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
        refinement_steps=8000,
        refinement_patience=1500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.init_threshold = init_threshold
        self.weight_init = weight_init
        self.learned_step = learned_step
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

    def _shrinkage(self):
        return "hard"


class LISTACPSS(_CoupledLISTA):
    """LISTA-CPSS: coupled weights and support selection.

    LISTA-CPSS runs ``n_layers`` iterations of::

        x^{k+1} = eta_ss(x^k + gamma_k W_k^T (b - A x^k); theta_k, p_k),

    the layer of :class:`LISTACP` with the thresholding of :class:`LISTASS`:
    in each signal the largest ``p_k = min(support_fraction * k,
    max_support_fraction)`` share of entries (above ``theta_k``) pass
    unshrunk. ``W_k``, ``gamma_k`` and ``theta_k`` are learned per layer and
    start as an ISTA step, W_k = A / (1.001 L), gamma_k = 1,
    theta_k = 0.4 / (1.001 L).

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
        Learn the scalar step gamma_k of each layer, as :class:`LISTACP`
        does (``weights_`` then holds the products gamma_k W_k).
    shrinkage : {"soft", "mcp", "scad", "hard"}, default="soft"
        The thresholding of the entries not selected: soft thresholding (the
        l1 penalty's proximal map), or the proximal map of a nonconvex
        penalty, which shrinks large entries less or not at all: "mcp" (firm
        thresholding, minimax concave penalty with ratio 2), "scad" (ratio
        3.7), "hard" (firm thresholding with a ramp 10 % of the threshold
        wide, which keeps the threshold trainable).
    weight_rate : float, default=0.1
        The matrices' Adam step as a multiple of the stage's (0 holds them at
        their start).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weights_ : ndarray of shape (n_layers, n_features, n_components)
        Learned gamma_k W_k.
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
    NeurIPS 2018. The defaults ``learned_step``, ``weight_rate`` and the
    longer end-to-end refinement are :class:`LISTACP`'s recipe, this
    package's and not the paper's.

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
        **SUPPORT_CONSTRAINTS,
    }

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
        weight_init="ista",
        learned_step=True,
        shrinkage="soft",
        weight_rate=0.1,
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
        refinement_steps=8000,
        refinement_patience=1500,
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
        self.learned_step = learned_step
        self.shrinkage = shrinkage
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
