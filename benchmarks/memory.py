"""Peak resident memory of fit and predict at 10^4, 10^5 and 10^6 signals.

The canonical problem (250 x 500 Gaussian dictionary, 10% non-zeros,
noiseless). Each measurement runs in a fresh process, which reports its peak
resident set size (``ru_maxrss``) and its resident size just before the call
measured; the table shows the peak beyond that and beyond the call's output
array ("extra"), next to the size of the input.

- ``predict``: ALISTA (16 layers, a short fit on 2,000 pairs first), FISTA
  (``--fista-iter`` iterations, ``tol=0``) and Safeguarded ALISTA
  (``max_iter=0``) on n measurements generated in batches;
- ``fit``: ALISTA on n pairs (one stage step per layer, no refinement: the
  memory of fit, not its quality); ``fit ALISTA warm`` fits on 500 of the
  pairs first, so that torch's one-time set-up is in "before";
- ``dask``: ALISTA's prediction of n measurements held as a chunked Dask
  array (``--chunk`` rows per block, each block's codes and measurements
  made where the block is computed) through
  :func:`sklearn_l2o.parallel.dask_predict`, reduced to its NMSE on Dask's
  threaded scheduler: no array of n rows ever exists. Its row reports the
  whole process's peak resident memory ("peak MiB": interpreter, torch and
  the model included).

    python benchmarks/memory.py --sizes 10000 100000 1000000
    python benchmarks/memory.py --sizes 1000000 --jobs dask
"""

import argparse
import json
import resource
import subprocess
import sys

import numpy as np
import psutil

M, N = 250, 500
BATCH = 10_000


def dictionary(seed=0):
    A = np.random.default_rng(seed).standard_normal((M, N))
    return A / np.linalg.norm(A, axis=0)


def codes(rng, n):
    X = rng.standard_normal((n, N)) * (rng.uniform(size=(n, N)) < 0.1)
    return X


def measurements(A, n, seed=1):
    """n measurements, made in batches so that no code array of n rows
    exists."""
    rng = np.random.default_rng(seed)
    B = np.empty((n, M))
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        B[start:stop] = codes(rng, stop - start) @ A.T
    return B


def peak_mib():
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib():
    return psutil.Process().memory_info().rss / 2**20


def _block_codes(block_id, n_rows):
    return codes(np.random.default_rng([7, block_id]), n_rows)


def dask_nmse(model, A, n, chunk):
    """The NMSE of ``model`` on n signals made and solved block by block."""
    import dask
    import dask.array as da

    from sklearn_l2o.parallel import dask_predict

    sizes = [min(chunk, n - start) for start in range(0, n, chunk)]
    X = da.concatenate(
        [
            da.from_delayed(
                dask.delayed(_block_codes)(i, rows), (rows, N), dtype=np.float64
            )
            for i, rows in enumerate(sizes)
        ]
    )
    B = X @ A.T
    error = ((dask_predict(model, B) - X) ** 2).sum()
    with dask.config.set(scheduler="threads"):
        error, energy = dask.compute(error, (X**2).sum())
    return 10 * np.log10(error / energy)


def one(job, n, fista_iter, chunk=5_000):
    from sklearn_l2o import ALISTA, FISTA, Safeguarded

    A = dictionary()
    small = dict(
        max_steps_per_stage=1,
        patience=1,
        refinement_steps=0,
        device="cpu",
        random_state=0,
    )
    if job in ("fit ALISTA", "fit ALISTA warm"):
        rng = np.random.default_rng(2)
        X = codes(rng, n)
        B = X @ A.T
        if job == "fit ALISTA warm":
            # torch's one-time set-up (its kernels, thread pools, allocator)
            # happens in a small fit first: what is left scales with the data
            ALISTA(dictionary=A, **small).fit(B[:500], X[:500])
        before = rss_mib()
        ALISTA(dictionary=A, **small).fit(B, X)
        return {"before": before, "peak": peak_mib(), "input": (B.nbytes + X.nbytes)}
    rng = np.random.default_rng(3)
    X_fit = codes(rng, 2000)
    if job == "dask":
        model = ALISTA(dictionary=A, **small).fit(X_fit @ A.T, X_fit)
        before = rss_mib()
        nmse = dask_nmse(model, A, n, chunk)
        return {"before": before, "peak": peak_mib(), "input": 0, "nmse": nmse}
    if job == "predict FISTA":
        model = FISTA(dictionary=A, alpha=0.005, max_iter=fista_iter, tol=0.0)
        model.fit(X_fit @ A.T)
    else:
        model = ALISTA(dictionary=A, **small).fit(X_fit @ A.T, X_fit)
        if job == "predict Safeguarded":
            model = Safeguarded(model, max_iter=0).fit(X_fit @ A.T, X_fit)
    B = measurements(A, n)
    before = rss_mib()
    out = model.predict(B)
    return {
        "before": before,
        "peak": peak_mib(),
        "input": B.nbytes,
        "output": out.nbytes,
    }


JOBS = (
    "predict ALISTA",
    "predict FISTA",
    "predict Safeguarded",
    "fit ALISTA",
    "fit ALISTA warm",
    "dask",
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--jobs", nargs="+", default=list(JOBS[:-1]), choices=JOBS)
    parser.add_argument("--chunk", type=int, default=5_000, help="dask rows/block")
    parser.add_argument("--fista-iter", type=int, default=20)
    parser.add_argument("--one", nargs=2, metavar=("JOB", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(
            json.dumps(one(args.one[0], int(args.one[1]), args.fista_iter, args.chunk))
        )
        sys.exit()
    print(
        f"{'job':22s} {'n':>9s} {'input MiB':>10s} {'output MiB':>11s} "
        f"{'peak MiB':>9s} {'extra MiB':>10s}"
    )
    for n in args.sizes:
        for job in args.jobs:
            command = [
                sys.executable,
                __file__,
                "--one",
                job,
                str(n),
                "--fista-iter",
                str(args.fista_iter),
                "--chunk",
                str(args.chunk),
            ]
            result = json.loads(
                subprocess.run(command, capture_output=True, text=True, check=True)
                .stdout.strip()
                .splitlines()[-1]
            )
            output = result.get("output", 0) / 2**20
            extra = result["peak"] - result["before"] - output
            print(
                f"{job:22s} {n:9d} {result['input'] / 2**20:10.0f} {output:11.0f} "
                f"{result['peak']:9.0f} {extra:10.0f}"
                + (f"  NMSE {result['nmse']:.2f} dB" if "nmse" in result else ""),
                flush=True,
            )
