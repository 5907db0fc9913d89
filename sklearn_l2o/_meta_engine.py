"""The meta-training engine shared by every learned update rule.

One *episode* draws a batch of training instances, starts them at the
family's initial points and lets the learned rule optimise them for a
trajectory of ``length`` steps. The trajectory is cut into truncations of
``unroll_length`` steps: after each, the meta-loss is back-propagated through
that truncation only, Adam updates the rule's weights, and the iterates and
the rule's state are detached and carried on (truncated back-propagation
through time). Memory is therefore bounded by one truncation whatever the
trajectory length, and ``checkpointing`` lowers it further by recomputing the
rule's activations in the backward pass instead of storing them.

The meta-loss of a truncation is the mean objective over its steps and
instances (Andrychowicz et al., 2016), or the mean over its steps of the log
of the instances' mean objective, which weighs late, small objective values
as much as early ones; gradients of the objective enter the
rule as data (first-order meta-gradient). Options of Chen et al. (2020) and
Lv et al. (2017):

- curriculum: a sequence of trajectory lengths; a stage trains at its length
  and validates at the next one, and moves on once the validation loss has
  not improved for ``n_iter_no_change`` validations, from the best weights
  seen (training stops at a stage that never improved);
- imitation: with probability ``imitation_fraction`` an episode follows an
  analytic teacher's trajectory instead, and the loss is the relative squared
  distance between the rule's steps and the teacher's;
- random scaling: the episode optimises f(c * x) with coordinate scales
  c = exp(U(-r, r)), so the rule cannot learn the scale of the training
  problems;
- convex term: w * mean((x - a)^2) is added to the objective, with a random
  anchor a, to teach the rule to descend.
"""

import copy
import math
import time
import warnings
from dataclasses import dataclass

import torch
from torch.utils.checkpoint import checkpoint

from ._engine import KeepBest, Progress, stage_record
from ._learned_rules import learned_rule
from ._optim_base import no_grad_values, populate, run, value_and_grad


@dataclass(frozen=True)
class MetaRecipe:
    """Hyper-parameters of meta-training (see LearnedOptimizer's docs)."""

    lengths: tuple = (100,)
    unroll_length: int = 20
    max_episodes: int = 200
    batch_size: int = 128
    learning_rate: float = 1e-3
    validation_interval: int = 10
    n_iter_no_change: int = 5
    imitation_fraction: float = 0.0
    random_scaling: float = 0.0
    convex_term: float = 0.0
    checkpointing: bool = False
    log_loss: bool = False

    def validation_length(self, stage):
        """A curriculum stage validates at the next stage's length."""
        return self.lengths[min(stage + 1, len(self.lengths) - 1)]


class _TrainingProblem:
    """A batch of instances as the rule sees them in one training episode."""

    def __init__(self, family, data, x0, recipe, generator):
        self.family = family
        self.data = data
        self.scale = None
        self.anchor = None
        if recipe.random_scaling > 0:
            unit = torch.rand(x0.shape, generator=generator, device=x0.device)
            log_scale = (2 * unit - 1) * recipe.random_scaling
            self.scale = torch.exp(log_scale).to(x0.dtype)
            # start at the same point of the unscaled problem
            x0 = x0 / self.scale
        self.x0 = x0
        self.convex_term = recipe.convex_term
        if self.convex_term > 0:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device)
            self.anchor = x0 + noise.to(x0.dtype)

    def objective(self, x):
        value = self.family.objective(
            x if self.scale is None else x * self.scale, self.data
        )
        if self.anchor is not None:
            value = value + self.convex_term * torch.mean((x - self.anchor) ** 2, dim=1)
        return value


def _detach(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(_detach(s) for s in state)
    return state


def _rule_step(rule, grad, state, x, value, use_checkpoint):
    # the rules read the objective's value as data, not as a path for the
    # meta-gradient
    value = value.detach()
    if use_checkpoint:
        # store only the step's inputs; recompute its activations when
        # back-propagating (the rule is deterministic, so this is exact)
        return checkpoint(rule.update, grad, state, x, value, None, use_reentrant=False)
    return rule.update(grad, state, x, value, None)


def _log_mean(value):
    mean = value.mean()
    if not mean.detach() > 0:
        raise ValueError(
            "meta_loss='log' needs positive objective values; the mean "
            f"objective of a batch was {float(mean.detach()):.4g}. Use "
            "meta_loss='mean'."
        )
    return torch.log(mean)


def _objective_truncation(rule, problem, x, state, n_steps, use_checkpoint, log):
    """Meta-loss over the next ``n_steps`` iterates, with its graph: the mean
    objective, or with ``log`` the mean of its logarithm over the steps."""
    reduce = _log_mean if log else torch.mean
    total = 0.0
    for t in range(n_steps):
        value, grad = value_and_grad(problem.objective, x, keep_graph=t > 0)
        if t > 0:
            total = total + reduce(value)
        step, state = _rule_step(rule, grad, state, x, value, use_checkpoint)
        x = x + step
    total = total + reduce(problem.objective(x))
    return total / n_steps, x, state


def _imitation_truncation(
    rule, teacher, problem, x, state, teacher_state, n_steps, use_checkpoint
):
    """Relative squared distance between the rule's and the teacher's steps.

    The iterates follow the teacher (off-policy): the rule sees the gradients
    along the teacher's trajectory and is asked to take the teacher's steps.
    """
    value_fn = no_grad_values(problem.objective)
    error, reference = 0.0, 0.0
    for _ in range(n_steps):
        value, grad = value_and_grad(problem.objective, x)
        with torch.no_grad():
            target, teacher_state = teacher.update(
                grad, teacher_state, x, value, value_fn
            )
        step, state = _rule_step(rule, grad, state, x, value, use_checkpoint)
        error = error + torch.sum((step - target) ** 2)
        reference = reference + torch.sum(target**2)
        x = x + target
    loss = error / torch.clamp(torch.as_tensor(reference), min=1e-30)
    return loss, x, state, teacher_state


def validation_loss(net, family, layout, data, n_steps, seed, log=False, population=1):
    """The meta-loss of ``n_steps`` steps of the rule on ``data``, no tricks:
    the mean objective over the steps, or with ``log`` the mean over the steps
    of the log of the mean objective. With a ``population``, every instance
    is solved by that many particles (consecutive rows), all counted."""
    data = populate(data, population)
    generator = torch.Generator(device=data.device)
    generator.manual_seed(seed)
    x0 = family.initial_point(data, generator).to(data.dtype)
    _, values = run(
        learned_rule(net, layout), lambda x: family.objective(x, data), x0, n_steps
    )
    if log:
        return float(torch.log(values[1:].mean(dim=1)).mean())
    return float(values[1:].mean())


def _episode(rule, problem, recipe, length, teacher, optimizer):
    """Train on one episode's trajectory; return its mean meta-loss (NaN when
    it diverged and was cut short)."""
    x, state = problem.x0, rule.init(problem.x0)
    teacher_state = teacher.init(x) if teacher is not None else None
    losses, done = [], 0
    while done < length:
        n_steps = min(recipe.unroll_length, length - done)
        if teacher is not None:
            loss, x, state, teacher_state = _imitation_truncation(
                rule,
                teacher,
                problem,
                x,
                state,
                teacher_state,
                n_steps,
                recipe.checkpointing,
            )
        else:
            loss, x, state = _objective_truncation(
                rule, problem, x, state, n_steps, recipe.checkpointing, recipe.log_loss
            )
        if not torch.isfinite(loss):
            return math.nan
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        x, state = x.detach(), _detach(state)
        done += n_steps
    return sum(losses) / len(losses)


def meta_train(
    net,
    family,
    layout,
    train_data,
    val_data,
    recipe,
    generator,
    rng,
    *,
    teacher=None,
    verbose=0,
    population=1,
):
    """Meta-train ``net`` in place; return its history and whether it ran to
    its end.

    Parameters
    ----------
    net : LearnedRule
        On the training device, in the training dtype.
    family : ProblemFamily
    layout : Layout
        Of one instance's variables.
    train_data, val_data : tensors of shape (n, p)
        Training and validation instances, on the training device.
    recipe : MetaRecipe
    generator : torch.Generator
        On the training device: batches, scalings, anchors.
    rng : numpy RandomState
        Chooses imitation episodes and seeds validation starts.
    teacher : UpdateRule, optional
        The analytic rule to imitate (needed when imitation_fraction > 0).
    verbose : int
        See :class:`~sklearn_l2o._engine.Progress`.
    population : int
        Particles per instance (consecutive rows of every batch): more than 1
        for the swarm rule.

    Returns
    -------
    history : list of dict
        One :func:`~sklearn_l2o._engine.stage_record` per curriculum stage
        (``steps``: its episodes; ``val_score``: the best validation
        meta-loss), with per-episode ``meta_loss`` and ``kind`` ("objective"
        or "imitation") lists and the stage's ``trajectory_length``.
    interrupted : bool
        Whether a KeyboardInterrupt stopped training (the best weights seen
        are restored in any case).
    """
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.learning_rate)
    rule = learned_rule(net, layout)
    val_seed = int(rng.randint(0, 2**31 - 1))
    n_train = train_data.shape[0]
    batch_size = min(recipe.batch_size, n_train)
    patience = recipe.n_iter_no_change * recipe.validation_interval
    progress = Progress(
        verbose,
        recipe.max_episodes,
        desc=f"meta-training {type(net).__name__}",
        unit="episode",
    )

    def validate(stage):
        n_steps = recipe.validation_length(stage)
        return validation_loss(
            net,
            family,
            layout,
            val_data,
            n_steps,
            val_seed,
            recipe.log_loss,
            population,
        )

    def save():
        return copy.deepcopy(net.state_dict())

    history, episode, n_diverged, interrupted = [], 0, 0, False
    try:
        for stage, length in enumerate(recipe.lengths):
            start, first = time.perf_counter(), episode
            # the best weights so far, scored at this stage's length
            best = KeepBest(validate(stage), save, net.load_state_dict)
            curve, losses, kinds, stop = [(0, best.score)], [], [], "budget"
            try:
                while episode < recipe.max_episodes:
                    episode += 1
                    imitate = teacher is not None and (
                        rng.uniform() < recipe.imitation_fraction
                    )
                    rows = torch.randperm(
                        n_train, generator=generator, device=train_data.device
                    )
                    data = populate(train_data[rows[:batch_size]], population)
                    x0 = family.initial_point(data, generator).to(data.dtype)
                    problem = _TrainingProblem(family, data, x0, recipe, generator)
                    loss = _episode(
                        rule,
                        problem,
                        recipe,
                        length,
                        teacher if imitate else None,
                        optimizer,
                    )
                    n_diverged += math.isnan(loss)
                    losses.append(loss)
                    kinds.append("imitation" if imitate else "objective")
                    progress.advance(1, stage=stage, meta_loss=f"{loss:.4g}")
                    done = episode - first
                    if done % recipe.validation_interval == 0 or (
                        episode == recipe.max_episodes
                    ):
                        score = validate(stage)
                        curve.append((done, score))
                        best.offer(score, done)
                        if best.stale(done, patience):
                            stop = "patience"
                            break
            except KeyboardInterrupt:
                stop, interrupted = "interrupted", True
            best.restore()
            record = stage_record(
                phase="meta",
                stage=f"length {length}",
                layer=None,
                steps=episode - first,
                best_step=best.step,
                start_score=curve[0][1],
                val_score=best.score,
                seconds=time.perf_counter() - start,
                stop=stop,
                curve=curve,
                trajectory_length=length,
                meta_loss=losses,
                kind=kinds,
            )
            history.append(record)
            progress.finished(record, f"curriculum stage {stage} (length {length})")
            # the next stage starts only from a stage that improved and stopped
            # by patience, with episodes left
            if stop != "patience" or best.step == 0:
                break
    finally:
        progress.close()
    if n_diverged:
        warnings.warn(
            f"{n_diverged} meta-training episode(s) produced a non-finite "
            "meta-loss and were cut short; consider a smaller learning_rate or "
            "unroll_length.",
            RuntimeWarning,
            stacklevel=3,
        )
    return history, interrupted
