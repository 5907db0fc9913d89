"""LFISTA: unrolled FISTA with learned matrices (Moreau & Bruna, ICLR 2017)."""

import math
import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._alista import analytic_start
from ._base import UnrolledRegressor
from ._torch import soft_threshold
from ._unrolled import UnrolledNet
from ._validation import spectral_norm_sq


def fista_momentum(n_iter):
    """The FISTA extrapolation weights m_0, ..., m_{n_iter - 1}.

    FISTA takes its proximal-gradient step k at y^k = x^k + m_k (x^k - x^{k-1})
    with t_0 = 1, t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2 and
    m_k = (t_{k-1} - 1) / t_k, so m_0 = m_1 = 0.

    Parameters
    ----------
    n_iter : int

    Returns
    -------
    momentum : ndarray of shape (n_iter,)
    """
    momentum, t = [0.0], 1.0
    for _ in range(1, n_iter):
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        momentum.append((t - 1.0) / t_next)
        t = t_next
    return np.array(momentum[:n_iter])


class LFISTANet(UnrolledNet):
    """x^{k+1} = eta( W_b^k b + W_x^k x^k + W_p^k x^{k-1} ; theta_k ).

    The state is ``(x^k, x^{k-1})``.
    """

    layered = ("W_b", "W_x", "W_p", "theta")
    threshold = "theta"

    def __init__(self, A, weight, n_layers, alpha, dtype, device):
        super().__init__(n_layers, A.shape[1])
        lipschitz = spectral_norm_sq(A)
        gradient_step = np.eye(A.shape[1]) - weight.T @ A
        momentum = fista_momentum(n_layers)

        def stacked(matrices):
            return torch.nn.Parameter(
                torch.tensor(np.stack(matrices), dtype=dtype, device=device)
            )

        self.W_b = stacked([weight.T] * n_layers)
        self.W_x = stacked([(1.0 + m) * gradient_step for m in momentum])
        self.W_p = stacked([-m * gradient_step for m in momentum])
        self.theta = torch.nn.Parameter(
            torch.full((n_layers,), alpha / lipschitz, dtype=dtype, device=device)
        )

    def initial_state(self, b):
        x = b.new_zeros(b.shape[0], self.n_components)
        return (x, x)

    def layer(self, k, b, state):
        x, x_previous = state
        z = (
            b @ self.at("W_b", k).T
            + x @ self.at("W_x", k).T
            + x_previous @ self.at("W_p", k).T
        )
        return (soft_threshold(z, self.at("theta", k)), x)


class LFISTA(UnrolledRegressor):
    """Learned FISTA: unrolled FISTA whose matrices and thresholds are learned.

    LFISTA runs ``n_layers`` iterations of

        x^{k+1} = eta( W_b^k b + W_x^k x^k + W_p^k x^{k-1} ; theta_k )

    from x^0 = x^{-1} = 0, where every layer has its own matrices ``W_b^k``
    (n_components x n_features), ``W_x^k`` and ``W_p^k`` (n_components x
    n_components) and threshold ``theta_k``, and ``eta`` is soft thresholding.
    The network starts as FISTA on the LASSO with l1 weight ``init_alpha``:

        W_b^k = A^T / L,  W_x^k = (1 + m_k) S,  W_p^k = -m_k S,
        theta_k = init_alpha / L,

    with S = I - A^T A / L, L = ||A||_2^2 and m_k the FISTA momentum, so the
    untrained network returns exactly the iterates of
    ``FISTA(alpha=init_alpha, max_iter=n_layers)``. Training follows the stage-wise
    recipe shared by the unrolled solvers.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    init_alpha : float, default=0.4
        The l1 weight of the FISTA run the untrained network reproduces; the
        initial thresholds are ``init_alpha / L``. (Not ``alpha``, the l1
        weight of ``loss="lasso"`` and of the continuation, shared by every
        unrolled solver: before this parameter had its own name, ``alpha``'s
        0.005 silently replaced 0.4 as LFISTA's start.)
    weight_init : {"ista", "analytic"}, default="ista"
        Where the matrices start. "ista": as above, the untrained network is
        FISTA. "analytic": ``A / L`` is replaced by :class:`ALISTA`'s
        analytic weight W times half its starting step ``s``, i.e.
        W_b^k = s W^T / 2 and S = I - s W^T A / 2: FISTA's momentum on a
        step at which it cannot grow, without support selection. Untrained,
        on the noiseless 256 x 512 setting, that start reaches -15.6 dB at
        16 layers against -7.6 dB for FISTA's; trained with the defaults
        (stages capped at 300 steps) -36.5 dB against -21.3 dB.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    input_weights_ : ndarray of shape (n_layers, n_components, n_features)
        Learned W_b^k.
    current_weights_ : ndarray of shape (n_layers, n_components, n_components)
        Learned W_x^k, acting on x^k.
    previous_weights_ : ndarray of shape (n_layers, n_components, n_components)
        Learned W_p^k, acting on x^{k-1}.
    thresholds_ : ndarray of shape (n_layers,)
        Learned thresholds theta_k.

    See Also
    --------
    FISTA : The iterations LFISTA starts from.
    LAMP : Learned AMP.
    ALISTA : Analytic weights, 2 learned numbers per layer.

    Notes
    -----
    Reference: T. Moreau, J. Bruna, "Understanding trainable sparse coding via
    matrix factorization", ICLR 2017, whose learned FISTA the survey of
    T. Chen et al., "Learning to optimize: a primer and a benchmark", JMLR
    2022, benchmarks. Here ``W_b^k`` is untied across layers like the other two
    matrices (the survey's code shares it). The momentum follows the FISTA of
    this package exactly, m_0 = m_1 = 0 then (t_{k-1} - 1) / t_k; the survey's
    code starts its momentum one layer early.

    Examples
    --------
    >>> from sklearn_l2o import LFISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = LFISTA(dictionary=A, n_layers=3, max_steps_per_stage=60,
    ...                refinement_steps=0, device="cpu",
    ...                random_state=0).fit(B[:1000], X[:1000])
    >>> model.current_weights_.shape
    (3, 64, 64)
    >>> bool(nmse_db(X[1000:], model.predict(B[1000:])) < -3)
    True
    """

    _parameter_constraints = {
        **UnrolledRegressor._parameter_constraints,
        "init_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_init": [StrOptions({"ista", "analytic"})],
    }

    _solver_parameters = {"init_alpha": 0.4, "weight_init": "ista"}
    # measured on a 64 x 128 noiseless problem, 8 layers, 4,000 pairs, the
    # shared budgets: learning rate 5e-4 -> -14.0 dB (every stage used its
    # whole budget), 2e-3 -> -15.1, 1e-2 -> -12.4 (too coarse for the n x n
    # matrices); the end-to-end refinement added 0.5 dB at 2e-3.
    # plateau_decays / threshold_search as for the LISTA family: noiseless
    # 256 x 512, stages capped at 300 / 100, one seed, CPU: -14.1 dB without,
    # -21.29 with them (benchmarks/results/cpu-2026-11-28, s14_* files)
    _training_defaults = {
        "learning_rate": 2e-3,
        "plateau_decays": 2,
        "threshold_search": True,
    }

    def _build_net(self, A, B, X, device, dtype):
        if self.weight_init == "analytic":
            # half ALISTA's starting step: every eigenvalue of step W^T A is
            # then at most 1, where FISTA's momentum cannot make the
            # untrained iteration grow (with the whole step it diverged on
            # the noiseless 256 x 512 setting: +64.9 dB at 16 layers)
            weight = 0.5 * analytic_start(A)
        else:
            weight = A / spectral_norm_sq(A)
        return LFISTANet(
            A, weight, self.n_layers, float(self.init_alpha), dtype, device
        )

    def _export_parameters(self):
        def export(param):
            return param.detach().cpu().double().numpy()

        self.input_weights_ = export(self.module_.W_b)
        self.current_weights_ = export(self.module_.W_x)
        self.previous_weights_ = export(self.module_.W_p)
        self.thresholds_ = export(self.module_.theta)
