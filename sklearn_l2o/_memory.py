"""How much memory a device has left, and the check that a solver's learned
parameters fit in it before any of them is allocated."""

import torch

#: copies of every learned number that training holds: the number, its
#: gradient and Adam's two moments
_TRAINING_COPIES = 4


def available_bytes(device):
    """Memory still available on ``device`` in bytes, or None if unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def might_not_fit(shape, n_layers, dtype, device):
    """Whether a solver of ``n_layers`` layers on a dictionary of ``shape``
    might not fit: a bound over every solver's parameters (at most two
    n x n matrices and an n x m one per layer, LFISTA's) above half of the
    available memory. Only then is the net planned, to know exactly."""
    m, n = shape
    bound = n_layers * (2 * n * n + m * n + 3 * n) + 2 * m * n
    need = _TRAINING_COPIES * bound * torch.empty((), dtype=dtype).element_size()
    free = available_bytes(device)
    return free is not None and need > free / 2


def training_bytes(net):
    """Bytes that training ``net`` holds for its parameters and buffers."""
    learned = sum(p.numel() * p.element_size() for p in net.parameters())
    fixed = sum(b.numel() * b.element_size() for b in net.buffers())
    return _TRAINING_COPIES * learned + fixed


def check_fits(net, device, name, shape):
    """Raise ValueError when training ``net`` (built on the "meta" device, so
    nothing is allocated) would not fit in ``device``'s available memory."""
    need = training_bytes(net)
    free = available_bytes(device)
    if free is None or need <= free:
        return
    n_learned = sum(p.numel() for p in net.parameters())
    raise ValueError(
        f"{name} with {net.n_layers} layer(s) on a {shape[0]} x {shape[1]} "
        f"dictionary learns {n_learned:,} numbers; training needs about "
        f"{need / 2**30:.1f} GiB for them (each number, its gradient and Adam's "
        f"two moments) and {free / 2**30:.1f} GiB are available on {device}. Use "
        "fewer layers, a solver that learns fewer numbers (ALISTA, TiLISTA, "
        "HyperLISTA), or a device with more memory."
    )
