"""Small torch helpers shared by every solver: devices, dtypes, thresholds."""

import numpy as np
import torch

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    ``"auto"`` picks CUDA when it is available and the CPU otherwise. Asking for
    CUDA on a machine without it is an error rather than a silent fallback.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; "
            "use device='cpu' or device='auto'."
        )
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' are supported.")
    return resolved


def resolve_dtype(dtype):
    return _DTYPES[dtype]


def available_devices():
    """Devices present on this machine, as strings (``"cpu"`` first)."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    return devices


def make_generator(random_state, device):
    """A torch generator on ``device`` seeded from a numpy ``RandomState``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(random_state.randint(0, 2**31 - 1)))
    return generator


def to_tensor(array, device, dtype):
    return torch.as_tensor(np.asarray(array), dtype=dtype, device=device)


def to_numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()


def soft_threshold(z, theta):
    """eta_theta(z) = sign(z) * max(|z| - theta, 0), differentiable in z and theta."""
    return torch.sign(z) * torch.relu(torch.abs(z) - theta)


def support_selection_threshold(z, theta, n_selected):
    """Soft thresholding in which the ``n_selected`` largest entries of each row
    (when they also exceed ``theta``) pass through unshrunk.

    The selection mask is a comparison, so no gradient flows through it; the
    selected entries pass their gradient straight through to ``z``.
    """
    shrunk = soft_threshold(z, theta)
    if n_selected <= 0:
        return shrunk
    magnitude = torch.abs(z)
    kth_largest = torch.topk(magnitude, n_selected, dim=-1, sorted=False).values
    cutoff = kth_largest.min(dim=-1, keepdim=True).values
    keep = (magnitude >= cutoff) & (magnitude > theta)
    return torch.where(keep, z, shrunk)


def support_sizes(n_components, n_layers, fraction, max_fraction):
    """Number of entries passed unshrunk at each layer: min(fraction * k, max) * n."""
    return [
        int(min(fraction * (k + 1), max_fraction) * n_components)
        for k in range(n_layers)
    ]
