"""NA-ALISTA: ALISTA whose steps and thresholds an LSTM sets per signal
(Behrens, Sauder and Jung, 2021)."""

import numbers
from dataclasses import replace

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from ._alista import ALISTA, ALISTANet
from ._base import UnrolledRegressor
from ._engine import schedule
from ._shrinkage import support_selection_threshold
from ._sklearn_compat import Interval

#: tiny floor under the residual norms before their logarithm
_FLOOR = 1e-30
#: the augmentation's weights learn at this share of the base learning rate
_AUGMENTATION_RATE = 0.02
_AUGMENTATION_PARAMETERS = (
    "lstm.weight_ih",
    "lstm.weight_hh",
    "lstm.bias_ih",
    "lstm.bias_hh",
    "head.weight",
    "head.bias",
    "skip.weight",
)
#: the LSTM moves a layer's step or threshold by at most this factor e^..
_MAX_LOG_FACTOR = 10.0


class NAALISTANet(ALISTANet):
    """ALISTA's layer with each signal's step and threshold scaled by an LSTM.

    The LSTM reads, at every layer, the logarithms of the mean absolute
    residual ``|A x - b|`` and of the mean absolute back-projected residual
    ``|W^T (A x - b)|``; a linear head of its hidden state plus a linear
    skip from the two inputs gives the logarithms of two factors, which
    multiply the layer's learned step and threshold. Head and skip start at
    zero, so the untrained net is ALISTA.
    """

    augmentation = ("lstm", "head", "skip")

    def __init__(
        self, A, W, n_layers, n_selected, gamma, theta, hidden_size, seed, dtype, device
    ):
        super().__init__(A, W, n_layers, n_selected, gamma, theta, dtype, device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.lstm = nn.LSTMCell(2, hidden_size, dtype=dtype, device=device)
        self.head = nn.Linear(hidden_size, 2, dtype=dtype, device=device)
        self.skip = nn.Linear(2, 2, bias=False, dtype=dtype, device=device)
        for param in (*self.head.parameters(), *self.skip.parameters()):
            nn.init.zeros_(param)

    def initial_state(self, b):
        hidden = b.new_zeros(b.shape[0], self.lstm.hidden_size)
        return (b.new_zeros(b.shape[0], self.n_components), hidden, hidden)

    def factors(self, b, state):
        """Each signal's step and threshold factor at this layer, and the
        LSTM's next state; also the residual's back-projection."""
        x, hidden, cell = state
        residual = self.residual(x, b)
        back = residual @ self.W
        features = torch.stack(
            (
                residual.abs().mean(dim=1).clamp_min(_FLOOR).log(),
                back.abs().mean(dim=1).clamp_min(_FLOOR).log(),
            ),
            dim=1,
        )
        hidden, cell = self.lstm(features, (hidden, cell))
        log_factor = (self.head(hidden) + self.skip(features)).clamp(
            -_MAX_LOG_FACTOR, _MAX_LOG_FACTOR
        )
        return log_factor.exp(), back, hidden, cell

    def layer(self, k, b, state):
        factor, back, hidden, cell = self.factors(b, state)
        z = state[0] - self.at("gamma", k) * factor[:, :1] * back
        theta = self.at("theta", k) * factor[:, 1:]
        x = support_selection_threshold(z, theta, self.n_selected[k])
        return (x, hidden, cell)


class NAALISTA(ALISTA):
    """Neurally Augmented ALISTA: an LSTM sets each signal's step and threshold.

    Every layer is ALISTA's::

        r = A x^k - b,
        x^{k+1} = eta_ss( x^k - gamma_k g_k W^T r ; theta_k t_k, p_k ),

    with the analytic weight ``W``, learned per-layer ``gamma_k`` and
    ``theta_k``, and support selection ``p_k`` as in :class:`ALISTA`. The
    factors ``g_k`` and ``t_k`` are each signal's own: an LSTM cell, run
    along the layers, reads the logarithms of ``mean |r|`` and
    ``mean |W^T r|`` at each layer (the residual statistics the paper's
    recovery bound ties the best threshold to), and
    ``log(g_k, t_k) = V h_k + c + S (log mean |r|, log mean |W^T r|)`` from
    its hidden state ``h_k`` (``V``, ``c`` and ``S`` learned, starting at
    zero: the untrained solver is ALISTA). A signal whose residual is still
    large gets a larger threshold, one nearly solved a smaller one, where
    ALISTA gives every signal the thresholds that are best on average.

    Training first runs ALISTA's whole fit with the factors held at 1, so it
    trains the very ALISTA that :class:`ALISTA` with the same options and
    ``random_state`` trains; then two "augmentation" stages (the
    refinement's budget again, ``refinement_steps`` each) train the LSTM,
    the head and the skip together with the steps and thresholds, from that
    ALISTA. Each stage keeps its best validation score, so the factors are
    kept only where they help on the held-out pairs and the fit validates at
    least as well as the ALISTA it starts from. With ``refinement_steps=0``
    the fit is ALISTA's; a finished fit continued with ``warm_start=True``
    runs the two augmentation stages again.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    hidden_size : int, default=64
        Size of the LSTM's hidden and cell states.
    support_fraction : float, default=0.012
        Share of entries passed unshrunk per layer of depth, as in
        :class:`ALISTA`.
    max_support_fraction : float, default=0.13
        Cap on that share.
    init_threshold : float, default=None
        Initial theta_k of ``start="stagewise"``; None uses 0.4 / (1.001 L)
        with L = ||A||_2^2.
    start : {"geometric", "stagewise"}, default="geometric"
        How ALISTA's steps and thresholds start (see :class:`ALISTA`); the
        LSTM trains after ALISTA's refinement either way.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    weight_ : ndarray of shape (n_features, n_components)
        The analytic weight W.
    steps_ : ndarray of shape (n_layers,)
        Learned base step sizes gamma_k (before each signal's factor).
    thresholds_ : ndarray of shape (n_layers,)
        Learned base thresholds theta_k (before each signal's factor).
    threshold_search_ : bool
        Whether the threshold search ran (``threshold_search`` resolved).

    See Also
    --------
    ALISTA : The same layers with one step and threshold for every signal.
    HyperLISTA : Thresholds from the residual by a fixed, searched rule.

    Notes
    -----
    The paper's LSTM outputs the step and threshold directly; here it
    outputs factors of ALISTA's learned ones, so that training starts from
    ALISTA rather than from an arbitrary iteration. The factors are bounded
    to ``exp(+-10)``. Reference: F. Behrens, J. Sauder, P. Jung, "Neurally
    Augmented ALISTA", ICLR 2021 (its Figure 3 compares NA-ALISTA with
    ALISTA over compression ratios).

    Examples
    --------
    >>> from sklearn_l2o import NAALISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(2000, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = NAALISTA(dictionary=A, n_layers=4, hidden_size=16,
    ...                  refinement_steps=200, device="cpu", random_state=0)
    >>> model = model.fit(B[:1800], X[:1800])
    >>> bool(nmse_db(X[1800:], model.predict(B[1800:])) < -5)
    True
    """

    _parameter_constraints = {
        **ALISTA._parameter_constraints,
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        dictionary=None,
        *,
        hidden_size=64,
        support_fraction=0.012,
        max_support_fraction=0.13,
        init_threshold=None,
        start="geometric",
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
        plateau_decays=2,
        threshold_search="auto",
        refinement_steps=6000,
        refinement_patience=1000,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.hidden_size = hidden_size
        self.support_fraction = support_fraction
        self.max_support_fraction = max_support_fraction
        self.init_threshold = init_threshold
        self.start = start
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

    def _make_net(self, A, W, n_selected, gamma, theta, dtype, device):
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        return NAALISTANet(
            A,
            W,
            self.n_layers,
            n_selected,
            gamma,
            theta,
            int(self.hidden_size),
            seed,
            dtype,
            device,
        )

    def _stages(self, n_layers, recipe):
        # ALISTA's fit, then its refinement stages again with the LSTM
        augmented = schedule(n_layers, recipe, layerwise=False)
        return super()._stages(n_layers, recipe) + [
            replace(stage, phase="augmentation") for stage in augmented
        ]

    def _rate_factors(self):
        # Adam moves every weight by about its step, whatever its gradient:
        # at the steps' and thresholds' rate, the thousands of LSTM weights
        # would shake the factors too hard for any refinement step to help
        factors = dict(super()._rate_factors())
        for name in _AUGMENTATION_PARAMETERS:
            factors[name] = _AUGMENTATION_RATE
        return factors

    def _warm_start_mismatch(self):
        if self.module_.lstm.hidden_size != self.hidden_size:
            return f"hidden_size (now {self.hidden_size})"
        return UnrolledRegressor._warm_start_mismatch(self)
