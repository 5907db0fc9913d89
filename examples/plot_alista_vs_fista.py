"""
=============================================
ALISTA against ISTA and FISTA, layer by layer
=============================================

A 16-layer :class:`~sklearn_l2o.ALISTA` is trained on (b, x) pairs of a
noiseless sparse-recovery problem, and its test NMSE after each layer is drawn
next to the NMSE of ISTA and FISTA after each of their first 300 iterations on
the same test signals. ALISTA learns only a step size and a threshold per
layer; with them, its 16 layers recover the codes far more accurately than the
classic solvers do in hundreds of iterations.

The training budget is cut down so that the script runs in under a minute
on 2 CPU cores (31 s measured, see the note at the end); set the environment
variable ``SKLEARN_L2O_EXAMPLE_QUICK=1`` for a seconds-long version.
"""

# %%
# The problem
# -----------
# Codes of length 128 with about 10 % non-zero entries, measured through a
# 64 x 128 Gaussian dictionary with unit-norm columns. ALISTA trains on
# 5,000 pairs (a tenth of them held out for early stopping) and is tested on
# 500 new ones.
import os
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import ALISTA, FISTA, ISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

quick = bool(os.environ.get("SKLEARN_L2O_EXAMPLE_QUICK"))
m, n = (32, 64) if quick else (64, 128)
n_train, n_layers, n_iter = (1000, 4, 30) if quick else (5000, 16, 300)

B, X, A = make_sparse_recovery(n_train, n_features=m, n_components=n, random_state=0)
B_test, X_test, _ = make_sparse_recovery(500, dictionary=A, random_state=1)

# %%
# Training ALISTA
# ---------------
# The default schedule trains each layer in three stages of up to 300 steps
# and then all layers together for up to 16,000 steps; stages of at most 60
# steps and a refinement of at most 600 keep the example quick, at some cost
# in accuracy. ``verbose=1`` reports the progress of the stages.
alista = ALISTA(
    dictionary=A,
    n_layers=n_layers,
    max_steps_per_stage=20 if quick else 60,
    patience=30,
    validation_interval=20,
    refinement_steps=30 if quick else 600,
    refinement_patience=300,
    random_state=0,
    verbose=1,
).fit(B, X)
print(f"ALISTA trained in {alista.fit_seconds_:.1f} s on {alista.device_}")

# %%
# NMSE after each layer and iteration
# -----------------------------------
# ``staged_predict`` yields the estimate after every layer (or iteration).
# ISTA and FISTA solve the LASSO with l1 weight 0.001; ``tol=0`` keeps them
# iterating for all ``max_iter`` iterations.
curves = {"ALISTA": [nmse_db(X_test, x) for x in alista.staged_predict(B_test)]}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for solver in (ISTA, FISTA):
        est = solver(dictionary=A, alpha=1e-3, max_iter=n_iter, tol=0.0)
        est.fit(B_test[:1])
        curves[solver.__name__] = [
            nmse_db(X_test, x) for x in est.staged_predict(B_test)
        ]

for name, curve in curves.items():
    at = min(n_layers, len(curve))
    print(
        f"{name:7s} NMSE after {at} steps: {curve[at - 1]:7.1f} dB; "
        f"after {len(curve)}: {curve[-1]:7.1f} dB"
    )

# %%
# The figure
# ----------
# The iteration axis is logarithmic: ALISTA's 16 layers sit at the left,
# where the classic solvers have barely started.
fig, ax = plt.subplots(figsize=(7, 4.5))
styles = {"ALISTA": "o-", "ISTA": "-", "FISTA": "--"}
for name, curve in curves.items():
    ax.plot(range(1, len(curve) + 1), curve, styles[name], label=name, markersize=4)
ax.axvline(n_layers, color="0.6", linewidth=0.8, linestyle=":")
ax.set_xscale("log")
ax.set_xlabel("layer (ALISTA) or iteration (ISTA, FISTA)")
ax.set_ylabel("test NMSE (dB)")
ax.set_title(
    f"Noiseless sparse recovery, A of size {m} x {n}, {len(B_test)} test signals"
)
ax.grid(True, which="both", alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

# %%
# Run time
# --------
# The package's defaults (``ALISTA(dictionary=A)``) train for much longer:
# stages of up to 300 steps and a refinement of up to 16,000.
#
# Measured on 2 CPU cores shared with other jobs (load average about 3.5),
# with one torch thread (``OMP_NUM_THREADS=1``): 31 s in all, 25 s of it
# training ALISTA. With torch's default two threads on the same busy cores
# ``plot_alista_vs_fista.py`` took 4 minutes instead of 31 s: on problems this
# small, threads that wait for each other on a busy machine lose far more than
# they gain, so set ``OMP_NUM_THREADS=1`` on a shared machine.
