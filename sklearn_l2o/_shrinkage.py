"""Shrinkage operators: the non-linearity that ends each unrolled layer.

Every operator acts row by row on a batch ``z`` of shape (n_samples,
n_components) and is differentiable in ``z`` and in its threshold, so that
training can move both.
"""

import numpy as np
import torch


def soft_threshold(z, theta):
    """eta_theta(z) = sign(z) * max(|z| - theta, 0), elementwise."""
    return torch.sign(z) * torch.relu(torch.abs(z) - theta)


def firm_threshold(z, theta, ratio):
    """The proximal map of the minimax concave penalty (MCP), "firm"
    thresholding: 0 where |z| <= theta, z where |z| > ratio * theta, and the
    line joining the two in between, ``sign(z) ratio (|z| - theta) /
    (ratio - 1)``. Large entries keep their magnitude, as with hard
    thresholding, and the output stays continuous in z and theta; ``ratio``
    near 1 is close to hard thresholding.
    """
    magnitude = torch.abs(z)
    ramp = torch.sign(z) * torch.relu(magnitude - theta) * (ratio / (ratio - 1.0))
    return torch.where(magnitude > ratio * theta, z, ramp)


def scad_threshold(z, theta, ratio=3.7):
    """The proximal map of the SCAD penalty (Fan and Li, with the usual
    ``ratio`` a = 3.7): soft thresholding up to |z| = 2 theta, then a line of
    slope ``(a - 1) / (a - 2)`` that reaches z at |z| = a theta, and z beyond.
    """
    magnitude = torch.abs(z)
    ramp = ((ratio - 1.0) * z - torch.sign(z) * ratio * theta) / (ratio - 2.0)
    middle = torch.where(magnitude > 2 * theta, ramp, soft_threshold(z, theta))
    return torch.where(magnitude > ratio * theta, z, middle)


# ratio of the MCP ramp that stands for hard thresholding: the ramp, 10% of the
# threshold wide, is where the threshold gets its gradient
HARD_RATIO = 1.1

SHRINKAGES = {
    "soft": soft_threshold,
    "mcp": lambda z, theta: firm_threshold(z, theta, 2.0),
    "scad": scad_threshold,
    "hard": lambda z, theta: firm_threshold(z, theta, HARD_RATIO),
}


def support_selection_threshold(z, theta, n_selected, shrink=soft_threshold):
    """Soft thresholding in which the ``n_selected`` largest entries of each
    row (when they also exceed ``theta``) pass through unshrunk.

    The entries trusted to be in the support keep their magnitude, which
    removes the bias soft thresholding adds to them. The selection mask is a
    comparison, so no gradient flows through it; the selected entries pass
    their gradient straight through to ``z``. ``shrink(z, theta)`` is what the
    other entries get (soft thresholding unless told).
    """
    if n_selected <= 0:
        return shrink(z, theta)
    if _fused_cpu_path(z, theta, shrink):
        return _support_selection_cpu(z, float(theta), n_selected)
    shrunk = shrink(z, theta)
    magnitude = torch.abs(z)
    above = magnitude > theta
    if z.is_cuda:
        # one path for every batch, without a host sync: CUDA graphs replay it
        keep = above & (magnitude >= _kth_largest(magnitude, n_selected))
        return torch.where(keep, z, shrunk)
    # a row with at most n_selected entries above theta keeps all of them (they
    # are among its n_selected largest); only the other rows need a partial
    # sort, which costs more than the layer's matrix products on a CPU
    crowded = above.sum(dim=-1) > n_selected
    if bool(crowded.any()):
        rows = crowded.nonzero().squeeze(-1)
        cutoff = _kth_largest(magnitude[rows], n_selected)
        above = above.index_put((rows,), above[rows] & (magnitude[rows] >= cutoff))
    return torch.where(above, z, shrunk)


def _fused_cpu_path(z, theta, shrink):
    """Whether :func:`_support_selection_cpu` computes the same values: on a
    CPU, without gradients, with soft thresholding at one threshold >= 0."""
    if torch.is_grad_enabled() or z.is_cuda or shrink is not soft_threshold:
        return False
    if isinstance(theta, torch.Tensor) and theta.numel() != 1:
        return False  # a threshold per row
    return float(theta) >= 0


def _support_selection_cpu(z, theta, n_selected):
    """:func:`support_selection_threshold` from fused kernels (a prediction or
    a validation pass on a CPU): elementwise operations on boolean masks cost
    as much as a matrix product there, ``hardshrink`` and ``softshrink`` a
    tenth of one."""
    # z where |z| > theta, 0 elsewhere: the whole row when it is not crowded
    out = torch.nn.functional.hardshrink(z, theta)
    n_above = torch.sign(out).abs_().sum(dim=-1)
    crowded = n_above > n_selected
    if bool(crowded.any()):
        rows = crowded.nonzero().squeeze(-1)
        z_rows = z[rows]
        magnitude = z_rows.abs()
        # a crowded row's n_selected-th largest entry is above theta: its
        # entries at least that large get back the theta soft thresholding
        # took
        keep = _at_least(magnitude, _kth_largest(magnitude, n_selected))
        shrunk = torch.nn.functional.softshrink(z_rows, theta)
        out[rows] = shrunk.addcmul_(keep, torch.sign(shrunk), value=theta)
    return out


def _at_least(magnitude, cutoff):
    """1.0 where ``magnitude >= cutoff``, 0.0 elsewhere, by arithmetic (a
    boolean mask and its conversion cost more on a CPU); overwrites
    ``magnitude``."""
    return torch.sign(magnitude.sub_(cutoff)).add_(1.0).clamp_(max=1.0)


def _kth_largest(magnitude, k):
    """The ``k``-th largest entry of each row, as a column (no gradient)."""
    if magnitude.is_cuda:
        largest = torch.topk(magnitude, k, dim=-1, sorted=False).values
        return largest.min(dim=-1, keepdim=True).values
    # NumPy's introselect is several times faster than torch.topk on a CPU
    # once k is more than a few entries
    values = magnitude.detach().numpy()
    position = values.shape[-1] - k
    kth = np.partition(values, position, axis=-1)[..., position : position + 1]
    return torch.from_numpy(np.ascontiguousarray(kth))


def hybrid_threshold(z, theta, n_selected):
    """Support selection with a threshold and a count per row.

    Row q keeps unchanged the entries among its ``n_selected[q]`` largest in
    magnitude that also exceed ``theta[q]``, and soft-thresholds the rest at
    ``theta[q]``. ``theta`` and ``n_selected`` have shape (n_samples, 1).
    """
    # soft thresholding, then theta given back to the kept entries
    # (arithmetic throughout: on a CPU a pass with a boolean mask costs
    # several arithmetic ones)
    shrunk = z - torch.maximum(torch.minimum(z, theta), -theta)
    signs = torch.sign(shrunk)
    n_above = signs.abs().sum(dim=-1, keepdim=True)
    # a row selecting at least as many entries as exceed its threshold keeps
    # all of those, a row selecting none keeps none
    give_back = theta * (n_selected > 0)
    out = torch.addcmul(shrunk, signs, give_back)
    # the other rows keep the entries at least as large as their
    # n_selected-th largest
    partial = (n_selected > 0) & (n_selected < n_above)
    if bool(partial.any()):
        rows = partial.squeeze(-1).nonzero().squeeze(-1)
        magnitude = z[rows].abs()
        keep = _at_least(magnitude, _kth_largest_each(magnitude, n_selected[rows]))
        out = out.index_put(
            (rows,), torch.addcmul(shrunk[rows], signs[rows] * keep, give_back[rows])
        )
    return out


def _kth_largest_each(magnitude, k):
    """Row q's ``k[q]``-th largest entry, as a column; ``k`` is a column of
    counts from 1 to the row length."""
    k_max = int(k.max())
    if magnitude.is_cuda:
        largest = torch.topk(magnitude, k_max, dim=-1, sorted=True).values
        return largest.gather(-1, k - 1)
    values = magnitude.detach().numpy()
    position = values.shape[-1] - k_max
    # the k_max largest, in increasing order: the k-th largest is k from the end
    largest = np.sort(np.partition(values, position, axis=-1)[:, position:], axis=-1)
    index = k_max - k.numpy()
    return torch.from_numpy(np.take_along_axis(largest, index, axis=-1))


def bernoulli_gauss_shrink(r, noise_var, prior_logit, signal_var):
    """Posterior mean of x given r = x + N(0, noise_var), and its derivative.

    The prior is Bernoulli-Gaussian: x = 0 with probability 1 - rho and
    x ~ N(0, signal_var) otherwise, with ``prior_logit = log(rho / (1 - rho))``.
    Returns ``(E[x | r], dE[x | r] / dr)``, both of r's shape; the derivative
    gives AMP's Onsager coefficient.
    """
    total = signal_var + noise_var
    # log-odds that the entry is active, given r
    curvature = signal_var / (noise_var * total)
    logit = prior_logit + 0.5 * torch.log(noise_var / total) + 0.5 * r * r * curvature
    active = torch.sigmoid(logit)
    gain = signal_var / total
    estimate = active * gain * r
    slope = gain * (active + active * (1 - active) * r * r * curvature)
    return estimate, slope


def support_sizes(n_components, n_layers, fraction, max_fraction):
    """Entries passed unshrunk at each layer: min(fraction * k, max) * n."""
    return [
        int(min(fraction * (k + 1), max_fraction) * n_components)
        for k in range(n_layers)
    ]
