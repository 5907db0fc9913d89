"""Ada-LISTA: a learned metric on the residual of any dictionary (Aberdam et
al., TPAMI 2021)."""

import numpy as np
import torch

from ._base import net_attribute
from ._shrinkage import soft_threshold
from ._starts import default_threshold, fista_momentum
from ._varying import VaryingDictionaryRegressor, VaryingNet, adjoint_operator
from ._varying import forward_operator as apply

#: power iterations that estimate ||Q A||_2^2 for each dictionary
_POWER_ITERATIONS = 30


class AdaLISTANet(VaryingNet):
    """x <- eta(y - (gamma_k / L) A^T Q^T Q (A y - b); theta_k),
    y = x + beta_k (x - x_prev), L = ||Q A||_2^2 of the dictionary at hand."""

    def __init__(self, n_layers, n_features, n_components, theta, beta, dtype, device):
        super().__init__(n_layers, n_components, dtype, device)
        self.shared("metric_root", np.eye(n_features))
        # in units of 1 / L: ISTA's step is 1 for every dictionary
        self.per_layer("gamma", 1.0 / 1.001)
        self.per_layer("theta", theta)
        self.per_layer("beta", beta, stacked=True)

    threshold = "theta"

    def lipschitz(self, A):
        """||Q A||_2^2 per dictionary: a scalar for a shared ``A``, a column
        for one per row. Power iteration finds the top singular vector
        without gradients; the value at it carries the gradient in Q."""
        Q = self.metric_root
        shape = (1, A.shape[-1]) if A.dim() == 2 else A.shape[::2]
        v = torch.ones(shape, dtype=A.dtype, device=A.device)
        with torch.no_grad():
            for _ in range(_POWER_ITERATIONS):
                v = adjoint_operator(A, (apply(A, v) @ Q.T) @ Q)
                v = v / torch.linalg.vector_norm(v, dim=1, keepdim=True)
        image = apply(A, v) @ Q.T
        value = (image * image).sum(dim=1, keepdim=True)
        return value if A.dim() == 3 else value.reshape(())

    def initial_state(self, data):
        x = super().initial_state(data)[0]
        return x, x, 1.0 / self.lipschitz(data.A)

    def layer(self, k, data, state):
        x, previous, inverse_lipschitz = state
        y = x + self.at("beta", k) * (x - previous)
        Q = self.metric_root
        weighted = ((apply(data.A, y) - data.b) @ Q.T) @ Q
        step = self.at("gamma", k) * inverse_lipschitz
        z = y - step * adjoint_operator(data.A, weighted)
        return soft_threshold(z, self.at("theta", k)), x, inverse_lipschitz


class AdaLISTA(VaryingDictionaryRegressor):
    """Ada-LISTA: unrolled FISTA on any dictionary, with a learned metric.

    Each of ``n_layers`` layers takes a proximal-gradient step from an
    extrapolated point, on the dictionary ``A`` given with the measurements::

        y^k = x^k + beta_k (x^k - x^{k-1}),
        x^{k+1} = soft(y^k - (gamma_k / L) A^T U (A y^k - b); theta_k),

    with ``U = Q^T Q`` symmetric positive semidefinite, shared by the layers
    and learned with the per-layer steps ``gamma_k``, thresholds ``theta_k``
    and momenta ``beta_k``. The steps are in units of ``1 / L``, with
    ``L = ||Q A||_2^2`` computed for the dictionary of each call (by power
    iteration), so that a dictionary with a larger norm than those seen in
    training gets proportionally smaller steps instead of diverging. What is
    learned acts on the residual, not on the dictionary's atoms, so one
    trained solver serves every dictionary of a family: a new dictionary
    needs no retraining. ``A^T U (A y - b)`` is the
    gradient of 1/2 ||A y - b||_U^2, so that each layer is a descent step on
    a data-fit term for any ``U``.

    Untrained, it is FISTA for the l1 weight 0.4 (step 1 / L, ``U = I``) on
    the nominal dictionary; training draws a perturbed dictionary for every
    batch (``perturbation``) or uses the dictionaries given to ``fit``.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The nominal dictionary ``A``. If None, it is estimated from the
        training pairs by least squares.
    perturbation : float, default=0.03
        As in :class:`RobustALISTA`: each training batch draws ``sigma`` in
        [0, perturbation] and the dictionary ``A + sigma N(0, 1)`` (unit-norm
        columns); 0 trains on the nominal dictionary alone.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    metric_ : ndarray of shape (n_features, n_features)
        The learned metric U = Q^T Q.
    steps_ : ndarray of shape (n_layers,)
        Learned steps gamma_k, in units of 1 / ||Q A||_2^2.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.
    momentum_ : ndarray of shape (n_layers,)
        Learned extrapolation weights beta_k.

    See Also
    --------
    RobustALISTA : ALISTA with a weight computed for each dictionary.
    FISTA : The classic iteration Ada-LISTA starts from.

    Notes
    -----
    The paper learns two matrices, ``W_1`` on the residual and ``W_2`` on the
    atoms, ``(W_2 A)^T (W_1 A y - W_1 b)``; the tutorial form used here ties
    them, ``W_1 = W_2 = Q``, which keeps every step a descent direction. The
    updates treat the atoms alike: permuting a dictionary's columns permutes
    the code entries returned, so column permutations, one of the paper's
    dictionary families, need no training of their own. With
    ``loss="lasso"`` and the dictionaries given to ``fit``, training needs no
    codes: it minimises the LASSO objective (weight ``alpha``) of the output.
    Reference: A. Aberdam, A. Golts, M. Elad, "Ada-LISTA: Learned solvers
    adaptive to varying models", IEEE TPAMI, 2021.

    Examples
    --------
    >>> from sklearn_l2o import AdaLISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery, perturb_dictionary
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = AdaLISTA(dictionary=A, n_layers=4, refinement_steps=100,
    ...                  device="cpu", random_state=0).fit(B, X)
    >>> A_new = perturb_dictionary(A, 0.02, random_state=1)
    >>> model.predict(X[:5] @ A_new.T, dictionaries=A_new).shape
    (5, 64)
    """

    _parameter_constraints = {**VaryingDictionaryRegressor._parameter_constraints}

    def __init__(
        self,
        dictionary=None,
        *,
        perturbation=0.03,
        n_layers=16,
        loss="mse",
        alpha=0.005,
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
        refinement_steps=4000,
        refinement_patience=1500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.perturbation = perturbation
        self.n_layers = n_layers
        self.loss = loss
        self.alpha = alpha
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

    metric_ = net_attribute(lambda net: net.metric_root.T @ net.metric_root)
    steps_ = net_attribute(lambda net: net.gamma)
    thresholds_ = net_attribute(lambda net: net.theta)
    momentum_ = net_attribute(lambda net: net.beta)

    def _rate_factors(self):
        # Q starts at the identity: its off-diagonal entries are to move by
        # O(1 / n_features), far less than a step at the decoder's rate
        return {"metric_root": 1e-2}

    def _build_net(self, A, y, device, dtype):
        m, n = A.shape
        return AdaLISTANet(
            self.n_layers,
            m,
            n,
            default_threshold(A),
            fista_momentum(self.n_layers),
            dtype,
            device,
        )
