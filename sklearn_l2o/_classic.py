"""Classic proximal-gradient LASSO solvers: ISTA and FISTA, batched in torch."""

import itertools
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ._batches import solve_in_batches, validated_rows
from ._mixins import ShortReprMixin
from ._shrinkage import soft_threshold
from ._sklearn_compat import Interval, StrOptions, _fit_context
from ._starts import fista_momentum_sequence, lipschitz_constant
from ._torch import resolve_device, resolve_dtype, to_numpy
from ._validation import check_dictionary, check_widths, estimate_dictionary


def proximal_gradient_steps(A, b, x, alpha, step, n_iter, momentum=True, tol=None):
    """Yield up to ``n_iter`` ISTA (``momentum=False``) or FISTA iterates.

    Rows of ``b`` and ``x`` are independent problems
    min_x 1/2 ||A x - b||^2 + alpha ||x||_1, started at ``x``; ``step`` is
    1 / L at most. Each yield is ``(x, n_active)``: every row's current
    iterate and how many rows are still iterating. With ``tol`` a row stops
    once its iterate changes by at most ``tol`` times its norm, and the
    iterations end when every row has stopped; a row's iterates do not depend
    on the other rows of the batch.
    """
    threshold = alpha * step
    weights = fista_momentum_sequence() if momentum else itertools.repeat(0.0)
    next(weights)  # m_0: the first step is taken at x itself
    rows = torch.arange(b.shape[0], device=b.device)
    x_rows, y_rows, b_rows = x, x, b
    for _ in range(n_iter):
        grad = (y_rows @ A.T - b_rows) @ A
        x_new = soft_threshold(y_rows - step * grad, threshold)
        weight = next(weights)
        y_rows = x_new + weight * (x_new - x_rows) if weight else x_new
        if tol is None:
            x = x_rows = x_new
            yield x, rows.numel()
            continue
        x = x.index_copy(0, rows, x_new)
        change = torch.linalg.vector_norm(x_new - x_rows, dim=1)
        size = torch.linalg.vector_norm(x_new, dim=1).clamp_min(1e-30)
        going = change > tol * size
        rows, x_rows, y_rows, b_rows = (
            rows[going],
            x_new[going],
            y_rows[going],
            b_rows[going],
        )
        yield x, rows.numel()
        if rows.numel() == 0:
            return


class _ProximalGradient(
    ShortReprMixin,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Shared machinery of ISTA and FISTA (not public)."""

    _momentum = False

    _parameter_constraints = {
        "dictionary": ["array-like", None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [str],
    }

    def __init__(
        self,
        dictionary=None,
        *,
        alpha=0.1,
        max_iter=1000,
        tol=1e-6,
        dtype="float64",
        device="auto",
    ):
        self.dictionary = dictionary
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.dtype = dtype
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the data and set the solver up; nothing is solved or learned.

        With a dictionary, ``fit`` checks the measurements against it, and
        stores it with its Lipschitz constant, as
        :class:`sklearn.decomposition.SparseCoder` does. Without one, it is
        estimated from the (measurement, code) pairs by least squares.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.
        y : array-like of shape (n_samples, n_components), default=None
            Codes x; needed only when no dictionary was given.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        dtypes = [np.float64, np.float32]
        if y is None:
            if self.dictionary is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target "
                    "y is None: without a dictionary, the codes y are needed to "
                    "estimate one by least squares."
                )
            X = validate_data(self, X, dtype=dtypes)
            Y, self._y_1d = None, False
        else:
            X, Y = validate_data(
                self, X, y, multi_output=True, y_numeric=True, dtype=dtypes
            )
            Y = np.asarray(Y, dtype=np.float64)
            self._y_1d = Y.ndim == 1
            Y = Y.reshape(-1, 1) if self._y_1d else Y
        if self.dictionary is None:
            A = estimate_dictionary(X, Y)
        else:
            A = check_dictionary(self.dictionary)
            check_widths(X, Y, A)
        lipschitz = lipschitz_constant(A)
        if not 1e-280 < lipschitz < 1e280:
            raise ValueError(
                f"The dictionary's squared spectral norm is {lipschitz:.3g}: the "
                "step 1 / L of the iterations under- or overflows. Rescale the "
                "dictionary."
            )
        self.dictionary_ = A
        self.lipschitz_ = lipschitz
        self.device_ = resolve_device(self.device)
        self.n_components_ = A.shape[1]
        self._n_features_out = A.shape[1]
        return self

    def _validated(self, X):
        check_is_fitted(self, "dictionary_")
        return validated_rows(self, X)

    def _iterate(self, X, validated=False):
        """Yield ``(x, n_active)`` after each iteration (see
        :func:`proximal_gradient_steps`)."""
        if not validated:
            X = self._validated(X)
        dtype = resolve_dtype(self.dtype)
        A = torch.tensor(self.dictionary_, dtype=dtype, device=self.device_)
        b = torch.tensor(X, dtype=dtype, device=self.device_)
        x = b.new_zeros(b.shape[0], A.shape[1])
        return proximal_gradient_steps(
            A,
            b,
            x,
            self.alpha,
            1.0 / self.lipschitz_,
            self.max_iter,
            self._momentum,
            tol=self.tol,
        )

    def _warn_unconverged(self, n_active):
        if n_active:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} with "
                f"{n_active} row(s) whose relative change was still above "
                f"tol={self.tol}; increase max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _format(self, x):
        out = x if isinstance(x, np.ndarray) else to_numpy(x)
        return out.ravel() if self._y_1d else out

    def predict(self, X):
        """Solve the LASSO for every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            The LASSO solutions, float64. Each row stops at its own
            convergence, so a row's solution does not depend on the others.

        Notes
        -----
        The rows are solved in batches of 4,096, each written into the
        output, so the memory used beyond ``X`` and the output is that of
        one batch; ``X`` may be a NumPy memmap.
        """
        X = self._validated(X)
        n_unconverged = 0

        def solve(rows):
            nonlocal n_unconverged
            x, n_active = None, 0
            for x, n_active in self._iterate(X[rows], validated=True):  # noqa: B007
                pass
            n_unconverged += n_active
            return x

        out = solve_in_batches(X.shape[0], self.n_components_, solve)
        self._warn_unconverged(n_unconverged)
        return self._format(out)

    def transform(self, X):
        """Sparse codes of the measurements; the same as :meth:`predict`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
        """
        return self.predict(X)

    def staged_predict(self, X):
        """Yield every row's iterate after each iteration, until all converge.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Measurements b, one per row.

        Yields
        ------
        codes : ndarray of shape (n_samples, n_components)
        """
        for x, _ in self._iterate(X):
            yield self._format(x)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.required = self.dictionary is None
        return tags


_DOC_PARAMETERS = """
    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A``. If None, ``fit`` estimates it from (B, X) pairs by
        least squares.
    alpha : float, default=0.1
        Weight of the l1 term.
    max_iter : int, default=1000
        Maximum number of iterations.
    tol : float, default=1e-6
        A row stops once its iterate changes by at most ``tol`` relative to
        its norm; the iterations end when every row has stopped.
    dtype : {"float32", "float64"}, default="float64"
        Precision of the computation.
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Attributes
    ----------
    dictionary_ : ndarray of shape (n_features, n_components)
        The dictionary used.
    lipschitz_ : float
        L = ||A||_2^2; the step is 1 / L.
    device_ : torch.device
        Where the iterations run.
    n_components_ : int
        Length of a code.
    n_features_in_ : int
        Length of a measurement.
"""


class ISTA(_ProximalGradient):
    __doc__ = (
        """Iterative shrinkage-thresholding for the LASSO, batched over signals.

    Solves, for every row b of ``X``::

        min_x 1/2 ||A x - b||^2 + alpha ||x||_1

    with the iteration::

        x <- eta_{alpha / L}(x - A^T (A x - b) / L),    L = ||A||_2^2,

    all rows at once as one torch computation.
"""
        + _DOC_PARAMETERS
        + """
    See Also
    --------
    FISTA : The accelerated variant.
    sklearn.linear_model.Lasso : Coordinate descent on the same problem.

    Notes
    -----
    ``sklearn.linear_model.Lasso`` minimises 1/(2 m) ||b - A x||^2 + a ||x||_1,
    so ``Lasso(alpha=alpha / n_features, fit_intercept=False)`` fitted on
    ``(A, b)`` has the same minimiser. Reference: I. Daubechies, M. Defrise,
    C. De Mol, "An iterative thresholding algorithm for linear inverse problems
    with a sparsity constraint", Comm. Pure Appl. Math., 2004.

    Examples
    --------
    >>> from sklearn_l2o import ISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> B, X, A = make_sparse_recovery(20, n_components=40, n_features=20,
    ...                                random_state=0)
    >>> ista = ISTA(dictionary=A, alpha=0.01, max_iter=5000, device="cpu")
    >>> ista.fit(B)  # checks B against the dictionary; solves nothing
    ISTA(alpha=0.01, device='cpu', dictionary=<ndarray of shape (20, 40)>,
         max_iter=5000)
    >>> ista.transform(B).shape
    (20, 40)
    """
    )
    _momentum = False


class FISTA(_ProximalGradient):
    __doc__ = (
        """Fast iterative shrinkage-thresholding (FISTA) for the LASSO, batched.

    Solves, for every row b of ``X``::

        min_x 1/2 ||A x - b||^2 + alpha ||x||_1

    taking the ISTA step at the extrapolated point::

        y^k = x^k + (t_k - 1) / t_{k+1} (x^k - x^{k-1}),
        t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2.
"""
        + _DOC_PARAMETERS
        + """
    See Also
    --------
    ISTA : The plain proximal-gradient iteration.
    ALISTA : A learned solver that needs far fewer iterations.
    sklearn.linear_model.Lasso : Coordinate descent on the same problem.

    Notes
    -----
    ``sklearn.linear_model.Lasso`` minimises 1/(2 m) ||b - A x||^2 + a ||x||_1,
    so ``Lasso(alpha=alpha / n_features, fit_intercept=False)`` fitted on
    ``(A, b)`` has the same minimiser. Reference: A. Beck, M. Teboulle, "A fast
    iterative shrinkage-thresholding algorithm for linear inverse problems",
    SIAM J. Imaging Sci., 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Lasso
    >>> from sklearn_l2o import FISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> B, X, A = make_sparse_recovery(5, n_components=40, n_features=20,
    ...                                random_state=0)
    >>> fista = FISTA(dictionary=A, alpha=0.01, max_iter=20000, tol=1e-10,
    ...               device="cpu").fit(B)
    >>> lasso = Lasso(alpha=0.01 / 20, fit_intercept=False, tol=1e-12,
    ...               max_iter=100000).fit(A, B[0])
    >>> bool(np.allclose(fista.predict(B[:1])[0], lasso.coef_, atol=1e-5))
    True
    """
    )
    _momentum = True
