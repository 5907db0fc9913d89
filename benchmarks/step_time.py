"""Time a training step and ``predict`` of a 16-layer ALISTA (a GPU check).

Fits ``sklearn_l2o.ALISTA`` on the canonical 250 x 500 problem with a small
fixed budget (patience as long as each stage, so no stage stops early), divides
the fit time by the steps taken, and times ``predict`` of 1,000 signals (best
of three after a warm-up). Only public estimators and dataset loaders are used.
Prints one JSON line per measurement.

    python benchmarks/step_time.py --device cuda
"""

import argparse
import json
import time

from sklearn_l2o import ALISTA
from sklearn_l2o.datasets import load_sparse_recovery


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--steps",
        type=int,
        default=20,
        help="steps of every stage and of each refinement stage (default: 20)",
    )
    parser.add_argument(
        "--n-train", type=int, default=10000, help="training pairs (default: 10,000)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="predict timings")
    args = parser.parse_args(argv)

    data = load_sparse_recovery(
        "canonical", n_train=args.n_train, n_test=1000, random_state=0
    )
    model = ALISTA(
        dictionary=data.dictionary,
        n_layers=16,
        max_steps_per_stage=args.steps,
        patience=args.steps,
        refinement_steps=args.steps,
        refinement_patience=args.steps,
        device=args.device,
        random_state=0,
    )
    model.fit(data.B_train, data.X_train)
    print(
        json.dumps(
            {
                "measure": "fit",
                "estimator": "ALISTA",
                "device": str(model.device_),
                "n_train": args.n_train,
                "steps": int(model.n_iter_),
                "fit_seconds": round(model.fit_seconds_, 3),
                # validation passes included: what a step costs inside fit
                "ms_per_step": round(1000 * model.fit_seconds_ / model.n_iter_, 3),
            }
        ),
        flush=True,
    )

    model.predict(data.B_test)  # warm-up: kernels, allocator
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.predict(data.B_test)  # returns numpy, so the device has finished
        best = min(best, time.perf_counter() - start)
    print(
        json.dumps(
            {
                "measure": "predict",
                "estimator": "ALISTA",
                "device": str(model.device_),
                "n_signals": len(data.B_test),
                "seconds": round(best, 4),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
