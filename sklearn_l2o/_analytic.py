"""AnalyticOptimizer: hand-designed optimizers behind the estimator interface
of the learned ones."""

import numbers

from ._optim_base import OptimizerEstimator
from ._rules import METHODS, analytic_rule
from ._sklearn_compat import Interval, StrOptions


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
        return analytic_rule(
            self.method,
            float(self.learning_rate),
            line_search=bool(self.line_search),
            momentum=float(self.momentum),
            beta_1=float(self.beta_1),
            beta_2=float(self.beta_2),
            rho=float(self.rho),
            epsilon=float(self.epsilon),
        )
