"""HyperLISTA's default fit on fresh draws: median and worst test NMSE.

Each draw is a new Gaussian dictionary, training set and test set of the
package's sparse-recovery model (250 x 500, Bernoulli(0.1) x N(0, 1) codes),
noiseless or at a given SNR. Run from the repository root, for example::

    python benchmarks/hyperlista_draws.py --snr inf --draws 6
    python benchmarks/hyperlista_draws.py --snr 30 --draws 6
"""

import argparse
import time

import numpy as np

from sklearn_l2o import HyperLISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", default="inf", help="SNR in dB, or inf")
    parser.add_argument("--draws", type=int, default=6, help="seeds 0 .. draws-1")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=5_000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    snr = None if args.snr == "inf" else float(args.snr)
    scores = []
    print(f"HyperLISTA defaults, 250 x 500, SNR {args.snr} dB, {args.n_train} pairs")
    for seed in range(args.draws):
        B, X, A = make_sparse_recovery(
            args.n_train + args.n_test,
            n_components=500,
            n_features=250,
            snr=snr,
            random_state=seed,
        )
        start = time.perf_counter()
        model = HyperLISTA(dictionary=A, device=args.device, random_state=0)
        model.fit(B[: args.n_train], X[: args.n_train])
        seconds = time.perf_counter() - start
        score = nmse_db(X[args.n_train :], model.predict(B[args.n_train :]))
        scores.append(score)
        print(
            f"draw {seed}: test NMSE {score:7.2f} dB  "
            f"c = ({model.c1_:.4g}, {model.c2_:.4g}, {model.c3_:.4g})  "
            f"fit {seconds:5.1f} s",
            flush=True,
        )
    print(f"median {np.median(scores):.2f} dB, worst {np.max(scores):.2f} dB")


if __name__ == "__main__":
    main()
