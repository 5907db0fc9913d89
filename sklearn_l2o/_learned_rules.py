"""Learned update rules: small recurrent networks applied coordinate-wise.

Every architecture is a :class:`LearnedRule`: a ``torch.nn.Module`` with
``init_state(x, layout)`` and ``forward(grad, state, layout) -> (step,
state)``, whose weights are shared by all coordinates, so one trained rule
runs on any number of instances of any number of variables (Q x d, batched as
Q * d rows of the recurrent cells). :func:`learned_rule` turns one into an
:class:`~sklearn_l2o._optim_base.UpdateRule`. The meta-training engine
(``_meta_engine``) trains them all.
"""

import math

import torch
from torch import nn

from ._optim_base import UpdateRule


def log_and_sign(grad, k=5.0):
    """The "LogAndSign" gradient preprocessing of Andrychowicz et al. (2016).

    (log|g| / k, sign g) where |g| >= e^-k, else (-1, e^k g): two features of
    bounded range whatever the scale of the gradient.
    """
    magnitude = grad.abs()
    large = magnitude >= math.exp(-k)
    log_part = torch.where(
        large, torch.log(magnitude.clamp_min(math.exp(-k))) / k, -torch.ones_like(grad)
    )
    sign_part = torch.where(large, torch.sign(grad), math.exp(k) * grad)
    return torch.stack([log_part, sign_part], dim=-1)


class LearnedRule(nn.Module):
    """Base class of the learned update rules."""

    def init_state(self, x, layout):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, grad, state, layout, x=None):  # pragma: no cover - abstract
        raise NotImplementedError


class _StackedLSTM(nn.Module):
    """Two LSTM cells, one on top of the other; state (h1, c1, h2, c2)."""

    def __init__(self, n_inputs, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.lower = nn.LSTMCell(n_inputs, hidden_size)
        self.upper = nn.LSTMCell(hidden_size, hidden_size)

    def init_state(self, n_rows, like):
        zeros = like.new_zeros(n_rows, self.hidden_size)
        return (zeros, zeros, zeros, zeros)

    def forward(self, inputs, state):
        h1, c1 = self.lower(inputs, state[:2])
        h2, c2 = self.upper(h1, state[2:])
        return h2, (h1, c1, h2, c2)


class DMOptimizer(LearnedRule):
    """L2O-DM: a coordinate-wise 2-layer LSTM (Andrychowicz et al., 2016).

    Input: LogAndSign(g) (k = 5 unless ``log_sign_k`` says otherwise);
    output: a linear read-out of the top hidden state, times 0.1, is the step.
    """

    output_scale = 0.1
    log_sign_k = 5.0

    def __init__(self, hidden_size=20, step_scale=None, log_sign_k=None):
        super().__init__()
        if step_scale is not None:
            self.output_scale = float(step_scale)
        if log_sign_k is not None:
            self.log_sign_k = float(log_sign_k)
        self.rnn = _StackedLSTM(2, hidden_size)
        self.readout = nn.Linear(hidden_size, 1)

    def init_state(self, x, layout):
        return self.rnn.init_state(x.numel(), x)

    def forward(self, grad, state, layout, x=None):
        inputs = log_and_sign(grad.reshape(-1), k=self.log_sign_k)
        hidden, state = self.rnn(inputs, state)
        step = self.output_scale * self.readout(hidden)
        return step.reshape(grad.shape), state


class RNNprop(LearnedRule):
    """RNNprop (Lv, Jiang & Li, ICML 2017).

    Inputs are Adam's normalised moments, m_hat / sqrt(v_hat) and
    g / sqrt(v_hat) (beta_1 = beta_2 = 0.95), which makes the rule blind to
    the scale of the gradient; a fully connected ELU layer feeds a 2-layer
    LSTM, and the step is 0.1 * tanh(read-out), bounded.
    """

    beta_1 = 0.95
    beta_2 = 0.95
    epsilon = 1e-8
    output_scale = 0.1

    def __init__(self, hidden_size=20, step_scale=None):
        super().__init__()
        if step_scale is not None:
            self.output_scale = float(step_scale)
        self.embed = nn.Linear(2, hidden_size)
        self.rnn = _StackedLSTM(hidden_size, hidden_size)
        self.readout = nn.Linear(hidden_size, 1)

    def init_state(self, x, layout):
        zeros = torch.zeros_like(x)
        return (zeros, zeros, 0) + self.rnn.init_state(x.numel(), x)

    def forward(self, grad, state, layout, x=None):
        m, v, t = state[:3]
        t += 1
        m = self.beta_1 * m + (1 - self.beta_1) * grad
        v = self.beta_2 * v + (1 - self.beta_2) * grad * grad
        rms = torch.sqrt(v / (1 - self.beta_2**t)) + self.epsilon
        m_hat = m / (1 - self.beta_1**t)
        inputs = torch.stack([m_hat / rms, grad / rms], dim=-1).reshape(-1, 2)
        hidden, rnn_state = self.rnn(nn.functional.elu(self.embed(inputs)), state[3:])
        step = self.output_scale * torch.tanh(self.readout(hidden))
        return step.reshape(grad.shape), (m, v, t) + rnn_state


class HierarchicalOptimizer(LearnedRule):
    """L2O-Scale: parameter-, tensor- and global-level RNNs (Wichrowska et al., 2017).

    A compact version of the hierarchical RNN optimizer. Per coordinate, the
    features are momenta at three time scales (0.5, 0.9, 0.99) each divided
    by the root mean square gradient of the same time scale, the log of that
    RMS relative to its mean over the tensor, and the coordinate's log
    learning rate relative to the tensor's mean. A parameter-level GRU reads
    them with the tensor-level hidden state; a tensor-level GRU reads the mean
    parameter hidden state of its tensor with the global hidden state; a
    global GRU reads the mean tensor hidden state of the instance. The
    parameter GRU outputs a direction, which is normalised to unit RMS over
    its tensor, and a change of the per-coordinate log learning rate; the step
    is exp(log learning rate) * direction. A learned linear shortcut from the
    normalised momenta to the direction (initialised to minus the middle
    one) makes the untrained rule an Adam-like method. Left out from the
    paper: the attention on gradients at a displaced point and the learned
    momentum time scales.
    """

    timescales = (0.5, 0.9, 0.99)
    epsilon = 1e-12
    #: bound on the change of a log learning rate in one step
    max_log_lr_change = 0.2
    #: starting per-coordinate learning rate (then learned); a start well
    #: below useful rates teaches the rule to raise them at every step, which
    #: diverges beyond the training horizon
    initial_learning_rate = 0.05
    #: bound on a per-coordinate learning rate, as a multiple of the starting
    #: one: without it the learned rates can keep growing beyond the horizon
    #: the rule was trained on, until the iterates blow up
    max_learning_rate_factor = 10.0

    def __init__(self, hidden_size=20, step_scale=None):
        super().__init__()
        if step_scale is not None:
            self.initial_learning_rate = float(step_scale)
        n_scales = len(self.timescales)
        n_features = 2 * n_scales + 1
        param_size = max(hidden_size // 2, 1)
        self.param_size, self.tensor_size = param_size, hidden_size
        self.param_cell = nn.GRUCell(n_features + hidden_size, param_size)
        self.tensor_cell = nn.GRUCell(param_size + hidden_size, hidden_size)
        self.global_cell = nn.GRUCell(hidden_size, hidden_size)
        self.readout = nn.Linear(param_size, 2)
        self.shortcut = nn.Linear(n_scales, 1, bias=False)
        with torch.no_grad():
            self.shortcut.weight.zero_()
            self.shortcut.weight[0, 1] = -1.0
        self.initial_log_lr = nn.Parameter(
            torch.tensor(math.log(self.initial_learning_rate))
        )
        self.register_buffer("betas", torch.tensor(self.timescales))

    def init_state(self, x, layout):
        q, d = x.shape
        n_scales = len(self.timescales)
        moments = x.new_zeros(q, d, n_scales)
        log_lr = self.initial_log_lr.to(x.dtype).expand(q, d)
        return (
            moments,
            moments,
            0,
            log_lr,
            x.new_zeros(q * d, self.param_size),
            x.new_zeros(q * layout.n_groups, self.tensor_size),
            x.new_zeros(q, self.tensor_size),
        )

    def forward(self, grad, state, layout, x=None):
        m, v, t, log_lr, h_param, h_tensor, h_global = state
        q, d = grad.shape
        t += 1
        betas = self.betas.to(grad.dtype)
        g = grad.unsqueeze(-1)
        m = betas * m + (1 - betas) * g
        v = betas * v + (1 - betas) * g * g
        correction = 1 - betas**t
        log_rms = 0.5 * torch.log(v / correction + self.epsilon)
        momenta = (m / correction) * torch.exp(-log_rms)
        relative_rms = (log_rms - layout.expand(layout.mean(log_rms))).clamp(-10, 10)
        lr = log_lr.unsqueeze(-1)
        relative_lr = (lr - layout.expand(layout.mean(lr))).clamp(-10, 10)
        features = torch.cat([momenta, relative_rms, relative_lr], dim=-1)

        n_groups = layout.n_groups
        tensor_context = layout.expand(h_tensor.reshape(q, n_groups, -1))
        param_in = torch.cat([features, tensor_context], dim=-1).reshape(q * d, -1)
        h_param = self.param_cell(param_in, h_param)

        pooled = layout.mean(h_param.reshape(q, d, -1))
        global_context = h_global.unsqueeze(1).expand(-1, n_groups, -1)
        tensor_in = torch.cat([pooled, global_context], dim=-1)
        h_tensor = self.tensor_cell(tensor_in.reshape(q * n_groups, -1), h_tensor)
        h_global = self.global_cell(
            h_tensor.reshape(q, n_groups, -1).mean(dim=1), h_global
        )

        out = self.readout(h_param).reshape(q, d, 2)
        direction = out[..., 0] + self.shortcut(momenta).squeeze(-1)
        rms = torch.sqrt(layout.mean(direction.unsqueeze(-1) ** 2) + self.epsilon)
        direction = direction / layout.expand(rms).squeeze(-1)
        log_lr = log_lr + self.max_log_lr_change * torch.tanh(out[..., 1])
        ceiling = math.log(self.initial_learning_rate * self.max_learning_rate_factor)
        log_lr = torch.clamp(log_lr, max=ceiling)
        step = torch.exp(log_lr) * direction
        return step, (m, v, t, log_lr, h_param, h_tensor, h_global)


class ProximalOptimizer(LearnedRule):
    """A learned proximal heavy-ball rule for objectives f + h with a known prox.

    For composite objectives whose non-smooth part h has a cheap proximal
    operator (LASSO: h = alpha ||x||_1, soft thresholding), a 2-layer LSTM
    sees each coordinate's gradient of the smooth part f and its last move,
    and sets a step size eta and a momentum weight mu for it:

        x_{t+1} = prox_{eta h}( x_t - eta * grad f(x_t) + mu * (x_t - x_{t-1}) ),

    with eta = eta_0 exp(tanh(o_1)) (eta_0 learned, starting at
    ``step_scale``) and mu = sigmoid(3 o_2). The prox produces exact zeros,
    which gradient-only rules never reach on LASSO. Inputs per coordinate:
    g / r, log(r) / 10, (x_t - x_{t-1}) / (eta_0 r) and whether x_t is zero,
    where r is the bias-corrected RMS of g (decay 0.9). ``term`` is the
    non-smooth part (see :class:`~sklearn_l2o.problems.L1Term`); it is set
    when the rule is trained.
    """

    decay = 0.9
    epsilon = 1e-12
    output_scale = 0.05

    def __init__(self, hidden_size=20, step_scale=None, term=None):
        super().__init__()
        if step_scale is not None:
            self.output_scale = float(step_scale)
        self.term = term
        self.rnn = _StackedLSTM(4, hidden_size)
        self.readout = nn.Linear(hidden_size, 2)
        with torch.no_grad():
            # untrained: proximal heavy ball, eta = eta_0, mu = 1/2
            self.readout.weight.zero_()
            self.readout.bias.zero_()
        # float64 here, so that a float64 rule starts at exactly step_scale
        log_step = torch.tensor(math.log(self.output_scale), dtype=torch.float64)
        self.log_step = nn.Parameter(log_step)

    def init_state(self, x, layout):
        return (x, torch.zeros_like(x), 0) + self.rnn.init_state(x.numel(), x)

    def forward(self, grad, state, layout, x=None):
        if self.term is None or x is None:
            raise ValueError(
                "the proximal rule needs the non-smooth term of the objective "
                "and the current point; it runs on problem families that have "
                "a proximal term (LassoProblems), not on arbitrary functions."
            )
        previous, v, t = state[:3]
        t += 1
        g = grad - self.term.gradient(x)  # the smooth part's gradient
        v = self.decay * v + (1 - self.decay) * g * g
        rms = torch.sqrt(v / (1 - self.decay**t)) + self.epsilon
        base = torch.exp(self.log_step)
        move = x - previous
        inputs = torch.stack(
            [g / rms, torch.log(rms) / 10, move / (base * rms), (x == 0).to(x.dtype)],
            dim=-1,
        ).reshape(-1, 4)
        hidden, rnn_state = self.rnn(inputs, state[3:])
        out = self.readout(hidden).reshape(*x.shape, 2)
        eta = base * torch.exp(torch.tanh(out[..., 0]))
        mu = torch.sigmoid(3 * out[..., 1])
        x_new = self.term.prox(x - eta * g + mu * move, eta)
        return x_new - x, (x, v, t) + rnn_state


def _squash(z):
    """sign(z) log(1 + |z|): differences of any size as inputs of a net."""
    return torch.sign(z) * torch.log1p(z.abs())


class SwarmOptimizer(LearnedRule):
    """L2O-Swarm: a population of particles moved by one coordinate-wise
    LSTM that sees its own and the population's best points (Cao et al.,
    2019; compact version, see :class:`~sklearn_l2o.LearnedOptimizer`).

    The rows of ``x`` come in groups of ``population`` consecutive rows, the
    particles of one instance. Each particle attends to the population:
    weights ``softmax_q(-a z_q - c ||x_p - x_q||^2 / d)`` with ``z_q`` the
    particles' standardised objective values and ``a``, ``c`` learned
    (positive); per coordinate the LSTM reads LogAndSign of the gradient
    and of the attended gradient, and the squashed differences to the
    particle's best point, to the population's best point and to the
    attended point. The step is 0.1 times a linear read-out.
    """

    output_scale = 0.1
    #: the rule reads each particle's objective value
    needs_value = True

    def __init__(self, hidden_size=20, step_scale=None, population=4):
        super().__init__()
        if step_scale is not None:
            self.output_scale = float(step_scale)
        self.population = int(population)
        self.rnn = _StackedLSTM(7, hidden_size)
        self.readout = nn.Linear(hidden_size, 1)
        # softplus(0) = log 2: both attention terms start at a moderate weight
        self.attention = nn.Parameter(torch.zeros(2))

    def init_state(self, x, layout):
        if x.shape[0] % self.population:
            raise ValueError(
                f"the swarm's rows ({x.shape[0]}) are not whole populations of "
                f"{self.population} particles."
            )
        best_value = x.new_full((x.shape[0],), math.inf)
        return (x.detach().clone(), best_value) + self.rnn.init_state(x.numel(), x)

    def forward(self, grad, state, layout, x=None, value=None):
        best_x, best_value = state[:2]
        value = value.detach()
        better = value < best_value
        best_x = torch.where(better[:, None], x.detach(), best_x)
        best_value = torch.where(better, value, best_value)
        n_rows, d = x.shape
        shape = (n_rows // self.population, self.population)
        xs, gs = x.reshape(*shape, d), grad.reshape(*shape, d)
        own_best = best_x.reshape(*shape, d)
        group_best = best_value.reshape(shape)
        leader = own_best.gather(
            1, group_best.argmin(dim=1).reshape(-1, 1, 1).expand(-1, 1, d)
        )
        values = value.reshape(shape)
        finite = torch.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        spread = finite.std(dim=1, keepdim=True, unbiased=False) + 1e-12
        standard = (finite - finite.mean(dim=1, keepdim=True)) / spread
        distance = torch.cdist(xs, xs).square() / d
        weights = nn.functional.softplus(self.attention)
        scores = -weights[0] * standard[:, None, :] - weights[1] * distance
        attention = torch.softmax(scores, dim=2)
        features = torch.cat(
            [
                log_and_sign(grad.reshape(-1)),
                log_and_sign((attention @ gs).reshape(-1)),
                torch.stack(
                    [
                        _squash(own_best - xs).reshape(-1),
                        _squash(leader - xs).reshape(-1),
                        _squash(attention @ xs - xs).reshape(-1),
                    ],
                    dim=-1,
                ),
            ],
            dim=-1,
        )
        hidden, rnn_state = self.rnn(features, state[2:])
        step = self.output_scale * self.readout(hidden)
        return step.reshape(grad.shape), (best_x, best_value) + rnn_state


ARCHITECTURES = {
    "lstm": DMOptimizer,
    "rnnprop": RNNprop,
    "hierarchical": HierarchicalOptimizer,
    "proximal": ProximalOptimizer,
    "swarm": SwarmOptimizer,
}


def learned_rule(net, layout):
    """The update rule of a learned network for instances of this layout."""

    def init(x):
        return net.init_state(x, layout)

    def update(grad, state, x, value, value_fn):
        if getattr(net, "needs_value", False):
            return net(grad, state, layout, x, value=value)
        return net(grad, state, layout, x)

    return UpdateRule(init, update)
