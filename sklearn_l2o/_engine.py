"""The training engine shared by every unrolled solver.

It runs the stage-wise recipe of the LISTA-CPSS and ALISTA papers: for each
depth t = 1..K, stage "a" trains only layer t, then stages "b" and "c" train
layers 1..t at smaller learning rates, older layers more slowly. A net that
sets ``reuse_previous_layer`` has each new layer start as a copy of the
trained layer before it when that validates better than its own start. Each stage
stops when the validation score has not improved for ``patience`` steps or at
its step budget, and ends with the best parameters it saw restored. With
``plateau_decays`` a stage that stops improving first goes back to its best
parameters and carries on with steps ten times smaller (at most that many
times): deep layers, whose error is already small, often need finer steps than
the ones the first layers were trained with.

Batches are drawn on the training device from tensors that already live there.
On CUDA one training step (gather, forward, backward, Adam) is captured once per
stage as a CUDA graph and replayed, because a 16-layer step is a few hundred
tiny kernels whose launch cost dominates otherwise.
"""

import math
import sys
import time
import warnings
from dataclasses import dataclass

import torch

STAGES = ("a", "b", "c")


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of the stage-wise schedule (see the estimators' docs)."""

    learning_rate: float = 5e-4
    stage_factors: tuple = (1.0, 0.2, 0.02)
    layer_decay: float = 0.3
    batch_size: int = 128
    max_steps: int = 2000
    patience: int = 500
    validation_interval: int = 50
    plateau_decays: int = 0
    plateau_factor: float = 0.1
    threshold_search: bool = False


class LayerwiseAdam:
    """Adam with a step size per element, so that each layer of a stacked
    parameter can move at its own rate (zero freezes it).

    Adam divides every gradient by its own running magnitude, so scaling the
    gradients of older layers would change nothing; scaling their steps is what
    slows them down. All state lives on the parameters' device, which keeps the
    update capturable in a CUDA graph.
    """

    def __init__(self, params, step_sizes, betas=(0.9, 0.999), eps=1e-8):
        self.params = params
        self.step_sizes = step_sizes
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.count = torch.zeros((), device=params[0].device, dtype=params[0].dtype)

    @torch.no_grad()
    def restart(self, factor):
        """Forget the moment estimates and scale every step size by ``factor``
        (in place, so that a captured CUDA graph sees the change)."""
        for avg, avg_sq, size in zip(self.exp_avg, self.exp_avg_sq, self.step_sizes):
            avg.zero_()
            avg_sq.zero_()
            size.mul_(factor)
        self.count.zero_()

    @torch.no_grad()
    def step(self, grads):
        self.count += 1
        correction1 = 1 - torch.pow(self.beta1, self.count)
        correction2 = 1 - torch.pow(self.beta2, self.count)
        for param, grad, avg, avg_sq, size in zip(
            self.params, grads, self.exp_avg, self.exp_avg_sq, self.step_sizes
        ):
            avg.lerp_(grad, 1 - self.beta1)
            avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denom = (avg_sq / correction2).sqrt_().add_(self.eps)
            param.sub_(size * (avg / correction1) / denom)


class _GraphedStep:
    """Replays a CUDA graph of ``step(idx)``; falls back to eager on failure."""

    def __init__(self, step, idx_example):
        self.step = step
        self.graph = None
        self.static_idx = idx_example.clone()
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                # warm-up on a side stream, as CUDA graph capture requires; these
                # are real training steps on a real batch
                for _ in range(2):
                    step(self.static_idx)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step(self.static_idx)
            self.graph = graph
        except RuntimeError:  # pragma: no cover - depends on the GPU stack
            torch.cuda.synchronize()
            self.graph = None

    def __call__(self, idx):
        if self.graph is None:  # pragma: no cover
            self.step(idx)
        else:
            self.static_idx.copy_(idx)
            self.graph.replay()


#: layers whose step is below this share of the newest layer's are frozen
_NEGLIGIBLE = 1e-3


def _n_frozen(stage, depth, recipe):
    """How many leading layers a stage leaves untouched (run without gradients).

    Stage "a" trains only the newest layer. In stages "b" and "c" a layer of
    age j moves at ``layer_decay ** j`` of the newest layer's rate; once that
    falls below one thousandth the layer is frozen outright, which spares the
    backward pass through it (a third of the cost of a deep step).
    """
    if stage == "a":
        return depth - 1
    decay = recipe.layer_decay
    if decay >= 1.0:
        return 0
    if decay <= 0.0:
        return depth - 1
    max_age = math.ceil(math.log(_NEGLIGIBLE) / math.log(decay)) - 1
    return max(0, depth - 1 - max_age)


def _step_sizes(net, stage, depth, recipe):
    """What one stage at depth ``depth`` (1-based) trains, and how fast.

    Returns ``(params, rows, sizes)``: every trainable parameter, the slice of
    its leading axis the stage moves (the trainable layers of a stacked
    parameter; ``None`` for a shared one) and the step size of each moved
    entry. Only those slices enter Adam, so a stage that trains one layer of
    a 16-layer untied model does not pay for updating all 16; a parameter
    whose rate factor is 0 is left out altogether.
    """
    stage_rate = recipe.learning_rate * recipe.stage_factors[STAGES.index(stage)]
    n_frozen = _n_frozen(stage, depth, recipe)
    params, rows, sizes = [], [], []
    for name, param, is_layered in net.parameter_groups():
        factor = stage_rate * net.rate_factors.get(name, 1.0)
        if factor == 0.0:
            continue  # held: no gradient, no Adam state
        if is_layered:
            age = torch.arange(
                depth - 1, n_frozen - 1, -1, dtype=param.dtype, device=param.device
            )
            scale = factor * recipe.layer_decay**age
            size = scale.reshape((-1,) + (1,) * (param.dim() - 1))
            rows.append(slice(n_frozen, depth))
        else:
            size = torch.tensor(factor, dtype=param.dtype, device=param.device)
            rows.append(None)
        params.append(param)
        sizes.append(size)
    return params, rows, sizes


def _moved(tensors, rows):
    """The part of each tensor a stage moves (a view: updates write through)."""
    return [t if r is None else t[r] for t, r in zip(tensors, rows)]


class _Progress:
    def __init__(self, verbose, n_stages):
        self.verbose = verbose
        self.n_stages = n_stages
        self.done = 0

    def update(self, record):
        self.done += 1
        if not self.verbose:
            return
        width = 30
        filled = int(width * self.done / self.n_stages)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] layer {record['layer']:>2} "
            f"stage {record['stage']}: {record['steps']:>5} steps, "
            f"val {record['val_score']:.2f}, {record['seconds']:.1f} s"
        )
        end = "\n" if self.verbose > 1 or self.done == self.n_stages else "\r"
        print(line, end=end, file=sys.stderr, flush=True)


def train_stagewise(
    net,
    train,
    validate,
    loss_fn,
    recipe,
    generator,
    *,
    layers=None,
    stages=STAGES,
    verbose=0,
    use_cuda_graphs=True,
):
    """Train ``net`` stage by stage; return the history (one dict per stage).

    Parameters
    ----------
    net : UnrolledNet
    train : tuple of tensors
        ``(B, X)`` on the training device; ``X`` may be ``None`` when the loss
        needs no ground truth.
    validate : callable
        ``validate(depth) -> float``, lower is better (e.g. NMSE in dB).
    loss_fn : callable
        ``loss_fn(x_hat, b, x) -> scalar tensor`` minimised on each batch.
    recipe : Recipe
    generator : torch.Generator
        On the training device; draws the batch indices.
    layers : iterable of int, optional
        Depths to train at (1-based); all of ``1..n_layers`` by default.
    stages : tuple of str
        Which of the stages "a", "b", "c" to run at each depth.
    """
    B, X = train
    n_train = B.shape[0]
    device = B.device
    graphs = use_cuda_graphs and device.type == "cuda"
    layers = list(range(1, net.n_layers + 1)) if layers is None else list(layers)
    history = []
    progress = _Progress(verbose, len(layers) * len(stages))
    for depth in layers:
        for stage in stages:
            record = _run_stage(
                net,
                B,
                X,
                n_train,
                validate,
                loss_fn,
                recipe,
                generator,
                depth,
                stage,
                graphs,
            )
            history.append(record)
            progress.update(record)
            if not math.isfinite(record["val_score"]):  # pragma: no cover
                raise FloatingPointError("validation score is not finite")
    return history


@torch.no_grad()
def _start_from_previous_layer(net, depth, fresh_score, validate):
    """Start layer ``depth`` as a copy of the trained layer before it, if that
    validates better than its own initial values (kept otherwise); return the
    validation score of the start kept."""
    layered = [
        (param, param[depth - 1].clone())
        for _, param, is_layered in net.parameter_groups()
        if is_layered
    ]
    for param, _ in layered:
        param[depth - 1] = param[depth - 2]
    copied_score = validate(depth)
    if copied_score < fresh_score:
        return copied_score
    for param, fresh in layered:
        param[depth - 1] = fresh
    return fresh_score


#: the starting thresholds a new layer tries: its own start times these
_THRESHOLD_FACTORS = tuple(2.0**-k for k in range(1, 11))


@torch.no_grad()
def _search_threshold(net, depth, start_score, validate):
    """Start layer ``depth``'s threshold at the value, among its start times
    1, 1/2, ..., 1/1024, that validates best; return that score.

    A threshold gets no gradient from the entries it zeroes, so once every
    entry above it passes a support selection, training cannot lower it and
    the small entries below it stay lost; deep layers, whose error is small,
    need much lower thresholds than the first ones.
    """
    param = getattr(net, net.threshold)
    start = param[depth - 1].clone()
    best_score, best = start_score, start
    for factor in _THRESHOLD_FACTORS:
        param[depth - 1] = start * factor
        score = validate(depth)
        if score < best_score:
            best_score, best = score, param[depth - 1].clone()
    param[depth - 1] = best
    return best_score


def _run_stage(
    net, B, X, n_train, validate, loss_fn, recipe, generator, depth, stage, graphs
):
    start = time.perf_counter()
    params, rows, sizes = _step_sizes(net, stage, depth, recipe)
    with torch.no_grad():
        optimizer = LayerwiseAdam(_moved(params, rows), sizes)
    n_frozen = _n_frozen(stage, depth, recipe)

    def step(idx):
        b = B[idx]
        x = None if X is None else X[idx]
        x_hat = net(b, n_layers=depth, n_frozen=n_frozen)
        loss = loss_fn(x_hat, b, x)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        optimizer.step(_moved(grads, rows))

    best_score = validate(depth)
    if stage == "a" and depth > 1 and net.reuse_previous_layer:
        best_score = _start_from_previous_layer(net, depth, best_score, validate)
    if stage == "a" and recipe.threshold_search and net.threshold is not None:
        best_score = _search_threshold(net, depth, best_score, validate)
    best_params = [p.detach().clone() for p in params]
    best_step, steps, diverged = 0, 0, False
    # a plateau restarts the patience clock: from the best parameters, with
    # smaller steps, as long as decays are left
    decays, clock = 0, 0
    interval = recipe.validation_interval
    runner = None
    while steps < recipe.max_steps:
        if steps - max(best_step, clock) >= recipe.patience:
            if decays == recipe.plateau_decays:
                break
            decays, clock = decays + 1, steps
            with torch.no_grad():
                for saved, param in zip(best_params, params):
                    param.copy_(saved)
            optimizer.restart(recipe.plateau_factor)
        chunk = min(interval, recipe.max_steps - steps)
        idx = torch.randint(
            n_train, (chunk, recipe.batch_size), generator=generator, device=B.device
        )
        if runner is None:
            runner = _GraphedStep(step, idx[0]) if graphs else step
            if graphs:
                steps += 2  # the warm-up steps taken while capturing
        for i in range(chunk):
            runner(idx[i])
        steps += chunk
        score = validate(depth)
        if not math.isfinite(score):
            diverged = True
            break
        if score < best_score:
            best_score, best_step = score, steps
            for saved, param in zip(best_params, params):
                saved.copy_(param.detach())
    with torch.no_grad():
        for saved, param in zip(best_params, params):
            param.copy_(saved)
    if diverged:
        warnings.warn(
            f"Training diverged (non-finite validation score) at layer {depth}, "
            f"stage {stage}, after {steps} steps; the last good parameters were "
            "restored. Consider a smaller learning_rate.",
            RuntimeWarning,
            stacklevel=4,
        )
    return {
        "layer": depth,
        "stage": stage,
        "steps": steps,
        "best_step": best_step,
        "val_score": best_score,
        "seconds": time.perf_counter() - start,
        "diverged": diverged,
        "plateau_decays": decays,
        "cuda_graph": isinstance(runner, _GraphedStep) and runner.graph is not None,
    }
