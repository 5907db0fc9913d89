"""How well can anything recover the coherent setting's codes? (issue 3)

Two reference estimators on the shipped coherent 256 x 512 dictionary (noiseless,
Bernoulli-Gaussian codes, the benchmark's test pairs, seed 0), neither limited
to 16 layers:

- l1 minimisation: scikit-learn's ``Lasso`` (coordinate descent, tolerance
  1e-10, up to 200,000 sweeps) with the unscaled weight 1e-4, on the first
  ``--n-lasso`` test signals;
- VAMP (vector approximate message passing, Rangan, Schniter and Fletcher,
  IEEE Trans. Inf. Theory 2019) with the Bernoulli-Gaussian posterior mean whose
  prior is read off the training codes: unlike AMP it does not assume an
  i.i.d. dictionary. Its linear step is solved through the SVD of A with noise
  precision 1e8 (the setting is noiseless); NMSE after 16, 50, 100 and 200
  iterations, with and without damping.

Writes ``<output>/coherent_references.json``.

    python benchmarks/coherent_references.py --output results
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from sklearn_l2o.datasets import load_sparse_recovery
from sklearn_l2o.metrics import nmse_db

CHECKPOINTS = (16, 50, 100, 200)


def bg_posterior_mean(r, noise_var, share, signal_var):
    """E[x | r] for x Bernoulli-Gaussian, r = x + N(0, noise_var), and its slope."""
    total = signal_var + noise_var
    curvature = signal_var / (noise_var * total)
    logit = (
        np.log(share / (1 - share))
        + 0.5 * np.log(noise_var / total)
        + 0.5 * r * r * curvature
    )
    active = 0.5 * (1 + np.tanh(0.5 * logit))
    gain = signal_var / total
    slope = gain * (active + active * (1 - active) * r * r * curvature)
    return active * gain * r, slope


def vamp(A, B, share, signal_var, n_iter, damping=1.0, noise_precision=1e8):
    """NMSE curve of VAMP's denoiser output, one entry per iteration."""
    m, n = A.shape
    U, s, Vt = np.linalg.svd(A, full_matrices=True)
    spectrum = np.zeros(n)
    spectrum[:m] = s**2
    # A^T b in the basis of V's columns
    projected = np.zeros((B.shape[0], n))
    projected[:, :m] = (B @ U) * s
    r1 = np.zeros((B.shape[0], n))
    precision1 = np.full((B.shape[0], 1), 1.0 / (share * signal_var))
    estimates = []
    for k in range(n_iter):
        x1, slope = bg_posterior_mean(r1, 1.0 / precision1, share, signal_var)
        estimates.append(x1)
        alpha1 = np.clip(slope.mean(axis=1, keepdims=True), 1e-9, 1 - 1e-9)
        precision2 = precision1 / alpha1 - precision1
        r2 = (x1 / alpha1 * precision1 - precision1 * r1) / precision2
        # the linear MMSE step: (gw A^T A + g2 I)^-1 (gw A^T b + g2 r2)
        denominator = noise_precision * spectrum + precision2
        rotated = noise_precision * projected + precision2 * (r2 @ Vt.T)
        x2 = (rotated / denominator) @ Vt
        alpha2 = (precision2 / denominator).mean(axis=1, keepdims=True)
        new_precision = np.maximum(precision2 / alpha2 - precision2, 1e-12)
        new_r1 = (x2 / alpha2 * precision2 - precision2 * r2) / new_precision
        if k == 0 or damping == 1.0:
            r1, precision1 = new_r1, new_precision
        else:
            r1 = damping * new_r1 + (1 - damping) * r1
            spread = damping / np.sqrt(new_precision)
            spread = spread + (1 - damping) / np.sqrt(precision1)
            precision1 = 1.0 / spread**2
    return estimates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-lasso", type=int, default=100)
    parser.add_argument("--output", default=".")
    args = parser.parse_args()
    data = load_sparse_recovery("coherent", n_train=51200, n_test=1000, random_state=0)
    A, X = data.dictionary, data.X_train
    share = float(np.mean(X != 0))
    signal_var = float(np.mean(X[X != 0] ** 2))
    results = {}
    for damping in (1.0, 0.5):
        estimates = vamp(A, data.B_test, share, signal_var, max(CHECKPOINTS), damping)
        curve = {k: nmse_db(data.X_test, estimates[k - 1]) for k in CHECKPOINTS}
        results[f"VAMP-bg damping {damping}"] = curve
        print(
            f"VAMP-bg, damping {damping}: "
            + ", ".join(f"@{k} {v:.1f} dB" for k, v in curve.items())
        )
    m = A.shape[0]
    lasso = Lasso(alpha=1e-4 / m, fit_intercept=False, max_iter=200_000, tol=1e-10)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        codes = np.array([lasso.fit(A, b).coef_ for b in data.B_test[: args.n_lasso]])
    score = nmse_db(data.X_test[: args.n_lasso], codes)
    seconds = time.perf_counter() - start
    results["Lasso 1e-4"] = {
        "nmse_db": score,
        "n_signals": args.n_lasso,
        "seconds": seconds,
    }
    print(f"Lasso (1e-4), {args.n_lasso} signals: {score:.1f} dB, {seconds:.0f} s")
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "coherent_references.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
