"""Time and memory of the solvers on a large dictionary (2000 x 4000 by default).

A Gaussian dictionary with unit-norm atoms and codes with 10% non-zeros,
noiseless. Each measurement runs in a fresh process and reports its seconds,
the process's peak resident memory and that peak beyond the process before
the call ("extra"), and for predictions the test NMSE:

- ``ALISTA fit, no refinement``: the closed-form analytic weight and the
  geometric threshold search (``refinement_steps=0``);
- ``ALISTA fit`` and ``ALISTA predict``: a fit with ``--steps`` steps per
  refinement stage (the time and memory of training, not its quality), then
  the prediction of the test signals;
- ``HyperLISTA fit`` and ``HyperLISTA predict``: the default search;
- ``FISTA predict``: ``--fista-iter`` iterations at alpha 0.005;
- ``Safeguarded predict``: the fitted ALISTA under ``Safeguarded`` with
  ``max_iter=0``.

    python benchmarks/large_dictionary.py
    python benchmarks/large_dictionary.py --shape 1000 2000 --n-train 2000
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import psutil

JOBS = ("ALISTA", "HyperLISTA", "FISTA", "Safeguarded")


def peak_mib():
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib():
    return psutil.Process().memory_info().rss / 2**20


def problem(m, n, n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)
    X = rng.standard_normal((n_train + n_test, n)) * (
        rng.uniform(size=(n_train + n_test, n)) < 0.1
    )
    return A, X @ A.T, X


def timed(call):
    before = rss_mib()
    start = time.perf_counter()
    out = call()
    return out, {
        "seconds": time.perf_counter() - start,
        "peak": peak_mib(),
        "extra": peak_mib() - before,
    }


def one(job, args):
    from sklearn_l2o import ALISTA, FISTA, HyperLISTA, Safeguarded
    from sklearn_l2o.metrics import nmse_db

    m, n = args.shape
    A, B, X = problem(m, n, args.n_train, args.n_test)
    B_fit, X_fit = B[: args.n_train], X[: args.n_train]
    B_test, X_test = B[args.n_train :], X[args.n_train :]
    rows = []
    short = dict(
        refinement_steps=args.steps,
        refinement_patience=args.steps,
        device="cpu",
        random_state=0,
    )
    if job == "FISTA":
        model = FISTA(dictionary=A, alpha=0.005, max_iter=args.fista_iter, tol=0.0)
        model.fit(B_fit[:10])
        out, row = timed(lambda: model.predict(B_test))
        rows.append({"call": "FISTA predict", **row, "nmse": nmse_db(X_test, out)})
        return rows
    if job == "HyperLISTA":
        model = HyperLISTA(dictionary=A, device="cpu", random_state=0)
        _, row = timed(lambda: model.fit(B_fit, X_fit))
        rows.append({"call": "HyperLISTA fit", **row})
        out, row = timed(lambda: model.predict(B_test))
        rows.append({"call": "HyperLISTA predict", **row, "nmse": nmse_db(X_test, out)})
        return rows
    searched = dict(short, refinement_steps=0)
    _, row = timed(lambda: ALISTA(dictionary=A, **searched).fit(B_fit, X_fit))
    rows.append({"call": "ALISTA fit, no refinement", **row})
    model = ALISTA(dictionary=A, **short)
    _, row = timed(lambda: model.fit(B_fit, X_fit))
    rows.append({"call": f"ALISTA fit ({args.steps} refinement steps)", **row})
    if job == "ALISTA":
        out, row = timed(lambda: model.predict(B_test))
        rows.append({"call": "ALISTA predict", **row, "nmse": nmse_db(X_test, out)})
        return rows
    guard = Safeguarded(model, max_iter=0).fit(B_fit[:10], X_fit[:10])
    out, row = timed(lambda: guard.predict(B_test))
    return [{"call": "Safeguarded ALISTA predict", **row, "nmse": nmse_db(X_test, out)}]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=2, default=[2000, 4000])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument(
        "--steps", type=int, default=20, help="ALISTA steps per refinement stage"
    )
    parser.add_argument("--fista-iter", type=int, default=100)
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=JOBS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args)))
        return
    m, n = args.shape
    print(
        f"{m} x {n}, {args.n_train} training and {args.n_test} test signals, "
        f"{psutil.cpu_count()} CPU cores"
    )
    print(f"{'call':42s} {'seconds':>9s} {'peak MiB':>9s} {'extra MiB':>10s} NMSE dB")
    for job in args.jobs:
        command = [sys.executable, __file__, "--one", job] + [
            a for a in argv if a not in ("--jobs", *JOBS)
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        for row in json.loads(done.stdout.strip().splitlines()[-1]):
            nmse = f"{row['nmse']:.2f}" if "nmse" in row else "-"
            print(
                f"{row['call']:42s} {row['seconds']:9.2f} {row['peak']:9.0f} "
                f"{row['extra']:10.0f} {nmse}",
                flush=True,
            )


if __name__ == "__main__":
    main()
