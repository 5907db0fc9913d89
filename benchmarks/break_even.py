"""Break-even: from how many signals does "train once, then predict" pay?

On one draw of a sparse-recovery setting (250 x 500 by default, noiseless or
at an SNR),
a learned solver is trained (its fit time counted) and predicts the test
signals; FISTA (this package's, alpha ``--alpha``) runs until its NMSE on the
test signals reaches the learned solver's (``--max-iter`` at most), and
scikit-learn's coordinate-descent Lasso solves each signal at the same alpha
(``alpha / m`` in its scaling). For a classic solver that reaches the learned
NMSE at t_c seconds per signal, against the learned solver's t_l per signal
and its fit time T, the break-even count is N* = T / (t_c - t_l): beyond N*
signals training pays. A classic solver that does not reach the learned NMSE
within its budget has no break-even at equal accuracy (the learned solver is
more accurate at any count); its best NMSE is shown, and the count from which
training pays against it run to that best. Writes a plot of total time against the
number of signals when ``--plot`` is given. Only the public API is used.

    python benchmarks/break_even.py --snr 30 --plot break_even.png
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from sklearn_l2o import ALISTA, FISTA, HyperLISTA
from sklearn_l2o.datasets import make_sparse_recovery
from sklearn_l2o.metrics import nmse_db


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def fista_seconds(A, B, alpha, n_iter):
    """Seconds per signal of ``n_iter`` FISTA iterations."""
    timed = FISTA(dictionary=A, alpha=alpha, max_iter=n_iter, tol=0.0).fit(B)
    _, seconds = _timed(lambda: timed.predict(B))
    return seconds / B.shape[0]


def fista_to_target(A, B, X, alpha, target, max_iter):
    """Iterations and seconds per signal for FISTA to reach ``target`` dB
    (None when it does not); its best NMSE within ``max_iter`` iterations,
    and the seconds per signal to reach that best (within 0.1 dB)."""
    model = FISTA(dictionary=A, alpha=alpha, max_iter=max_iter, tol=0.0)
    model.fit(B)
    reached, scores = None, []
    for k, X_hat in enumerate(model.staged_predict(B), 1):
        scores.append(nmse_db(X, X_hat))
        if scores[-1] <= target:
            reached = k
            break
    best = min(scores)
    to_best = next(k for k, v in enumerate(scores, 1) if v <= best + 0.1)
    best_s = fista_seconds(A, B, alpha, to_best)
    if reached is None:
        return None, None, best, best_s
    return reached, fista_seconds(A, B, alpha, reached), best, best_s


def lasso_per_signal(A, B, X, alpha):
    """Seconds per signal and NMSE of scikit-learn's Lasso, signal by signal."""
    lasso = Lasso(alpha=alpha / A.shape[0], fit_intercept=False, max_iter=10000)
    codes = np.empty_like(X)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, b in enumerate(B):
            codes[i] = lasso.fit(A, b).coef_
    return (time.perf_counter() - start) / B.shape[0], nmse_db(X, codes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, default=None, help="dB; None: noiseless")
    parser.add_argument("--shape", type=int, nargs=2, default=(250, 500))
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--n-lasso", type=int, default=100, help="signals for Lasso")
    parser.add_argument("--alpha", type=float, default=0.005)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100, help="ALISTA stage steps")
    parser.add_argument("--refinement", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--plot", help="write a plot of total time to this file")
    args = parser.parse_args(argv)
    m, n = args.shape
    B, X, A = make_sparse_recovery(
        args.n_train + args.n_test,
        n_features=m,
        n_components=n,
        snr=args.snr,
        random_state=args.seed,
    )
    B_test, X_test = B[args.n_train :], X[args.n_train :]
    B, X = B[: args.n_train], X[: args.n_train]
    learned = {
        "HyperLISTA": HyperLISTA(dictionary=A),
        "ALISTA": ALISTA(
            dictionary=A,
            max_steps_per_stage=args.steps,
            patience=max(args.steps // 2, 1),
            refinement_steps=args.refinement,
            refinement_patience=max(args.refinement // 2, 1),
        ),
    }
    lasso_s, lasso_db = lasso_per_signal(
        A, B_test[: args.n_lasso], X_test[: args.n_lasso], args.alpha
    )
    rows = []
    for name, model in learned.items():
        model.set_params(device=args.device, random_state=args.seed)
        _, fit_s = _timed(lambda model=model: model.fit(B, X))
        X_hat, predict_s = _timed(lambda model=model: model.predict(B_test))
        target = nmse_db(X_test, X_hat)
        per_signal = predict_s / args.n_test
        iters, fista_s, fista_best, fista_best_s = fista_to_target(
            A, B_test, X_test, args.alpha, target, args.max_iter
        )
        row = {
            "method": name,
            "NMSE dB": round(target, 2),
            "fit s": round(fit_s, 1),
            "predict ms/signal": round(1e3 * per_signal, 4),
            "FISTA iterations to it": iters,
            "FISTA best dB": round(fista_best, 2),
            "FISTA ms/signal": None if fista_s is None else round(1e3 * fista_s, 4),
            "Lasso dB": round(lasso_db, 2),
            "Lasso ms/signal": round(1e3 * lasso_s, 3),
        }
        for classic, seconds, reached in (
            ("FISTA", fista_s, iters is not None),
            ("Lasso", lasso_s, lasso_db <= target),
        ):
            if not reached:
                row[f"break-even vs {classic}"] = "never reaches it"
            elif seconds <= per_signal:
                row[f"break-even vs {classic}"] = "never (classic is faster)"
            else:
                row[f"break-even vs {classic}"] = int(
                    np.ceil(fit_s / (seconds - per_signal))
                )
        # where the classic solver never gets as accurate: the count from
        # which training pays even against the classic at its own best
        for classic, seconds in (("FISTA", fista_best_s), ("Lasso", lasso_s)):
            key = f"break-even vs {classic} at its best"
            if seconds <= per_signal:
                row[key] = "never (classic is faster)"
            else:
                row[key] = int(np.ceil(fit_s / (seconds - per_signal)))
        rows.append((row, fit_s, per_signal, fista_s or fista_best_s))
        print(json.dumps(row), flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        counts = np.logspace(1, 7, 200)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.loglog(counts, counts * lasso_s, label=f"Lasso ({lasso_db:.1f} dB)")
        for row, fit_s, per_signal, fista_s in rows:
            label = f"{row['method']} ({row['NMSE dB']:.1f} dB), fit included"
            ax.loglog(counts, fit_s + counts * per_signal, label=label)
            reached = row["FISTA iterations to it"] is not None
            ax.loglog(
                counts,
                counts * fista_s,
                "--",
                label=f"FISTA to {row['method']}'s NMSE"
                if reached
                else f"FISTA to its best ({row['FISTA best dB']:.1f} dB)",
            )
        ax.set_xlabel("signals solved")
        ax.set_ylabel("total seconds")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
