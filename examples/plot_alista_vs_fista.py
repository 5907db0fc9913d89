"""ALISTA against ISTA and FISTA: NMSE after each layer / iteration.

Trains a 16-layer ALISTA on (b, x) pairs of a 125 x 250 sparse-recovery problem
and plots its test NMSE layer by layer next to the first 200 iterations of ISTA
and FISTA on the same test signals. Writes ``alista_vs_fista.png``.

Run: ``python examples/plot_alista_vs_fista.py`` (about a minute on 2 CPU cores;
set SKLEARN_L2O_EXAMPLE_QUICK=1 for a seconds-long version).
"""

import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from sklearn_l2o import ALISTA, FISTA, ISTA  # noqa: E402
from sklearn_l2o.datasets import make_sparse_recovery  # noqa: E402
from sklearn_l2o.metrics import nmse_db  # noqa: E402

quick = bool(os.environ.get("SKLEARN_L2O_EXAMPLE_QUICK"))
n_train, n_layers, steps = (1000, 4, 30) if quick else (10000, 16, 200)
m, n = (32, 64) if quick else (125, 250)

B, X, A = make_sparse_recovery(n_train, n_features=m, n_components=n, random_state=0)
B_test, X_test, _ = make_sparse_recovery(500, dictionary=A, random_state=1)

alista = ALISTA(
    dictionary=A,
    n_layers=n_layers,
    refinement_steps=10 * steps,
    refinement_patience=3 * steps,
    random_state=0,
).fit(B, X)
curves = {"ALISTA": [nmse_db(X_test, x) for x in alista.staged_predict(B_test)]}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for solver in (ISTA, FISTA):
        est = solver(dictionary=A, alpha=1e-3, max_iter=200, tol=0.0).fit(B_test[:1])
        curves[solver.__name__] = [
            nmse_db(X_test, x) for x in est.staged_predict(B_test)
        ]

fig, ax = plt.subplots(figsize=(6, 4))
for name, curve in curves.items():
    ax.plot(range(1, len(curve) + 1), curve, label=name)
ax.set_xscale("log")
ax.set_xlabel("layer / iteration")
ax.set_ylabel("test NMSE (dB)")
ax.legend()
ax.grid(True, alpha=0.3)
fig.tight_layout()
fig.savefig("alista_vs_fista.png", dpi=120)
for name, curve in curves.items():
    at = min(n_layers, len(curve))
    print(
        f"{name:7s} NMSE after {at} steps: {curve[at - 1]:7.1f} dB; "
        f"after {len(curve)}: {curve[-1]:7.1f} dB"
    )
