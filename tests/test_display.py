"""NMSECurveDisplay and TrainingHistoryDisplay."""

import matplotlib
import numpy as np
import pytest

from sklearn_l2o import ALISTA, FISTA, ISTA, HyperLISTA, LearnedOptimizer
from sklearn_l2o.metrics import NMSECurveDisplay, TrainingHistoryDisplay, nmse_db

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(scope="module")
def fitted(small_problem):
    B, X, _, _, A = small_problem
    return ALISTA(
        dictionary=A,
        start="stagewise",
        n_layers=4,
        max_steps_per_stage=60,
        refinement_steps=60,
        device="cpu",
        random_state=0,
    ).fit(B, X)


def test_from_estimator_draws_the_solver_next_to_ista_and_fista(fitted, small_problem):
    _, _, B_test, X_test, A = small_problem
    display = NMSECurveDisplay.from_estimator(fitted, B_test, X_test, n_iter=30)
    assert list(display.curves) == ["ALISTA", "ISTA", "FISTA"]
    # the solver's curve is its NMSE after each layer
    expected = [nmse_db(X_test, x) for x in fitted.staged_predict(B_test)]
    np.testing.assert_allclose(display.curves["ALISTA"], expected)
    # the baselines are ISTA and FISTA on its dictionary, weight alpha
    fista = FISTA(dictionary=A, alpha=fitted.alpha, max_iter=30, tol=0.0).fit(B_test)
    np.testing.assert_allclose(
        display.curves["FISTA"],
        [nmse_db(X_test, x) for x in fista.staged_predict(B_test)],
    )
    assert len(display.curves["ISTA"]) == 30
    assert set(display.lines_) == {"ALISTA", "ISTA", "FISTA"}
    x, y = display.lines_["ALISTA"].get_data()
    np.testing.assert_array_equal(x, [1, 2, 3, 4])
    assert "32 x 64" in display.ax_.get_title()
    assert display.ax_.get_ylabel() == "NMSE (dB)"
    plt.close(display.figure_)


def test_from_estimator_with_given_baselines_and_axes(fitted, small_problem):
    _, _, B_test, X_test, A = small_problem
    fig, ax = plt.subplots()
    display = NMSECurveDisplay.from_estimator(
        fitted,
        B_test,
        X_test,
        baselines=[ISTA(dictionary=A, alpha=0.01, max_iter=5, tol=0.0)],
        name="mine",
        ax=ax,
        title="given",
    )
    assert display.ax_ is ax and display.figure_ is fig
    assert list(display.curves) == ["mine", "ISTA"]
    assert ax.get_title() == "given"
    alone = NMSECurveDisplay.from_estimator(fitted, B_test, X_test, baselines=None)
    assert list(alone.curves) == ["ALISTA"]
    plt.close("all")


def test_from_predictions_and_replotting():
    rng = np.random.RandomState(0)
    truth = rng.normal(size=(20, 5))
    staged = {
        "halving": [truth + 0.5**k * rng.normal(size=truth.shape) for k in range(6)]
    }
    display = NMSECurveDisplay.from_predictions(truth, staged)
    curve = display.curves["halving"]
    assert curve.shape == (6,)
    # each step halves the error's amplitude: about -6 dB a step
    np.testing.assert_allclose(np.diff(curve), -6.02, atol=1.5)
    fig, ax = plt.subplots()
    display.plot(ax=ax, log_x=True, title="again")
    assert display.ax_ is ax and ax.get_xscale() == "log"
    plt.close("all")


def test_curves_never_share_a_style():
    curves = {f"m{i}": np.arange(3.0) + i for i in range(24)}
    display = NMSECurveDisplay(curves).plot()
    styles = {
        (line.get_color(), line.get_linestyle()) for line in display.lines_.values()
    }
    assert len(styles) == 24
    plt.close(display.figure_)


def test_training_history_chains_the_stages(fitted):
    display = TrainingHistoryDisplay.from_estimator(fitted)
    assert len(display.lines_) == len(fitted.history_)
    # each stage's curve starts where the previous stages' steps end
    offset = 0
    for line, record in zip(display.lines_, fitted.history_):
        x, y = line.get_data()
        assert x[0] == offset and x[-1] == offset + record["steps"]
        assert min(y) == pytest.approx(record["val_score"])
        offset += record["steps"]
    assert display.ax_.get_ylabel() == "validation NMSE (dB)"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["layerwise", "refinement"]
    plt.close(display.figure_)


def test_training_history_of_the_other_loops(small_problem):
    B, X, _, _, A = small_problem
    geometric = ALISTA(
        dictionary=A, n_layers=4, refinement_steps=60, device="cpu", random_state=0
    )
    display = TrainingHistoryDisplay.from_estimator(geometric.fit(B, X))
    assert len(display.lines_) == len(geometric.history_) == 3
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["search", "refinement"]
    plt.close(display.figure_)
    search = HyperLISTA(dictionary=A, n_layers=3, device="cpu", random_state=0)
    display = TrainingHistoryDisplay.from_estimator(search.fit(B[:500], X[:500]))
    assert len(display.lines_) == 2  # two search rounds
    rng = np.random.RandomState(0)
    meta = LearnedOptimizer(
        n_steps=5,
        train_steps=4,
        unroll_length=2,
        max_episodes=4,
        batch_size=8,
        hidden_size=4,
        validation_interval=2,
        device="cpu",
        random_state=0,
    ).fit(rng.normal(size=(40, 3)))
    display = TrainingHistoryDisplay.from_estimator(meta)
    assert display.ax_.get_ylabel() == "validation meta-loss"
    plt.close("all")
