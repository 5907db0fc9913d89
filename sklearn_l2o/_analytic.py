"""Analytic optimizers (GD, NAG, Adam, RMSProp) as update rules and an estimator.

Each ``*_rule`` function returns an :class:`~sklearn_l2o._optim_base.UpdateRule`
over batched tensors of shape (Q, d); :func:`backtracking` wraps any rule in a
per-instance backtracking line search. :class:`AnalyticOptimizer` puts them
behind the same estimator interface as the learned optimizers.
"""

import numbers

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._optim_base import OptimizerEstimator, UpdateRule

#: the methods AnalyticOptimizer offers
METHODS = ("gd", "nag", "adam", "rmsprop")

#: backtracking: factor applied to a rejected step, sufficient-decrease constant
#: of the Armijo test, and how many halvings before the step is dropped
SHRINK = 0.5
ARMIJO = 1e-4
MAX_BACKTRACKS = 30


def gd_rule(learning_rate):
    """Gradient descent: step = -lr * g."""

    def init(x):
        return ()

    def update(grad, state, x, value, value_fn):
        return -learning_rate * grad, state

    return UpdateRule(init, update)


def nag_rule(learning_rate, momentum):
    """Nesterov's accelerated gradient, in the form of Sutskever et al. (2013).

    With the buffer b <- mu b + g, step = -lr (g + mu b): the lookahead
    rewritten so that the gradient is taken at the iterate itself (the form of
    ``torch.optim.SGD(nesterov=True)``).
    """

    def init(x):
        return torch.zeros_like(x)

    def update(grad, buffer, x, value, value_fn):
        buffer = momentum * buffer + grad
        return -learning_rate * (grad + momentum * buffer), buffer

    return UpdateRule(init, update)


def adam_rule(learning_rate, beta_1, beta_2, epsilon):
    """Adam (Kingma & Ba, 2015) with bias-corrected moments."""

    def init(x):
        return torch.zeros_like(x), torch.zeros_like(x), 0

    def update(grad, state, x, value, value_fn):
        m, v, t = state
        t += 1
        m = beta_1 * m + (1 - beta_1) * grad
        v = beta_2 * v + (1 - beta_2) * grad * grad
        m_hat = m / (1 - beta_1**t)
        v_hat = v / (1 - beta_2**t)
        return -learning_rate * m_hat / (torch.sqrt(v_hat) + epsilon), (m, v, t)

    return UpdateRule(init, update)


def rmsprop_rule(learning_rate, rho, epsilon):
    """RMSProp (Tieleman & Hinton, 2012): step = -lr g / (sqrt(E[g^2]) + eps)."""

    def init(x):
        return torch.zeros_like(x)

    def update(grad, v, x, value, value_fn):
        v = rho * v + (1 - rho) * grad * grad
        return -learning_rate * grad / (torch.sqrt(v) + epsilon), v

    return UpdateRule(init, update)


def backtracking(rule, shrink=SHRINK, armijo=ARMIJO, max_backtracks=MAX_BACKTRACKS):
    """Wrap ``rule`` in a backtracking line search, instance by instance.

    The wrapped rule proposes a step u (its learning rate sets the first
    trial); the step taken is s u with the largest s in {1, shrink, shrink^2,
    ...} that passes the Armijo test

        f(x + s u) <= f(x) + armijo * s * min(g^T u, 0),

    and s = 0 (no move) when none of ``max_backtracks`` halvings passes. The
    min() makes the test refuse any increase of f even when u is not a descent
    direction (momentum can point uphill), so the objective never goes up.
    """

    def update(grad, state, x, value, value_fn):
        if value_fn is None or value is None:
            raise ValueError(
                "a line search needs the objective: use transform, "
                "objective_curve or minimize rather than as_torch_optimizer."
            )
        step, state = rule.update(grad, state, x, value, value_fn)
        slope = torch.sum(grad * step, dim=1).clamp(max=0.0)
        scale = torch.ones_like(value)
        pending = torch.ones_like(value, dtype=torch.bool)
        for _ in range(max_backtracks):
            trial = value_fn(x + scale[:, None] * step)
            accepted = trial <= value + armijo * scale * slope
            pending = pending & ~accepted
            if not bool(pending.any()):
                break
            scale = torch.where(pending, scale * shrink, scale)
        scale = torch.where(pending, torch.zeros_like(scale), scale)
        return scale[:, None] * step, state

    return UpdateRule(rule.init, update)


class AnalyticOptimizer(OptimizerEstimator):
    """Hand-designed optimizer (GD, NAG, Adam or RMSProp) as an estimator.

    The baselines of the learned optimizers, under the same interface:
    ``transform`` runs ``n_steps`` steps on each problem instance (a row of
    ``X``) and returns the solutions, ``objective_curve`` the objective along
    the way, ``score`` the negative relative loss, ``minimize`` works on any
    torch function and ``as_torch_optimizer`` on any torch model. ``fit``
    checks the instances and learns nothing.

    Parameters
    ----------
    family : ProblemFamily, default=None
        What a row means (see :mod:`sklearn_l2o.problems`); None uses
        :class:`~sklearn_l2o.problems.QuadraticProblems`.
    method : {"gd", "nag", "adam", "rmsprop"}, default="adam"
        Gradient descent, Nesterov's accelerated gradient, Adam or RMSProp.
    learning_rate : float, default=1e-3
        Step size (with ``line_search``, the first step tried at every
        iteration). The survey's LASSO baselines use 1e-3.
    n_steps : int, default=100
        Steps taken by ``transform``, ``objective_curve``, ``score`` and
        ``minimize``.
    line_search : bool, default=False
        Backtrack each step until the objective decreases enough (Armijo
        test, halving up to 30 times, else no move), per instance. The survey
        runs GD and NAG this way on Rastrigin functions, from 0.1.
    momentum : float, default=0.9
        NAG's momentum.
    beta_1 : float, default=0.9
        Adam's first-moment decay.
    beta_2 : float, default=0.999
        Adam's second-moment decay.
    rho : float, default=0.9
        RMSProp's decay of the mean squared gradient.
    epsilon : float, default=1e-8
        Added to the denominators of Adam and RMSProp.
    dtype : {"float32", "float64"}, default="float64"
        Precision of the runs.
    random_state : int, RandomState instance or None, default=None
        Seeds the starting points of families that draw them.
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Attributes
    ----------
    family_ : ProblemFamily
        The family used.
    n_variables_ : int
        Length of an instance's variable.
    device_ : torch.device
        Where the runs happen.
    n_features_in_ : int
        Width of an instance row.

    See Also
    --------
    LearnedOptimizer : The learned update rules these are baselines for.
    FISTA : The accelerated proximal method for LASSO instances.

    Notes
    -----
    For instance q with gradient g_t at x_t (step s_t = x_{t+1} - x_t):

    - GD: s_t = -lr g_t.
    - NAG (Sutskever et al., ICML 2013, the form of ``torch.optim.SGD`` with
      ``nesterov=True``): b_t = mu b_{t-1} + g_t, s_t = -lr (g_t + mu b_t).
    - Adam (Kingma & Ba, ICLR 2015): bias-corrected moments m, v;
      s_t = -lr m_hat / (sqrt(v_hat) + eps).
    - RMSProp (Tieleman & Hinton 2012): v_t = rho v_{t-1} + (1 - rho) g_t^2,
      s_t = -lr g_t / (sqrt(v_t) + eps).

    With ``line_search`` the step is scaled by the largest 2^-k passing
    f(x + 2^-k s) <= f(x) + 1e-4 2^-k min(g^T s, 0), so f never increases.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o import AnalyticOptimizer
    >>> B = np.random.RandomState(0).normal(size=(20, 5))
    >>> adam = AnalyticOptimizer(method="adam", learning_rate=0.1, n_steps=50,
    ...                          device="cpu").fit(B)
    >>> curve = adam.objective_curve(B)
    >>> curve.shape
    (51, 20)
    >>> bool(np.all(curve[-1] < curve[0]))
    True
    """

    _parameter_constraints = {
        **OptimizerEstimator._parameter_constraints,
        "method": [StrOptions(set(METHODS))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "line_search": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "rho": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        family=None,
        *,
        method="adam",
        learning_rate=1e-3,
        n_steps=100,
        line_search=False,
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        rho=0.9,
        epsilon=1e-8,
        dtype="float64",
        random_state=None,
        device="auto",
    ):
        self.family = family
        self.method = method
        self.learning_rate = learning_rate
        self.n_steps = n_steps
        self.line_search = line_search
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.rho = rho
        self.epsilon = epsilon
        self.dtype = dtype
        self.random_state = random_state
        self.device = device

    def _make_rule(self, layout, device, dtype, family=None):
        lr = float(self.learning_rate)
        if self.method == "gd":
            rule = gd_rule(lr)
        elif self.method == "nag":
            rule = nag_rule(lr, float(self.momentum))
        elif self.method == "adam":
            rule = adam_rule(
                lr, float(self.beta_1), float(self.beta_2), float(self.epsilon)
            )
        else:
            rule = rmsprop_rule(lr, float(self.rho), float(self.epsilon))
        return backtracking(rule) if self.line_search else rule
