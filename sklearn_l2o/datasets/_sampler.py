"""Fresh training pairs, drawn batch by batch where the training runs."""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._validation import check_dictionary


class SparseRecoverySampler:
    """Draws (measurement, code) pairs of :func:`make_sparse_recovery`'s model.

    Given to an unrolled solver's ``fit`` (``fit(B, X, sampler=...)``), it
    supplies every training batch afresh, on the training device, so that no
    training array exists and the solver never sees a pair twice; the pairs
    passed to ``fit`` then serve only to validate (early stopping and the
    stage-wise schedule). The model: each entry of a code is non-zero with
    probability ``sparsity``, then standard normal; ``b = A x + e`` with
    Gaussian noise at ``snr`` dB of each measurement's own spread.

    A solver trained on the LASSO objective (``loss="lasso"``) takes only the
    sampler's measurements, ``fit(B, sampler=sampler)`` with no codes: with
    the defaults (noiseless) they are the instances of
    :func:`make_lasso_problems`' default distribution.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components)
        The dictionary ``A``.
    sparsity : float, default=0.1
        Probability that an entry of a code is non-zero.
    snr : float, default=None
        Signal-to-noise ratio in dB; None or inf: noiseless.

    Attributes
    ----------
    dictionary_ : ndarray of shape (n_features, n_components)
        The checked dictionary.

    See Also
    --------
    make_sparse_recovery : The same model, as arrays.

    Examples
    --------
    >>> from sklearn_l2o import ALISTA
    >>> from sklearn_l2o.datasets import SparseRecoverySampler, make_sparse_recovery
    >>> from sklearn_l2o.metrics import nmse_db
    >>> B, X, A = make_sparse_recovery(600, n_components=64, n_features=32,
    ...                                random_state=0)
    >>> sampler = SparseRecoverySampler(A)
    >>> B_new, X_new = sampler.draw(3, random_state=0)
    >>> B_new.shape, X_new.shape
    ((3, 32), (3, 64))
    >>> model = ALISTA(dictionary=A, n_layers=4, max_steps_per_stage=100,
    ...                refinement_steps=200, device="cpu", random_state=0)
    >>> model = model.fit(B[:300], X[:300], sampler=sampler)  # validates on them
    >>> bool(nmse_db(X[300:], model.predict(B[300:])) < -5)
    True
    """

    #: whether :meth:`sample` draws codes with the measurements
    draws_codes = True

    def __init__(self, dictionary, *, sparsity=0.1, snr=None):
        self.dictionary = dictionary
        self.sparsity = sparsity
        self.snr = snr
        self.dictionary_ = check_dictionary(dictionary)
        if not (isinstance(sparsity, numbers.Real) and 0 < sparsity <= 1):
            raise ValueError(f"sparsity must be in (0, 1]; got {sparsity!r}.")
        if snr is not None and not isinstance(snr, numbers.Real):
            raise ValueError(f"snr must be a number of dB or None; got {snr!r}.")

    @property
    def n_features(self):
        return self.dictionary_.shape[0]

    @property
    def n_components(self):
        return self.dictionary_.shape[1]

    def sample(self, n_samples, generator, dtype=torch.float32, dictionary=None):
        """``n_samples`` pairs as tensors on ``generator``'s device.

        Parameters
        ----------
        n_samples : int
        generator : torch.Generator
            Draws the codes and the noise (and sets the device).
        dtype : torch.dtype, default=torch.float32
        dictionary : tensor of shape (n_features, n_components), default=None
            ``dictionary_`` already as a tensor of ``dtype`` on the
            generator's device (a training loop converts it once, not at
            every batch); None converts it here.

        Returns
        -------
        B : tensor of shape (n_samples, n_features)
        X : tensor of shape (n_samples, n_components)
        """
        device = generator.device
        shape = (n_samples, self.n_components)
        support = torch.rand(shape, generator=generator, device=device) < self.sparsity
        values = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        X = values * support
        A = dictionary
        if A is None:
            A = torch.as_tensor(self.dictionary_, dtype=dtype, device=device)
        B = X @ A.T
        if self.snr is not None and not np.isinf(self.snr):
            sigma = B.std(dim=1, keepdim=True, correction=0) * 10.0 ** (-self.snr / 20)
            noise = torch.randn(
                B.shape, generator=generator, device=device, dtype=dtype
            )
            B = B + sigma * noise
        return B, X

    def draw(self, n_samples, random_state=None):
        """``n_samples`` pairs as float64 arrays, on the CPU.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        B : ndarray of shape (n_samples, n_features)
        X : ndarray of shape (n_samples, n_components), or None
            None from a sampler that draws no codes.
        """
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        generator = torch.Generator().manual_seed(seed)
        B, X = self.sample(int(n_samples), generator, torch.float64)
        return B.numpy(), None if X is None else X.numpy()

    def __repr__(self):
        m, n = self.dictionary_.shape
        return (
            f"SparseRecoverySampler(<{m} x {n} dictionary>, "
            f"sparsity={self.sparsity}, snr={self.snr})"
        )


class LassoSampler(SparseRecoverySampler):
    """Draws LASSO instances b of :func:`make_lasso_problems`' distributions.

    For a solver trained on the LASSO objective (``loss="lasso"``), given to
    its ``fit`` as ``fit(B, sampler=...)``: every training batch is a fresh
    set of instances, and the rows ``B`` passed to ``fit`` only validate.
    With ``distribution="uniform"`` each entry of b is drawn from U[0, 1),
    with ``"normal"`` from N(0, 1) (the instances of L2O-DM and RNNprop, and
    of L2O-Scale); these come without codes, so only the LASSO objective
    can train on them. ``"sparse"`` draws measurements ``b = A x`` of sparse
    codes, as :class:`SparseRecoverySampler` does, codes included.

    Parameters
    ----------
    dictionary : array-like of shape (n_features, n_components)
        The dictionary ``A`` of the LASSO instances.
    distribution : {"uniform", "normal", "sparse"}, default="uniform"
        How the instances are drawn, as in :func:`make_lasso_problems`.
    sparsity : float, default=0.1
        Probability that an entry of a code is non-zero (``"sparse"`` only).

    Attributes
    ----------
    dictionary_ : ndarray of shape (n_features, n_components)
        The checked dictionary.

    See Also
    --------
    make_lasso_problems : The same instances, as arrays, with their optimal
        values.
    SparseRecoverySampler : (measurement, code) pairs for supervised training.

    Examples
    --------
    >>> from sklearn_l2o import LISTA
    >>> from sklearn_l2o.datasets import LassoSampler, make_lasso_problems
    >>> test = make_lasso_problems(200, distribution="normal", random_state=0)
    >>> sampler = LassoSampler(test.dictionary, distribution="normal")
    >>> B_val, codes = sampler.draw(100, random_state=1)
    >>> B_val.shape, codes is None
    ((100, 25), True)
    >>> model = LISTA(dictionary=test.dictionary, loss="lasso", n_layers=4,
    ...               max_steps_per_stage=50, refinement_steps=100,
    ...               device="cpu", random_state=0)
    >>> model = model.fit(B_val, sampler=sampler)  # validates on B_val
    >>> model.predict(test.data).shape
    (200, 50)
    """

    def __init__(self, dictionary, *, distribution="uniform", sparsity=0.1):
        super().__init__(dictionary, sparsity=sparsity)
        if distribution not in ("sparse", *_CODELESS):
            raise ValueError(
                "distribution must be 'uniform', 'normal' or 'sparse'; "
                f"got {distribution!r}."
            )
        self.distribution = distribution

    @property
    def draws_codes(self):
        return self.distribution == "sparse"

    def sample(self, n_samples, generator, dtype=torch.float32, dictionary=None):
        """``n_samples`` instances as tensors on ``generator``'s device.

        Returns ``(B, X)`` as :meth:`SparseRecoverySampler.sample` does, with
        ``X`` None unless ``distribution="sparse"``.
        """
        if self.distribution == "sparse":
            return super().sample(n_samples, generator, dtype, dictionary)
        draw = _CODELESS[self.distribution]
        shape = (n_samples, self.n_features)
        return draw(
            shape, generator=generator, device=generator.device, dtype=dtype
        ), None

    def __repr__(self):
        m, n = self.dictionary_.shape
        return (
            f"LassoSampler(<{m} x {n} dictionary>, distribution={self.distribution!r})"
        )


#: the instance distributions of :func:`make_lasso_problems` that have no codes
_CODELESS = {"uniform": torch.rand, "normal": torch.randn}


class SamplerBatches:
    """Training batches drawn from a sampler: the engine's ``draw(idx)``
    returns ``len(idx)`` fresh pairs (the indices only size the batch)."""

    #: how many rows the engine's batch indices may run over: any
    n_samples = 2**31 - 1

    def __init__(self, sampler, generator, dtype):
        self.sampler = sampler
        self.generator = generator
        self.dtype = dtype
        self.device = generator.device
        self.dictionary = torch.as_tensor(
            sampler.dictionary_, dtype=dtype, device=self.device
        )

    def draw(self, idx):
        return self.sampler.sample(
            idx.shape[0], self.generator, self.dtype, self.dictionary
        )
