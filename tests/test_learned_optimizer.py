import pickle

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_l2o import AnalyticOptimizer, LearnedOptimizer
from sklearn_l2o._learned_rules import ARCHITECTURES, learned_rule, log_and_sign
from sklearn_l2o._meta_engine import MetaRecipe, _TrainingProblem
from sklearn_l2o._optim_base import Layout
from sklearn_l2o.problems import (
    L1Term,
    LassoProblems,
    ProblemFamily,
    QuadraticProblems,
)

#: the rules that need nothing but gradients (the proximal one also needs the
#: objective's non-smooth term)
GRADIENT_RULES = sorted(a for a in ARCHITECTURES if a not in ("proximal", "swarm"))

FAST = dict(
    n_steps=20,
    train_steps=20,
    unroll_length=10,
    batch_size=32,
    learning_rate=1e-2,
    validation_interval=2,
    random_state=0,
)


@pytest.fixture(scope="module")
def quadratics():
    rng = np.random.RandomState(0)
    return rng.normal(size=(200, 6)), rng.normal(size=(40, 6))


@pytest.fixture(scope="module")
def trained(quadratics):
    train, _ = quadratics
    return LearnedOptimizer(max_episodes=30, device="cpu", **FAST).fit(train)


def final_objective(optimizer, problems):
    return optimizer.objective_curve(problems)[-1].mean()


def test_meta_training_beats_untrained_self_and_badly_tuned_gd(quadratics, trained):
    train, test = quadratics
    # same seed, so the same initial weights, just not trained
    untrained = LearnedOptimizer(max_episodes=0, device="cpu", **FAST).fit(train)
    slow_gd = AnalyticOptimizer(
        method="gd", learning_rate=1e-2, n_steps=20, device="cpu"
    ).fit(train)
    learned = final_objective(trained, test)
    assert learned < 0.5 * final_objective(untrained, test)
    assert learned <= final_objective(slow_gd, test)
    # close to the exact minimum: relative loss below 0.2 on unseen instances
    assert trained.score(test) > -0.2
    # every episode is an objective one without imitation, and counted once
    assert len(trained.loss_curve_) == trained.n_iter_ > 0
    assert np.isfinite(trained.best_validation_loss_)


def test_score_is_negative_relative_loss(quadratics, trained):
    _, test = quadratics
    f_star = QuadraticProblems().optimal_value(test)
    final = trained.objective_curve(test)[-1]
    expected = -(final.mean() - f_star.mean()) / f_star.mean()
    assert trained.score(test) == pytest.approx(expected)
    assert trained.score(test, f_star) == pytest.approx(expected)


def test_transform_returns_the_last_iterate(quadratics, trained):
    _, test = quadratics
    x = trained.transform(test)
    assert x.shape == test.shape and x.dtype == np.float64
    family = QuadraticProblems()
    values = family.objective(torch.tensor(x), torch.tensor(test)).numpy()
    np.testing.assert_allclose(values, trained.objective_curve(test)[-1], rtol=1e-5)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_learns_lasso(architecture):
    rng = np.random.RandomState(1)
    A = rng.normal(size=(5, 10)) / np.sqrt(5)
    problems = rng.normal(size=(160, 10)) * (rng.uniform(size=(160, 10)) < 0.2) @ A.T
    family = LassoProblems(A, alpha=0.005)
    params = dict(FAST, architecture=architecture, family=family, device="cpu")
    if architecture == "proximal":
        # from its "auto" start, ISTA's step 1 / L with momentum 1/2, 16
        # episodes did not improve on so small a problem (final objective
        # 0.01099 against 0.01089 untrained); learning shows from 0.05
        params["step_scale"] = 0.05
    untrained = LearnedOptimizer(max_episodes=0, **params).fit(problems[:128])
    learned = LearnedOptimizer(max_episodes=16, **params).fit(problems[:128])
    test = problems[128:]
    assert final_objective(learned, test) < final_objective(untrained, test)
    start = learned.objective_curve(test)[0].mean()
    assert final_objective(learned, test) < 0.5 * start


@pytest.mark.parametrize("architecture", GRADIENT_RULES)
def test_rules_are_coordinatewise(architecture):
    # any number of variables, and permuting the coordinates of an instance
    # permutes its steps (weights are shared by all coordinates)
    torch.manual_seed(0)
    net = ARCHITECTURES[architecture](8).double()
    grads = torch.randn(4, 3, 7, dtype=torch.float64)  # steps, instances, d
    perm = torch.randperm(7)
    for d in (7, 1):
        layout = Layout.single(d, "cpu")
        rule = learned_rule(net, layout)
        state = rule.init(torch.zeros(3, d, dtype=torch.float64))
        state_p = rule.init(torch.zeros(3, d, dtype=torch.float64))
        for grad in grads:
            grad = grad[:, :d]
            step, state = rule.update(grad, state, None, None, None)
            if d == 7:
                step_p, state_p = rule.update(grad[:, perm], state_p, None, None, None)
                torch.testing.assert_close(step_p, step[:, perm])
            assert step.shape == grad.shape and torch.all(torch.isfinite(step))


def test_log_and_sign():
    g = torch.tensor([-1.0, 1e-4, 0.0, np.e**5])
    features = log_and_sign(g, k=5.0)
    torch.testing.assert_close(features[:, 0], torch.tensor([0.0, -1.0, -1.0, 1.0]))
    torch.testing.assert_close(
        features[:, 1], torch.tensor([-1.0, np.e**5 * 1e-4, 0.0, 1.0])
    )


def test_minimize_plain_torch_function(trained):
    target = torch.tensor([1.0, -2.0, 0.5])

    def fun(x):
        return torch.sum((x - target) ** 2) + 0.1 * torch.sum(x**4)

    x0 = torch.zeros(3)
    result = trained.minimize(fun, x0, n_steps=50)
    assert isinstance(result.x, torch.Tensor) and result.x.shape == (3,)
    assert result.objective_curve.shape == (51,)
    assert result.fun == pytest.approx(float(fun(result.x)), rel=1e-5)
    assert result.fun < 0.5 * float(fun(x0))
    assert result.success
    # arrays in, arrays out
    result = trained.minimize(lambda x: torch.sum((x - 1) ** 2), np.zeros((2, 2)))
    assert isinstance(result.x, np.ndarray) and result.x.shape == (2, 2)


def test_minimize_rejects_non_scalar_functions(trained):
    with pytest.raises(ValueError, match="scalar"):
        trained.minimize(lambda x: x**2, torch.zeros(3), n_steps=2)


@pytest.mark.parametrize("architecture", ["lstm", "hierarchical"])
def test_as_torch_optimizer_trains_a_torch_model(quadratics, architecture):
    train, _ = quadratics
    learned = LearnedOptimizer(
        architecture=architecture, max_episodes=30, device="cpu", **FAST
    ).fit(train)
    torch.manual_seed(0)
    inputs = torch.randn(64, 4)
    targets = inputs @ torch.tensor([1.0, -1.0, 0.5, 2.0]) + 0.3
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    )
    optimizer = learned.as_torch_optimizer(model.parameters())
    assert isinstance(optimizer, torch.optim.Optimizer)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.mean((model(inputs).squeeze(1) - targets) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0]
    # a parameter without a gradient stays where it is
    frozen = torch.ones(3, requires_grad=True)
    optimizer = learned.as_torch_optimizer([frozen, *model.parameters()])
    optimizer.zero_grad()
    torch.mean((model(inputs).squeeze(1) - targets) ** 2).backward()
    optimizer.step()
    torch.testing.assert_close(frozen.detach(), torch.ones(3))


def test_pickle_keeps_outputs(quadratics, trained):
    _, test = quadratics
    clone = pickle.loads(pickle.dumps(trained))
    np.testing.assert_array_equal(clone.transform(test), trained.transform(test))
    assert clone.history_ == trained.history_
    assert next(clone.module_.parameters()).device.type == "cpu"


def test_curriculum_and_imitation_are_recorded(quadratics):
    train, _ = quadratics
    opt = LearnedOptimizer(
        curriculum=(4, 8, 16),
        imitation="adam",
        imitation_fraction=0.5,
        max_episodes=16,
        n_iter_no_change=1,
        device="cpu",
        **dict(FAST, validation_interval=1, unroll_length=4),
    ).fit(train)
    kinds = [kind for record in opt.history_ for kind in record["kind"]]
    assert set(kinds) == {"objective", "imitation"}
    lengths = [record["trajectory_length"] for record in opt.history_]
    assert len(lengths) >= 2 and lengths == [4, 8, 16][: len(lengths)]
    assert [r["stage"] for r in opt.history_] == [f"length {n}" for n in lengths]
    for record in opt.history_:
        # validated after every episode, the first at the stage's start
        assert len(record["curve"]) == record["steps"] + 1
        assert len(record["meta_loss"]) == len(record["kind"]) == record["steps"]
    assert opt.curriculum_ == tuple(lengths)
    assert len(opt.loss_curve_) == kinds.count("objective")


def test_curriculum_true_uses_multiples_of_train_steps():
    opt = LearnedOptimizer(curriculum=True, train_steps=7)
    assert opt._recipe().lengths == (7, 14, 35, 70)
    with pytest.raises(ValueError, match="curriculum"):
        LearnedOptimizer(curriculum=(5, 0))._recipe()


def test_imitation_learns_the_teachers_steps(quadratics):
    train, _ = quadratics
    teacher = AnalyticOptimizer(method="gd", learning_rate=0.05)
    opt = LearnedOptimizer(
        imitation=teacher,
        imitation_fraction=1.0,
        max_episodes=20,
        n_iter_no_change=100,
        device="cpu",
        **FAST,
    ).fit(train)
    losses = [loss for record in opt.history_ for loss in record["meta_loss"]]
    assert {k for record in opt.history_ for k in record["kind"]} == {"imitation"}
    assert opt.loss_curve_ == []
    # relative squared error of the steps, down from about 1
    assert np.mean(losses[-5:]) < 0.5 * losses[0]


def test_rnnprop_tricks():
    rnnprop = LearnedOptimizer(architecture="rnnprop")._recipe()
    assert (rnnprop.random_scaling, rnnprop.convex_term) == (3.0, 1.0)
    lstm = LearnedOptimizer(architecture="lstm")._recipe()
    assert (lstm.random_scaling, lstm.convex_term) == (0.0, 0.0)
    recipe = MetaRecipe(random_scaling=3.0, convex_term=1.0)
    family = QuadraticProblems()
    data = torch.randn(5, 4, dtype=torch.float64)
    x0 = torch.randn(5, 4, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    problem = _TrainingProblem(family, data, x0, recipe, generator)
    # the scaled problem starts at the same point of the original one ...
    torch.testing.assert_close(problem.x0 * problem.scale, x0)
    assert problem.scale.min() >= np.exp(-3) and problem.scale.max() <= np.exp(3)
    # ... and adds the convex term mean((x - a)^2)
    expected = family.objective(x0, data) + torch.mean(
        (problem.x0 - problem.anchor) ** 2, dim=1
    )
    torch.testing.assert_close(problem.objective(problem.x0), expected)


def test_checkpointing_is_exact(quadratics):
    train, _ = quadratics
    params = dict(FAST, architecture="rnnprop", max_episodes=3, device="cpu")
    plain = LearnedOptimizer(**params).fit(train)
    checkpointed = LearnedOptimizer(checkpointing=True, **params).fit(train)
    for a, b in zip(plain.module_.parameters(), checkpointed.module_.parameters()):
        torch.testing.assert_close(a, b)
    assert plain.history_[-1]["meta_loss"] == pytest.approx(
        checkpointed.history_[-1]["meta_loss"], rel=1e-6
    )
    assert len(plain.history_[-1]["meta_loss"]) == 3


def test_hierarchical_pools_over_the_familys_tensors(quadratics):
    class TwoTensors(QuadraticProblems):
        def variable_groups(self, n_variables):
            return np.repeat([0, 1], [2, n_variables - 2])

    train, test = quadratics
    opt = LearnedOptimizer(
        TwoTensors(), architecture="hierarchical", max_episodes=2, device="cpu", **FAST
    ).fit(train)
    assert opt._layout("cpu").n_groups == 2
    assert np.all(np.isfinite(opt.objective_curve(test)))


def test_layout_means_and_expands_per_tensor():
    layout = Layout([3, 3, 7, 3], "cpu")
    z = torch.arange(8.0).reshape(2, 4, 1)
    means = layout.mean(z)
    # tensor "3" holds variables 0, 1, 3 and tensor "7" variable 2
    expected = torch.tensor([[4 / 3, 2.0], [16 / 3, 6.0]])
    torch.testing.assert_close(means[:, :, 0], expected)
    torch.testing.assert_close(layout.expand(means)[:, :, 0], expected[:, [0, 0, 1, 0]])


def test_verbose_shows_progress_and_the_stages(quadratics, capsys):
    train, _ = quadratics
    LearnedOptimizer(max_episodes=4, verbose=2, device="cpu", **FAST).fit(train)
    err, out = capsys.readouterr()
    text = err + out
    assert "meta-training DMOptimizer" in text and "at most" in text
    assert "100%" in text
    assert "curriculum stage 0 (length 20)" in text


def test_bad_input_is_a_value_error(quadratics):
    train, _ = quadratics
    family = LassoProblems(np.eye(5))
    with pytest.raises(ValueError, match="rows of length 5"):
        LearnedOptimizer(family, max_episodes=0, device="cpu").fit(train)
    with pytest.raises(ValueError, match="architecture"):
        LearnedOptimizer(architecture="adam").fit(train)
    with pytest.raises(NotFittedError):
        LearnedOptimizer().minimize(lambda x: x.sum(), torch.zeros(2))


@pytest.mark.parametrize("architecture", GRADIENT_RULES)
def test_runs_on_every_device(quadratics, device, architecture):
    train, test = quadratics
    opt = LearnedOptimizer(
        architecture=architecture,
        max_episodes=4,
        checkpointing=True,
        device=device,
        **dict(FAST, unroll_length=5),
    ).fit(train)
    assert next(opt.module_.parameters()).device.type == device
    curve = opt.objective_curve(test)
    assert np.all(np.isfinite(curve))
    clone = pickle.loads(pickle.dumps(opt))
    np.testing.assert_allclose(clone.transform(test), opt.transform(test), rtol=1e-6)
    # runs on the device of the function's argument, whatever it was trained on
    x0 = torch.zeros(3, device=device)
    result = opt.minimize(lambda x: torch.sum((x - 1.0) ** 2), x0, n_steps=5)
    assert result.x.device == x0.device and np.isfinite(result.fun)


def test_objective_curve_on_an_unseen_family():
    """A rule trained on one family runs on another of a different width."""
    from sklearn_l2o.datasets import make_lasso_problems

    rng = np.random.default_rng(0)
    opt = LearnedOptimizer(max_episodes=0, n_steps=5, device="cpu", random_state=0)
    opt.fit(rng.normal(size=(8, 6)))
    task = make_lasso_problems(7, n_features=5, n_components=10, random_state=0)
    values = opt.objective_curve(task.data, family=task.family)
    assert values.shape == (6, 7)
    assert np.all(np.isfinite(values))
    with pytest.raises(ValueError, match="features"):
        opt.objective_curve(task.data)


@pytest.mark.parametrize(
    "architecture, default", [("lstm", 0.1), ("rnnprop", 0.1), ("hierarchical", 0.05)]
)
def test_step_scale_sets_the_size_of_the_untrained_rules_first_step(
    quadratics, architecture, default
):
    train, _ = quadratics
    x0 = torch.ones(1, 6, dtype=torch.float64)

    def first_step(step_scale):
        opt = LearnedOptimizer(
            architecture=architecture,
            step_scale=step_scale,
            max_episodes=0,
            device="cpu",
            random_state=0,
        ).fit(train)
        result = opt.minimize(lambda x: (x**2).sum(), x0, n_steps=1)
        return (result.x - x0).abs().sum().item()

    # same seed, same weights: only the scale of the step differs
    assert first_step(0.5) == pytest.approx(first_step("auto") * 0.5 / default)


def test_step_scale_must_be_positive(quadratics):
    with pytest.raises(ValueError, match="step_scale"):
        LearnedOptimizer(step_scale=0.0, device="cpu").fit(quadratics[0])


def test_l2o_scale_learning_rates_stay_below_their_ceiling():
    # a rule pushed to raise every learning rate at every step must stop at
    # max_learning_rate_factor times the starting rate instead of blowing up
    from sklearn_l2o._learned_rules import HierarchicalOptimizer

    torch.manual_seed(0)
    net = HierarchicalOptimizer(hidden_size=8, step_scale=0.05).double()
    with torch.no_grad():
        net.readout.bias[1] = 100.0  # tanh -> 1: +0.2 on every log rate, every step
    layout = Layout.single(6, "cpu")
    x = torch.ones(4, 6, dtype=torch.float64)
    state = net.init_state(x, layout)
    rms = []
    with torch.no_grad():
        for _ in range(60):
            step, state = net(2 * x, state, layout)
            x = x + step
            rms.append(float(step.pow(2).mean(dim=1).sqrt().max()))
    ceiling = 0.05 * net.max_learning_rate_factor
    assert max(rms) == pytest.approx(ceiling, rel=1e-6)  # reached, not passed
    assert rms[0] < ceiling / 5  # it started low and grew
    assert torch.isfinite(x).all()


def test_log_and_sign_k_reaches_the_lstm_rule(quadratics):
    # with k = 10 a gradient of 1e-3 is "large" (log feature), with k = 5 it is not
    g = torch.tensor([1e-3])
    assert log_and_sign(g, k=10.0)[0, 0] == pytest.approx(np.log(1e-3) / 10)
    assert log_and_sign(g, k=5.0)[0, 0] == -1.0
    X = quadratics[0][:16]
    opts = {
        k: LearnedOptimizer(
            architecture="lstm",
            log_sign_k=k,
            max_episodes=0,
            device="cpu",
            random_state=0,
        ).fit(X)
        for k in (5.0, 10.0)
    }
    assert opts[5.0].module_.log_sign_k == 5.0
    assert opts[10.0].module_.log_sign_k == 10.0
    # same weights, different input features: the trajectories differ
    assert not np.allclose(opts[5.0].transform(X), opts[10.0].transform(X))


@pytest.mark.parametrize("k", [0.0, -1.0])
def test_log_sign_k_must_be_positive(quadratics, k):
    with pytest.raises(ValueError, match="log_sign_k"):
        LearnedOptimizer(log_sign_k=k, max_episodes=0).fit(quadratics[0][:8])


# ------------------------------------------------------------------ proximal
@pytest.fixture(scope="module")
def lasso_task():
    from sklearn_l2o.datasets import make_lasso_problems

    train = make_lasso_problems(160, n_features=5, n_components=10, random_state=0)
    test = make_lasso_problems(40, dictionary=train.dictionary, random_state=1)
    return train, test


def untrained_proximal(task, step_scale, n_steps):
    """The proximal rule before meta-training, in float64, fitted on ``task``."""
    return LearnedOptimizer(
        task.family,
        architecture="proximal",
        step_scale=step_scale,
        max_episodes=0,
        n_steps=n_steps,
        dtype="float64",
        device="cpu",
        random_state=0,
    ).fit(task.data)


def test_untrained_proximal_rule_is_proximal_heavy_ball(lasso_task):
    train, test = lasso_task
    A, alpha = train.dictionary, train.family.alpha
    eta = 0.2
    opt = untrained_proximal(train, eta, n_steps=3)
    b = test.data

    def soft(z, t):
        return np.sign(z) * np.maximum(np.abs(z) - t, 0)

    # untrained: step eta and momentum 1/2 for every coordinate
    x_prev = x = np.zeros((b.shape[0], A.shape[1]))
    for _ in range(3):
        grad = (x @ A.T - b) @ A
        x_prev, x = x, soft(x - eta * grad + 0.5 * (x - x_prev), alpha * eta)
    np.testing.assert_allclose(opt.transform(b), x, atol=1e-12)
    assert np.any(x == 0)


def test_auto_proximal_step_follows_the_lipschitz_constant():
    # U[0, 1) LASSO rows have ||A||^2 near 300: the former fixed 0.05 start
    # diverged there; "auto" starts at ISTA's 1 / L and decreases the objective
    from sklearn_l2o.datasets import make_lasso_problems

    task = make_lasso_problems(30, distribution="uniform", random_state=0)
    L = task.family.lipschitz_constant()
    np.testing.assert_allclose(L, np.linalg.norm(task.dictionary, 2) ** 2)
    assert L > 100

    auto = untrained_proximal(task, "auto", n_steps=50)
    np.testing.assert_array_equal(
        auto.transform(task.data),
        untrained_proximal(task, 1 / L, n_steps=50).transform(task.data),
    )
    values = auto.objective_curve(task.data)
    assert np.all(np.isfinite(values)) and values[-1].mean() < 0.5 * values[0].mean()
    # a family that does not know L keeps the fixed start
    assert ProblemFamily().lipschitz_constant() is None


def test_proximal_rule_learns_lasso_with_exact_zeros(lasso_task):
    train, test = lasso_task
    params = dict(
        FAST, family=train.family, architecture="proximal", n_steps=40, device="cpu"
    )
    # from a start below the "auto" 1 / L, so that 16 episodes have room to learn
    params["step_scale"] = 0.05
    untrained = LearnedOptimizer(max_episodes=0, **params).fit(train.data)
    learned = LearnedOptimizer(max_episodes=16, **params).fit(train.data)
    assert learned.score(test.data) > untrained.score(test.data)
    # soft thresholding puts most of the codes' zeros exactly at zero; a
    # gradient-only rule never lands on one
    assert np.mean(learned.transform(test.data) == 0) > 0.3
    rnnprop = LearnedOptimizer(**dict(params, architecture="rnnprop", max_episodes=0))
    assert np.mean(rnnprop.fit(train.data).transform(test.data) == 0) == 0
    clone = pickle.loads(pickle.dumps(learned))
    np.testing.assert_array_equal(
        clone.transform(test.data), learned.transform(test.data)
    )


def test_proximal_rule_needs_a_proximal_term(quadratics, lasso_task):
    train, _ = lasso_task
    with pytest.raises(ValueError, match="proximal_term"):
        LearnedOptimizer(architecture="proximal", device="cpu").fit(quadratics[0])
    opt = LearnedOptimizer(
        train.family, architecture="proximal", max_episodes=0, device="cpu"
    ).fit(train.data)
    with pytest.raises(ValueError, match="arbitrary function"):
        opt.minimize(lambda x: (x**2).sum(), torch.zeros(3), n_steps=2)
    x = torch.zeros(3, requires_grad=True)
    optimizer = opt.as_torch_optimizer([x])
    (x - 1.0).pow(2).sum().backward()
    with pytest.raises(ValueError, match="arbitrary function"):
        optimizer.step()
    for trick in ("random_scaling", "convex_term"):
        with pytest.raises(ValueError, match=trick):
            LearnedOptimizer(
                train.family, architecture="proximal", device="cpu", **{trick: 1.0}
            ).fit(train.data)


def test_l1_term_matches_autograd_and_soft_thresholding():
    term = L1Term(alpha=0.3)
    x = torch.tensor([[1.5, 0.0, -2.0, 0.1]], requires_grad=True)
    (0.3 * x.abs().sum()).backward()
    torch.testing.assert_close(term.gradient(x.detach()), x.grad)
    z = torch.tensor([[1.0, 0.2, -0.5]])
    torch.testing.assert_close(
        term.prox(z, torch.tensor([[1.0, 1.0, 2.0]])), torch.tensor([[0.7, 0.0, 0.0]])
    )


class _Negative(ProblemFamily):
    def n_variables(self, n_data_columns):
        return n_data_columns

    def objective(self, x, data):
        return torch.sum((x - data) ** 2, dim=1) - 10.0


def test_log_meta_loss(quadratics):
    train, _ = quadratics
    params = dict(FAST, max_episodes=4, device="cpu")
    mean = LearnedOptimizer(**params).fit(train)
    log = LearnedOptimizer(meta_loss="log", **params).fit(train)
    # same seed, same start: the log loss trains differently and validates
    # on the log scale (a log of a mean objective well below 1 is negative)
    assert log.best_validation_loss_ == pytest.approx(
        np.log(log.objective_curve(train[:20])[1:].mean(axis=1)).mean(), abs=1.0
    )
    assert not np.allclose(log.transform(train), mean.transform(train))
    with pytest.raises(ValueError, match="positive objective"):
        LearnedOptimizer(_Negative(), meta_loss="log", **params).fit(train)
