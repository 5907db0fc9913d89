"""Families of optimisation problems, for the model-free learned optimizers.

A family fixes the form of an objective; one *instance* of it is one row of a
2-D float array (its data). ``objective(x, data)`` evaluates every instance at
once: ``x`` holds one optimisation variable per row, ``data`` the matching
instance rows, and the result has one value per row, differentiable in ``x``.
Keeping instances as array rows is what lets a learned optimizer be an ordinary
scikit-learn estimator: ``fit(problems)``, ``transform(problems)``, cross
validation over problem sets.
"""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._classic import FISTA
from ._validation import check_dictionary


class ProblemFamily:
    """Base class of a problem family.

    Subclasses implement :meth:`n_variables` and :meth:`objective`, and may
    override :meth:`initial_point` (zeros by default), :meth:`check_data` and
    :meth:`optimal_value` (a reference optimum per instance, used by scores).
    """

    def n_variables(self, n_data_columns):
        """Length of the optimisation variable for instances of this width."""
        raise NotImplementedError

    def objective(self, x, data):
        """Objective of every instance: ``x`` (Q, d), ``data`` (Q, p) -> (Q,)."""
        raise NotImplementedError

    def initial_point(self, data, generator):
        """Starting point of every instance, shape (Q, d)."""
        d = self.n_variables(data.shape[1])
        return data.new_zeros(data.shape[0], d)

    def check_data(self, data):
        """Raise ValueError if rows of this width cannot be instances."""

    def optimal_value(self, data):
        """Reference optimum f* per instance (numpy, shape (Q,)), or None."""
        return None

    def __repr__(self):
        return f"{type(self).__name__}()"


class LassoProblems(ProblemFamily):
    """LASSO instances f_q(x) = 1/2 ||A x - b_q||^2 + alpha ||x||_1 sharing ``A``.

    One instance is one measurement row b_q (length n_features).

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components)
        The matrix ``A``.
    alpha : float, default=0.005
        Weight of the l1 term (survey Test 1b uses 0.005).
    fista_iter : int, default=2000
        FISTA iterations used for the reference optimum f*.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_l2o.problems import LassoProblems
    >>> family = LassoProblems(np.eye(2), alpha=1.0)
    >>> family.objective(torch.tensor([[0.5, 0.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([0.6250])
    """

    def __init__(self, dictionary, alpha=0.005, fista_iter=2000):
        self.dictionary = dictionary
        self.alpha = alpha
        self.fista_iter = fista_iter

    def _A(self, like):
        return torch.as_tensor(
            np.asarray(self.dictionary), dtype=like.dtype, device=like.device
        )

    def n_variables(self, n_data_columns):
        return np.asarray(self.dictionary).shape[1]

    def check_data(self, data):
        A = check_dictionary(self.dictionary)
        if data.shape[1] != A.shape[0]:
            raise ValueError(
                f"LASSO instances are measurement rows of length {A.shape[0]} "
                f"(the dictionary's rows); got rows of length {data.shape[1]}."
            )

    def objective(self, x, data):
        A = self._A(x)
        residual = x @ A.T - data
        return 0.5 * torch.sum(residual**2, dim=1) + self.alpha * torch.sum(
            torch.abs(x), dim=1
        )

    def optimal_value(self, data):
        A = check_dictionary(self.dictionary)
        data = np.asarray(data, dtype=np.float64)
        solver = FISTA(
            dictionary=A,
            alpha=self.alpha,
            max_iter=self.fista_iter,
            tol=0.0,
            device="cpu",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            x = solver.fit(data[:1]).predict(data)
        residual = x @ A.T - data
        return 0.5 * np.sum(residual**2, axis=1) + self.alpha * np.abs(x).sum(axis=1)

    def __repr__(self):
        shape = np.asarray(self.dictionary).shape
        return f"LassoProblems(dictionary=<{shape[0]}x{shape[1]}>, alpha={self.alpha})"
