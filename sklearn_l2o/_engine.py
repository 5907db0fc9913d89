"""The training engine: the stage-wise schedule of every unrolled solver, and
the pieces every training loop of the package shares.

The schedule is the one of the LISTA-CPSS and ALISTA papers. For each depth
t = 1..K, stage "a" trains only layer t, then stages "b" and "c" train layers
1..t at smaller learning rates, older layers more slowly. Two end-to-end
refinement stages ("b" then "c" at depth K, every layer at one rate) follow.
Each stage validates every ``validation_interval`` steps, stops when its best
validation score is ``patience`` steps old or at its step budget, and ends with
the best parameters it saw restored. With ``plateau_decays`` a stage that
stops improving first goes back to its best parameters and carries on with
steps ten times smaller (at most that many times).

What every training loop of the package shares lives here too: keeping the
best state seen (:class:`KeepBest`, also used by the meta-training engine and
HyperLISTA's search), the record each stage leaves in ``history_``
(:func:`stage_record`), and the progress a user sees (:class:`Progress`: a
tqdm bar with ``verbose > 0``, and records logged to the ``sklearn_l2o``
logger). A Ctrl-C during training ends the stage in progress with its best
parameters restored and stops the schedule; the estimator keeps what was
learned and can resume.

Batches are drawn on the training device from tensors that already live
there. On CUDA one training step (gather, forward, backward, Adam) is captured
once per stage as a CUDA graph and replayed, because a 16-layer step is a few
hundred tiny kernels whose launch cost dominates otherwise.
"""

import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

logger = logging.getLogger("sklearn_l2o")

STAGES = ("a", "b", "c")


@dataclass(frozen=True)
class Recipe:
    """The stage-wise schedule, and who learns how fast.

    ``rate_factors`` scales the Adam step of named parameters (1 for any not
    named; 0 holds one at its start): a scalar in front of a matrix needs
    larger steps than the matrix's entries. ``reuse_previous_layer`` starts
    each new layer as a copy of the trained layer before it when that
    validates better than its own start.
    """

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
    reuse_previous_layer: bool = False
    refinement_steps: int = 0
    refinement_patience: int = 500
    rate_factors: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage of the schedule: train at ``depth`` with ``recipe``'s budget."""

    depth: int
    name: str
    phase: str  # "layerwise", "refinement" or "augmentation"
    recipe: Recipe

    @property
    def n_frozen(self):
        """How many leading layers the stage leaves untouched (run without
        gradients).

        Stage "a" trains only the newest layer. In stages "b" and "c" a layer
        of age j moves at ``layer_decay ** j`` of the newest layer's rate; once
        that falls below one thousandth the layer is frozen outright, which
        spares the backward pass through it (a third of the cost of a deep
        step).
        """
        if self.name == "a":
            return self.depth - 1
        decay = self.recipe.layer_decay
        if decay >= 1.0:
            return 0
        if decay <= 0.0:
            return self.depth - 1
        max_age = math.ceil(math.log(_NEGLIGIBLE) / math.log(decay)) - 1
        return max(0, self.depth - 1 - max_age)

    @property
    def cost(self):
        """Work of one step, in layer passes: forward through every layer,
        backward through the trained ones (for time estimates)."""
        return 2 * self.depth - self.n_frozen


#: layers whose step is below this share of the newest layer's are frozen
_NEGLIGIBLE = 1e-3


def schedule(n_layers, recipe, *, layerwise=True):
    """The stages of a fit: stage-wise over the layers (unless ``layerwise`` is
    False), then the end-to-end refinement when ``recipe.refinement_steps``."""
    stages = []
    if layerwise:
        stages += [
            Stage(depth, name, "layerwise", recipe)
            for depth in range(1, n_layers + 1)
            for name in STAGES
        ]
    if recipe.refinement_steps > 0:
        # every layer at one rate: lets the per-layer parameters move jointly,
        # which the greedy schedule cannot
        refine = dataclasses.replace(
            recipe,
            layer_decay=1.0,
            max_steps=recipe.refinement_steps,
            patience=recipe.refinement_patience,
        )
        stages += [Stage(n_layers, name, "refinement", refine) for name in STAGES[1:]]
    return stages


# --------------------------------------------------------------------------
# what every training loop shares
# --------------------------------------------------------------------------


class KeepBest:
    """The best validation score seen, when, and the state that produced it.

    ``save()`` returns the state to keep (it may refill the same buffers each
    time) and ``load(state)`` puts it back. Lower scores are better; a
    non-finite score never counts as an improvement.
    """

    def __init__(self, score, save, load, step=0):
        self._save, self._load = save, load
        self.score, self.step = score, step
        self.state = save()

    def offer(self, score, step):
        """Keep the current state if ``score`` beats the best; say whether it did."""
        if not (math.isfinite(score) and score < self.score):
            return False
        self.score, self.step = score, step
        self.state = self._save()
        return True

    def stale(self, step, patience, since=0):
        """Whether the best is ``patience`` old at ``step`` (counted from
        ``since`` when that is later)."""
        return step - max(self.step, since) >= patience

    def restore(self):
        self._load(self.state)


def stage_record(
    *,
    phase,
    stage,
    layer,
    steps,
    best_step,
    start_score,
    val_score,
    seconds,
    stop,
    curve,
    **extra,
):
    """One entry of ``history_``, the same keys for every training loop.

    ``phase`` is "layerwise", "refinement", "augmentation", "search" or "meta";
    ``steps`` the training steps (search: candidates scored; meta: episodes)
    the stage took; ``val_score`` its best validation score (lower is better) and
    ``best_step`` when it was reached; ``stop`` why it ended ("patience",
    "budget", "diverged", "interrupted" or "done"); ``curve`` every validation
    as ``[step, score]``. Loops add their own keys after these.
    """
    return {
        "phase": phase,
        "stage": stage,
        "layer": layer,
        "steps": int(steps),
        "best_step": int(best_step),
        "start_score": float(start_score),
        "val_score": float(val_score),
        "seconds": float(seconds),
        "stop": stop,
        "curve": [[int(s), float(v)] for s, v in curve],
        **extra,
    }


class Progress:
    """What a user sees of a fit: a tqdm bar and logged stage records.

    With ``verbose > 0`` the bar shows the share of the planned work done, the
    stage, the layer, the last validation score and an upper bound on the time
    left (the rest of the work at the rate seen so far, as if every remaining
    stage used its whole budget: stages that stop early make it shorter). With
    ``verbose > 1`` each finished stage also prints a line. Every finished
    stage is logged at INFO level to the ``sklearn_l2o`` logger whatever
    ``verbose`` is.
    """

    def __init__(self, verbose, total, *, desc, unit="layer-step"):
        self.verbose = verbose
        self.bar = None
        if verbose and total > 0:
            self.bar = tqdm(
                total=float(total),
                desc=desc,
                unit=unit,
                smoothing=0.0,
                leave=True,
                bar_format=(
                    "{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, "
                    "at most {remaining} left{postfix}"
                ),
            )

    def advance(self, work, **postfix):
        if self.bar is not None:
            self.bar.update(float(work))
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)

    def unused(self, work):
        """Work planned but not needed (a stage that stopped early)."""
        if self.bar is not None and work > 0:
            self.bar.total = max(self.bar.n, self.bar.total - float(work))
            self.bar.refresh()

    def finished(self, record, label):
        line = (
            f"{label}: {record['steps']} steps, best {record['val_score']:.4g} at "
            f"step {record['best_step']}, stopped by {record['stop']}, "
            f"{record['seconds']:.1f} s"
        )
        logger.info(line)
        if self.verbose > 1:
            (self.bar.write if self.bar is not None else print)(line)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# --------------------------------------------------------------------------
# the stage-wise engine
# --------------------------------------------------------------------------


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


def _trained_slices(net, stage):
    """What ``stage`` trains, and how fast.

    Returns ``(params, rows, sizes)``: every trained parameter, the slice of
    its leading axis the stage moves (its trained layers; ``None`` for a
    shared parameter) and the step size of each moved entry. The net's
    ``augmentation`` parameters wait for the "augmentation" stages. Only those
    slices enter Adam, so a stage that trains one layer of a 16-layer untied model
    does not pay for updating all 16; a parameter whose rate factor is 0 is
    left out altogether.
    """
    recipe = stage.recipe
    stage_rate = recipe.learning_rate * recipe.stage_factors[STAGES.index(stage.name)]
    n_frozen = stage.n_frozen
    params, rows, sizes = [], [], []
    held = () if stage.phase == "augmentation" else net.augmentation
    for name, param, is_layered in net.parameter_groups():
        factor = stage_rate * recipe.rate_factors.get(name, 1.0)
        if factor == 0.0 or name.split(".")[0] in held:
            continue  # held: no gradient, no Adam state
        if is_layered:
            age = torch.arange(
                stage.depth - 1,
                n_frozen - 1,
                -1,
                dtype=param.dtype,
                device=param.device,
            )
            size = (factor * recipe.layer_decay**age).reshape(
                (-1,) + (1,) * (param.dim() - 1)
            )
            rows.append(slice(n_frozen, stage.depth))
        else:
            size = torch.tensor(factor, dtype=param.dtype, device=param.device)
            rows.append(None)
        params.append(param)
        sizes.append(size)
    return params, rows, sizes


def _moved(tensors, rows):
    """The part of each tensor a stage moves (a view: updates write through)."""
    return [t if r is None else t[r] for t, r in zip(tensors, rows)]


def _keep_best_of(params, score):
    """A :class:`KeepBest` over ``params``, copying in place into fixed buffers
    (a captured CUDA graph keeps reading the parameters' own memory)."""
    buffers = [p.detach().clone() for p in params]

    def save():
        for buffer, param in zip(buffers, params):
            buffer.copy_(param.detach())
        return buffers

    @torch.no_grad()
    def load(state):
        for saved, param in zip(state, params):
            param.copy_(saved)

    return KeepBest(score, save, load)


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


class PairBatches:
    """Batches of fixed training pairs: rows ``idx`` of ``B`` and ``X``."""

    def __init__(self, B, X):
        self.B, self.X = B, X
        self.n_samples = B.shape[0]
        self.device = B.device

    def draw(self, idx):
        return self.B[idx], None if self.X is None else self.X[idx]


def train_stagewise(
    net,
    train,
    validate,
    loss,
    stages,
    generator,
    *,
    verbose=0,
    use_cuda_graphs=True,
):
    """Train ``net`` through ``stages`` (see :func:`schedule`).

    Parameters
    ----------
    net : UnrolledNet
    train : tuple of tensors, or batches
        ``(B, X)`` on the training device (``X`` may be ``None`` when the loss
        needs no ground truth), or an object that makes each batch itself:
        ``n_samples`` (how many rows the batch indices run over), ``device``
        and ``draw(idx) -> (inputs, x)``, the net's input and the targets of
        the rows ``idx`` (see :class:`PairBatches`).
    validate : callable
        ``validate(depth) -> float``, lower is better (e.g. NMSE in dB).
    loss : callable
        ``loss(x_hat, b, x) -> scalar tensor`` minimised on each batch.
    stages : list of Stage
    generator : torch.Generator
        On the training device; draws the batch indices.
    verbose : int
        See :class:`Progress`.

    Returns
    -------
    history : list of dict
        One :func:`stage_record` per stage run.
    done : int
        How many of ``stages`` completed; fewer than ``len(stages)`` when a
        KeyboardInterrupt stopped the schedule (the stage it stopped keeps its
        best parameters, and a later call can resume from ``stages[done:]``).
    """
    batches = train if hasattr(train, "draw") else PairBatches(*train)
    # a batch drawn afresh each step (a random dictionary) cannot be replayed
    graphs = (
        use_cuda_graphs
        and isinstance(batches, PairBatches)
        and batches.device.type == "cuda"
    )
    progress = Progress(
        verbose,
        sum(s.recipe.max_steps * s.cost for s in stages),
        desc=f"{type(net).__name__[:-3] or 'net'} x {net.n_layers}",
    )
    history, done = [], 0
    try:
        for stage in stages:
            record = _run_stage(
                net, batches, validate, loss, generator, stage, graphs, progress
            )
            history.append(record)
            interrupted = record["stop"] == "interrupted"
            # counted before it is reported: a Ctrl-C while reporting keeps it
            done += not interrupted
            progress.finished(
                record, f"layer {stage.depth} stage {stage.name} ({stage.phase})"
            )
            if interrupted:
                break
            if record["stop"] == "diverged":
                warnings.warn(
                    f"Training diverged (non-finite validation score) at layer "
                    f"{stage.depth}, stage {stage.name}, after {record['steps']} "
                    "steps; the last good parameters were restored. Consider a "
                    "smaller learning_rate.",
                    RuntimeWarning,
                    stacklevel=4,
                )
    except KeyboardInterrupt:
        # between two stages, or while one was setting up: the net holds the
        # parameters of the last stage that finished
        pass
    finally:
        progress.close()
    return history, done


def _run_stage(net, batches, validate, loss_fn, generator, stage, graphs, progress):
    recipe = stage.recipe
    start = time.perf_counter()
    params, rows, sizes = _trained_slices(net, stage)
    with torch.no_grad():
        optimizer = LayerwiseAdam(_moved(params, rows), sizes)
    depth, n_frozen = stage.depth, stage.n_frozen

    def step(idx):
        b, x = batches.draw(idx)
        x_hat = net(b, n_layers=depth, n_frozen=n_frozen)
        loss = loss_fn(x_hat, b, x)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        optimizer.step(_moved(grads, rows))

    # what the stage started from, should it be stopped before it has a best
    best = entry = _keep_best_of(params, math.inf)
    start_score, curve = math.nan, []
    steps, stop = 0, "budget"
    # a plateau restarts the patience clock: from the best parameters, with
    # smaller steps, as long as decays are left
    decays, clock = 0, 0
    runner = None
    n_train = batches.n_samples
    # a batch larger than the training set would only repeat it
    batch_size = min(recipe.batch_size, n_train)
    try:
        start_score = validate(depth)
        if stage.name == "a" and stage.phase == "layerwise":
            if depth > 1 and recipe.reuse_previous_layer:
                start_score = _start_from_previous_layer(
                    net, depth, start_score, validate
                )
            if recipe.threshold_search and net.threshold is not None:
                start_score = _search_threshold(net, depth, start_score, validate)
        best = _keep_best_of(params, start_score)
        curve.append((0, start_score))
        while steps < recipe.max_steps:
            if best.stale(steps, recipe.patience, since=clock):
                if decays == recipe.plateau_decays:
                    stop = "patience"
                    break
                decays, clock = decays + 1, steps
                best.restore()
                optimizer.restart(recipe.plateau_factor)
            chunk = min(recipe.validation_interval, recipe.max_steps - steps)
            idx = torch.randint(
                n_train,
                (chunk, batch_size),
                generator=generator,
                device=batches.device,
            )
            if runner is None:
                runner = _GraphedStep(step, idx[0]) if graphs else step
                if graphs:
                    steps += 2  # the warm-up steps taken while capturing
            for i in range(chunk):
                runner(idx[i])
            steps += chunk
            score = validate(depth)
            curve.append((steps, score))
            progress.advance(
                chunk * stage.cost, layer=depth, stage=stage.name, val=f"{score:.4g}"
            )
            if not math.isfinite(score):
                stop = "diverged"
                break
            best.offer(score, steps)
    except KeyboardInterrupt:
        stop = "interrupted"
    if best is entry:
        # stopped while the stage was setting up: back to where it started
        best.score = start_score
    best.restore()
    progress.unused((recipe.max_steps - steps) * stage.cost)
    return stage_record(
        phase=stage.phase,
        stage=stage.name,
        layer=depth,
        steps=steps,
        best_step=best.step,
        start_score=start_score,
        val_score=best.score,
        seconds=time.perf_counter() - start,
        stop=stop,
        curve=curve,
        plateau_decays=decays,
        cuda_graph=isinstance(runner, _GraphedStep) and runner.graph is not None,
    )
