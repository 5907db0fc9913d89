"""How far below FISTA can a 16-layer model get on LASSO (25, 50)?

Issue 4 asks that FISTA need at least 20x more iterations than a 16-layer
model to reach the model's relative loss R_f. This script trains one unrolled
estimator on the LASSO objective (``loss="lasso"``) on the lasso benchmark's
instances (``make_lasso_problems``, seeds 0 / 1, lambda 0.005; ``--instances
uniform`` for the survey code's U[0, 1) rows, as the benchmark's option) and
prints one JSON line: R_f at every layer on the test set and on the training
set, the number of FISTA iterations that reach the model's R_f at 16 layers,
and, as references, FISTA's R_f at a few depths and the R_f of the true sparse
codes (null for the uniform rows, which have none).

    python benchmarks/lasso_unrolled.py ALISTA \\
        '{"support_fraction": 0, "max_support_fraction": 0}'
    python benchmarks/lasso_unrolled.py LISTA '{"weight_init": "analytic",
        "parametrization": "coupled_residual", "weight_rate": 0.01,
        "learning_rate": 0.02, "plateau_decays": 0, "threshold_search": false}'
        --n-train 102400

Options not given take the lasso benchmark's unrolled budget (stages of 500
steps, patience 200, refinement 8,000 / 2,000).
"""

import argparse
import json
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

import sklearn_l2o
from sklearn_l2o.datasets import make_lasso_problems
from sklearn_l2o.metrics import lasso_objective

LAM = 0.005
BUDGET = dict(
    max_steps_per_stage=500,
    patience=200,
    refinement_steps=8000,
    refinement_patience=2000,
)


def relative(A, data, X, f_star):
    mean_star = f_star.mean()
    return float((lasso_objective(A, data, X, LAM).mean() - mean_star) / mean_star)


def fista_curve(A, data, f_star, n_iter):
    solver = sklearn_l2o.FISTA(
        dictionary=A, alpha=LAM, max_iter=n_iter, tol=0.0, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        solver.fit(data[:1])
        return np.array(
            [relative(A, data, X, f_star) for X in solver.staged_predict(data)]
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solver", help="an unrolled estimator of sklearn_l2o")
    parser.add_argument("options", nargs="?", default="{}", help="JSON options")
    parser.add_argument("--n-train", type=int, default=12800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--instances",
        choices=("sparse", "uniform", "normal"),
        default="sparse",
        help="make_lasso_problems' distribution (the lasso benchmark's --instances)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = dict(BUDGET, **json.loads(args.options))
    train = make_lasso_problems(
        args.n_train, distribution=args.instances, random_state=args.seed
    )
    test = make_lasso_problems(
        1280,
        dictionary=train.dictionary,
        distribution=args.instances,
        random_state=args.seed + 1,
    )
    A = train.dictionary
    fista = fista_curve(A, test.data, test.optimal_value, 1000)
    start = time.time()
    model = getattr(sklearn_l2o, args.solver)(
        dictionary=A,
        n_layers=16,
        loss="lasso",
        alpha=LAM,
        device="cpu",
        random_state=args.seed,
        **options,
    ).fit(train.data)
    fit = time.time() - start
    staged = [
        relative(A, test.data, X, test.optimal_value)
        for X in model.staged_predict(test.data)
    ]
    reached = np.flatnonzero(fista <= staged[-1])
    iters = int(reached[0]) + 1 if reached.size else None
    out = {
        "solver": args.solver,
        "options": options,
        "n_train": args.n_train,
        "seed": args.seed,
        "instances": args.instances,
        "R_f_16": staged[-1],
        "R_f_16_train": relative(
            A, train.data, model.predict(train.data), train.optimal_value
        ),
        "fista_iterations_to_match": iters,
        "ratio": None if iters is None else iters / 16,
        "fit_seconds": round(fit, 1),
        "train_steps": int(model.n_iter_),
        "R_f_per_layer": [float(f"{v:.4g}") for v in staged],
        "fista_R_f": {k: float(f"{fista[k - 1]:.4g}") for k in (16, 100, 320, 1000)},
        "true_codes_R_f": (
            None
            if test.codes is None
            else relative(A, test.data, test.codes, test.optimal_value)
        ),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
