"""HyperLISTA: ALISTA with momentum and instance-adaptive parameters.

X. Chen, J. Liu, Z. Wang, W. Yin, "Hyperparameter tuning is all you need for
LISTA", NeurIPS 2021.
"""

import math
import numbers
import sys
import time

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._alista import analytic_weight, stable_step
from ._base import UnrolledRegressor
from ._unrolled import UnrolledNet

#: most held-out pairs that score a candidate: three numbers need no more, and
#: the search time grows with them (the paper's own grid search scored 512)
_MAX_VALIDATION = 1024

_HYPER_NAMES = ("c1", "c2", "c3")

#: the shared training parameters HyperLISTA uses (it trains by search)
_TRAINING_NAMES = (
    "n_layers",
    "validation_fraction",
    "dtype",
    "random_state",
    "device",
    "verbose",
)


def generalized_coherence(W, A):
    """mu(W, A) = max over i != j of |w_i^T a_j| (0 for a single atom)."""
    G = np.abs(np.asarray(W, dtype=np.float64).T @ np.asarray(A, dtype=np.float64))
    np.fill_diagonal(G, 0.0)
    return float(G.max()) if G.size else 0.0


def hybrid_threshold(z, theta, n_selected):
    """Soft thresholding in which each row's ``n_selected`` largest entries pass.

    Row q keeps unchanged the entries among its ``n_selected[q]`` largest in
    magnitude that also exceed ``theta[q]``, and soft-thresholds the rest at
    ``theta[q]``. ``theta`` and ``n_selected`` have shape (n_samples, 1).
    """
    magnitude = torch.abs(z)
    above = magnitude > theta
    shrunk = torch.where(above, z - torch.sign(z) * theta, torch.zeros_like(z))
    # a row selecting at least as many entries as exceed its threshold keeps all
    # of those: only the other rows need their n_selected-th largest entry
    n_above = above.sum(dim=-1, keepdim=True)
    partial = (n_selected > 0) & (n_selected < n_above)
    keep = above & (n_selected >= n_above)
    if bool(partial.any()):
        k = int(n_selected[partial].max())
        largest = torch.topk(magnitude, k, dim=-1, sorted=True).values
        cutoff = largest.gather(-1, (n_selected - 1).clamp(0, k - 1))
        keep = keep | (above & partial & (magnitude >= cutoff))
    return torch.where(keep, z, shrunk)


class HyperLISTANet(UnrolledNet):
    """x <- eta_hybrid( x - step W^T (A x - b) + beta (x - x_prev) ; theta, p ).

    theta, beta and p are computed per signal and per layer from c1, c2, c3
    (plain attributes, set by the search). The state is (x^k, x^{k-1},
    ||A^+ b||_1).
    """

    def __init__(
        self, A, W, n_layers, coherence, dtype, device, c=(0.0, 0.0, 0.0), step=1.0
    ):
        super().__init__(n_layers, A.shape[1])
        self.step = float(step)
        as_tensor = lambda a: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
        self.register_buffer("A", as_tensor(A))
        self.register_buffer("W", as_tensor(W))
        # A^+ = A^T (A A^T)^+, so entry j of A^+ r is a_j^T (A A^T)^+ r, which is
        # d_j (W^T r)_j with d_j = a_j^T (A A^T)^+ a_j for ALISTA's W: the error
        # estimate reuses the step's own matmul
        A64 = np.asarray(A, dtype=np.float64)
        scale = np.sum(np.linalg.pinv(A64).T * A64, axis=0)
        self.register_buffer("pinv_scale", as_tensor(scale))
        self.coherence = float(coherence)
        self.c1, self.c2, self.c3 = (float(v) for v in c)

    def initial_state(self, b):
        x = b.new_zeros(b.shape[0], self.n_components)
        reference = torch.sum(
            torch.abs((b @ self.W) * self.pinv_scale), dim=1, keepdim=True
        )
        return (x, x, reference)

    def parameters_at(self, b, x, reference):
        """theta, beta and the selection count p for iterate ``x``.

        Returns W^T (A x - b) too, which the update reuses.
        """
        gradient = (x @ self.A.T - b) @ self.W
        error = torch.sum(torch.abs(gradient * self.pinv_scale), dim=1, keepdim=True)
        theta = self.c1 * self.coherence * self.step * error
        support = torch.count_nonzero(x, dim=1).unsqueeze(1).to(x.dtype)
        beta = self.c2 * self.coherence * support
        tiny = torch.finfo(x.dtype).tiny
        gain = torch.log(reference.clamp_min(tiny)) - torch.log(error.clamp_min(tiny))
        count = self.c3 * gain.clamp(0.0, float(self.n_components))
        n_selected = torch.floor(count).clamp(0, self.n_components).long()
        return gradient, theta, beta, n_selected

    def layer(self, k, b, state):
        x, x_prev, reference = state
        gradient, theta, beta, n_selected = self.parameters_at(b, x, reference)
        z = x - self.step * gradient + beta * (x - x_prev)
        return (hybrid_threshold(z, theta, n_selected), x, reference)


def _start(X):
    """Starting values of (c1, c2, c3) for the search.

    Read off grids on problems from 32 x 64 to 256 x 512, noiseless and at
    20 dB; c2 and c3 scale with the training codes' average support size s
    (the momentum term and the selection count both grow with it).
    """
    support = float(np.mean(np.count_nonzero(X, axis=1))) if X.size else 1.0
    support = max(support, 1.0)
    return (0.05, 0.25 / support, 1.0 * support)


#: how far the first round's grid reaches either side of the current value,
#: per parameter (a factor); each later round halves it in log scale. c1 is
#: the sensitive one: its good range is narrow
_SPREADS = (4.0, 10.0, 10.0)


class _CoordinateSearch:
    """Coordinate-wise search of (c1, c2, c3) on a log scale.

    A line search over one coordinate scores a 5-point grid from
    ``value / spread`` to ``value * spread``, then twice halves the step around
    the best point, trying the two midpoints. Scores are the validation NMSE
    (dB) at the last layer; each distinct candidate is scored once.
    """

    def __init__(self, net, validate, record):
        self.net = net
        self.validate = validate
        self.record = record
        self.scores = {}
        self.best = [net.c1, net.c2, net.c3]
        self.best_score = self.score(self.best, 1)

    def score(self, c, round_):
        key = tuple(float(v) for v in c)
        if key not in self.scores:
            self.net.c1, self.net.c2, self.net.c3 = key
            value = self.validate(self.net.n_layers)
            if math.isnan(value):  # diverged
                value = math.inf
            self.scores[key] = value
            self.record.append(
                dict(zip(_HYPER_NAMES, key), round=round_, val_score=value)
            )
        return self.scores[key]

    def _try(self, i, value, round_):
        candidate = list(self.best)
        candidate[i] = float(value)
        score = self.score(candidate, round_)
        if score < self.best_score:
            self.best, self.best_score = candidate, score

    def line(self, i, spread, round_):
        centre = self.best[i]
        if centre <= 0:
            return
        step = math.sqrt(spread)
        for power in (-2, -1, 1, 2):
            self._try(i, centre * step**power, round_)
        for _ in range(2):
            step = math.sqrt(step)
            centre = self.best[i]
            for power in (-1, 1):
                self._try(i, centre * step**power, round_)


class HyperLISTA(UnrolledRegressor):
    """HyperLISTA: an unrolled sparse solver tuned by three hyperparameters.

    Each of the ``n_layers`` layers takes the ALISTA step with momentum,

        z = x^k + gamma W^T (b - A x^k) + beta^k (x^k - x^{k-1}),
        x^{k+1} = eta(z; theta^k, p^k),

    where ``W`` is ALISTA's analytic weight, ``gamma`` a fixed step (1 unless
    the dictionary needs less, see ``step_size``) and ``eta`` is hybrid
    thresholding:
    the ``p^k`` largest entries of ``z`` (those above ``theta^k``) pass
    unchanged, the rest are soft-thresholded at ``theta^k``. Nothing is learned
    per layer: for every signal and layer the three quantities are computed
    from the current iterate,

        theta^k = c1 mu gamma ||A^+ (A x^k - b)||_1,
        beta^k  = c2 mu ||x^k||_0,
        p^k     = c3 min( log(||A^+ b||_1 / ||A^+ (A x^k - b)||_1), n ),

    with ``mu`` the mutual coherence of ``(W, A)``. ``||A^+ (A x^k - b)||_1``
    estimates the l1 error of the iterate, so the threshold shrinks as the
    estimate improves, and more entries are trusted as the error falls.

    Training is a search over ``(c1, c2, c3)``: every parameter left to None is
    chosen by coordinate-wise search over multiplicative grids, for a few
    rounds, minimising the NMSE at the last layer on a held-out share of the
    training pairs. Parameters given as numbers are used as they are (so that
    ``GridSearchCV`` can search them instead).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    c1 : float, default=None
        Threshold factor; None searches it.
    c2 : float, default=None
        Momentum factor; None searches it.
    c3 : float, default=None
        Support-selection factor (entries per unit of log error reduction);
        None searches it.
    step_size : "auto" or float, default="auto"
        The step gamma. "auto" takes min(1, 2 / lambda_max(W^T A)): 1 for a
        Gaussian dictionary (where lambda_max is near 2, e.g. 0.93 at
        250 x 500), less for a coherent one, on which step 1 diverges.
    search_rounds : int, default=2
        Rounds of the coordinate-wise search. In each round every searched
        parameter in turn gets a line search on a log scale (8 candidates: a
        5-point grid around the current best, then two refinements), each
        round's grid narrower than the last.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    c1_, c2_, c3_ : float
        The hyperparameters used (given, or found by the search).
    coherence_ : float
        mu = max over i != j of abs(w_i^T a_j).
    step_size_ : float
        The step gamma used.
    weight_ : ndarray of shape (n_features, n_components)
        The analytic weight W.
    search_history_ : list of dict
        Every candidate the search scored: round, c1, c2, c3 and its validation
        NMSE in dB (``val_score``), in the order tried. Empty when all three
        were given.

    See Also
    --------
    ALISTA : The same step with 2 numbers learned per layer by gradient.
    FISTA : The classic accelerated solver.

    Notes
    -----
    The layer follows X. Chen, J. Liu, Z. Wang, W. Yin, "Hyperparameter tuning
    is all you need for LISTA", NeurIPS 2021: ALISTA with momentum on the
    pre-threshold variable (ALISTA-MM), and its instance-optimal parameters
    replaced by the computable estimates above, ``||x^k||_0`` standing for the
    unknown support size and ``A^+ (A x^k - b)`` for the unknown error.
    ``p^k`` counts entries: it is rounded down and held in [0, n]. The paper's
    weight is a symmetric variant of ALISTA's; this one is ALISTA's closed
    form. The step rule of ``step_size="auto"`` is this package's: with the
    paper's step 1, the coherent dictionary of ``load_coherent_dictionary``
    (lambda_max(W^T A) = 8.6) diverges, while Gaussian ones lose under 1 dB
    at 0.93 instead of 1. The threshold scales with the step, as in the
    authors' code. The search scores candidates on at most 1,024
    held-out pairs (``validation_fraction`` of the training pairs, capped).
    ``history_`` holds one record per search round (``steps``: the candidates
    scored in it), and ``n_iter_`` the candidates scored in all.

    Examples
    --------
    >>> from sklearn_l2o import HyperLISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = HyperLISTA(dictionary=A, n_layers=8, device="cpu",
    ...                    random_state=0).fit(B[:1000], X[:1000])
    >>> bool(nmse_db(X[1000:], model.predict(B[1000:])) < -15)
    True
    >>> fixed = HyperLISTA(dictionary=A, n_layers=8, c1=model.c1_, c2=model.c2_,
    ...                    c3=model.c3_, device="cpu").fit(B[:1000], X[:1000])
    >>> fixed.search_history_
    []
    """

    _solver_parameters = {
        "c1": None,
        "c2": None,
        "c3": None,
        "step_size": "auto",
        "search_rounds": 2,
    }
    _training_names = _TRAINING_NAMES
    _parameter_constraints = {
        **{
            name: constraint
            for name, constraint in UnrolledRegressor._parameter_constraints.items()
            if name == "dictionary" or name in _TRAINING_NAMES
        },
        "c1": [Interval(numbers.Real, 0, None, closed="left"), None],
        "c2": [Interval(numbers.Real, 0, None, closed="left"), None],
        "c3": [Interval(numbers.Real, 0, None, closed="left"), None],
        "step_size": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "search_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def _build_net(self, A, B, X, device, dtype):
        W = analytic_weight(A)
        coherence = generalized_coherence(W, A)
        step = stable_step(W, A) if self.step_size == "auto" else self.step_size
        start = _start(X)
        c = [start[i] if v is None else v for i, v in enumerate(self._given())]
        return HyperLISTANet(A, W, self.n_layers, coherence, dtype, device, c, step)

    def _given(self):
        return (self.c1, self.c2, self.c3)

    def _split(self, n_samples, rng):
        train_idx, val_idx = super()._split(n_samples, rng)
        if val_idx.size > _MAX_VALIDATION and val_idx is not train_idx:
            keep = np.sort(rng.choice(val_idx.size, _MAX_VALIDATION, replace=False))
            val_idx = val_idx[keep]
        return train_idx, val_idx

    def _train(self, net, train, validate, generator, warm):
        free = [i for i, v in enumerate(self._given()) if v is None]
        self.search_history_ = []
        if not free:
            return []
        search = _CoordinateSearch(net, validate, self.search_history_)
        history, tried = [], 0
        for round_ in range(1, self.search_rounds + 1):
            start = time.perf_counter()
            for i in free:
                search.line(i, _SPREADS[i] ** (0.5 ** (round_ - 1)), round_)
            history.append(
                {
                    "layer": net.n_layers,
                    "stage": "search",
                    "round": round_,
                    "steps": len(search.scores) - tried,
                    "val_score": search.best_score,
                    "seconds": time.perf_counter() - start,
                    "graphed": False,
                }
            )
            tried = len(search.scores)
            if self.verbose:
                c1, c2, c3 = search.best
                print(
                    f"HyperLISTA search round {round_}: c = ({c1:.4g}, {c2:.4g}, "
                    f"{c3:.4g}), val {search.best_score:.2f} dB",
                    file=sys.stderr,
                )
        net.c1, net.c2, net.c3 = search.best
        return history

    def _export_parameters(self):
        net = self.module_
        self.c1_, self.c2_, self.c3_ = net.c1, net.c2, net.c3
        self.coherence_ = net.coherence
        self.step_size_ = net.step
        self.weight_ = net.W.detach().cpu().double().numpy()
