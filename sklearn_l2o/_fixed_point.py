"""Fixed-point ALISTA: one ALISTA layer iterated to its fixed point, trained
with Jacobian-free back-propagation (Fung et al., AAAI 2022)."""

import math
import numbers

import torch

from ._base import UnrolledRegressor, net_attribute
from ._shrinkage import support_selection_threshold
from ._sklearn_compat import Interval
from ._starts import analytic_weight, stable_step
from ._unrolled import UnrolledNet, descend

#: iterations between two checks of which rows have converged at predict time
_CHECK_EVERY = 10


class FixedPointALISTANet(UnrolledNet):
    """x <- eta_ss(x - gamma W^T (A x - b); c ||A x - b|| / sqrt(m), p), iterated.

    The threshold follows the residual's level, row by row, so it falls to
    zero as the residual does and the true code of a noiseless
    measurement is a fixed point. ``forward`` runs the layer ``train_iter``
    times when gradients are recorded (the last one with them: Jacobian-free
    back-propagation), else until every row has converged (``tol``) or
    ``max_iter`` iterations.
    """

    threshold = None
    reads_residual = True

    def __init__(self, A, W, n_selected, step, scale, dtype, device):
        super().__init__(1, A.shape[1], dtype, device)
        self.constant("A", A)
        self.constant("W", W)
        self.n_selected = int(n_selected)
        self.per_layer("gamma", step)
        self.per_layer("log_scale", math.log(scale))
        self.train_iter = 30
        self.max_iter = 100
        self.tol = 1e-6

    def layer(self, k, b, state):
        x = state[0]
        residual = self.residual(x, b)
        z = descend(x, residual, self.W, self.at("gamma", 0))
        # the residual's level per measurement: zero at an exact solution
        level = torch.linalg.vector_norm(residual, dim=1, keepdim=True)
        theta = torch.exp(self.at("log_scale", 0)) * level / self.A.shape[0] ** 0.5
        return (support_selection_threshold(z, theta, self.n_selected),)

    def forward(self, b, n_layers=None, n_frozen=0):
        self._split_cache = {n: getattr(self, n).unbind(0) for n in self.layered}
        try:
            if torch.is_grad_enabled():
                state = self.initial_state(b)
                with torch.no_grad():
                    for _ in range(self.train_iter - 1):
                        state = self.layer(0, b, state)
                state = self.layer(0, b, state)
            else:
                state = self._solve(b)
        finally:
            self._split_cache = None
        return self.output(state, b)

    def _solve(self, b):
        """Iterate each row until its relative change is below ``tol``.

        The rows still moving are iterated as one block; the block shrinks,
        and is written back, only at the checks.
        """
        x = self.initial_state(b)[0]
        active = torch.arange(b.shape[0], device=b.device)
        rows_b, rows_x = b, x
        for i in range(self.max_iter):
            new = self.layer(0, rows_b, (rows_x,))[0]
            last = i + 1 == self.max_iter
            if self.tol > 0 and not last and (i + 1) % _CHECK_EVERY == 0:
                change = torch.linalg.vector_norm(new - rows_x, dim=1)
                size = torch.linalg.vector_norm(new, dim=1)
                x = x.index_copy(0, active, new)
                moving = change > self.tol * size
                active, rows_b, new = active[moving], rows_b[moving], new[moving]
                if active.numel() == 0:
                    return (x,)
            rows_x = new
        return (x.index_copy(0, active, rows_x),)

    def iterates(self, b, n_layers=None):
        """Yield the estimate after each of ``max_iter`` iterations."""
        state = self.initial_state(b)
        with torch.no_grad():
            for _ in range(self.max_iter):
                state = self.layer(0, b, state)
                yield self.output(state, b)


class FixedPointALISTA(UnrolledRegressor):
    """ALISTA of infinite depth: one layer iterated to its fixed point.

    Each iteration is an ALISTA layer with an instance-adaptive threshold::

        r = A x - b,
        x <- eta_ss(x - gamma W^T r; theta = c ||r||_2 / sqrt(m), p),

    with ``W`` ALISTA's analytic weight, soft thresholding in which the
    largest ``p = support_fraction * n_components`` entries of each signal
    (above theta) pass unshrunk, and two learned numbers, the step ``gamma``
    and the threshold factor ``c``, for ``m`` measurements. The threshold
    shrinks with the residual, so the true code of a noiseless measurement
    is a fixed point, and the iteration can run as long as asked:
    ``predict`` stops each signal once its relative change is below ``tol``,
    or after ``max_iter`` iterations.

    Training runs the iteration ``train_iter`` times per step without
    recording gradients, then once more with them: the gradient of the loss
    through that last application stands in for the gradient through the
    fixed point (Jacobian-free back-propagation), so memory and time do not
    grow with the depth.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    support_fraction : float, default=0.13
        Share of entries passed unshrunk in every iteration (at least the
        share of non-zero entries expected in a code).
    init_scale : float, default=1.0
        Starting threshold factor ``c``.
    max_iter : int, default=100
        Most iterations at predict time.
    tol : float, default=1e-6
        A signal stops iterating once ``||x_new - x|| <= tol ||x_new||``
        (checked every 10 iterations); 0 runs ``max_iter`` iterations.
    train_iter : int, default=30
        Iterations per training step (the last one back-propagated).
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weight_ : ndarray of shape (n_features, n_components)
        The analytic weight W.
    step_ : float
        Learned step gamma.
    threshold_scale_ : float
        Learned threshold factor c.

    See Also
    --------
    ALISTA : 16 layers with their own step and threshold.
    HyperLISTA : A fixed rule with momentum, tuned by search.

    Notes
    -----
    Reference: S. W. Fung, H. Heaton, Q. Li, D. McKenzie, S. Osher, W. Yin,
    "JFB: Jacobian-free backpropagation for implicit networks", AAAI 2022;
    the tutorial's answer to "K large or K = infinity": a deep equilibrium
    (fixed-point) network in place of an unrolled one.

    Examples
    --------
    >>> from sklearn_l2o import FixedPointALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                sparsity=0.05, random_state=0)
    >>> model = FixedPointALISTA(dictionary=A, max_steps_per_stage=100,
    ...                          device="cpu", random_state=0)
    >>> model = model.fit(B[:1800], X[:1800])
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -10)
    True
    """

    _parameter_constraints = {
        **{
            name: rule
            for name, rule in UnrolledRegressor._parameter_constraints.items()
            if name
            not in ("n_layers", "threshold_search", "layer_decay", "continuation_iter")
        },
        "support_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "init_scale": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "train_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    }
    # one layer, iterated: the stage-wise schedule has a single depth
    n_layers = 1
    threshold_search = False
    layer_decay = 1.0

    def __init__(
        self,
        dictionary=None,
        *,
        support_fraction=0.13,
        init_scale=1.0,
        max_iter=100,
        tol=1e-6,
        train_iter=30,
        loss="mse",
        alpha=0.005,
        learning_rate=2e-2,
        batch_size=128,
        max_steps_per_stage=300,
        patience=100,
        validation_fraction=0.1,
        validation_interval=50,
        stage_factors=(1.0, 0.2, 0.02),
        plateau_decays=2,
        refinement_steps=0,
        refinement_patience=100,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.support_fraction = support_fraction
        self.init_scale = init_scale
        self.max_iter = max_iter
        self.tol = tol
        self.train_iter = train_iter
        self.loss = loss
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps_per_stage = max_steps_per_stage
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.validation_interval = validation_interval
        self.stage_factors = stage_factors
        self.plateau_decays = plateau_decays
        self.refinement_steps = refinement_steps
        self.refinement_patience = refinement_patience
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start

    weight_ = net_attribute(lambda net: net.W)
    step_ = net_attribute(lambda net: float(net.gamma[0]))
    threshold_scale_ = net_attribute(lambda net: math.exp(float(net.log_scale[0])))

    def _build_net(self, A, y, device, dtype):
        n_selected = int(self.support_fraction * A.shape[1])
        W = analytic_weight(A)
        return FixedPointALISTANet(
            A, W, n_selected, stable_step(W, A), float(self.init_scale), dtype, device
        )

    def _set_iterations(self, net):
        """The iteration counts of today's parameters (set_params after fit
        changes how predict iterates, not what was learned)."""
        net.train_iter = int(self.train_iter)
        net.max_iter = int(self.max_iter)
        net.tol = float(self.tol)

    def _train(self, net, *args, **kwargs):
        self._set_iterations(net)
        return super()._train(net, *args, **kwargs)

    def _predict(self, X, dictionaries=None):
        if hasattr(self, "module_"):
            self._set_iterations(self.module_)
        return super()._predict(X, dictionaries)

    def _staged_predict(self, X, dictionaries=None):
        if hasattr(self, "module_"):
            self._set_iterations(self.module_)
        return super()._staged_predict(X, dictionaries)

    def _warm_start_mismatch(self):
        if self.module_.n_selected != int(
            self.support_fraction * self.module_.n_components
        ):
            return f"support_fraction (now {self.support_fraction})"
        return None
