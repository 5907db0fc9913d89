"""Training from fresh pairs (a sampler) against a fixed training set.

For each draw, a Gaussian dictionary and noiseless pairs of the package's
sparse-recovery model. The solver trains twice with the same budget
(``--steps`` per stage, a refinement of ``--refinement`` steps): on a fixed
set of ``--n-train`` pairs, and from a
:class:`~sklearn_l2o.datasets.SparseRecoverySampler` that draws every batch
afresh (validating on 10% of the fixed set's size, drawn once). Both are
scored on the same held-out pairs. Prints one JSON line per draw, then the
median and worst. Only the public API is used.

    python benchmarks/sampler.py --method LISTACPSS --draws 3
"""

import argparse
import json
import time

import numpy as np

import sklearn_l2o
from sklearn_l2o.datasets import SparseRecoverySampler, make_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def run_draw(seed, args):
    m, n = args.shape
    n_val = args.n_train // 10
    B, X, A = make_sparse_recovery(
        args.n_train + args.n_test, n_features=m, n_components=n, random_state=seed
    )
    B_test, X_test = B[args.n_train :], X[args.n_train :]
    budget = dict(
        dictionary=A,
        max_steps_per_stage=args.steps,
        patience=max(args.steps // 2, 1),
        refinement_steps=args.refinement,
        refinement_patience=max(args.refinement // 2, 1),
        device=args.device,
        random_state=seed,
    )
    estimator = getattr(sklearn_l2o, args.method)
    row = {"draw": seed}
    start = time.perf_counter()
    fixed = estimator(**budget).fit(B[: args.n_train], X[: args.n_train])
    row["fixed fit s"] = time.perf_counter() - start
    row["fixed steps"] = fixed.n_iter_
    row["fixed NMSE"] = nmse_db(X_test, fixed.predict(B_test))
    sampler = SparseRecoverySampler(A)
    B_val, X_val = sampler.draw(n_val, random_state=seed + 1000)
    start = time.perf_counter()
    fresh = estimator(**budget).fit(B_val, X_val, sampler=sampler)
    row["fresh fit s"] = time.perf_counter() - start
    row["fresh steps"] = fresh.n_iter_
    row["fresh NMSE"] = nmse_db(X_test, fresh.predict(B_test))
    print(json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="LISTACPSS")
    parser.add_argument("--draws", type=int, default=3, help="seeds 0 .. draws-1")
    parser.add_argument("--shape", type=int, nargs=2, default=(250, 500))
    parser.add_argument("--n-train", type=int, default=51200)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100, help="steps per stage")
    parser.add_argument("--refinement", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    rows = [run_draw(seed, args) for seed in range(args.draws)]
    print(f"\n{args.method}: NMSE (dB), steps or seconds, median / worst")
    for name in rows[0]:
        if name == "draw":
            continue
        values = [row[name] for row in rows]
        print(f"{name:16s} {np.median(values):10.2f} / {max(values):10.2f}")


if __name__ == "__main__":
    main()
