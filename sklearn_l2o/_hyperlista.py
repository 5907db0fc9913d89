"""HyperLISTA: ALISTA with momentum and instance-adaptive parameters.

X. Chen, J. Liu, Z. Wang, W. Yin, "Hyperparameter tuning is all you need for
LISTA", NeurIPS 2021.
"""

import math
import numbers
import time

import numpy as np
import torch

from ._base import UnrolledRegressor, net_attribute
from ._engine import KeepBest, Progress, stage_record
from ._shrinkage import hybrid_threshold
from ._sklearn_compat import Interval, StrOptions
from ._starts import analytic_weight, generalized_coherence, stable_step
from ._unrolled import UnrolledNet

#: most held-out pairs that score a candidate: three numbers need no more, and
#: the search time grows with them (the paper's own grid search scored 512)
_MAX_VALIDATION = 1024

_HYPER_NAMES = ("c1", "c2", "c3")

#: the search keeps the smallest c1 scored within this many dB of the best:
#: above its best value the score falls off a cliff (a few signals stall with
#: a threshold too high to let any entry through), and a held-out set of a
#: thousand pairs may hold none of them
_CAUTION_DB = 1.0


class HyperLISTANet(UnrolledNet):
    """x <- eta_hybrid( x - step W^T (A x - b) + beta (x - x_prev) ; theta, p ).

    theta, beta and p are computed per signal and per layer from c1, c2, c3
    (plain attributes, set by the search). The state is (x^k, x^{k-1},
    ||A^+ b||_1).
    """

    reads_residual = True

    def __init__(
        self, A, W, n_layers, coherence, dtype, device, c=(0.0, 0.0, 0.0), step=1.0
    ):
        super().__init__(n_layers, A.shape[1], dtype, device)
        self.step = float(step)
        self.constant("A", A)
        self.constant("W", W)
        # A^+ = A^T (A A^T)^+, so entry j of A^+ r is a_j^T (A A^T)^+ r, which is
        # d_j (W^T r)_j with d_j = a_j^T (A A^T)^+ a_j for ALISTA's W: the error
        # estimate reuses the step's own matmul
        A64 = np.asarray(A, dtype=np.float64)
        self.constant("pinv_scale", np.sum(np.linalg.pinv(A64).T * A64, axis=0))
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
        gradient = self.residual(x, b) @ self.W
        error = torch.sum(torch.abs(gradient * self.pinv_scale), dim=1, keepdim=True)
        theta = self.c1 * self.coherence * self.step * error
        # entries in the support (a sum of signs: cheaper than a mask's count)
        support = torch.sign(x).abs().sum(dim=1, keepdim=True)
        beta = self.c2 * self.coherence * support
        tiny = torch.finfo(x.dtype).tiny
        gain = torch.log(reference.clamp_min(tiny)) - torch.log(error.clamp_min(tiny))
        count = self.c3 * gain.clamp(0.0, float(self.n_components))
        n_selected = torch.floor(count).clamp(0, self.n_components).long()
        return gradient, theta, beta, n_selected

    def layer(self, k, b, state):
        x, x_prev, reference = state
        gradient, theta, beta, n_selected = self.parameters_at(b, x, reference)
        z = torch.addcmul(x.add(gradient, alpha=-self.step), beta, x - x_prev)
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
    (dB) at the last layer; each distinct candidate is scored once, and the
    best one is kept (:class:`~sklearn_l2o._engine.KeepBest`).
    """

    def __init__(self, net, validate, record):
        self.net = net
        self.validate = validate
        self.record = record
        self.scores = {}
        start = (net.c1, net.c2, net.c3)
        self.best = KeepBest(
            self.score(start, 1), save=lambda: self.current, load=self._set
        )

    def _set(self, c):
        self.current = c
        self.net.c1, self.net.c2, self.net.c3 = c

    def score(self, c, round_):
        key = tuple(float(v) for v in c)
        if key not in self.scores:
            self._set(key)
            value = self.validate(self.net.n_layers)
            if math.isnan(value):  # diverged
                value = math.inf
            self.scores[key] = value
            self.record.append(
                dict(zip(_HYPER_NAMES, key), round=round_, val_score=value)
            )
        self._set(key)
        return self.scores[key]

    def cautious(self):
        """Settle on the smallest c1 among the candidates within
        ``_CAUTION_DB`` of the best score (the best one among equal c1)."""
        limit = self.best.score + _CAUTION_DB
        near = [c for c, v in self.scores.items() if v <= limit]
        if near:
            self._set(min(near, key=lambda c: (c[0], self.scores[c])))

    def _try(self, i, value, round_):
        candidate = list(self.best.state)
        candidate[i] = float(value)
        score = self.score(candidate, round_)
        self.best.offer(score, len(self.scores))

    def line(self, i, spread, round_):
        centre = self.best.state[i]
        if centre <= 0:
            return
        step = math.sqrt(spread)
        for power in (-2, -1, 1, 2):
            self._try(i, centre * step**power, round_)
        for _ in range(2):
            step = math.sqrt(step)
            centre = self.best.state[i]
            for power in (-1, 1):
                self._try(i, centre * step**power, round_)


class HyperLISTA(UnrolledRegressor):
    """HyperLISTA: an unrolled sparse solver tuned by three hyperparameters.

    Each of the ``n_layers`` layers takes the ALISTA step with momentum::

        z = x^k + gamma W^T (b - A x^k) + beta^k (x^k - x^{k-1}),
        x^{k+1} = eta(z; theta^k, p^k),

    where ``W`` is ALISTA's analytic weight, ``gamma`` a fixed step (1 unless
    the dictionary needs less, see ``step_size``) and ``eta`` is hybrid
    thresholding:
    the ``p^k`` largest entries of ``z`` (those above ``theta^k``) pass
    unchanged, the rest are soft-thresholded at ``theta^k``. Nothing is learned
    per layer: for every signal and layer the three quantities are computed
    from the current iterate::

        theta^k = c1 mu gamma ||A^+ (A x^k - b)||_1,
        beta^k  = c2 mu ||x^k||_0,
        p^k     = c3 min( log(||A^+ b||_1 / ||A^+ (A x^k - b)||_1), n ),

    with ``mu`` the mutual coherence of ``(W, A)``. ``||A^+ (A x^k - b)||_1``
    estimates the l1 error of the iterate, so the threshold shrinks as the
    estimate improves, and more entries are trusted as the error falls.

    Training is a search over ``(c1, c2, c3)``: every parameter left to None is
    chosen by coordinate-wise search over multiplicative grids, for a few
    rounds, minimising the NMSE at the last layer on a held-out share of the
    training pairs. The search then keeps the smallest ``c1`` scored within
    1 dB of the best: above its best value the NMSE falls off a cliff, where
    a few signals stall under a threshold too high for any entry to pass,
    and a held-out set may not contain such signals. Parameters given as
    numbers are used as they are (so that ``GridSearchCV`` can search them
    instead).

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
        The step gamma. "auto" takes min(1, 2 / lambda_max(W^T A)): close to
        1 for a Gaussian dictionary, less for a coherent one, on which step 1
        diverges.
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
    diverges. The threshold scales with the step, as in the
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

    _needs_codes = True  # the search starts from the codes' support size

    _parameter_constraints = {
        "dictionary": ["array-like", None],
        **{
            name: UnrolledRegressor._parameter_constraints[name]
            for name in (
                "n_layers",
                "validation_fraction",
                "dtype",
                "random_state",
                "device",
                "verbose",
            )
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

    def __init__(
        self,
        dictionary=None,
        *,
        c1=None,
        c2=None,
        c3=None,
        step_size="auto",
        search_rounds=2,
        n_layers=16,
        validation_fraction=0.1,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
    ):
        self.dictionary = dictionary
        self.c1 = c1
        self.c2 = c2
        self.c3 = c3
        self.step_size = step_size
        self.search_rounds = search_rounds
        self.n_layers = n_layers
        self.validation_fraction = validation_fraction
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    c1_ = net_attribute(lambda net: net.c1)
    c2_ = net_attribute(lambda net: net.c2)
    c3_ = net_attribute(lambda net: net.c3)
    coherence_ = net_attribute(lambda net: net.coherence)
    step_size_ = net_attribute(lambda net: net.step)
    weight_ = net_attribute(lambda net: net.W)

    def _build_net(self, A, y, device, dtype):
        W = analytic_weight(A)
        coherence = generalized_coherence(W, A)
        step = stable_step(W, A) if self.step_size == "auto" else self.step_size
        start = _start(y)
        c = [start[i] if v is None else v for i, v in enumerate(self._given())]
        return HyperLISTANet(A, W, self.n_layers, coherence, dtype, device, c, step)

    def _given(self):
        return (self.c1, self.c2, self.c3)

    def _where(self, resume):
        return " during the search"

    def _split(self, n_samples, rng):
        train_idx, val_idx = super()._split(n_samples, rng)
        if val_idx.size > _MAX_VALIDATION and val_idx is not train_idx:
            keep = np.sort(rng.choice(val_idx.size, _MAX_VALIDATION, replace=False))
            val_idx = val_idx[keep]
        return train_idx, val_idx

    def _train(self, net, train, validate, loss, generator, warm):
        """Search the free constants; the loss and the batches go unused."""
        free = [i for i, v in enumerate(self._given()) if v is None]
        self.search_history_ = []
        if not free:
            return [], None
        rounds = range(1, self.search_rounds + 1)
        progress = Progress(
            self.verbose,
            8 * len(free) * len(rounds),
            desc="HyperLISTA search",
            unit="candidate",
        )
        history, interrupted, tried = [], False, 0
        try:
            search = _CoordinateSearch(net, validate, self.search_history_)
            for round_ in rounds:
                start, start_score = time.perf_counter(), search.best.score
                try:
                    for i in free:
                        search.line(i, _SPREADS[i] ** (0.5 ** (round_ - 1)), round_)
                        progress.advance(8, best=f"{search.best.score:.4g}")
                except KeyboardInterrupt:
                    interrupted = True
                record = stage_record(
                    phase="search",
                    stage=f"round {round_}",
                    layer=net.n_layers,
                    steps=len(search.scores) - tried,
                    best_step=search.best.step,
                    start_score=start_score,
                    val_score=search.best.score,
                    seconds=time.perf_counter() - start,
                    stop="interrupted" if interrupted else "done",
                    curve=[
                        [tried + j, r["val_score"]]
                        for j, r in enumerate(self.search_history_[tried:], 1)
                    ],
                    round=round_,
                )
                history.append(record)
                tried = len(search.scores)
                c = ", ".join(f"{v:.4g}" for v in search.best.state)
                progress.finished(record, f"round {round_}, c = ({c})")
                if interrupted:
                    break
            search.best.restore()
            if 0 in free:
                search.cautious()
        finally:
            progress.close()
        return history, (0 if interrupted else None)
