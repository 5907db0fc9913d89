"""Wall time of a benchmark sweep: serial against workers side by side.

Runs one ``python -m sklearn_l2o.benchmark sparse`` sweep (methods x
settings x draws) on this machine: serially with one torch thread; on a Dask
``LocalCluster`` of ``--workers`` single-threaded worker processes
(``--scheduler``), without Dask's default ``MALLOC_TRIM_THRESHOLD_`` (and,
with ``--dask-default-env``, once more with it; see
:func:`sklearn_l2o.parallel.check_worker_environment`), and once more with
the workers' statistical profiler off as well; and in as many local
processes (``--n-jobs``). Checks that every run gives the serial run's curves
and prints the wall times and their ratios to the serial time, one JSON line
each; with ``--rounds N`` every mode runs N times in turn, and a last line
per mode gives its best time and that time's ratio to the best serial one.

    python benchmarks/sweep_time.py --dask-default-env
    python benchmarks/sweep_time.py --rounds 2
    python benchmarks/sweep_time.py --workers 2 -- --setting canonical --draws 3

Arguments after ``--`` replace the default sweep's options.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

#: a sweep of a few minutes on 2 CPU cores: a classic, a LASSO solver and a
#: learned one on two settings, two draws each
DEFAULT_SWEEP = [
    "--setting", "canonical", "snr30",
    "--draws", "2",
    "--methods", "FISTA", "Lasso", "HyperLISTA",
    "--n-train", "10000",
    "--device", "cpu",
]  # fmt: skip


#: this process's environment before any cluster starts (a Dask nanny sets
#: its workers' variables in the process that runs it too)
CLEAN_ENV = dict(os.environ)
TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
#: a worker samples its tasks' stacks every 10 ms by default (the dashboard's
#: profile), which costs CPU-bound Python tasks time when workers fill the cores
PROFILE_KEY = "distributed.worker.profile.enabled"
SERIAL = "serial, 1 torch thread"


def run_sweep(sweep, output, extra=(), threads=None):
    """Run the command-line sweep; returns its wall seconds and results."""
    env = dict(CLEAN_ENV)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-m", "sklearn_l2o.benchmark", "sparse", *sweep]
    command += ["--output", output, *extra]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(output, "results.json")) as file:
        return seconds, json.load(file)


def curves(results):
    """Every problem's curves, method by method."""
    problems = results.get("settings", {"": results})
    return {
        label: {name: r["nmse_db"] for name, r in payload["methods"].items()}
        for label, payload in problems.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--dask-default-env",
        action="store_true",
        help="also time a cluster with Dask's default worker environment",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every mode this many times, in turn; each mode's best counts "
        "(a shared machine's speed drifts by 10-20 %% between runs)",
    )
    parser.add_argument("sweep", nargs="*", help="the sweep's options, after --")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    sweep = args.sweep or DEFAULT_SWEEP
    import dask
    from distributed import LocalCluster

    n = args.workers

    def serial_run(output):
        return run_sweep(sweep, output, threads=1)

    def dask_run(config):
        def run(output):
            try:
                with (
                    dask.config.set(config),
                    LocalCluster(
                        n_workers=n, threads_per_worker=1, dashboard_address=None
                    ) as cluster,
                ):
                    extra = ["--scheduler", cluster.scheduler_address]
                    return run_sweep(sweep, output, extra)
            finally:  # what the nanny wrote into this process's environment
                os.environ.clear()
                os.environ.update(CLEAN_ENV)

        return run

    modes = {SERIAL: serial_run}
    if args.dask_default_env:
        modes[f"Dask LocalCluster, {n} workers, Dask's default environment"] = dask_run(
            {}
        )
    modes[f"Dask LocalCluster, {n} workers, no MALLOC_TRIM_THRESHOLD_"] = dask_run(
        {TRIM_KEY: None}
    )
    modes[f"Dask LocalCluster, {n} workers, no MALLOC_TRIM_THRESHOLD_, no profiler"] = (
        dask_run({TRIM_KEY: None, PROFILE_KEY: False})
    )
    modes[f"--n-jobs {n}"] = lambda output: run_sweep(
        sweep, output, ["--n-jobs", str(n)]
    )

    times = {name: [] for name in modes}
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for index, (name, run) in enumerate(modes.items()):
                seconds, results = run(os.path.join(tmp, f"{round_}-{index}"))
                reference = results if reference is None else reference
                times[name].append(seconds)
                line = {"run": name, "seconds": round(seconds, 1)}
                if args.rounds > 1:
                    line["round"] = round_ + 1
                if name != SERIAL:
                    line["ratio"] = round(seconds / min(times[SERIAL]), 3)
                    line["same_results"] = curves(results) == curves(reference)
                print(json.dumps(line), flush=True)
        if args.rounds > 1:
            serial = min(times[SERIAL])
            for name, values in times.items():
                line = {"best of": args.rounds, "run": name}
                line["seconds"] = round(min(values), 1)
                line["ratio"] = round(min(values) / serial, 3)
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
