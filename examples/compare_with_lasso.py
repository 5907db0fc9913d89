"""A trained ALISTA against scikit-learn's Lasso: accuracy and time.

Lasso solves one optimisation problem per signal; ALISTA runs 16 learned layers.
``sklearn.linear_model.Lasso`` minimises (1 / (2 m)) ||b - A x||^2 + a ||x||_1,
so ``a = alpha / m`` matches ``FISTA(alpha=alpha)``.

Run: ``python examples/compare_with_lasso.py`` (about a minute on 2 CPU cores;
set SKLEARN_L2O_EXAMPLE_QUICK=1 for a seconds-long version).
"""

import os
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from sklearn_l2o import ALISTA, FISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db

quick = bool(os.environ.get("SKLEARN_L2O_EXAMPLE_QUICK"))
n_train, n_layers, steps = (1000, 4, 30) if quick else (10000, 16, 200)
m, n = (32, 64) if quick else (125, 250)
alpha = 1e-3

B, X, A = make_sparse_recovery(n_train, n_features=m, n_components=n, random_state=0)
B_test, X_test, _ = make_sparse_recovery(1000, dictionary=A, random_state=1)

start = time.perf_counter()
alista = ALISTA(
    dictionary=A,
    n_layers=n_layers,
    refinement_steps=10 * steps,
    refinement_patience=3 * steps,
    random_state=0,
).fit(B, X)
print(f"ALISTA trained in {time.perf_counter() - start:.1f} s on {alista.device_}")

rows = []
start = time.perf_counter()
X_alista = alista.predict(B_test)
rows.append(("ALISTA", nmse_db(X_test, X_alista), time.perf_counter() - start))

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    lasso = Lasso(alpha=alpha / m, fit_intercept=False, max_iter=10000)
    X_lasso = lasso.fit(A, B_test.T).coef_
    rows.append(("Lasso", nmse_db(X_test, X_lasso), time.perf_counter() - start))

    start = time.perf_counter()
    fista = FISTA(dictionary=A, alpha=alpha, max_iter=n_layers, tol=0.0).fit(B_test[:1])
    X_fista = fista.predict(B_test)
    rows.append(
        (
            f"FISTA ({n_layers} it)",
            nmse_db(X_test, X_fista),
            time.perf_counter() - start,
        )
    )

print(f"{'method':16s} {'NMSE (dB)':>10s} {'seconds':>9s}")
for name, err, seconds in rows:
    print(f"{name:16s} {err:10.1f} {seconds:9.3f}")
