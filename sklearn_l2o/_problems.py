"""Families of optimisation problems, for the model-free learned optimizers.

A family fixes the form of an objective; one *instance* of it is one row of a
2-D float array (its data). ``objective(x, data)`` evaluates every instance at
once: ``x`` holds one optimisation variable per row, ``data`` the matching
instance rows, and the result has one value per row, differentiable in ``x``.
Keeping instances as array rows is what lets a learned optimizer be an ordinary
scikit-learn estimator: ``fit(problems)``, ``transform(problems)``, cross
validation over problem sets.
"""

import functools
import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._classic import FISTA
from ._shrinkage import soft_threshold
from ._starts import lipschitz_constant
from ._validation import check_dictionary


class ProblemFamily:
    """Base class of a problem family.

    Subclasses implement :meth:`n_variables` and :meth:`objective`, and may
    override :meth:`initial_point` (zeros by default), :meth:`check_data` and
    :meth:`optimal_value` (a reference optimum per instance, used by scores).

    Examples
    --------
    A family of shifted quadratics f_q(x) = 1/2 ||x - r_q||^2, one row r_q each:

    >>> import torch
    >>> from sklearn_l2o.problems import ProblemFamily
    >>> class Shifted(ProblemFamily):
    ...     def n_variables(self, n_data_columns):
    ...         return n_data_columns
    ...     def objective(self, x, data):
    ...         return 0.5 * torch.sum((x - data) ** 2, dim=1)
    >>> data = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    >>> family = Shifted()
    >>> family.objective(family.initial_point(data, None), data)
    tensor([2.5000, 4.5000])
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

    def lipschitz_constant(self):
        """Lipschitz constant of the smooth part's gradient, or None (unknown,
        the default); shared by every instance of the family."""
        return None

    def proximal_term(self):
        """The non-smooth part h of an objective f + h, or None (the default).

        Families that return an object with ``gradient(x)`` (the gradient
        autograd assigns to h at x) and ``prox(z, step)`` (the proximal
        operator of ``step * h``) can be trained on by
        ``LearnedOptimizer(architecture="proximal")``; see :class:`L1Term`.
        """
        return None

    def variable_groups(self, n_variables):
        """Tensor index of each variable (int array of shape (n_variables,)).

        Learned optimizers with tensor-level state (L2O-Scale) pool over the
        variables of one tensor, e.g. one layer's weights; by default all the
        variables of an instance form one tensor.
        """
        return np.zeros(n_variables, dtype=np.int64)

    def __repr__(self):
        return f"{type(self).__name__}()"


class L1Term:
    """The non-smooth term ``h(x) = alpha ||x||_1`` of a composite objective.

    Parameters
    ----------
    alpha : float
        Weight of the l1 norm.

    Examples
    --------
    >>> import torch
    >>> from sklearn_l2o.problems import L1Term
    >>> term = L1Term(alpha=0.5)
    >>> term.prox(torch.tensor([[2.0, -0.2, -1.0]]), 1.0)
    tensor([[ 1.5000,  0.0000, -0.5000]])
    >>> term.gradient(torch.tensor([[2.0, 0.0, -1.0]]))
    tensor([[ 0.5000,  0.0000, -0.5000]])
    """

    def __init__(self, alpha):
        self.alpha = alpha

    def gradient(self, x):
        """``alpha sign(x)``: the gradient autograd gives ``alpha |x|`` (0 at 0)."""
        return self.alpha * torch.sign(x)

    def prox(self, z, step):
        """Soft thresholding of ``z`` at ``alpha * step`` (step may be a tensor)."""
        return soft_threshold(z, self.alpha * step)

    def __repr__(self):
        return f"L1Term(alpha={self.alpha})"


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
            x = solver.fit(data).predict(data)
        residual = x @ A.T - data
        return 0.5 * np.sum(residual**2, axis=1) + self.alpha * np.abs(x).sum(axis=1)

    def lipschitz_constant(self):
        """||A||_2^2, the Lipschitz constant of the squared residual's gradient."""
        return lipschitz_constant(check_dictionary(self.dictionary))

    def proximal_term(self):
        """The l1 term ``alpha ||x||_1`` (the smooth part: the squared residual)."""
        return L1Term(self.alpha)

    def __repr__(self):
        shape = np.asarray(self.dictionary).shape
        return f"LassoProblems(dictionary=<{shape[0]}x{shape[1]}>, alpha={self.alpha})"


@functools.lru_cache(maxsize=16)
def _drawn_dictionary(n_rows, n_cols, condition_number, seed):
    """A = U diag(s) V^T with orthonormal U, V and s from 1 to 1/sqrt(kappa)."""
    rng = np.random.RandomState(seed)
    rank = min(n_rows, n_cols)
    U, _ = np.linalg.qr(rng.standard_normal((n_rows, rank)))
    V, _ = np.linalg.qr(rng.standard_normal((n_cols, rank)))
    exponents = np.arange(rank) / (2.0 * max(rank - 1, 1))
    return (U * condition_number**-exponents) @ V.T


@functools.lru_cache(maxsize=32)
def _drawn_dictionary_tensor(n_rows, n_cols, condition_number, seed, dtype, device):
    A = _drawn_dictionary(n_rows, n_cols, condition_number, seed)
    return torch.tensor(A, dtype=dtype, device=device)


class QuadraticProblems(ProblemFamily):
    r"""Ridge least-squares instances sharing one matrix, one per row ``b_q``.

    Instance q is

    .. math::

        f_q(x) = \tfrac12 \|A x - b_q\|^2 + \tfrac{\alpha}{2} \|x\|^2 ,

    a strongly convex quadratic (for ``alpha > 0``) whose minimiser and
    minimum have closed forms, so relative losses are exact. Any 2-D array of
    finite numbers is a valid set of instances, which makes this the default
    family of the learned optimizers: without a given ``dictionary``, a matrix
    with a chosen conditioning is drawn for the width of the rows.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The matrix ``A``. None draws ``A = U diag(s) V^T`` for rows of width
        ``n_features``, with orthonormal ``U`` and ``V`` seeded by
        ``random_state`` and singular values spaced geometrically from 1 down
        to ``1 / sqrt(condition_number)``.
    n_components : int, default=None
        Length of ``x`` when ``A`` is drawn; None uses the rows' width.
    condition_number : float, default=10.0
        Condition number of ``A^T A`` (on its range) when ``A`` is drawn.
    alpha : float, default=0.01
        Weight of the ridge term; it keeps the minimum ``f*`` positive (the
        relative loss divides by it) and the problem strongly convex.
    random_state : int, default=0
        Seed of the drawn matrix; the same seed and width give the same ``A``.

    See Also
    --------
    LassoProblems : The same least squares with an l1 term instead.

    Notes
    -----
    The minimiser is ``x* = (A^T A + alpha I)^{-1} A^T b_q``. Quadratics of
    this kind are the first test family of Andrychowicz et al., "Learning to
    learn by gradient descent by gradient descent", NeurIPS 2016 (which drew
    ``A`` per instance; here rows share it, as in the survey's LASSO test).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_l2o.problems import QuadraticProblems
    >>> family = QuadraticProblems(np.eye(2), alpha=0.0)
    >>> family.objective(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 2.0]]))
    tensor([2.])
    >>> family.optimal_value(np.array([[1.0, 2.0]]))
    array([0.])
    """

    def __init__(
        self,
        dictionary=None,
        *,
        n_components=None,
        condition_number=10.0,
        alpha=0.01,
        random_state=0,
    ):
        self.dictionary = dictionary
        self.n_components = n_components
        self.condition_number = condition_number
        self.alpha = alpha
        self.random_state = random_state

    def _check_parameters(self):
        n = self.n_components
        if n is not None and (
            not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1
        ):
            raise ValueError(f"n_components must be a positive integer; got {n!r}.")
        kappa = self.condition_number
        if not isinstance(kappa, numbers.Real) or not 1 <= kappa < np.inf:
            raise ValueError(
                f"condition_number must be a finite number >= 1; got {kappa!r}."
            )
        if not isinstance(self.alpha, numbers.Real) or not 0 <= self.alpha < np.inf:
            raise ValueError(
                f"alpha must be a finite non-negative number; got {self.alpha!r}."
            )
        if not isinstance(self.random_state, numbers.Integral):
            raise ValueError(
                "random_state must be an int (it names the drawn matrix); got "
                f"{self.random_state!r}."
            )

    def _matrix(self, width):
        """``A`` as a float64 array, for rows of this width."""
        if self.dictionary is not None:
            return check_dictionary(self.dictionary)
        return _drawn_dictionary(
            int(width),
            self.n_variables(width),
            float(self.condition_number),
            int(self.random_state),
        )

    def n_variables(self, n_data_columns):
        if self.dictionary is not None:
            return np.asarray(self.dictionary).shape[1]
        if self.n_components is not None:
            return int(self.n_components)
        return int(n_data_columns)

    def check_data(self, data):
        self._check_parameters()
        if len(data.shape) != 2:
            raise ValueError(
                "quadratic instances must be a 2-D array, one b_q per row; got an "
                f"array of shape {tuple(data.shape)}."
            )
        if self.dictionary is not None:
            A = check_dictionary(self.dictionary)
            if data.shape[1] != A.shape[0]:
                raise ValueError(
                    f"quadratic instances are rows of length {A.shape[0]} (the "
                    f"dictionary's rows); got rows of length {data.shape[1]}."
                )

    def objective(self, x, data):
        width = data.shape[1]
        if self.dictionary is None:
            A = _drawn_dictionary_tensor(
                int(width),
                self.n_variables(width),
                float(self.condition_number),
                int(self.random_state),
                x.dtype,
                x.device,
            )
        else:
            A = torch.as_tensor(
                np.asarray(self.dictionary), dtype=x.dtype, device=x.device
            )
        data = torch.as_tensor(data, dtype=x.dtype, device=x.device)
        residual = x @ A.T - data
        return 0.5 * torch.sum(residual**2, dim=1) + 0.5 * self.alpha * torch.sum(
            x**2, dim=1
        )

    def minimizer(self, data):
        """The exact solutions x* of the instances (numpy, shape (Q, d))."""
        data = np.asarray(data, dtype=np.float64)
        A = self._matrix(data.shape[1])
        hessian = A.T @ A + self.alpha * np.eye(A.shape[1])
        return np.linalg.lstsq(hessian, A.T @ data.T, rcond=None)[0].T

    def optimal_value(self, data):
        data = np.asarray(data, dtype=np.float64)
        A = self._matrix(data.shape[1])
        x = self.minimizer(data)
        residual = x @ A.T - data
        return 0.5 * np.sum(residual**2, axis=1) + 0.5 * self.alpha * np.sum(
            x**2, axis=1
        )

    def __repr__(self):
        if self.dictionary is None:
            matrix = f"condition_number={self.condition_number}"
        else:
            shape = np.asarray(self.dictionary).shape
            matrix = f"dictionary=<{shape[0]}x{shape[1]}>"
        return f"QuadraticProblems({matrix}, alpha={self.alpha})"
