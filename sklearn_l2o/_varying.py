"""Solvers that read the dictionary with the measurements.

A solver trained for one dictionary ``A`` is of no use once the dictionary
changes: a sensor drifts, a calibration is redone, each sample comes from its
own device. The solvers here take the dictionary of a call with the
measurements: ``fit(X, y, dictionaries=D)`` and ``predict(X, dictionaries=D)``
with ``D`` of shape (n_features, n_components), one dictionary for every row,
or (n_samples, n_features, n_components), one per row. Without ``D`` they use
the nominal dictionary (``dictionary``, or the one estimated by least squares),
and ``fit`` trains on random perturbations of it (``perturbation``).

Their nets read a :class:`Measured` triple instead of a tensor of
measurements: the measurements, the dictionary with its columns scaled to unit
norm (shared, or one per row) and those columns' norms, by which the estimate
is divided on the way out.
"""

import numbers
from collections import namedtuple

import numpy as np
import torch
from sklearn.metrics import r2_score

from ._base import UnrolledRegressor
from ._sklearn_compat import Interval, _fit_context
from ._unrolled import UnrolledNet
from ._validation import check_dictionary

#: what a varying-dictionary net reads: measurements ``b`` (n_samples,
#: n_features), the unit-norm dictionary ``A`` (n_features, n_components) or
#: (n_samples, n_features, n_components), and its columns' norms ``norms``
#: (n_components,) or (n_samples, n_components)
Measured = namedtuple("Measured", ["b", "A", "norms"])

#: rows per chunk when each row brings its own dictionary (the chunk's
#: dictionaries are converted and normalised at once)
_PER_SAMPLE_CHUNK = 256

#: validation rows that share one random perturbation of the nominal dictionary
_VALIDATION_GROUP = 256


def forward_operator(A, x):
    """A x for every row of ``x``: ``A`` shared (2-D) or one per row (3-D)."""
    if A.dim() == 2:
        return x @ A.T
    return torch.bmm(A, x.unsqueeze(-1)).squeeze(-1)


def adjoint_operator(A, r):
    """A^T r for every row of ``r``: ``A`` shared (2-D) or one per row (3-D)."""
    if A.dim() == 2:
        return r @ A
    return torch.bmm(r.unsqueeze(1), A).squeeze(1)


def unit_columns(A):
    """``A`` with every column (of every dictionary) scaled to unit norm, and
    those norms: tensors of shape (..., m, n) and (..., n)."""
    norms = torch.linalg.vector_norm(A, dim=-2)
    return A / norms.unsqueeze(-2), norms


def perturbed(A, sigma, generator):
    """Columns of ``A + sigma N(0, 1)`` scaled back to unit norm."""
    noise = torch.randn(A.shape, generator=generator, device=A.device, dtype=A.dtype)
    return unit_columns(A + sigma * noise)[0]


class VaryingNet(UnrolledNet):
    """An unrolled net whose input is a :class:`Measured` triple."""

    def initial_state(self, data):
        return (data.b.new_zeros(data.b.shape[0], self.n_components),)

    def output(self, state, data):
        return state[0] / data.norms


class _Dictionaries:
    """The validated ``dictionaries`` of one call: one shared, or one per row."""

    def __init__(self, array):
        self.array = array
        self.per_sample = array.ndim == 3
        self._shared = None

    def measured(self, b, rows):
        """The :class:`Measured` input of measurements ``b``, rows ``rows``."""
        if self.per_sample:
            A = torch.as_tensor(self.array[rows], dtype=b.dtype, device=b.device)
            return Measured(b, *unit_columns(A))
        if self._shared is None or self._shared[0].dtype != b.dtype:
            A = torch.as_tensor(self.array, dtype=b.dtype, device=b.device)
            self._shared = unit_columns(A)
        return Measured(b, *self._shared)


def check_dictionaries(dictionaries, n_samples, shape):
    """``dictionaries`` as a float64 array of shape ``shape`` or
    ``(n_samples,) + shape``, every dictionary finite with no zero column."""
    try:
        D = np.asarray(dictionaries, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "dictionaries must be a numeric array of shape (n_features, "
            "n_components) or (n_samples, n_features, n_components)."
        ) from exc
    if D.ndim == 2:
        check_dictionary(D, name="dictionaries")
        if D.shape != shape:
            raise ValueError(
                f"dictionaries has shape {D.shape}; the solver's dictionary has "
                f"shape {shape} (n_features, n_components)."
            )
        return D
    if D.ndim != 3:
        raise ValueError(
            "dictionaries must have shape (n_features, n_components), one "
            "dictionary for every sample, or (n_samples, n_features, "
            f"n_components), one per sample; got {D.ndim} dimension(s)."
        )
    if D.shape != (n_samples,) + shape:
        raise ValueError(
            f"dictionaries has shape {D.shape}; one dictionary per sample needs "
            f"shape {(n_samples,) + shape} (n_samples, n_features, n_components)."
        )
    if not np.all(np.isfinite(D)):
        raise ValueError("dictionaries contains NaN or infinity.")
    norms = np.linalg.norm(D, axis=1)
    zero = np.argwhere(norms == 0)
    if zero.size:
        raise ValueError(
            f"dictionaries has {zero.shape[0]} zero column(s) (first: sample "
            f"{zero[0, 0]}, column {zero[0, 1]}); every atom needs a non-zero norm."
        )
    return D


class _PerturbedBatches:
    """Training batches on random perturbations of the nominal dictionary.

    Each batch draws ``sigma`` uniformly in ``[0, perturbation]`` and one
    dictionary ``A~ = A + sigma N(0, 1)`` (unit-norm columns, then scaled as
    the nominal atoms are) for all its rows; its measurements are
    ``b~ = A~ x + e``, where ``e = b - A x`` is the noise of the training
    pair, so that the data's own noise is kept.
    """

    def __init__(self, B, X, A_unit, norms, perturbation, generator):
        self.B, self.X, self.A, self.norms = B, X, A_unit, norms
        self.perturbation = perturbation
        self.generator = generator
        self.n_samples = B.shape[0]
        self.device = B.device

    def draw(self, idx):
        x = self.X[idx]
        sigma = self.perturbation * torch.rand(
            (), generator=self.generator, device=self.device, dtype=x.dtype
        )
        A = perturbed(self.A, sigma, self.generator)
        codes = x * self.norms
        b = self.B[idx] + (codes @ (A - self.A).T)
        return Measured(b, A, self.norms), x


class _GivenBatches:
    """Training batches on the dictionaries given with the pairs."""

    def __init__(self, B, X, dictionaries, rows):
        self.B, self.X = B, X
        self.dictionaries, self.rows = dictionaries, rows
        self.n_samples = B.shape[0]
        self.device = B.device

    def draw(self, idx):
        b = self.B[idx]
        rows = self.rows[idx.cpu().numpy()] if self.dictionaries.per_sample else None
        x = None if self.X is None else self.X[idx]
        return self.dictionaries.measured(b, rows), x


class VaryingDictionaryRegressor(UnrolledRegressor):
    """Base class of the solvers that take the dictionary per call (not public).

    ``fit``, ``predict``, ``transform``, ``staged_predict`` and ``score`` take
    ``dictionaries``, requested through scikit-learn's metadata routing when
    the estimator sits in a Pipeline or a cross-validation.
    """

    _parameter_constraints = {
        **{
            name: constraint
            for name, constraint in UnrolledRegressor._parameter_constraints.items()
            if name != "continuation_iter"
        },
        "perturbation": [Interval(numbers.Real, 0, None, closed="left")],
    }

    # ------------------------------------------------------------ the input
    def _check_dictionaries(self, dictionaries, n_samples, A):
        """The call's dictionaries. Without any, fit (which passes the nominal
        ``A``) gets None and trains on perturbations; prediction (``A`` None)
        uses the nominal dictionary."""
        if dictionaries is None:
            return None if A is not None else _Dictionaries(self.dictionary_)
        shape = (A if A is not None else self.dictionary_).shape
        return _Dictionaries(check_dictionaries(dictionaries, n_samples, shape))

    def _net_input(self, b, rows, context):
        if context.per_sample:
            return context.measured(b, np.arange(context.array.shape[0])[rows])
        return context.measured(b, None)

    def _chunks(self, n_samples, context):
        if not context.per_sample:
            return super()._chunks(n_samples, context)
        return [
            slice(start, min(start + _PER_SAMPLE_CHUNK, n_samples))
            for start in range(0, n_samples, _PER_SAMPLE_CHUNK)
        ]

    def _residual(self, x_hat, inputs, A):
        return forward_operator(inputs.A, x_hat * inputs.norms) - inputs.b

    def _perturbs(self, context):
        return context is None and self.perturbation > 0

    def _validation_batches(self, X_val, Y_val, val_idx, context, A, rng):
        n_val = X_val.shape[0]
        if context is not None:
            chunk = _PER_SAMPLE_CHUNK if context.per_sample else n_val
            batches = []
            for start in range(0, n_val, chunk):
                rows = slice(start, min(start + chunk, n_val))
                inputs = context.measured(
                    X_val[rows], val_idx[rows] if context.per_sample else None
                )
                batches.append((inputs, None if Y_val is None else Y_val[rows]))
            return batches
        nominal = _Dictionaries(A).measured(X_val, None)
        if not self._perturbs(context):
            return [(nominal, Y_val)]
        # fixed perturbations, so that validation scores compare across steps
        generator = torch.Generator(device=X_val.device)
        generator.manual_seed(int(rng.randint(2**31 - 1)))
        train_like = _PerturbedBatches(
            X_val, Y_val, nominal.A, nominal.norms, self.perturbation, generator
        )
        return [
            train_like.draw(torch.arange(start, min(start + _VALIDATION_GROUP, n_val)))
            for start in range(0, n_val, _VALIDATION_GROUP)
        ]

    def _training_batches(self, X_train, Y_train, train_idx, context, A, generator):
        if context is not None:
            return _GivenBatches(X_train, Y_train, context, train_idx)
        if not self._perturbs(context):
            return _GivenBatches(X_train, Y_train, _Dictionaries(A), train_idx)
        nominal = _Dictionaries(A).measured(X_train, None)
        return _PerturbedBatches(
            X_train, Y_train, nominal.A, nominal.norms, self.perturbation, generator
        )

    # ------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, dictionaries=None):
        """Train the solver on measurement/code pairs and their dictionaries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The measurements b = A x + e, one per row.
        y : array-like of shape (n_samples, n_components) or (n_samples,)
            The codes x. May be None with ``loss="lasso"`` when
            ``dictionaries`` is given.
        dictionaries : array-like of shape (n_features, n_components) or \
(n_samples, n_features, n_components), default=None
            The dictionary of every pair (one for all, or one per pair).
            None trains on the nominal dictionary, randomly perturbed
            (``perturbation``), each pair's measurement remade from its code.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        lasso = self.loss == "lasso"
        if lasso and dictionaries is None and self.perturbation > 0 and y is None:
            raise ValueError(
                "Training on perturbed dictionaries (perturbation > 0) remakes "
                "each measurement from its code: pass the codes y, the "
                "dictionaries the measurements were taken with, or "
                "perturbation=0."
            )
        return self._fit(X, y, dictionaries)

    def predict(self, X, dictionaries=None):
        """Recover the codes from measurements and their dictionaries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.
        dictionaries : array-like of shape (n_features, n_components) or \
(n_samples, n_features, n_components), default=None
            The dictionary of every measurement (one for all, or one per
            row); None uses the nominal dictionary ``dictionary_``.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Estimated codes x, float64, in the units of the dictionaries'
            atoms.
        """
        return self._predict(X, dictionaries)

    def transform(self, X, dictionaries=None):
        """Sparse codes of the measurements; the same as :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        dictionaries : array-like, default=None
            As in :meth:`predict`.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        return self._predict(X, dictionaries)

    def fit_transform(self, X, y=None, dictionaries=None):
        """Fit, then return the codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_components)
        dictionaries : array-like, default=None
            As in :meth:`fit`, and used again to transform ``X``.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, y, dictionaries=dictionaries).transform(
            X, dictionaries=dictionaries
        )

    def staged_predict(self, X, dictionaries=None):
        """Yield the estimate after each layer, first to last.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        dictionaries : array-like, default=None
            As in :meth:`predict`.

        Yields
        ------
        codes : ndarray of shape (n_samples, n_components)
        """
        yield from self._staged_predict(X, dictionaries)

    def score(self, X, y, sample_weight=None, dictionaries=None):
        """R^2 of the predicted codes, as scikit-learn regressors score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_components)
        sample_weight : array-like of shape (n_samples,), default=None
        dictionaries : array-like, default=None
            As in :meth:`predict`.

        Returns
        -------
        score : float
        """
        return r2_score(
            y, self.predict(X, dictionaries=dictionaries), sample_weight=sample_weight
        )
