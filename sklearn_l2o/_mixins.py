"""Behaviour every estimator of the package shares, as mixins: a ``repr``
that does not print arrays, and pickles whose torch module loads anywhere."""

import copy
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator


class _Verbatim:
    """Printed as the text it holds (by scikit-learn's pretty printer too)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


class ShortReprMixin:
    """``repr`` that names an array parameter by its shape instead of printing
    it (a dictionary has thousands of entries; error messages quote the repr)."""

    def __repr__(self, N_CHAR_MAX=700):
        short = object.__new__(type(self))
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, ShortReprMixin):  # a nested estimator
                value = _Verbatim(repr(value))
            elif np.ndim(value) >= 1 and not isinstance(value, tuple | list | str):
                value = _Verbatim(
                    f"<{type(value).__name__} of shape {np.shape(value)}>"
                )
            setattr(short, name, value)
        return BaseEstimator.__repr__(short, N_CHAR_MAX=N_CHAR_MAX)


class TorchPickleMixin:
    """Pickles whose torch module (``module_``) loads anywhere.

    A module trained on a GPU is stored with its tensors on the CPU, and a
    pickle made on a GPU machine loads on one without CUDA, with a warning,
    running on the CPU from then on (``device_``).
    """

    def __getstate__(self):
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and any(
            t.device.type != "cpu" for t in module.state_dict().values()
        ):
            state["module_"] = copy.deepcopy(module).to("cpu")
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        device = state.get("device_")
        if device is not None:
            device = torch.device(device)
            if device.type == "cuda" and not torch.cuda.is_available():
                warnings.warn(
                    f"This {type(self).__name__} was fitted on CUDA, which is not "
                    "available here; it will run on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )
                device = torch.device("cpu")
            if state.get("module_") is not None:
                state["module_"] = state["module_"].to(device)
            state["device_"] = device
        super().__setstate__(state)
