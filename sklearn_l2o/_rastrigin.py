"""Generalised Rastrigin functions (survey Test 2), one function per row."""

import math
import numbers

import torch

from ._problems import ProblemFamily


def _n_variables_from_width(width):
    """n such that a row of ``width`` holds A (n x n), b (n) and c (n), or None."""
    n = math.isqrt(width + 1) - 1
    if n >= 1 and n * n + 2 * n == width:
        return n
    return None


class RastriginProblems(ProblemFamily):
    r"""Generalised Rastrigin functions, one instance per row.

    Instance q is

    .. math::

        f_q(x) = \tfrac12 \|A_q x - b_q\|^2
                 - \alpha\, c_q^\top \cos(2\pi x) + \alpha n,

    with ``x`` of length ``n``. Its row holds ``A_q`` flattened row by row
    (``A_q[i, j]`` at column ``i * n + j``), then ``b_q``, then ``c_q``: a row
    has ``n**2 + 2 * n`` columns (3, 8, 15, 24, ...), from which ``n`` is read.
    The quadratic term has a single basin; the cosine term adds a grid of
    local minima one unit apart, which is what makes the family hard for
    gradient methods.

    Parameters
    ----------
    alpha : float, default=10.0
        Weight of the cosine term (10 in the survey).
    init_radius : float, default=5.12
        Starting points are drawn uniformly from the box
        ``[-init_radius, init_radius]^n`` (5.12 bounds the classic Rastrigin
        search domain), independently for every row, so that repeated rows of
        one function get different random starts.

    See Also
    --------
    sklearn_l2o.datasets.make_rastrigin_problems : Draws the survey's
        instances (A_q, b_q, c_q with standard normal entries).

    Notes
    -----
    The family is Test 2 of Chen et al., "Learning to Optimize: A Primer and a
    Benchmark", JMLR 23 (2022), a generalisation of Rastrigin's function
    (Rastrigin 1974) used by L2O-Swarm (Cao et al., NeurIPS 2019). The survey
    evaluates 10 random starts per test function; the survey's code started
    from N(0, 0.01^2) points instead, which puts every start next to the
    origin, so a box covering several cosine periods is used here. The global
    minimum is unknown in general and :meth:`optimal_value` returns None.

    Examples
    --------
    >>> import torch
    >>> from sklearn_l2o.problems import RastriginProblems
    >>> family = RastriginProblems(alpha=10.0)
    >>> row = torch.tensor([[1.0, 0.0, 0.0, 1.0,   # A = I (2 x 2)
    ...                      0.0, 0.0,             # b = 0
    ...                      1.0, 1.0]])           # c = 1: the classic Rastrigin
    >>> family.n_variables(row.shape[1])
    2
    >>> family.objective(torch.zeros(1, 2, dtype=torch.float64), row)
    tensor([0.], dtype=torch.float64)
    >>> family.objective(torch.tensor([[0.5, 0.0]]), row)
    tensor([20.1250])
    """

    def __init__(self, alpha=10.0, init_radius=5.12):
        self.alpha = alpha
        self.init_radius = init_radius

    def _check_parameters(self):
        for name in ("alpha", "init_radius"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite real number; got {value!r}.")
        if self.init_radius < 0:
            raise ValueError(
                f"init_radius must be non-negative; got {self.init_radius!r}."
            )

    def n_variables(self, n_data_columns):
        n = _n_variables_from_width(int(n_data_columns))
        if n is None:
            raise ValueError(
                "Rastrigin instances are rows [A_q (n*n values), b_q (n), c_q (n)] "
                "of length n**2 + 2*n (3, 8, 15, 24, ...); got rows of length "
                f"{n_data_columns}, which fits no n."
            )
        return n

    def check_data(self, data):
        self._check_parameters()
        if len(data.shape) != 2:
            raise ValueError(
                "Rastrigin instances must be a 2-D array, one function per row; "
                f"got an array of shape {tuple(data.shape)}."
            )
        self.n_variables(data.shape[1])

    def unpack(self, data):
        """Split instance rows into ``A`` (Q, n, n), ``b`` (Q, n) and ``c`` (Q, n)."""
        n = self.n_variables(data.shape[1])
        A = data[:, : n * n].reshape(-1, n, n)
        return A, data[:, n * n : n * n + n], data[:, n * n + n :]

    def objective(self, x, data):
        data = torch.as_tensor(data, dtype=x.dtype, device=x.device)
        A, b, c = self.unpack(data)
        n = x.shape[1]
        residual = torch.einsum("qij,qj->qi", A, x) - b
        wave = torch.sum(c * torch.cos(2.0 * math.pi * x), dim=1)
        return 0.5 * torch.sum(residual**2, dim=1) - self.alpha * wave + self.alpha * n

    def initial_point(self, data, generator):
        n = self.n_variables(data.shape[1])
        unit = torch.rand(
            data.shape[0], n, generator=generator, dtype=data.dtype, device=data.device
        )
        return (2.0 * unit - 1.0) * self.init_radius

    def __repr__(self):
        return f"RastriginProblems(alpha={self.alpha}, init_radius={self.init_radius})"
