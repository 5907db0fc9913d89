"""Hand-designed update rules: GD, NAG, Adam, RMSProp, and a line search.

Each ``*_rule`` function returns an :class:`~sklearn_l2o._optim_base.UpdateRule`
over batched tensors of shape (Q, d), a pair of pure functions as in optax;
:func:`backtracking` wraps any rule in a per-instance backtracking line search.
"""

import torch

from ._optim_base import UpdateRule

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


def analytic_rule(
    method,
    learning_rate,
    *,
    line_search=False,
    momentum=0.9,
    beta_1=0.9,
    beta_2=0.999,
    rho=0.9,
    epsilon=1e-8,
):
    """The update rule of ``method`` (one of :data:`METHODS`), with or without
    a backtracking line search."""
    if method == "gd":
        rule = gd_rule(learning_rate)
    elif method == "nag":
        rule = nag_rule(learning_rate, momentum)
    elif method == "adam":
        rule = adam_rule(learning_rate, beta_1, beta_2, epsilon)
    elif method == "rmsprop":
        rule = rmsprop_rule(learning_rate, rho, epsilon)
    else:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    return backtracking(rule) if line_search else rule
