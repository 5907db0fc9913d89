"""The layer abstraction shared by every unrolled solver.

An unrolled solver is a torch module whose forward pass runs ``n_layers``
iterations of one update. A subclass says three things: what the state is
before the first layer (:meth:`UnrolledNet.initial_state`), what one layer does
to it (:meth:`UnrolledNet.layer`), and what it learns. Parameters of one layer
each are declared with :meth:`UnrolledNet.per_layer`, which stacks them along a
leading axis of length ``n_layers`` (layer k reads its slice as
``self.at(name, k)``); parameters declared with :meth:`UnrolledNet.shared` are
used by every layer. That split is all the training engine needs to run the
stage-wise schedule.

A net works with the dictionary's atoms scaled to unit norm, whatever their
scale in the user's dictionary: its state holds codes in those units, and the
estimate it returns is divided by the atoms' norms (``atom_norms``, ones
until the estimator sets them), back in the user's units.
"""

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn


class UnrolledNet(nn.Module):
    """Base class: ``n_layers`` iterations of ``layer`` from ``initial_state``.

    The state is a tuple whose first entry is the current estimate ``x`` with
    one row per signal; solvers with memory (momentum, Onsager terms) keep more
    entries after it.
    """

    #: the per-layer parameter holding each layer's threshold (a positive scale
    #: the engine may search over when a layer starts), or None
    threshold = None
    #: submodules whose parameters train only in "augmentation" stages, after
    #: the rest of the net is trained without them (see :class:`NAALISTA`)
    augmentation = ()
    #: whether :meth:`layer` starts from the residual A x - b of the state's
    #: estimate, read through :meth:`residual`: a caller that already has it
    #: (the safeguard computes it for its check) can hand it over with
    #: :meth:`known_residual` instead of having it computed again
    reads_residual = False

    def __init__(self, n_layers, n_components, dtype, device):
        super().__init__()
        self.n_layers = n_layers
        self.n_components = n_components
        # where declared tensors are made; .to() moves them afterwards
        self._factory = {"dtype": dtype, "device": device}
        #: names of the parameters stacked per layer, in declaration order
        self.layered = ()
        self.constant("atom_norms", np.ones(n_components))

    # ------------------------------------------------------------ declaring
    def tensor(self, value):
        """``value`` as a tensor of the net's dtype, on its device."""
        return torch.as_tensor(np.asarray(value, dtype=np.float64), **self._factory)

    def per_layer(self, name, value, *, stacked=False, trainable=True):
        """Declare a parameter with one slice per layer, starting at ``value``.

        ``value`` is every layer's start, or with ``stacked`` an array whose
        leading axis already runs over the layers.
        """
        start = self.tensor(value)
        if not stacked:
            start = start.expand(self.n_layers, *start.shape)
        if start.shape[0] != self.n_layers:
            raise ValueError(
                f"{name} has {start.shape[0]} layers; the net has {self.n_layers}."
            )
        setattr(self, name, nn.Parameter(start.clone(), requires_grad=trainable))
        self.layered = self.layered + (name,)

    def shared(self, name, value, *, trainable=True):
        """Declare a parameter used by every layer, starting at ``value``."""
        setattr(self, name, nn.Parameter(self.tensor(value), requires_grad=trainable))

    def constant(self, name, value):
        """Declare a fixed tensor (a buffer: saved and moved, never trained)."""
        self.register_buffer(name, self.tensor(value))

    # -------------------------------------------------------------- running
    def initial_state(self, b):
        return (b.new_zeros(b.shape[0], self.n_components),)

    def layer(self, k, b, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def residual(self, x, b):
        """A x - b for the rows of ``x``, the net's estimate in its own units:
        the one handed over by :meth:`known_residual` for this very tensor,
        else computed."""
        known = self._known_residual
        if known is not None and known[0] is x:
            return known[1]
        return residual_of(x, b, self.A)

    _known_residual = None

    @contextmanager
    def known_residual(self, x, residual):
        """Within the block, :meth:`residual` of the tensor ``x`` is
        ``residual`` (which the caller computed as A x - b)."""
        self._known_residual = (x, residual)
        try:
            yield
        finally:
            self._known_residual = None

    def at(self, name, k):
        """Layer ``k``'s slice of the per-layer parameter ``name``.

        Inside a forward pass the stacked parameters are split once, so that
        back-propagation assembles each one's gradient in a single tensor
        instead of adding one full-size, mostly-zero tensor per layer (which
        dominates a training step of the untied solvers).
        """
        split = self._split_cache
        if split is not None:
            return split[name][k]
        return getattr(self, name)[k]

    _split_cache = None

    def forward(self, b, n_layers=None, n_frozen=0):
        """Estimate after ``n_layers`` layers (all by default).

        The first ``n_frozen`` layers run without recording gradients: the
        engine uses this when only the newest layer is being trained.
        """
        n_layers = self.n_layers if n_layers is None else n_layers
        self._split_cache = {n: getattr(self, n).unbind(0) for n in self.layered}
        try:
            state = self.initial_state(b)
            with torch.no_grad():
                for k in range(min(n_frozen, n_layers)):
                    state = self.layer(k, b, state)
            for k in range(min(n_frozen, n_layers), n_layers):
                state = self.layer(k, b, state)
        finally:
            self._split_cache = None
        return self.output(state, b)

    def iterates(self, b, n_layers=None):
        """Yield the estimate after each layer."""
        n_layers = self.n_layers if n_layers is None else n_layers
        state = self.initial_state(b)
        for k in range(n_layers):
            state = self.layer(k, b, state)
            yield self.output(state, b)

    def output(self, state, b):
        """The estimate in the user's units: the state's codes over the atoms'
        norms."""
        return state[0] / self.atom_norms

    def parameter_groups(self):
        """``(name, parameter, is_layered)`` for every trainable parameter."""
        return [
            (name, param, name in self.layered)
            for name, param in self.named_parameters()
            if param.requires_grad
        ]


def residual_of(x, b, A):
    """A x - b for every row x of ``x``."""
    return x @ A.T - b


def descend(x, residual, W, step):
    """x - step W^T r for every row: ``x - (step r) W``.

    The step scales the residual (n_features columns) rather than the
    product (n_components columns): one pass fewer over the wider array.
    (A fused ``addmm`` would save another, but its rounding then depends on
    how many rows are in the batch, and a row's prediction would too.)
    """
    return x - (residual * step) @ W
