"""Classic proximal-gradient LASSO solvers: ISTA and FISTA, batched in torch."""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._torch import resolve_device, resolve_dtype, soft_threshold, to_numpy
from ._validation import (
    check_dictionary,
    check_widths,
    estimate_dictionary,
    spectral_norm_sq,
)


def proximal_gradient_steps(A, b, x, alpha, step, n_iter, momentum=True):
    """Yield ``n_iter`` ISTA (``momentum=False``) or FISTA iterates from ``x``.

    Rows of ``b`` and ``x`` are independent problems
    min_x 1/2 ||A x - b||^2 + alpha ||x||_1; ``step`` is 1 / L at most.
    """
    threshold = alpha * step
    y, t = x, 1.0
    for _ in range(n_iter):
        grad = (y @ A.T - b) @ A
        x_new = soft_threshold(y - step * grad, threshold)
        if momentum:
            t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            y = x_new + ((t - 1.0) / t_new) * (x_new - x)
            t = t_new
        else:
            y = x_new
        x = x_new
        yield x


class _ProximalGradient(
    ClassNamePrefixFeaturesOutMixin, RegressorMixin, TransformerMixin, BaseEstimator
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
    def fit(self, B, y=None):
        """Set up the solver and solve for the training measurements.

        Nothing is learned when a dictionary is given: ``fit`` checks the data,
        stores the dictionary and its Lipschitz constant, and records in
        ``n_iter_`` how many iterations the training rows needed. Without a
        dictionary, it is estimated from the (B, X) pairs by least squares.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements, one per row.
        y : array-like of shape (n_samples, n_components), default=None
            Codes (X in ``make_sparse_recovery``); needed only when no
            dictionary was given.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if y is None:
            if self.dictionary is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target "
                    "y is None: without a dictionary, the codes y are needed to "
                    "estimate one by least squares."
                )
            B = validate_data(self, B, dtype=[np.float64, np.float32])
            X2 = None
            self._y_1d = False
        else:
            B, X = validate_data(
                self,
                B,
                y,
                multi_output=True,
                y_numeric=True,
                dtype=[np.float64, np.float32],
            )
            X = np.asarray(X, dtype=np.float64)
            self._y_1d = X.ndim == 1
            X2 = X.reshape(-1, 1) if X.ndim == 1 else X
        if self.dictionary is None:
            A = estimate_dictionary(B, X2)
        else:
            A = check_dictionary(self.dictionary)
            check_widths(B, X2, A)
        self.dictionary_ = A
        self.lipschitz_ = max(spectral_norm_sq(A), np.finfo(np.float64).tiny)
        self.device_ = resolve_device(self.device)
        self.n_components_ = A.shape[1]
        self._n_features_out = A.shape[1]
        *_, self.n_iter_ = self._solve(B)
        return self

    def _tensors(self, B):
        check_is_fitted(self, "dictionary_")
        B = validate_data(self, B, reset=False, dtype=[np.float64, np.float32])
        dtype = resolve_dtype(self.dtype)
        A = torch.tensor(self.dictionary_, dtype=dtype, device=self.device_)
        b = torch.tensor(B, dtype=dtype, device=self.device_)
        return A, b

    def _iterate(self, B):
        """Yield ``(x, converged)`` after each iteration."""
        A, b = self._tensors(B)
        x = b.new_zeros(b.shape[0], A.shape[1])
        steps = proximal_gradient_steps(
            A, b, x, self.alpha, 1.0 / self.lipschitz_, self.max_iter, self._momentum
        )
        for x_new in steps:
            change = torch.linalg.vector_norm(x_new - x, dim=1)
            size = torch.linalg.vector_norm(x_new, dim=1).clamp_min(1e-30)
            converged = bool(torch.all(change <= self.tol * size))
            x = x_new
            yield x, converged

    def _solve(self, B):
        n_iter, converged = 0, False
        for x, converged in self._iterate(B):  # noqa: B007 - the last is kept
            n_iter += 1
            if converged:
                break
        if not converged:
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} before "
                f"the relative change fell below tol={self.tol}; increase max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return x, n_iter

    def _format(self, x):
        out = to_numpy(x)
        return out.ravel() if self._y_1d else out

    def predict(self, B):
        """Solve the LASSO for every row of ``B``.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_components)
            The LASSO solutions, float64.
        """
        x, _ = self._solve(B)
        return self._format(x)

    def transform(self, B):
        """Sparse codes of ``B``; the same as :meth:`predict`.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_components)
        """
        return self.predict(B)

    def staged_predict(self, B):
        """Yield the iterate after each iteration, until convergence.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_features)
            Measurements.

        Yields
        ------
        X_hat : ndarray of shape (n_samples, n_components)
        """
        for x, converged in self._iterate(B):
            yield self._format(x)
            if converged:
                return

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
        Stop when every row's iterate changes by less than ``tol`` relative to
        its norm.
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
    n_iter_ : int
        Iterations the training measurements needed.
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

    Solves, for every row b of ``B``,

        min_x 1/2 ||A x - b||^2 + alpha ||x||_1

    with x <- eta_{alpha/L}(x - A^T (A x - b) / L), L = ||A||_2^2, all rows at
    once as one torch computation.
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
    >>> ista = ISTA(dictionary=A, alpha=0.01, max_iter=5000, device="cpu").fit(B)
    >>> ista.transform(B).shape
    (20, 40)
    """
    )
    _momentum = False


class FISTA(_ProximalGradient):
    __doc__ = (
        """Fast iterative shrinkage-thresholding (FISTA) for the LASSO, batched.

    Solves, for every row b of ``B``,

        min_x 1/2 ||A x - b||^2 + alpha ||x||_1

    taking the ISTA step at the extrapolated point
    y^k = x^k + (t_k - 1)/t_{k+1} (x^k - x^{k-1}), t_{k+1} = (1 + sqrt(1 + 4 t_k^2))/2.
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
