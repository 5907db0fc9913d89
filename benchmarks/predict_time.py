"""Time ``predict`` of 16-layer solvers against the matrix-product bound.

Fits ALISTA, TiLISTA, LISTA-CPSS (each with a short budget: the timing does
not depend on how well they are trained, only on how many rows need a partial
sort) and HyperLISTA on the canonical 250 x 500 problem, then times
``predict`` of 1,000 test signals beside the two float32 matrix products each
layer cannot avoid (``x A^T`` and ``r W``, 16 times over): the bound. Timings
alternate between the solvers and the bound, and each is the best of
``--repeats`` runs, so that a busy machine slows both alike. Prints one JSON
line per solver.

    python benchmarks/predict_time.py --threads 2
"""

import argparse
import json
import time

import numpy as np
import torch

from sklearn_l2o import ALISTA, LISTACPSS, HyperLISTA, TiLISTA
from sklearn_l2o.datasets import load_sparse_recovery

SOLVERS = {
    "ALISTA": ALISTA,
    "TiLISTA": TiLISTA,
    "LISTA-CPSS": LISTACPSS,
    "HyperLISTA": HyperLISTA,
}


def matmul_bound(dictionary, n_signals, n_layers):
    """A callable running the 2 x ``n_layers`` float32 products of a forward
    pass on ``n_signals`` rows (a dense x, as the worst case)."""
    generator = torch.Generator().manual_seed(0)
    A = torch.tensor(dictionary, dtype=torch.float32)
    W = torch.randn(A.shape, generator=generator)
    x = torch.randn(n_signals, A.shape[1], generator=generator)

    def run():
        y = x
        for _ in range(n_layers):
            y = (y @ A.T) @ W
        return y

    return run


def seconds_of(run, *args):
    start = time.perf_counter()
    run(*args)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=15, help="timings per solver")
    parser.add_argument("--steps", type=int, default=50, help="steps per stage")
    parser.add_argument("--n-train", type=int, default=5000, help="training pairs")
    parser.add_argument("--n-test", type=int, default=1000, help="signals predicted")
    parser.add_argument("--seed", type=int, default=0, help="the problem's draw")
    parser.add_argument("--methods", nargs="+", default=list(SOLVERS))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.methods) - set(SOLVERS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {list(SOLVERS)}")
    torch.set_num_threads(args.threads)

    data = load_sparse_recovery(
        "canonical", n_train=args.n_train, n_test=args.n_test, random_state=args.seed
    )
    budget = dict(
        max_steps_per_stage=args.steps,
        patience=args.steps,
        refinement_steps=args.steps,
        refinement_patience=args.steps,
    )
    bound = matmul_bound(data.dictionary, args.n_test, 16)
    B = np.ascontiguousarray(data.B_test, dtype=np.float32)
    for name in args.methods:
        options = {} if name == "HyperLISTA" else budget
        model = SOLVERS[name](
            dictionary=data.dictionary,
            n_layers=16,
            device="cpu",
            random_state=args.seed,
            **options,
        ).fit(data.B_train, data.X_train)
        model.predict(B)  # warm-up
        bound()
        predict, matmul = [], []
        for _ in range(args.repeats):
            predict.append(seconds_of(model.predict, B))
            matmul.append(seconds_of(bound))
        row = {
            "method": name,
            "threads": args.threads,
            "n_signals": args.n_test,
            "predict_ms": round(1000 * min(predict), 1),
            "matmul_bound_ms": round(1000 * min(matmul), 1),
            "ratio": round(min(predict) / min(matmul), 2),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
