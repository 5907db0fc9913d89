"""Small torch helpers shared by every estimator: devices, dtypes, tensors."""

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


def rows_as_tensor(a, rows, dtype, device, chunk=8192):
    """``a[rows]`` (all of ``a`` when ``rows`` is None) as a tensor.

    The rows are gathered ``chunk`` at a time into an array of the tensor's
    dtype, so that no copy of all of them in ``a``'s dtype (float64 for most
    inputs) exists on the way.
    """
    if rows is None:
        return torch.tensor(a, dtype=dtype, device=device)
    out = np.empty((len(rows), *a.shape[1:]), dtype=torch_to_numpy_dtype(dtype))
    for start in range(0, len(rows), chunk):
        out[start : start + chunk] = a[rows[start : start + chunk]]
    return torch.from_numpy(out).to(device)


def torch_to_numpy_dtype(dtype):
    """The NumPy dtype of a torch dtype."""
    return torch.empty((), dtype=dtype).numpy().dtype
