"""Safeguarded unrolled solvers: a learned update is kept only where it is no
worse than FISTA's, and every prediction comes with a certificate."""

import numbers

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    RegressorMixin,
    TransformerMixin,
    clone,
)
from sklearn.utils.validation import check_is_fitted, validate_data
from torch.nn.functional import softshrink

from ._base import UnrolledRegressor
from ._batches import solve_in_batches, validated_rows
from ._mixins import ShortReprMixin
from ._shrinkage import soft_threshold
from ._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ._starts import fista_momentum_sequence
from ._torch import to_numpy
from ._varying import VaryingDictionaryRegressor

#: FISTA iterations between two certificate checks of the continuation: a
#: check costs as many products with the dictionary as an iteration
_CHECK_EVERY = 10


def _objective(residual, x, alpha):
    """Per-row LASSO objective from the residual A x - b."""
    # (vector_norm's l1 takes three times as long as abs and sum on a CPU)
    squares = torch.linalg.vector_norm(residual, dim=1) ** 2
    return 0.5 * squares + alpha * x.abs().sum(dim=1)


def relative_duality_gap(A, b, x, alpha):
    """Each row's LASSO duality gap over its objective, (P(x) - D(theta)) / P(x).

    P(x) = 1/2 ||A x - b||^2 + alpha ||x||_1 is the LASSO objective and
    D(theta) = 1/2 ||b||^2 - 1/2 ||b - theta||^2 its dual, at the feasible
    point theta = r min(1, alpha / ||A^T r||_inf) made from the residual
    r = b - A x. The gap bounds the suboptimality, P(x) - P(x*) <= gap, and
    vanishes exactly at the solution; a row whose objective is zero (b = 0,
    x = 0) has gap zero.
    """
    r = b - x @ A.T
    primal = 0.5 * torch.sum(r**2, dim=1) + alpha * torch.sum(x.abs(), dim=1)
    correlation = torch.amax((r @ A).abs(), dim=1)
    scale = torch.clamp(alpha / correlation.clamp_min(torch.finfo(r.dtype).tiny), max=1)
    theta = r * scale[:, None]
    dual = 0.5 * torch.sum(b**2, dim=1) - 0.5 * torch.sum((b - theta) ** 2, dim=1)
    gap = (primal - dual).clamp_min(0.0)
    return gap / primal.clamp_min(torch.finfo(r.dtype).tiny)


class _Fista:
    """FISTA on every row from zero, tracking A x so that the objective of each
    iterate costs no extra product with A."""

    def __init__(self, A, b, alpha, step):
        self.A, self.b, self.alpha, self.step = A, b, alpha, step
        # y and A y are written in place: they must not share memory with x
        self.x = b.new_zeros(b.shape[0], A.shape[1])
        self.y = torch.zeros_like(self.x)
        self.Ax, self.Ay = torch.zeros_like(b), torch.zeros_like(b)
        self.weights = fista_momentum_sequence()
        next(self.weights)

    def advance(self, extrapolate=True):
        """The next iterate; without ``extrapolate`` (the last one wanted) the
        momentum step that would follow it is skipped."""
        # y - step A^T (A y - b), as descend computes it, in fewer buffers
        gradient = torch.sub(self.Ay, self.b, out=self.Ay).mul_(self.step) @ self.A
        x = softshrink(
            torch.sub(self.y, gradient, out=gradient), self.step * self.alpha
        )
        Ax = x @ self.A.T
        if extrapolate:
            weight = next(self.weights)
            # x + weight (x - x_previous), in one pass
            torch.lerp(self.x, x, 1.0 + weight, out=self.y)
            torch.lerp(self.Ax, Ax, 1.0 + weight, out=self.Ay)
        self.x, self.Ax = x, Ax
        return x

    def objective(self):
        """Each row's LASSO objective at the current iterate."""
        return _objective(self.Ax - self.b, self.x, self.alpha)


class Safeguarded(
    ShortReprMixin, MetaEstimatorMixin, RegressorMixin, TransformerMixin, BaseEstimator
):
    """An unrolled solver whose layers cannot do worse than FISTA's iterations.

    At every layer and for every signal, the learned layer's output is kept
    only where its energy (the LASSO objective, by default) passes a check;
    elsewhere (NaN and infinity included) a proximal-gradient step from the
    last estimate replaces it, and the next layer starts from there. After
    the last layer, FISTA's iterate replaces the output of every signal on
    which FISTA's objective is lower. So, signal by signal, the safeguarded
    code is never worse in the LASSO objective than FISTA with as many
    iterations, on any input, and, with ``max_iter``, FISTA iterations
    continue each signal until its certificate, the relative duality gap
    of the LASSO, is at most ``tol``.

    The per-layer check is ``check="output"`` by default: a learned update
    stands unless its energy is above the zero code's, so that the learned
    layers may take a path that raises the objective on the way (ALISTA's
    does, trained for the NMSE of its last layer) and still reach a better
    output. ``check="layer"`` is stricter: a learned update stands only
    where its energy is at most the last estimate's or FISTA's iterate's at
    the same count, for solvers whose layers descend the objective, such as
    :class:`StepLISTA`. In distribution most signals keep the learned
    output unchanged; on the others, where the learned solver ends above
    FISTA in the objective, the guarantee can cost accuracy (see the
    benchmarks page).

    Every prediction has a certificate (:meth:`certify`): the relative
    duality gap (P(x) - D(theta)) / P(x) of the LASSO
    P(x) = 1/2 ||A x - b||^2 + alpha ||x||_1, an upper bound on how far the
    code's objective is above the optimum, relative to it, which needs no
    ground truth. A user can threshold it to decide which predictions to
    trust.

    Parameters
    ----------
    estimator : unrolled solver
        The solver to safeguard (any of the package's unrolled solvers). It
        is cloned and fitted by :meth:`fit`, unless ``prefit``.
    alpha : float, default=None
        The l1 weight of the LASSO that defines the energy, the FISTA steps
        and the certificate; None takes the estimator's ``alpha``.
    energy : {"objective", "residual"}, default="objective"
        What a learned layer must not make worse: the LASSO
        objective, or the fixed-point residual ||x - T(x)|| of the
        proximal-gradient map T (x is a LASSO solution when it vanishes).
    check : {"output", "layer"}, default="output"
        Which learned updates stand: those whose energy is at most the zero
        code's (``"output"``; the output then answers to FISTA), or those
        whose energy is at most the last estimate's or that of FISTA's
        iterate at the same count (``"layer"``).
    max_iter : int, default=0
        FISTA iterations at most after the last layer, each signal stopping
        once its certificate reaches ``tol`` (checked every 10 iterations).
    tol : float, default=1e-6
        The relative duality gap at which a signal stops iterating.
    prefit : bool, default=False
        Whether ``estimator`` is already fitted: then :meth:`fit` only checks
        the data against it and keeps it as it is.

    Attributes
    ----------
    estimator_ : unrolled solver
        The fitted solver.
    alpha_ : float
        The l1 weight used.
    dictionary_ : ndarray of shape (n_features, n_components)
        The solver's dictionary.
    n_features_in_ : int
        Length of a measurement.

    See Also
    --------
    FISTA : The classic iteration the safeguard falls back on.

    Notes
    -----
    The safeguard follows the idea of H. Heaton, X. Chen, Z. Wang, W. Yin,
    "Safeguarded learned convex optimization", AAAI 2023: a learned update
    is taken only where an energy shows it does well enough, a classic
    update otherwise, so that the guarantees of the classic method hold on
    any input. Here the output answers to FISTA with as many iterations,
    sample by sample, and the per-layer check is either loose (the learned
    path may climb on the way) or strict. It costs a FISTA
    run beside the learned layers, two products with the dictionary per
    layer, and one more for the energy of each learned update, which the
    next layer reuses for the solvers whose layers start from the residual
    A x - b (ALISTA, NAALISTA, TiLISTA, LISTA-CPSS, HyperLISTA,
    StepLISTA, FixedPointALISTA): for those a prediction takes about twice
    as long as the solver's own.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o import ALISTA, Safeguarded
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> B, X, A = make_sparse_recovery(1500, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> solver = ALISTA(dictionary=A, n_layers=6, max_steps_per_stage=60,
    ...                 refinement_steps=60, device="cpu", random_state=0)
    >>> model = Safeguarded(solver, alpha=0.01).fit(B[:1200], X[:1200])
    >>> model.predict(B[1200:]).shape
    (300, 64)
    >>> certificate = model.certify(B[1200:])  # relative duality gaps
    >>> certificate.shape, bool(np.all(certificate >= 0))
    ((300,), True)
    >>> converged = model.set_params(max_iter=5000, tol=1e-4)
    >>> bool(np.all(converged.certify(B[1200:]) <= 1e-4))
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "staged_predict"])],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "energy": [StrOptions({"objective", "residual"})],
        "check": [StrOptions({"output", "layer"})],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "prefit": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        alpha=None,
        energy="objective",
        check="output",
        max_iter=0,
        tol=1e-6,
        prefit=False,
    ):
        self.estimator = estimator
        self.alpha = alpha
        self.energy = energy
        self.check = check
        self.max_iter = max_iter
        self.tol = tol
        self.prefit = prefit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the solver (unless ``prefit``) and set up the safeguard.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.
        y : array-like of shape (n_samples, n_components), default=None
            Codes x, as the solver's ``fit`` takes them.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if not isinstance(self.estimator, UnrolledRegressor):
            raise ValueError(
                "Safeguarded needs one of the package's unrolled solvers (ALISTA, "
                f"LISTA, ...); got {type(self.estimator).__name__}."
            )
        if isinstance(self.estimator, VaryingDictionaryRegressor):
            raise ValueError(
                f"Safeguarded checks each layer against the LASSO of one "
                f"dictionary; {type(self.estimator).__name__} takes a dictionary "
                "per call, which Safeguarded does not pass on."
            )
        if self.prefit:
            check_is_fitted(self.estimator, "module_")
            estimator = self.estimator
        else:
            estimator = clone(self.estimator).fit(X, y)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if X.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but the fitted solver expects "
                f"{estimator.n_features_in_}."
            )
        alpha = getattr(estimator, "alpha", None) if self.alpha is None else self.alpha
        if alpha is None or alpha <= 0:
            raise ValueError(
                f"Safeguarded needs a positive LASSO weight: set alpha (the "
                f"solver's is {alpha!r})."
            )
        self.estimator_ = estimator
        self.alpha_ = float(alpha)
        self.dictionary_ = estimator.dictionary_
        self._n_features_out = estimator.n_components_
        return self

    # --------------------------------------------------------------- solving
    def _validated(self, X):
        check_is_fitted(self, "estimator_")
        return validated_rows(self, X)

    def _tensors(self, X):
        """The net, the dictionary and rows of (checked) measurements as
        tensors in the net's dtype and place."""
        net = self.estimator_.module_
        A = net.atom_norms.new_tensor(self.dictionary_)
        b = torch.as_tensor(X, dtype=A.dtype, device=A.device)
        return net, A, b

    def _energy(self, A, x, residual, objective, step):
        if self.energy == "objective":
            return objective
        gradient = residual @ A
        mapped = soft_threshold(x - step * gradient, self.alpha_ * step)
        return torch.linalg.vector_norm(x - mapped, dim=1)

    def _layers(self, net, A, b):
        """Yield ``(x, fallback)`` after each layer: the safeguarded estimate
        and which rows took the classic step instead of the learned one."""
        step = 1.0 / self.estimator_.lipschitz_
        alpha = self.alpha_
        fista = _Fista(A, b, alpha, step)
        norms = net.atom_norms
        unit_atoms = bool(torch.all(norms == 1))
        state = net.initial_state(b)
        x = b.new_zeros(b.shape[0], A.shape[1])
        residual = -b
        energy = self._energy(A, x, residual, _objective(residual, x, alpha), step)
        start = energy
        for k in range(net.n_layers):
            reference = fista.advance(extrapolate=k < net.n_layers - 1)
            # nets that start a layer from A x - b get the one computed below
            # for the check (and -b for the zero code they start from); the
            # others do not ask for it
            with net.known_residual(state[0], residual):
                state = net.layer(k, b, state)
            learned = state[0] if unit_atoms else state[0] / norms
            if net.reads_residual:
                learned_residual = net.residual(state[0], b)
            else:
                learned_residual = learned @ A.T - b
            learned_energy = self._energy(
                A,
                learned,
                learned_residual,
                _objective(learned_residual, learned, alpha),
                step,
            )
            # where the learned update fails the check (NaN included), a
            # proximal-gradient step from the last estimate, which cannot
            # raise the objective, replaces it
            if self.check == "layer":
                reference_energy = self._energy(
                    A, reference, fista.Ax - b, fista.objective(), step
                )
                bound = torch.maximum(energy, reference_energy)
            else:
                bound = start
            fallback = ~(learned_energy <= bound)
            if bool(fallback.any()):
                classic = soft_threshold(x - step * (residual @ A), alpha * step)
                classic_residual = classic @ A.T - b
                classic_energy = self._energy(
                    A,
                    classic,
                    classic_residual,
                    _objective(classic_residual, classic, alpha),
                    step,
                )
                keep = fallback[:, None]
                learned = torch.where(keep, classic, learned)
                learned_residual = torch.where(keep, classic_residual, learned_residual)
                learned_energy = torch.where(fallback, classic_energy, learned_energy)
                state = (learned * norms, *state[1:])
            x, residual, energy = learned, learned_residual, learned_energy
            if k == net.n_layers - 1:
                # the last layer also answers to FISTA with as many iterations:
                # where FISTA's objective is lower, its iterate is the output
                behind = ~(_objective(residual, x, alpha) <= fista.objective())
                x = torch.where(behind[:, None], reference, x)
                fallback = fallback | behind
            yield x, fallback

    def _continue(self, A, b, x):
        """FISTA from ``x``, each row until its certificate reaches ``tol``
        (checked every ``_CHECK_EVERY`` iterations and at the last one)."""
        if self.max_iter == 0:
            return x
        step = 1.0 / self.estimator_.lipschitz_
        x = x.clone()
        rows = torch.arange(b.shape[0], device=b.device)
        going = relative_duality_gap(A, b, x, self.alpha_) > self.tol
        rows, x_rows, b_rows = rows[going], x[going], b[going]
        y_rows = x_rows
        weights = fista_momentum_sequence()
        next(weights)
        for i in range(1, self.max_iter + 1):
            if rows.numel() == 0:
                break
            grad = (y_rows @ A.T - b_rows) @ A
            new = soft_threshold(y_rows - step * grad, self.alpha_ * step)
            y_rows = new + next(weights) * (new - x_rows)
            x_rows = new
            if i % _CHECK_EVERY and i != self.max_iter:
                continue
            x.index_copy_(0, rows, x_rows)
            going = relative_duality_gap(A, b_rows, x_rows, self.alpha_) > self.tol
            rows, x_rows, y_rows, b_rows = (
                rows[going],
                x_rows[going],
                y_rows[going],
                b_rows[going],
            )
        return x

    def _solve(self, X, rows, certify=False):
        """The safeguarded codes of the rows ``rows`` of checked ``X``, or
        with ``certify`` their certificates."""
        net, A, b = self._tensors(X[rows])
        with torch.no_grad():
            x = None
            for x, _ in self._layers(net, A, b):  # noqa: B007
                pass
            x = self._continue(A, b, x)
            return relative_duality_gap(A, b, x, self.alpha_) if certify else x

    def predict(self, X):
        """Safeguarded codes of the measurements.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            The codes x, float64.
        """
        X = self._validated(X)
        x = solve_in_batches(
            X.shape[0], self._n_features_out, lambda rows: self._solve(X, rows)
        )
        return x.ravel() if getattr(self.estimator_, "_y_1d", False) else x

    def transform(self, X):
        """Safeguarded codes of the measurements; the same as :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        return self.predict(X)

    def certify(self, X):
        """Each prediction's certificate: its LASSO relative duality gap.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        gap : ndarray of shape (n_samples,)
            (P(x) - D(theta)) / P(x) for the code x that :meth:`predict`
            returns: at least the code's objective's distance to the optimum,
            relative to the objective. 0 at the LASSO solution.
        """
        X = self._validated(X)
        gap = solve_in_batches(
            X.shape[0], 1, lambda rows: self._solve(X, rows, certify=True)[:, None]
        )
        return gap[:, 0]

    def staged_predict(self, X):
        """Yield the safeguarded estimate after each layer, then the final one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Yields
        ------
        codes : ndarray of shape (n_samples, n_components)
        """
        net, A, b = self._tensors(self._validated(X))
        with torch.no_grad():
            x = None
            for x, _ in self._layers(net, A, b):
                yield to_numpy(x)
            if self.max_iter:
                yield to_numpy(self._continue(A, b, x))

    def fallback_rate(self, X):
        """Share of the signals that took FISTA's iterate, layer by layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        rate : ndarray of shape (n_layers,)
            At each layer, the fraction of the signals whose learned update
            was replaced.
        """
        net, A, b = self._tensors(self._validated(X))
        with torch.no_grad():
            return np.array(
                [
                    float(fallback.double().mean())
                    for _, fallback in self._layers(net, A, b)
                ]
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.required = getattr(self.estimator, "loss", "mse") != "lasso"
        return tags
