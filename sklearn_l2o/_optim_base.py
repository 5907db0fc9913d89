"""Update rules, the runner that applies them, and the estimator glue they share.

An *update rule* is a pair of functions over tensors, as in optax::

    state = rule.init(x)
    step, state = rule.update(grad, state, x, value, value_fn)
    x = x + step

``x`` and ``grad`` have shape (Q, d): Q problem instances of d variables,
updated side by side; ``value`` holds the Q objective values at ``x`` and
``value_fn`` evaluates the objective elsewhere (line searches need it; other
rules ignore both). Analytic rules (GD, NAG, Adam, RMSProp, with or without a
line search) and learned ones (a trained network applied coordinate-wise) are
the same kind of object, so one runner, :func:`run`, serves both, and the
meta-training of learned rules unrolls the very same step with gradients kept.

:class:`OptimizerEstimator` turns a rule into a scikit-learn estimator over
problem instances (one per row, see :mod:`sklearn_l2o.problems`), with
``transform``, ``objective_curve``, ``score``, ``minimize`` and
``as_torch_optimizer``.
"""

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy.optimize import OptimizeResult
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._mixins import ShortReprMixin, TorchPickleMixin
from ._problems import QuadraticProblems
from ._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ._torch import resolve_device, resolve_dtype, to_numpy

#: instances run together by transform and friends; instances are independent,
#: so chunking only bounds memory
_CHUNK = 4096


class UpdateRule(NamedTuple):
    """An optimizer as two functions over tensors (see the module docstring).

    ``init(x) -> state`` and
    ``update(grad, state, x, value, value_fn) -> (step, new_state)``.
    """

    init: Callable[[torch.Tensor], Any]
    update: Callable[..., tuple]


class Layout:
    """How the d variables of an instance split into tensors.

    Learned rules with tensor-level state (L2O-Scale) average over the
    variables of each tensor; ``groups[j]`` names the tensor of variable j.
    """

    def __init__(self, groups, device):
        groups = np.asarray(groups).ravel()
        if groups.size == 0:
            raise ValueError("an instance must have at least one variable.")
        _, index = np.unique(groups, return_inverse=True)
        self.n_variables = index.size
        self.n_groups = int(index.max()) + 1
        self.index = torch.as_tensor(index, dtype=torch.long, device=device)
        counts = np.bincount(index, minlength=self.n_groups)
        self.counts = torch.as_tensor(counts, device=device)

    @classmethod
    def single(cls, n_variables, device):
        """All variables in one tensor."""
        return cls(np.zeros(n_variables, dtype=np.int64), device)

    def mean(self, z):
        """Average over each tensor: (Q, d, C) -> (Q, n_groups, C)."""
        if self.n_groups == 1:
            return z.mean(dim=1, keepdim=True)
        total = z.new_zeros(z.shape[0], self.n_groups, z.shape[2])
        total = total.index_add(1, self.index, z)
        return total / self.counts.to(z.dtype).view(1, -1, 1)

    def expand(self, z):
        """Give each variable its tensor's entry: (Q, n_groups, C) -> (Q, d, C)."""
        if self.n_groups == 1:
            return z.expand(-1, self.n_variables, -1)
        return z.index_select(1, self.index)


def value_and_grad(objective, x, *, keep_graph=False):
    """Objective values at ``x`` (shape (Q,)) and their gradient in ``x``.

    The gradient is returned as plain data: update rules take it as an input
    and it is never differentiated (the first-order meta-gradient of
    Andrychowicz et al. 2016). With ``keep_graph`` the values keep their graph,
    so that a meta-loss built from them reaches the rule's parameters through
    ``x``.
    """
    with torch.enable_grad():
        point = x if keep_graph and x.requires_grad else x.detach().requires_grad_()
        value = objective(point)
        if value.shape != (x.shape[0],):
            raise ValueError(
                "the objective must return one value per instance, shape "
                f"({x.shape[0]},); got shape {tuple(value.shape)}."
            )
        if value.requires_grad:
            (grad,) = torch.autograd.grad(
                value.sum(), point, retain_graph=keep_graph, allow_unused=True
            )
        else:
            grad = None
    if grad is None:  # the objective does not depend on x
        grad = torch.zeros_like(x)
    return (value if keep_graph else value.detach()), grad


def no_grad_values(objective):
    """``objective`` evaluated without building a graph (for line searches)."""

    def value_fn(x):
        with torch.no_grad():
            return objective(x)

    return value_fn


def run(rule, objective, x0, n_steps):
    """Apply ``rule`` to ``objective`` for ``n_steps`` steps from ``x0``.

    Parameters
    ----------
    rule : UpdateRule
    objective : callable
        ``objective(x) -> (Q,)`` for ``x`` of shape (Q, d), differentiable.
    x0 : tensor of shape (Q, d)
    n_steps : int

    Returns
    -------
    x : tensor of shape (Q, d)
        The last iterate.
    values : tensor of shape (n_steps + 1, Q)
        The objective at ``x0`` and after every step.
    """
    x = x0.detach()
    value_fn = no_grad_values(objective)
    state = rule.init(x)
    values = []
    for _ in range(n_steps):
        value, grad = value_and_grad(objective, x)
        values.append(value)
        with torch.no_grad():
            step, state = rule.update(grad, state, x, value, value_fn)
            x = x + step
    values.append(value_fn(x))
    return x, torch.stack(values)


class RuleOptimizer(torch.optim.Optimizer):
    """A :class:`torch.optim.Optimizer` that steps with an update rule.

    All parameters are flattened into one instance (a row of length D); each
    parameter tensor is one tensor of the layout, which the tensor-level
    state of hierarchical rules pools over. A parameter whose ``grad`` is None
    is left where it is, as torch's optimizers do (the rule sees a zero
    gradient for it, since a learned rule may step even then).

    Parameters
    ----------
    params : iterable of tensors or dicts
        As for any torch optimizer.
    make_rule : callable
        ``make_rule(layout, device, dtype) -> UpdateRule``.
    """

    def __init__(self, params, make_rule):
        super().__init__(params, {})
        self._make_rule = make_rule
        self._rule = None

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step of the rule; return the closure's loss, if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = self._params()
        first = params[0]
        if self._rule is None:
            sizes = [p.numel() for p in params]
            groups = np.repeat(np.arange(len(params)), sizes)
            layout = Layout(groups, first.device)
            self._rule = self._make_rule(layout, first.device, first.dtype)
        x = torch.cat([p.detach().reshape(-1).to(first.dtype) for p in params])
        grad = torch.cat(
            [
                (torch.zeros_like(p) if p.grad is None else p.grad)
                .reshape(-1)
                .to(first.dtype)
                for p in params
            ]
        )
        x, grad = x.unsqueeze(0), grad.unsqueeze(0)
        if "rule_state" not in self.state:
            self.state["rule_state"] = self._rule.init(x)
        step, self.state["rule_state"] = self._rule.update(
            grad, self.state["rule_state"], x, None, None
        )
        offset = 0
        for p in params:
            n = p.numel()
            if p.grad is not None:
                p.add_(step[0, offset : offset + n].view_as(p).to(p.dtype))
            offset += n
        return loss


def populate(data, population):
    """Each instance's row repeated ``population`` times, consecutively (a
    swarm's particles); the rows themselves for a population of 1."""
    if population == 1:
        return data
    return data.repeat_interleave(population, dim=0)


def _best_particles(x, values, population):
    """Per instance, the last iterate of the particle that ends lowest, and
    the lowest value of its particles at every step."""
    n_steps = values.shape[0]
    values = values.reshape(n_steps, -1, population)
    final = torch.nan_to_num(values[-1], nan=math.inf)
    best = final.argmin(dim=1)
    x = x.reshape(values.shape[1], population, -1)
    x = x[torch.arange(x.shape[0], device=x.device), best]
    return x, torch.nan_to_num(values, nan=math.inf).amin(dim=2)


class OptimizerEstimator(
    ShortReprMixin,
    TorchPickleMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Base class of the optimizer estimators (not public).

    Subclasses implement ``_make_rule(layout, device, dtype, family)`` (the
    family being run; None for an arbitrary function) and may
    implement ``_learn(X, rng)``, called by ``fit`` once the data are checked.
    Instances are the rows of ``X``; the problem family (``family``, or
    :class:`~sklearn_l2o.problems.QuadraticProblems` by default) says what a
    row means.
    """

    _parameter_constraints = {
        "family": [HasMethods(["objective", "n_variables"]), None],
        "n_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state"],
        "device": [str],
    }

    # ----------------------------------------------------------------- hooks
    def _make_rule(self, layout, device, dtype, family=None):  # pragma: no cover
        raise NotImplementedError

    def _learn(self, X, rng):
        """Learn from the training instances; nothing by default."""

    def _check_ready(self):
        """Raise NotFittedError if the rule cannot run yet."""

    def _population(self):
        """Points run per instance (the best one is reported); 1 but for a
        swarm."""
        return 1

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the problem instances and learn from them, if anything is to learn.

        Parameters
        ----------
        X : array-like of shape (n_instances, n_data)
            Problem instances, one per row, as the family defines them.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        family = QuadraticProblems() if self.family is None else self.family
        family.check_data(X)
        self.family_ = family
        self.n_variables_ = int(family.n_variables(X.shape[1]))
        self._n_features_out = self.n_variables_
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        # one seed for the starting points of every later run, so that
        # transform, objective_curve and score see the same starts
        self._start_seed = int(rng.randint(0, 2**31 - 1))
        self._learn(X, rng)
        return self

    # ------------------------------------------------------------------- run
    def _layout(self, device, family=None, n_variables=None):
        family = self.family_ if family is None else family
        n_variables = self.n_variables_ if n_variables is None else n_variables
        groups = np.asarray(family.variable_groups(n_variables))
        if groups.shape != (n_variables,):
            raise ValueError(
                f"{family!r}.variable_groups returned shape {groups.shape}; "
                f"expected ({n_variables},)."
            )
        return Layout(groups, device)

    def _run(self, X, n_steps=None, family=None):
        """Run the rule on validated instances: (X, last iterates, values).

        ``family`` runs it on instances of another family than the fitted one
        (an unseen task); their rows then need not match ``n_features_in_``.
        """
        check_is_fitted(self, "family_")
        self._check_ready()
        dtypes = [np.float64, np.float32]
        if family is None:
            family = self.family_
            X = validate_data(self, X, reset=False, dtype=dtypes)
        else:
            X = check_array(X, dtype=dtypes)
        family.check_data(X)
        n_steps = self.n_steps if n_steps is None else n_steps
        if not isinstance(n_steps, numbers.Integral) or n_steps < 0:
            raise ValueError(
                f"n_steps must be a non-negative integer; got {n_steps!r}."
            )
        dtype = resolve_dtype(self.dtype)
        data = torch.tensor(X, dtype=dtype, device=self.device_)
        layout = self._layout(self.device_, family, family.n_variables(X.shape[1]))
        rule = self._make_rule(layout, self.device_, dtype, family)
        generator = torch.Generator(device=self.device_)
        generator.manual_seed(self._start_seed)
        population = self._population()
        iterates, curves = [], []
        for chunk in data.split(_CHUNK):
            # a swarm's particles are consecutive rows of one instance each
            rows = populate(chunk, population)
            x0 = family.initial_point(rows, generator).to(dtype)

            def objective(x, rows=rows):
                return family.objective(x, rows)

            x, values = run(rule, objective, x0, int(n_steps))
            if population > 1:
                x, values = _best_particles(x, values, population)
            iterates.append(x)
            curves.append(values)
        return X, torch.cat(iterates), torch.cat(curves, dim=1)

    def transform(self, X):
        """Solve the instances: run the optimizer for ``n_steps`` steps.

        Parameters
        ----------
        X : array-like of shape (n_instances, n_data)
            Problem instances, one per row.

        Returns
        -------
        X_new : ndarray of shape (n_instances, n_variables)
            The last iterate of every instance, float64.
        """
        _, x, _ = self._run(X)
        out = to_numpy(x)
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(
                "the optimizer diverged (non-finite iterates); use a smaller step "
                "or an optimizer trained on problems of this scale."
            )
        return out

    def objective_curve(self, X, n_steps=None, family=None):
        """Objective values along the run, one row per step.

        Parameters
        ----------
        X : array-like of shape (n_instances, n_data)
            Problem instances, one per row.
        n_steps : int, default=None
            Steps to run; None uses ``n_steps`` of the estimator.
        family : ProblemFamily, default=None
            Run on instances of this family instead of the fitted one (the
            rules act coordinate-wise, so they apply to any number of
            variables): how an optimizer trained on one task is tested on an
            unseen one.

        Returns
        -------
        values : ndarray of shape (n_steps + 1, n_instances)
            Row t holds f_q(x_t) for every instance q; row 0 is the start.
            Diverging runs show as inf or NaN rather than raising.
        """
        _, _, values = self._run(X, n_steps, family)
        return to_numpy(values)

    def score(self, X, y=None):
        """Negative relative loss -R_f of the final iterates (greater is better).

        R_f = (E_q[f_q(x_q)] - E_q[f*_q]) / E_q[f*_q], the survey's relative
        loss over the given instances.

        Parameters
        ----------
        X : array-like of shape (n_instances, n_data)
            Problem instances, one per row.
        y : array-like of shape (n_instances,), default=None
            Optimal values f*_q; None asks the family (``optimal_value``).

        Returns
        -------
        score : float
            -R_f.
        """
        X, _, values = self._run(X)
        final = to_numpy(values[-1])
        if y is None:
            optimum = self.family_.optimal_value(X)
            if optimum is None:
                raise ValueError(
                    f"{self.family_!r} knows no optimal values; pass them as y "
                    "to score."
                )
        else:
            optimum = column_or_1d(y, dtype=np.float64)
        optimum = np.asarray(optimum, dtype=np.float64)
        if optimum.shape != final.shape:
            raise ValueError(
                f"y must hold one optimal value per instance ({final.shape[0]}); "
                f"got shape {optimum.shape}."
            )
        reference = float(np.mean(optimum))
        if reference == 0.0:
            raise ValueError(
                "the relative loss is undefined: the optimal values average to 0."
            )
        return -float(np.mean(final) - reference) / reference

    # -------------------------------------------------- any torch objective
    def minimize(self, fun, x0, n_steps=None):
        """Minimise a differentiable torch function with this optimizer.

        Parameters
        ----------
        fun : callable
            ``fun(x) -> scalar tensor`` for ``x`` shaped like ``x0``.
        x0 : tensor or array-like
            Starting point; its floating dtype and device are kept (arrays
            become float64 CPU tensors).
        n_steps : int, default=None
            Steps to take; None uses ``n_steps`` of the estimator.

        Returns
        -------
        result : scipy.optimize.OptimizeResult
            ``x`` (the last iterate, a tensor if ``x0`` was one, else an
            ndarray), ``fun`` (its value), ``nit``, ``success`` (finite values)
            and ``objective_curve`` (ndarray of the n_steps + 1 values).
        """
        self._validate_params()
        self._check_ready()
        n_steps = self.n_steps if n_steps is None else n_steps
        if not isinstance(n_steps, numbers.Integral) or n_steps < 0:
            raise ValueError(
                f"n_steps must be a non-negative integer; got {n_steps!r}."
            )
        is_tensor = isinstance(x0, torch.Tensor)
        start = x0.detach() if is_tensor else torch.as_tensor(np.asarray(x0))
        if not start.is_floating_point():
            start = start.to(torch.get_default_dtype())
        if start.numel() == 0:
            raise ValueError("x0 is empty.")
        shape = start.shape

        def objective(x):
            value = fun(x.reshape(shape))
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise ValueError(
                    "fun must return a scalar tensor; got "
                    f"{type(value).__name__} of shape {tuple(np.shape(value))}."
                )
            return value.reshape(1)

        layout = Layout.single(start.numel(), start.device)
        rule = self._make_rule(layout, start.device, start.dtype)
        x, values = run(rule, objective, start.reshape(1, -1), int(n_steps))
        curve = to_numpy(values[:, 0])
        x = x.reshape(shape)
        return OptimizeResult(
            x=x if is_tensor else to_numpy(x),
            fun=float(curve[-1]),
            nit=int(n_steps),
            success=bool(np.all(np.isfinite(curve))),
            objective_curve=curve,
        )

    def as_torch_optimizer(self, params):
        """A :class:`torch.optim.Optimizer` stepping with this update rule.

        Parameters
        ----------
        params : iterable of tensors or dicts
            The model parameters, as for any torch optimizer.

        Returns
        -------
        optimizer : torch.optim.Optimizer
            Call ``zero_grad()``, ``loss.backward()`` and ``step()`` as usual.
            The rule treats all parameters as one instance, each parameter
            tensor as one tensor of it.
        """
        self._validate_params()
        self._check_ready()
        return RuleOptimizer(params, self._make_rule)

    # ----------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.requires_fit = True
        tags.non_deterministic = self.device != "cpu" and torch.cuda.is_available()
        return tags
