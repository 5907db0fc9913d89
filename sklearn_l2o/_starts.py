"""Where the unrolled solvers start: the classic iterations' constants.

Every unrolled solver starts, untrained, as a classic iteration: ISTA, FISTA,
AMP or the untrained ALISTA. The numbers that define those iterations (the
ISTA step and threshold, ALISTA's analytic weight and a step at which it is
stable, FISTA's momentum) are computed here, once, from the dictionary.
"""

import math

import numpy as np

#: the l1 weight lam whose ISTA iteration the LISTA family starts from (the
#: LISTA-CPSS and ALISTA reference code's)
INIT_LAMBDA = 0.4


def lipschitz_constant(A):
    """L = ||A||_2^2, the Lipschitz constant of the gradient of 1/2 ||A x - b||^2.

    Never zero, so that 1 / L is always defined.
    """
    norm = float(np.linalg.norm(np.asarray(A, dtype=np.float64), ord=2))
    return max(norm * norm, np.finfo(np.float64).tiny)


def ista_step(A):
    """The step 1 / (1.001 L) of the classic iteration the solvers start from.

    The 0.1% margin below 1 / L follows the LISTA-CPSS reference code: the step
    stays below 1 / L, where ISTA is guaranteed to converge, even when L carries
    rounding error or A was estimated from data.
    """
    return 1.0 / (1.001 * lipschitz_constant(A))


def default_threshold(A):
    """The starting threshold lam / (1.001 L), lam = 0.4: ISTA's for that weight."""
    return INIT_LAMBDA * ista_step(A)


def analytic_weight(A):
    """The ALISTA weight: argmin_W ||W^T A||_F^2 subject to w_j^T a_j = 1.

    Its closed form is, column by column,
    w_j = (A A^T)^+ a_j / (a_j^T (A A^T)^+ a_j), exactly feasible, computed in
    float64. A column whose denominator vanishes (a zero atom) gets w_j = 0.

    Parameters
    ----------
    A : ndarray of shape (n_features, n_components)

    Returns
    -------
    W : ndarray of shape (n_features, n_components)
    """
    A = np.asarray(A, dtype=np.float64)
    P = np.linalg.pinv(A @ A.T, hermitian=True) @ A
    denom = np.einsum("ij,ij->j", A, P)
    scale = np.divide(1.0, denom, out=np.zeros_like(denom), where=denom > 1e-12)
    return P * scale


def stable_step(W, A):
    """min(1, 2 / lambda_max(W^T A)): the largest step (at most 1) at which
    x <- x - step W^T A x does not grow along any direction.

    W^T A is similar to a positive semi-definite matrix, so its eigenvalues are
    real and non-negative; its non-zero ones are those of the smaller A W^T.
    """
    small = np.asarray(A, dtype=np.float64) @ np.asarray(W, dtype=np.float64).T
    largest = float(np.max(np.real(np.linalg.eigvals(small)), initial=0.0))
    return 1.0 if largest <= 2.0 else 2.0 / largest


def analytic_start(A):
    """The analytic weight times its stable step: the matrix with which an
    untrained layer ``x - W^T (A x - b)`` takes ALISTA's first step
    (``weight_init="analytic"`` of the solvers that learn their matrices)."""
    weight = analytic_weight(A)
    return stable_step(weight, A) * weight


def fista_momentum_sequence():
    """Yield the FISTA extrapolation weights m_0, m_1, ... without end.

    FISTA takes its proximal-gradient step k at y^k = x^k + m_k (x^k - x^{k-1})
    with t_0 = 1, t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2 and
    m_k = (t_{k-1} - 1) / t_k, so m_0 = m_1 = 0.
    """
    yield 0.0
    t = 1.0
    while True:
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        yield (t - 1.0) / t_next
        t = t_next


def fista_momentum(n_iter):
    """The first ``n_iter`` FISTA extrapolation weights m_0, ..., m_{n_iter - 1}.

    Parameters
    ----------
    n_iter : int

    Returns
    -------
    momentum : ndarray of shape (n_iter,)
    """
    return np.fromiter(fista_momentum_sequence(), dtype=np.float64, count=n_iter)


def generalized_coherence(W, A):
    """mu(W, A) = max over i != j of |w_i^T a_j| (0 for a single atom)."""
    G = np.abs(np.asarray(W, dtype=np.float64).T @ np.asarray(A, dtype=np.float64))
    np.fill_diagonal(G, 0.0)
    return float(G.max()) if G.size else 0.0
