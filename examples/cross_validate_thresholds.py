"""Cross-validate thresholds: HyperLISTA's (c1, c2, c3) against FISTA's alpha.

Both solvers get 16 iterations. FISTA's one knob is the l1 weight ``alpha``,
which sets its threshold; HyperLISTA computes a threshold, a momentum weight and
a support-selection count for every signal and layer from three factors
(c1, c2, c3). ``GridSearchCV`` with the NMSE scorer tunes each on the training
pairs of a 64 x 128 noiseless sparse-recovery problem; the script prints the
best parameters, the test NMSE of each tuned solver, and that of HyperLISTA's
own built-in search (``c1 = c2 = c3 = None``) for comparison.

Run: ``python examples/cross_validate_thresholds.py`` (about 20 seconds on one
CPU core; set SKLEARN_L2O_EXAMPLE_QUICK=1 for a seconds-long version).
"""

import os
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_l2o import FISTA, HyperLISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db, nmse_scorer

quick = bool(os.environ.get("SKLEARN_L2O_EXAMPLE_QUICK"))
if quick:
    m, n, n_train = 32, 64, 600
    hyper_grid = {"c1": [0.06, 0.12], "c2": [0.0, 0.04], "c3": [3.0, 6.0]}
    alphas = [0.03, 0.3]
else:
    m, n, n_train = 64, 128, 3000
    hyper_grid = {
        "c1": [0.06, 0.09, 0.12, 0.15],
        "c2": [0.0, 0.02, 0.05],
        "c3": [6.0, 13.0, 26.0],
    }
    alphas = [0.01, 0.03, 0.1, 0.3, 1.0]
n_layers = 16

B, X, A = make_sparse_recovery(n_train, n_features=m, n_components=n, random_state=0)
B_test, X_test, _ = make_sparse_recovery(1000, dictionary=A, random_state=1)

hyper_search = GridSearchCV(
    HyperLISTA(dictionary=A, n_layers=n_layers, device="cpu", random_state=0),
    hyper_grid,
    scoring=nmse_scorer,
    cv=3,
).fit(B, X)

with warnings.catch_warnings():
    # 16 iterations are far from FISTA's convergence, on purpose
    warnings.simplefilter("ignore", ConvergenceWarning)
    fista_search = GridSearchCV(
        FISTA(dictionary=A, max_iter=n_layers, device="cpu"),
        {"alpha": alphas},
        scoring=nmse_scorer,
        cv=3,
    ).fit(B, X)
    fista_test = nmse_db(X_test, fista_search.predict(B_test))

built_in = HyperLISTA(dictionary=A, n_layers=n_layers, device="cpu", random_state=0)
built_in.fit(B, X)

rows = [
    ("FISTA, GridSearchCV over alpha", fista_search.best_params_, fista_test),
    (
        "HyperLISTA, GridSearchCV over c",
        hyper_search.best_params_,
        nmse_db(X_test, hyper_search.predict(B_test)),
    ),
    (
        "HyperLISTA, built-in search",
        {"c1": built_in.c1_, "c2": built_in.c2_, "c3": built_in.c3_},
        nmse_db(X_test, built_in.predict(B_test)),
    ),
]
print(f"{m} x {n} noiseless sparse recovery, {n_layers} iterations, {n_train} pairs")
for name, params, test_nmse in rows:
    shown = ", ".join(f"{key}={value:.3g}" for key, value in params.items())
    print(f"{name:34s} best {shown:36s} test NMSE {test_nmse:7.1f} dB")
