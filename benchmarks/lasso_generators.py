"""Does the FISTA-20x gap of issue 4 depend on how LASSO instances are drawn?

REFERENCE.md section 4 draws b_q = A x_q from sparse codes (what
``make_lasso_problems`` does). The survey's public code draws its model-free
LASSO instances differently: ``A`` and ``b`` with independent uniform [0, 1)
entries (L2O-DM / RNNprop) or standard normal ones (L2O-Scale). This script
draws one fixed 25 x 50 ``A`` and 12,800 training / 1,280 test ``b`` with
independent N(0, 1) (``gauss``) or U[0, 1) (``uniform``) entries, computes f*
with 8,000 FISTA iterations, trains ALISTA (no support selection) and LISTA
on the LASSO objective with the lasso benchmark's unrolled budget, and prints
R_f of FISTA at 16 / 100 / 1,000 iterations, each model's R_f at 16 layers and
the number of FISTA iterations that reach it.

    python benchmarks/lasso_generators.py gauss
    python benchmarks/lasso_generators.py uniform
"""

import sys
import time

import numpy as np
import torch

from sklearn_l2o import ALISTA, LISTA

torch.set_num_threads(1)
gen = sys.argv[1]
rng = np.random.default_rng(0)
m, n, lam = 25, 50, 0.005
if gen == "gauss":
    A = rng.standard_normal((m, n))

    def draw(count):
        return rng.standard_normal((count, m))
else:
    A = rng.random((m, n))

    def draw(count):
        return rng.random((count, m))


B_train, B_test = draw(12800), draw(1280)
L = np.linalg.norm(A, 2) ** 2


def objective(X, B):
    return 0.5 * ((X @ A.T - B) ** 2).sum(1) + lam * np.abs(X).sum(1)


def fista(B, iters):
    x = np.zeros((B.shape[0], n))
    y, t, values = x.copy(), 1.0, []
    for _ in range(iters):
        z = y - (y @ A.T - B) @ A / L
        x_new = np.sign(z) * np.maximum(np.abs(z) - lam / L, 0)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        y = x_new + (t - 1) / t_new * (x_new - x)
        x, t = x_new, t_new
        values.append(objective(x, B).mean())
    return np.array(values), x


values, x_star = fista(B_test, 8000)
f_star = objective(x_star, B_test).mean()
R = (values - f_star) / f_star
print(f"{gen} FISTA R@16 {R[15]:.4g} @100 {R[99]:.4g} @1000 {R[999]:.4g}", flush=True)
budget = dict(
    max_steps_per_stage=500,
    patience=200,
    refinement_steps=8000,
    refinement_patience=2000,
)
for cls, extra in [
    (ALISTA, dict(support_fraction=0.0, max_support_fraction=0.0)),
    (LISTA, {}),
]:
    start = time.time()
    model = cls(
        dictionary=A,
        n_layers=16,
        loss="lasso",
        alpha=lam,
        device="cpu",
        random_state=0,
        **budget,
        **extra,
    ).fit(B_train)
    r16 = (objective(model.predict(B_test), B_test).mean() - f_star) / f_star
    reached = np.where(R <= r16)[0]
    iters = int(reached[0]) + 1 if len(reached) else None
    ratio = None if iters is None else round(iters / 16, 1)
    print(
        gen,
        cls.__name__,
        f"R@16 {r16:.4g}",
        "FISTA iters for it:",
        iters,
        "ratio",
        ratio,
        "fit %.0f s" % (time.time() - start),
        flush=True,
    )
