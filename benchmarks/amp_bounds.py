"""Untrained AMP against the best any estimator can do (issue 3, noisy settings).

For each named setting, on the benchmark's own data (``load_sparse_recovery``
with 51,200 training and 1,000 test pairs, seed 0), prints the test NMSE after
1, 2, 4, 8 and 16 layers of two untrained LAMP networks:

- ``AMP-soft``: LAMP's start, AMP with soft thresholds at 1.0 times the noise level;
- ``AMP-bg``: LAMP-bg's start, AMP with the Bernoulli-Gaussian posterior mean
  whose prior is read off the training codes.

and, for the i.i.d. Gaussian settings, the Bayes-optimal NMSE predicted by AMP's
state evolution for a Bernoulli-Gaussian prior (the minimum mean squared error
in the large-system limit): the fixed point of

    tau^2 = sigma^2 + (n / m) mmse(tau^2),

where mmse(tau^2) is the error of the posterior mean of one entry seen through
Gaussian noise of variance tau^2 (a Monte-Carlo average over 400,000 draws) and
sigma^2 the measurement noise variance per entry. Writes ``<output>/amp_bounds.json``.

    python benchmarks/amp_bounds.py --setting snr40 snr30 snr20 --output results
"""

import argparse
import json
import math
import os

import numpy as np
import torch

from sklearn_l2o import LAMP
from sklearn_l2o._lamp import bernoulli_gauss_shrink
from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db

LAYERS = (1, 2, 4, 8, 16)


def state_evolution_nmse_db(share, signal_var, ratio, noise_var, seed=0):
    """Bayes-optimal NMSE (dB) of AMP's state-evolution fixed point.

    ``ratio`` is n / m; ``noise_var`` the noise variance per measurement.
    """
    rng = np.random.default_rng(seed)
    draws = 400_000
    x = (rng.random(draws) < share) * rng.normal(0.0, math.sqrt(signal_var), draws)
    z = rng.standard_normal(draws)

    x_t = torch.from_numpy(x)
    z_t = torch.from_numpy(z)
    logit = torch.tensor(math.log(share / (1 - share)), dtype=torch.float64)
    variance = torch.tensor(signal_var, dtype=torch.float64)

    def mmse(tau2):
        noise_var = torch.tensor(tau2, dtype=torch.float64)
        estimate, _ = bernoulli_gauss_shrink(
            x_t + math.sqrt(tau2) * z_t, noise_var, logit, variance
        )
        return float(torch.mean((estimate - x_t) ** 2))

    tau2 = noise_var + ratio * share * signal_var
    for _ in range(2000):
        tau2 = noise_var + ratio * mmse(tau2)
    return 10 * math.log10(mmse(tau2) / (share * signal_var))


def untrained_curve(A, X_train, B_test, X_test, **params):
    net = LAMP(dictionary=A, n_layers=max(LAYERS), **params)._build_net(
        A, None, X_train, torch.device("cpu"), torch.float64
    )
    with torch.no_grad():
        curve = [nmse_db(X_test, x.numpy()) for x in net.iterates(torch.tensor(B_test))]
    return [curve[k - 1] for k in LAYERS]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setting", nargs="+", default=["snr40", "snr30", "snr20"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=".")
    args = parser.parse_args()
    results = {}
    print("setting    shrinkage  " + "  ".join(f"@{k:<4}" for k in LAYERS))
    for setting in args.setting:
        data = load_sparse_recovery(
            setting, n_train=51200, n_test=1000, random_state=args.seed
        )
        A, X = data.dictionary, data.X_train
        entry = {}
        for name, params in (("AMP-soft", {}), ("AMP-bg", {"shrinkage": "bg"})):
            curve = untrained_curve(A, X, data.B_test, data.X_test, **params)
            entry[name] = curve
            print(f"{setting:<10} {name:<10} " + " ".join(f"{v:6.1f}" for v in curve))
        if setting not in ("coherent",) and "kappa" not in setting:
            m, n = A.shape
            share = float(np.mean(X != 0))
            signal_var = float(np.mean(X[X != 0] ** 2))
            # the noise is sigma = std(A x) 10^(-SNR / 20) per signal; with
            # unit-norm columns E||A x||^2 / m = n share signal_var / m
            snr = data.snr
            noise_var = (
                0.0
                if snr is None or math.isinf(snr)
                else n * share * signal_var / m * 10 ** (-snr / 10)
            )
            if noise_var > 0:
                bound = state_evolution_nmse_db(share, signal_var, n / m, noise_var)
                entry["state_evolution_mmse_db"] = bound
                print(f"{setting:<10} Bayes-optimal (state evolution): {bound:.1f} dB")
        results[setting] = entry
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "amp_bounds.json")
    with open(path, "w") as f:
        json.dump({"layers": list(LAYERS), "results": results}, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
