"""FixedPointALISTA against ALISTA followed by FISTA iterations.

For each draw, a Gaussian dictionary (250 x 500 by default, unit-norm atoms)
and noiseless pairs of the package's sparse-recovery model. FixedPointALISTA
trains with its defaults and is scored after 16, 30 and 100 iterations;
ALISTA trains with a shortened budget (``--steps`` per stage, a refinement of
``--refinement`` steps) and is scored after its 16 layers and after 84 more
FISTA iterations (``continuation_iter=84``, its ``alpha``), 100 in all. Prints
one JSON line per draw, then the median and worst over the draws. Only the
public API is used.

    python benchmarks/fixed_point_alista.py --draws 3
"""

import argparse
import json
import time

import numpy as np

from sklearn_l2o import ALISTA, FixedPointALISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def run_draw(seed, args):
    m, n = args.shape
    B, X, A = make_sparse_recovery(
        args.n_train + args.n_test, n_features=m, n_components=n, random_state=seed
    )
    B, X, B_test, X_test = (
        B[: args.n_train],
        X[: args.n_train],
        B[args.n_train :],
        X[args.n_train :],
    )
    row = {"draw": seed}
    start = time.perf_counter()
    fixed = FixedPointALISTA(dictionary=A, device=args.device, random_state=seed)
    fixed.fit(B, X)
    row["FixedPointALISTA fit s"] = time.perf_counter() - start
    for n_iter in (16, 30, 100):
        fixed.set_params(max_iter=n_iter, tol=0.0)
        row[f"FixedPointALISTA@{n_iter}"] = nmse_db(X_test, fixed.predict(B_test))
    start = time.perf_counter()
    alista = ALISTA(
        dictionary=A,
        device=args.device,
        random_state=seed,
        max_steps_per_stage=args.steps,
        patience=max(args.steps // 2, 1),
        refinement_steps=args.refinement,
        refinement_patience=max(args.refinement // 2, 1),
    ).fit(B, X)
    row["ALISTA fit s"] = time.perf_counter() - start
    row["ALISTA@16"] = nmse_db(X_test, alista.predict(B_test))
    alista.set_params(continuation_iter=84)
    row["ALISTA@16+FISTA@84"] = nmse_db(X_test, alista.predict(B_test))
    print(json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3, help="seeds 0 .. draws-1")
    parser.add_argument("--shape", type=int, nargs=2, default=(250, 500))
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100, help="ALISTA's stage steps")
    parser.add_argument(
        "--refinement", type=int, default=1000, help="ALISTA's refinement steps"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    rows = [run_draw(seed, args) for seed in range(args.draws)]
    print(f"\nNMSE (dB) or seconds, median / worst over {args.draws} draws")
    for name in rows[0]:
        if name == "draw":
            continue
        values = [row[name] for row in rows]
        print(f"{name:24s} {np.median(values):9.2f} / {max(values):9.2f}")


if __name__ == "__main__":
    main()
