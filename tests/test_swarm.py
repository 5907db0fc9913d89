"""L2O-Swarm: populations of particles, what the estimator reports of them,
and that meta-training pays on Rastrigin functions."""

import pickle

import numpy as np
import pytest
import torch

from sklearn_l2o import LearnedOptimizer
from sklearn_l2o._learned_rules import SwarmOptimizer, learned_rule
from sklearn_l2o._optim_base import Layout
from sklearn_l2o.datasets import make_rastrigin_problems

FAST = dict(
    architecture="swarm",
    n_steps=40,
    train_steps=20,
    unroll_length=10,
    batch_size=32,
    learning_rate=1e-2,
    validation_interval=2,
    device="cpu",
    random_state=0,
)


@pytest.fixture(scope="module")
def rastrigin():
    train = make_rastrigin_problems(128, n_variables=2, random_state=0)
    test = make_rastrigin_problems(16, n_variables=2, n_starts=2, random_state=1)
    return train, test


@pytest.fixture(scope="module")
def trained(rastrigin):
    train, _ = rastrigin
    return LearnedOptimizer(family=train.family, max_episodes=12, **FAST).fit(
        train.data
    )


def run_rule(net, x, grads, values):
    rule = learned_rule(net, Layout.single(x.shape[1], "cpu"))
    state = rule.init(x)
    steps = []
    for grad, value in zip(grads, values):
        step, state = rule.update(grad, state, x, value, None)
        steps.append(step)
    return steps, state


def test_particles_are_exchangeable_and_populations_independent():
    torch.manual_seed(0)
    net = SwarmOptimizer(8, population=3).double()
    x = torch.randn(6, 4, dtype=torch.float64)  # 2 instances x 3 particles
    grads = torch.randn(3, 6, 4, dtype=torch.float64)
    values = torch.randn(3, 6, dtype=torch.float64)
    steps, _ = run_rule(net, x, grads, values)
    # permuting the particles of the first population permutes their steps
    perm = torch.tensor([2, 0, 1, 3, 4, 5])
    steps_p, _ = run_rule(net, x[perm], grads[:, perm], values[:, perm])
    torch.testing.assert_close(steps_p[-1], steps[-1][perm])
    # the second population's steps do not depend on the first's particles
    # (moving one particle changes its population's steps, not the other's)
    other = x.clone()
    other[0] += 1.0
    steps_o, _ = run_rule(net, other, grads, values)
    torch.testing.assert_close(steps_o[-1][3:], steps[-1][3:])
    assert not torch.allclose(steps_o[-1][1:3], steps[-1][1:3])
    # moving a whole population moves nothing: the rule sees differences
    shifted = x.clone()
    shifted[:3] += 10.0
    steps_s, _ = run_rule(net, shifted, grads, values)
    torch.testing.assert_close(steps_s[-1], steps[-1])


def test_rule_keeps_each_particles_best_point():
    net = SwarmOptimizer(4, population=2).double()
    x = torch.zeros(2, 3, dtype=torch.float64)
    values = torch.tensor([[3.0, 1.0], [2.0, 5.0]], dtype=torch.float64)
    grads = torch.zeros(2, 2, 3, dtype=torch.float64)
    _, state = run_rule(net, x, grads, values)
    torch.testing.assert_close(state[1], torch.tensor([2.0, 1.0], dtype=torch.float64))


def test_rows_must_be_whole_populations():
    net = SwarmOptimizer(4, population=3)
    with pytest.raises(ValueError, match="populations of 3"):
        net.init_state(torch.zeros(4, 2), None)


def test_estimator_reports_the_best_particle(rastrigin, trained):
    _, test = rastrigin
    x = trained.transform(test.data)
    assert x.shape == (test.data.shape[0], 2)
    family = test.family
    values = family.objective(torch.tensor(x), torch.tensor(test.data)).numpy()
    curve = trained.objective_curve(test.data)
    assert curve.shape == (41, test.data.shape[0])
    np.testing.assert_allclose(values, curve[-1], rtol=1e-5)
    # the population's lowest value is at most what one particle alone gets
    single = LearnedOptimizer(
        family=test.family, max_episodes=0, **dict(FAST, n_particles=1)
    ).fit(test.data)
    assert single.objective_curve(test.data).shape == curve.shape


def test_meta_training_pays(rastrigin, trained):
    train, test = rastrigin
    untrained = LearnedOptimizer(family=train.family, max_episodes=0, **FAST).fit(
        train.data
    )
    learned = trained.objective_curve(test.data)[-1].mean()
    assert learned < untrained.objective_curve(test.data)[-1].mean()
    assert np.isfinite(trained.best_validation_loss_)


def test_pickles_and_reruns_identically(rastrigin, trained):
    _, test = rastrigin
    clone = pickle.loads(pickle.dumps(trained))
    np.testing.assert_allclose(clone.transform(test.data), trained.transform(test.data))


def test_single_point_interfaces_are_refused(trained):
    with pytest.raises(ValueError, match="single point"):
        trained.minimize(lambda x: torch.sum(x**2), torch.zeros(2))
    with pytest.raises(ValueError, match="single point"):
        param = torch.zeros(2, requires_grad=True)
        optimizer = trained.as_torch_optimizer([param])
        param.sum().backward()
        optimizer.step()


def test_n_particles_is_validated(rastrigin):
    train, _ = rastrigin
    with pytest.raises(ValueError, match="n_particles"):
        LearnedOptimizer(family=train.family, **dict(FAST, n_particles=0)).fit(
            train.data
        )
