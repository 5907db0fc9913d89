"""TISTA: trainable ISTA with the MMSE shrinkage (Ito, Takabe, Wadayama, IEEE
TSP 2019)."""

import numbers

import numpy as np
import torch

from ._base import UnrolledRegressor, net_attribute
from ._lamp import bernoulli_gauss_start
from ._shrinkage import bernoulli_gauss_shrink
from ._sklearn_compat import Interval, StrOptions
from ._unrolled import UnrolledNet


class TISTANet(UnrolledNet):
    """s <- eta_MMSE(s + gamma_k W (b - A s); tau_k^2), W = pinv(A).

    The shrinkage's noise variance ``tau_k^2`` is not learned: it is
    estimated from the residual of each signal, as the paper's error-variance
    estimator does, so the layer adapts to how far each signal has come.
    """

    threshold = None

    def __init__(self, A, n_layers, prior, noise_variance, dtype, device):
        super().__init__(n_layers, A.shape[1], dtype, device)
        m, n = A.shape
        W = np.linalg.pinv(A)
        self.constant("A", A)
        self.constant("W", W)
        self.n_measurements = m
        self.trace_AtA = float(np.sum(A * A))
        self.trace_WWt = float(np.sum(W * W))
        self.noise_variance = float(noise_variance)
        self.per_layer("gamma", 1.0)
        # per layer: log-odds of an active entry, log of its variance
        self.per_layer("prior", np.tile(prior[:2], (n_layers, 1)), stacked=True)
        self._variance_floor = torch.finfo(dtype).eps ** 2

    def layer(self, k, b, state):
        s = state[0]
        m, n = self.n_measurements, self.n_components
        gamma = self.at("gamma", k)
        residual = b - s @ self.A.T
        sq = (residual * residual).sum(dim=1, keepdim=True)
        # the error of s, per entry, from the residual's excess over the noise
        v2 = torch.clamp(
            (sq - m * self.noise_variance) / self.trace_AtA, min=self._variance_floor
        )
        tau2 = (
            v2 / n * (n + (gamma * gamma - 2 * gamma) * m)
            + gamma * gamma * self.noise_variance * self.trace_WWt / n
        )
        r = s + gamma * (residual @ self.W.T)
        prior = self.at("prior", k)
        estimate, _ = bernoulli_gauss_shrink(
            r,
            torch.clamp(tau2, min=self._variance_floor),
            prior[0],
            torch.exp(prior[1]),
        )
        return (estimate,)


class TISTA(UnrolledRegressor):
    """TISTA: trainable ISTA with the MMSE shrinkage of a Bernoulli-Gaussian
    prior.

    TISTA runs ``n_layers`` iterations of::

        r^k = s^k + gamma_k W (b - A s^k),
        s^{k+1} = E[ x | x + N(0, tau_k^2) = r^k ],

    with ``W`` the pseudo-inverse of ``A`` (fixed), a learned step
    ``gamma_k`` per layer, and the posterior mean of a Bernoulli-Gaussian
    entry (0 with probability 1 - rho_k, N(0, sigma_k^2) otherwise) as the
    shrinkage. The shrinkage's noise variance is estimated for each signal
    from its residual, with ``sigma_e^2`` the measurement noise variance::

        v_k^2 = max((||b - A s^k||^2 - m sigma_e^2) / tr(A^T A), eps),
        tau_k^2 = v_k^2 / n (n + (gamma_k^2 - 2 gamma_k) m)
                  + gamma_k^2 sigma_e^2 tr(W W^T) / n.

    Three numbers per layer are learned: ``gamma_k`` (from 1) and the prior's
    rho_k and sigma_k^2 (from the share and the mean square of the non-zero
    training codes). Training follows the stage-wise recipe of the other
    unrolled solvers.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components), default=None
        The dictionary ``A`` with b = A x + e. If None, it is estimated from the
        training pairs by least squares.
    noise_variance : float or "auto", default="auto"
        The variance ``sigma_e^2`` of each measurement's noise e. "auto"
        estimates it from the training pairs, as the mean of
        ``||b - A x||^2 / m``; ``noise_variance_`` records it.
    {training_parameters}

    Attributes
    ----------
    {common_attributes}
    steps_ : ndarray of shape (n_layers,)
        Learned steps gamma_k.
    shrinkage_parameters_ : ndarray of shape (n_layers, 2)
        Learned (rho_k, sigma_k^2) of the prior per layer.
    noise_variance_ : float
        The noise variance used, on the training pairs' scale.

    See Also
    --------
    LAMP : Learned AMP, whose ``shrinkage="bg"`` uses the same posterior mean.
    ALISTA : Analytic weights, soft thresholding.

    Notes
    -----
    The paper trains gamma_k with the prior known; learning the prior per
    layer as well lets the shrinkage adapt to the error of its layer, which
    is not Gaussian in the first ones. The estimate ``noise_variance``
    assumes the codes ``y`` are given to ``fit``, which TISTA needs anyway for
    its prior. Reference: D. Ito, S. Takabe, T. Wadayama, "Trainable ISTA for
    sparse signal recovery", IEEE Transactions on Signal Processing 67(12),
    2019; its results are NMSE curves against the iteration, with AMP and
    LISTA beside it, rather than tables.

    Examples
    --------
    >>> from sklearn_l2o import TISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(1200, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> model = TISTA(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...               refinement_steps=0, device="cpu",
    ...               random_state=0).fit(B[:1000], X[:1000])
    >>> model.steps_.shape
    (4,)
    >>> bool(nmse_db(X[1000:], model.predict(B[1000:])) < -5)
    True
    """

    _parameter_constraints = {
        **UnrolledRegressor._parameter_constraints,
        "noise_variance": [
            Interval(numbers.Real, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }
    _needs_measurements = True
    _needs_codes = True

    def __init__(
        self,
        dictionary=None,
        *,
        noise_variance="auto",
        n_layers=16,
        loss="mse",
        alpha=0.005,
        continuation_iter=0,
        learning_rate=1e-2,
        batch_size=128,
        max_steps_per_stage=300,
        patience=100,
        validation_fraction=0.1,
        validation_interval=50,
        layer_decay=0.3,
        stage_factors=(1.0, 0.2, 0.02),
        plateau_decays=0,
        threshold_search=False,
        refinement_steps=2000,
        refinement_patience=500,
        dtype="float32",
        random_state=None,
        device="auto",
        verbose=0,
        warm_start=False,
    ):
        self.dictionary = dictionary
        self.noise_variance = noise_variance
        self.n_layers = n_layers
        self.loss = loss
        self.alpha = alpha
        self.continuation_iter = continuation_iter
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_steps_per_stage = max_steps_per_stage
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.validation_interval = validation_interval
        self.layer_decay = layer_decay
        self.stage_factors = stage_factors
        self.plateau_decays = plateau_decays
        self.threshold_search = threshold_search
        self.refinement_steps = refinement_steps
        self.refinement_patience = refinement_patience
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start

    steps_ = net_attribute(lambda net: net.gamma)
    shrinkage_parameters_ = net_attribute(
        lambda net: torch.stack(
            [torch.sigmoid(net.prior[:, 0]), torch.exp(net.prior[:, 1])], dim=1
        )
    )
    noise_variance_ = net_attribute(lambda net: net.noise_variance)

    def _build_net(self, A, y, device, dtype, measurements=None):
        if y is None:
            raise ValueError(
                "TISTA estimates its prior from the training codes: pass y to fit."
            )
        prior = bernoulli_gauss_start(y)
        if self.noise_variance == "auto":
            residual = np.asarray(measurements) - np.asarray(y) @ A.T
            noise_variance = float(np.mean(residual * residual))
        else:
            noise_variance = float(self.noise_variance)
        return TISTANet(A, self.n_layers, prior, noise_variance, dtype, device)
