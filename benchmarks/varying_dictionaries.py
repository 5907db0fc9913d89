"""Sparse recovery when the dictionary changes: ALISTA, RobustALISTA, AdaLISTA.

For each draw, a Gaussian dictionary A (unit-norm columns) and noiseless
training pairs; ALISTA trains on A, RobustALISTA (the unrolled encoder, and
its oracle with the closed-form weight of every dictionary) and AdaLISTA on
random perturbations of it (their default ``perturbation=0.03``). Test
signals are measured with perturbed dictionaries A + sigma N(0, 1) (unit-norm
columns), ``--groups`` dictionaries per sigma, each shared by the same number
of signals; the solvers that take a dictionary are given it, ALISTA (which
cannot) uses its own, and FISTA runs 16 and 100 iterations on the true
dictionary. All learned solvers get the same training budget. Prints one row
per method with the NMSE (dB) per sigma, median and worst over the draws, and
the fit and predict times. Only the public API is used.

    python benchmarks/varying_dictionaries.py --draws 3
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_l2o import ALISTA, FISTA, AdaLISTA, RobustALISTA
from sklearn_l2o.datasets import make_sparse_recovery, perturb_dictionary
from sklearn_l2o.metrics import nmse_db

SIGMAS = (0.0, 0.01, 0.02, 0.03)


def methods(A, seed, budget):
    common = dict(dictionary=A, device="cpu", random_state=seed, **budget)
    return {
        "ALISTA (nominal W)": ALISTA(**common),
        "RobustALISTA": RobustALISTA(**common),
        "RobustALISTA closed_form": RobustALISTA(encoder="closed_form", **common),
        "AdaLISTA": AdaLISTA(**common),
    }


def test_sets(A, X_test, groups, seed):
    """Per sigma: a list of (dictionary, measurements, codes), one per group."""
    sets = {}
    for i, sigma in enumerate(SIGMAS):
        D = perturb_dictionary(A, sigma, n_dictionaries=groups, random_state=seed + i)
        sets[sigma] = [
            (D[g], codes @ D[g].T, codes)
            for g, codes in enumerate(np.array_split(X_test, groups))
        ]
    return sets


def score(predict, groups):
    codes = np.vstack([x for *_, x in groups])
    start = time.perf_counter()
    estimate = np.vstack([predict(b, D) for D, b, _ in groups])
    return nmse_db(codes, estimate), time.perf_counter() - start


def run_draw(seed, args, budget):
    m, n = args.shape
    B, X, A = make_sparse_recovery(
        args.n_train + args.n_test, n_features=m, n_components=n, random_state=seed
    )
    sets = test_sets(A, X[args.n_train :], args.groups, 1000 * seed + 1)
    rows = {}
    for name, model in methods(A, seed, budget).items():
        start = time.perf_counter()
        model.fit(B[: args.n_train], X[: args.n_train])
        row = {"fit_s": time.perf_counter() - start}
        if isinstance(model, ALISTA):  # one dictionary: it cannot take another

            def predict(b, D, model=model):
                return model.predict(b)

        else:

            def predict(b, D, model=model):
                return model.predict(b, dictionaries=D)

        for sigma, groups in sets.items():
            row[sigma], row[f"predict_s_{sigma}"] = score(predict, groups)
        rows[name] = row
        print(json.dumps({"draw": seed, "method": name, **row}), flush=True)
    for n_iter in (16, 100):

        def fista(b, D, n_iter=n_iter):
            solver = FISTA(dictionary=D, alpha=args.alpha, max_iter=n_iter, tol=0)
            with warnings.catch_warnings():  # a fixed budget, not a convergence
                warnings.simplefilter("ignore", ConvergenceWarning)
                return solver.fit(b).predict(b)

        row = {sigma: score(fista, groups)[0] for sigma, groups in sets.items()}
        rows[f"FISTA@{n_iter}"] = row
        print(json.dumps({"draw": seed, "method": f"FISTA@{n_iter}", **row}))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=2, default=(250, 500))
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.005, help="FISTA's l1 weight")
    parser.add_argument(
        "--steps", type=int, default=100, help="max_steps_per_stage of every solver"
    )
    parser.add_argument(
        "--refinement", type=int, default=1000, help="refinement_steps (patience half)"
    )
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    budget = dict(
        max_steps_per_stage=args.steps,
        refinement_steps=args.refinement,
        refinement_patience=max(args.refinement // 2, 1),
    )
    draws = [run_draw(seed, args, budget) for seed in range(args.draws)]
    print(f"\nNMSE (dB), median / worst over {args.draws} draws")
    print(f"{'method':28s}" + "".join(f"  sigma={s:<11g}" for s in SIGMAS) + "  fit")
    for name in draws[0]:
        cells = []
        for sigma in SIGMAS:
            values = [d[name][sigma] for d in draws]
            cells.append(f"  {np.median(values):6.1f} / {max(values):5.1f}")
        fit = [d[name].get("fit_s", 0.0) for d in draws]
        print(f"{name:28s}" + "".join(cells) + f"  {np.median(fit):6.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(draws, f, indent=1)


if __name__ == "__main__":
    main()
