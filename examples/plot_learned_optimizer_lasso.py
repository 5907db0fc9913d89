r"""
=================================================
A learned optimizer for LASSO against FISTA, Adam
=================================================

``LearnedOptimizer(architecture="proximal")`` meta-trains a small LSTM that
sets, for every coordinate, the step size and the momentum weight of a
proximal gradient step. It sees only the gradients of the squared residual
and is told the l1 term, not the dictionary. After meta-training on LASSO
instances it runs on new ones for 100 steps, as FISTA and Adam do; the figure
draws the relative loss

.. math::

   R_f = \frac{\mathbb{E}_q f_q(x_t) - \mathbb{E}_q f_q^\star}{\mathbb{E}_q f_q^\star}

of the three along the way.

Meta-training is cut down to a short budget so that the script runs in about
a minute on 2 CPU cores (67 s measured, see the note at the end); set the
environment variable ``SKLEARN_L2O_EXAMPLE_QUICK=1`` for a seconds-long
version.
"""

# %%
# LASSO instances
# ---------------
# Each instance is :math:`\tfrac12\|Ax - b_q\|^2 + 0.005\|x\|_1` with a
# shared 25 x 50 dictionary; ``optimal_value`` holds every test instance's
# minimum, from a long FISTA run.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import FISTA, AnalyticOptimizer, LearnedOptimizer
from sklearn_l2o.datasets import make_lasso_problems
from sklearn_l2o.metrics import lasso_objective, nmse_db

quick = bool(os.environ.get("SKLEARN_L2O_EXAMPLE_QUICK"))
m, n = (5, 10) if quick else (25, 50)
n_train, n_test, episodes = (400, 100, 2) if quick else (3200, 640, 20)
alpha, n_steps = 0.005, 100

train = make_lasso_problems(
    n_train,
    n_features=m,
    n_components=n,
    alpha=alpha,
    return_optimal=False,
    random_state=0,
)
test = make_lasso_problems(
    n_test, dictionary=train.dictionary, alpha=alpha, random_state=1
)
A, f_star = test.dictionary, test.optimal_value.mean()


def relative_loss(values):
    """R_f of the mean objective: one number per row of ``values``."""
    values = np.atleast_2d(values)
    return (values.mean(axis=1) - f_star) / f_star


# %%
# Meta-training
# -------------
# Each episode runs the rule for 100 steps on 128 training instances and
# updates its weights by truncated back-propagation through time, every 20
# steps. The default budget is 200 episodes; 20 are enough here for the rule
# to overtake FISTA. ``verbose=1`` reports every validation.
learned = LearnedOptimizer(
    train.family,
    architecture="proximal",
    n_steps=n_steps,
    max_episodes=episodes,
    learning_rate=3e-3,
    random_state=0,
    verbose=1,
).fit(train.data)
print(f"meta-trained in {learned.fit_seconds_:.1f} s on {learned.device_}")

# %%
# Running the optimizers
# ----------------------
# ``objective_curve`` returns the objective of every instance after each
# step; FISTA's iterates come from ``staged_predict``.
adam = AnalyticOptimizer(
    train.family, method="adam", learning_rate=1e-2, n_steps=n_steps
).fit(test.data)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    fista = FISTA(dictionary=A, alpha=alpha, max_iter=n_steps, tol=0.0)
    fista_iterates = list(fista.fit(test.data[:1]).staged_predict(test.data))
fista_values = [
    lasso_objective(A, test.data, x, alpha)
    for x in [np.zeros((n_test, n))] + fista_iterates
]
curves = {
    "learned (proximal)": relative_loss(learned.objective_curve(test.data)),
    "FISTA": relative_loss(np.array(fista_values)),
    "Adam (lr 0.01)": relative_loss(adam.objective_curve(test.data)),
}

final = {
    "learned (proximal)": learned.transform(test.data),
    "FISTA": fista_iterates[-1],
    "Adam (lr 0.01)": adam.transform(test.data),
}
print(f"{'method':<22} R_f@{n_steps:<5} NMSE (dB)")
for name, x in final.items():
    print(f"{name:<22} {curves[name][-1]:<9.4g} {nmse_db(test.codes, x):.1f}")

# %%
# Relative loss along the run
# ---------------------------
fig, ax = plt.subplots(figsize=(7, 4.5))
for (name, curve), style in zip(curves.items(), ("-", "--", ":")):
    ax.plot(np.arange(len(curve)), curve, style, label=name)
ax.set_yscale("log")
ax.set_xlabel("iteration")
ax.set_ylabel("relative loss $R_f$")
ax.set_title(f"LASSO, A of size {m} x {n}, l1 weight {alpha}, {n_test} test instances")
ax.grid(True, which="both", alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

# %%
# Run time
# --------
# More episodes improve the rule a little further: trained on 12,800
# instances for 300 episodes (11 minutes on one core) it reached
# R_f = 0.0031 at 100 steps.
#
# Measured on 2 CPU cores shared with other jobs (load average about 3.5),
# with one torch thread (``OMP_NUM_THREADS=1``): 67 s in all, 50 s of it
# meta-training. With torch's default two threads on the same busy cores
# ``plot_alista_vs_fista.py`` took 4 minutes instead of 31 s: on problems this
# small, threads that wait for each other on a busy machine lose far more than
# they gain, so set ``OMP_NUM_THREADS=1`` on a shared machine.
