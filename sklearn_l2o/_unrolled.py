"""The layer abstraction shared by every unrolled solver.

An unrolled solver is a torch module whose forward pass runs ``n_layers``
iterations of one update. A subclass says three things: what the state is
before the first layer (:meth:`UnrolledNet.initial_state`), what one layer does
to it (:meth:`UnrolledNet.layer`), and which of its parameters belong to a
layer. Per-layer parameters are stacked along a leading axis of length
``n_layers`` and listed by name in ``layered`` (layer k reads its slice as
``self.at(name, k)``); every other parameter is shared
by all layers. That split is all the training engine needs to run the
stage-wise recipe.
"""

import torch
from torch import nn


class UnrolledNet(nn.Module):
    """Base class: ``n_layers`` iterations of ``layer`` from ``initial_state``.

    The state is a tuple whose first entry is the current estimate ``x`` with
    one row per signal; solvers with memory (momentum, Onsager terms) keep more
    entries after it.
    """

    #: names of the parameters stacked per layer (leading axis ``n_layers``)
    layered = ()
    #: whether the engine may start a new layer as a copy of the trained one
    #: before it, when that validates better than the layer's own start
    reuse_previous_layer = False
    #: the layered parameter holding each layer's threshold (a positive scale
    #: that the engine may search over when a layer starts), or None
    threshold = None
    #: Adam step multipliers by parameter name (1 for any not named): a scalar
    #: in front of a matrix needs larger steps than the matrix's entries
    rate_factors = {}

    def __init__(self, n_layers, n_components):
        super().__init__()
        self.n_layers = n_layers
        self.n_components = n_components

    def initial_state(self, b):
        return (b.new_zeros(b.shape[0], self.n_components),)

    def layer(self, k, b, state):
        raise NotImplementedError

    def at(self, name, k):
        """Layer ``k``'s slice of the stacked parameter ``name``.

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

    def _split(self):
        return {name: getattr(self, name).unbind(0) for name in self.layered}

    def forward(self, b, n_layers=None, n_frozen=0):
        """Estimate after ``n_layers`` layers (all by default).

        The first ``n_frozen`` layers run without recording gradients: the
        engine uses this when only the newest layer is being trained.
        """
        n_layers = self.n_layers if n_layers is None else n_layers
        self._split_cache = self._split()
        try:
            state = self.initial_state(b)
            with torch.no_grad():
                for k in range(min(n_frozen, n_layers)):
                    state = self.layer(k, b, state)
            for k in range(min(n_frozen, n_layers), n_layers):
                state = self.layer(k, b, state)
        finally:
            self._split_cache = None
        return state[0]

    def iterates(self, b, n_layers=None):
        """Yield the estimate after each layer."""
        n_layers = self.n_layers if n_layers is None else n_layers
        state = self.initial_state(b)
        for k in range(n_layers):
            state = self.layer(k, b, state)
            yield state[0]

    def parameter_groups(self):
        """``(name, parameter, is_layered)`` for every trainable parameter."""
        return [
            (name, param, name in self.layered)
            for name, param in self.named_parameters()
            if param.requires_grad
        ]
