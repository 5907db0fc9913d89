"""Training from fresh pairs (a sampler) against a fixed training set.

For each draw, a Gaussian dictionary and noiseless pairs of the package's
sparse-recovery model. The solver trains twice with the same budget
(``--steps`` per stage, a refinement of ``--refinement`` steps): on a fixed
set of ``--n-train`` pairs, and from a
:class:`~sklearn_l2o.datasets.SparseRecoverySampler` that draws every batch
afresh (validating on 10% of the fixed set's size, drawn once). Both are
scored on the same held-out pairs. Prints one JSON line per draw, then the
median and worst. Only the public API is used.

With ``--task lasso`` the problem is the LASSO task of
``python -m sklearn_l2o.benchmark lasso`` instead (25 x 50, l1 weight 0.005,
measurements of sparse codes): LISTA with that benchmark's options and
budget trains on the LASSO objective, from ``--n-train`` fixed instances or
from fresh ones (the same sampler: the task's instances are its
measurements), and is scored by the relative loss
R_f = (E f(x_16) - E f*) / E f* on 1,280 unseen instances.

``--distribution uniform`` or ``normal`` draws the LASSO instances' entries
from U[0, 1) or N(0, 1) instead (as :func:`make_lasso_problems` does; the
fresh instances then come from a :class:`~sklearn_l2o.datasets.LassoSampler`).
``--fresh-refinement`` gives the fit from fresh data a refinement budget of
its own (default: ``--refinement``); a smaller one caps its steps below the
fixed fit's, to ask whether fresh data reaches the same quality in no more
steps.

    python benchmarks/sampler.py --method LISTACPSS --draws 3
    python benchmarks/sampler.py --task lasso --draws 3
    python benchmarks/sampler.py --task lasso --draws 3 --fresh-refinement 4800
"""

import argparse
import json
import time

import numpy as np
import torch

import sklearn_l2o
from sklearn_l2o import LISTA
from sklearn_l2o.datasets import (
    LassoSampler,
    SparseRecoverySampler,
    make_lasso_problems,
    make_sparse_recovery,
)
from sklearn_l2o.metrics import nmse_db

#: LISTA on the LASSO objective, as the LASSO benchmark trains it
LASSO_LISTA = dict(
    loss="lasso",
    alpha=0.005,
    weight_init="analytic",
    parametrization="coupled_residual",
    weight_rate=0.01,
    learning_rate=0.02,
    plateau_decays=0,
    threshold_search=False,
)


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


def relative_loss(problems, codes):
    """R_f of ``codes`` on the instances ``problems``."""
    f = problems.family.objective(
        torch.as_tensor(codes), torch.as_tensor(problems.data)
    )
    f_star = problems.optimal_value.mean()
    return (float(f.mean()) - f_star) / f_star


def lasso_refinement(steps):
    """The LASSO benchmark's refinement: ``steps`` per stage, patience a quarter."""
    return dict(refinement_steps=steps, refinement_patience=max(steps // 4, 1))


def run_lasso_draw(seed, args):
    m, n = args.shape
    train = make_lasso_problems(
        args.n_train,
        n_features=m,
        n_components=n,
        distribution=args.distribution,
        return_optimal=False,
        random_state=seed,
    )
    A = train.dictionary
    test = make_lasso_problems(
        args.n_test, dictionary=A, distribution=args.distribution, random_state=seed + 1
    )
    options = dict(
        LASSO_LISTA,
        dictionary=A,
        max_steps_per_stage=args.steps,
        patience=max(args.steps * 2 // 5, 1),
        **lasso_refinement(args.refinement),
        device=args.device,
        random_state=seed,
    )
    row = {"draw": seed}
    start = time.perf_counter()
    fixed = LISTA(**options).fit(train.data)
    row["fixed fit s"] = time.perf_counter() - start
    row["fixed steps"] = fixed.n_iter_
    row["fixed R_f@16"] = relative_loss(test, fixed.predict(test.data))
    sampler = LassoSampler(A, distribution=args.distribution)
    B_val, _ = sampler.draw(args.n_train // 10, random_state=seed + 1000)
    fresh_options = dict(options, **lasso_refinement(args.fresh_refinement))
    start = time.perf_counter()
    fresh = LISTA(**fresh_options).fit(B_val, sampler=sampler)
    row["fresh fit s"] = time.perf_counter() - start
    row["fresh steps"] = fresh.n_iter_
    row["fresh R_f@16"] = relative_loss(test, fresh.predict(test.data))
    print(json.dumps({k: float(f"{v:.4g}") for k, v in row.items()}), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["recovery", "lasso"], default="recovery")
    parser.add_argument("--method", default="LISTACPSS", help="recovery task only")
    parser.add_argument("--draws", type=int, default=3, help="seeds 0 .. draws-1")
    # defaults: recovery task, then lasso task (the LASSO benchmark's)
    parser.add_argument("--shape", type=int, nargs=2, help="250 500; lasso: 25 50")
    parser.add_argument("--n-train", type=int, help="fixed set: 51200; lasso: 12800")
    parser.add_argument("--n-test", type=int, help="2000; lasso: 1280")
    parser.add_argument("--steps", type=int, help="steps per stage: 100; lasso: 500")
    parser.add_argument("--refinement", type=int, help="1000; lasso: 8000")
    parser.add_argument(
        "--fresh-refinement",
        type=int,
        help="lasso: the fresh fit's refinement budget (default: --refinement)",
    )
    parser.add_argument(
        "--distribution",
        choices=["sparse", "uniform", "normal"],
        default="sparse",
        help="lasso: how the instances are drawn",
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    lasso = args.task == "lasso"
    defaults = dict(
        shape=(25, 50) if lasso else (250, 500),
        n_train=12800 if lasso else 51200,
        n_test=1280 if lasso else 2000,
        steps=500 if lasso else 100,
        refinement=8000 if lasso else 1000,
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.fresh_refinement is None:
        args.fresh_refinement = args.refinement
    run = run_lasso_draw if lasso else run_draw
    rows = [run(seed, args) for seed in range(args.draws)]
    what = "LISTA: R_f" if lasso else f"{args.method}: NMSE (dB)"
    print(f"\n{what}, steps or seconds, median / worst")
    for name in rows[0]:
        if name == "draw":
            continue
        values = [row[name] for row in rows]
        print(f"{name:16s} {np.median(values):10.4g} / {max(values):10.4g}")


if __name__ == "__main__":
    main()
