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
        X : ndarray of shape (n_samples, n_components)
        """
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        generator = torch.Generator().manual_seed(seed)
        B, X = self.sample(int(n_samples), generator, torch.float64)
        return B.numpy(), X.numpy()

    def __repr__(self):
        m, n = self.dictionary_.shape
        return (
            f"SparseRecoverySampler(<{m} x {n} dictionary>, "
            f"sparsity={self.sparsity}, snr={self.snr})"
        )


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
