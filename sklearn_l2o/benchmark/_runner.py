"""Running a benchmark's methods, one after another or side by side.

Before the long part, every method's run time is estimated; then each method
prints a progress line (stderr) when it starts, and its table row (stdout)
and the results file when it finishes, so that a run stopped midway leaves
the finished methods' results behind. With ``--n-jobs N`` the methods of a
problem run in N local processes, and with ``--scheduler ADDRESS`` on a Dask
cluster (through joblib's "dask" backend); their rows are printed in the
same order as a serial run's. A sweep over several problems (settings and
draws) hands every (problem, method) run to the workers at once
(:func:`run_jobs`).
"""

import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import joblib
from joblib import Parallel, delayed, parallel_config

from ..parallel import check_worker_environment


@dataclass
class Method:
    """One entry of a benchmark's method registry.

    Attributes
    ----------
    run : callable
        ``run(ctx) -> dict``: run the method on a problem's context and
        return its result, as the results file stores it.
    estimate : callable or None
        ``estimate(ctx) -> float``: an upper bound of ``run(ctx)``'s seconds,
        from a few real steps timed on the same data; None: not estimated.
    curve_length : callable or None
        ``curve_length(ctx) -> int``: how many values ``run`` will record
        (layers or iterations), which sets the table's columns; None: the
        task's default.
    """

    run: Callable
    estimate: Callable = None
    curve_length: Callable = None


def layer_steps(n_layers, stage_steps, refinement_steps):
    """A stage-wise training budget in layer-steps (a step at depth k runs k
    layers): three stages of ``stage_steps`` at each depth, then two
    refinement stages of ``refinement_steps`` at full depth."""
    stagewise = 3 * stage_steps * n_layers * (n_layers + 1) / 2
    return stagewise + 2 * refinement_steps * n_layers


def format_duration(seconds):
    """``"under 1 s"``, ``"42 s"``, ``"17 min"``, ``"2 h 05 min"``."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """Time estimates and progress lines of one command, on ``stream``.

    ``problems`` name the settings (sizes, dimensions, ...) a command runs,
    in order; a method's estimate and progress are kept per problem. With
    ``probe=False`` nothing is estimated (a ``--quick`` run takes seconds,
    about what the estimate would).
    """

    def __init__(self, stream=None, probe=True):
        self.stream = sys.stderr if stream is None else stream
        self.probe = probe
        self.start = time.perf_counter()
        self.estimates = {}  # (problem, method) -> seconds, or None
        self.done = set()

    def _print(self, text):
        print(text, file=self.stream, flush=True)

    def estimate(self, problem, methods, registry, ctx):
        """Estimate every method of one problem (this runs a few real steps
        of each trained method), printing each estimate as it is made."""
        if not self.probe:
            return
        if not self.estimates:
            self._print(
                "time estimate: timing a few training steps of each method "
                "(an upper bound: it assumes that every training stage runs to "
                "its step limit, but stages that stop improving end early)"
            )
        for name in methods:
            entry = registry[name]
            seconds = None if entry.estimate is None else entry.estimate(ctx)
            self.estimates[(problem, name)] = seconds
            what = "not estimated" if seconds is None else format_duration(seconds)
            self._print(f"  {problem}: {name}: {what}")

    def same_as(self, problem, other, methods):
        """Give ``problem`` the estimates of ``other`` (same sizes), silently."""
        for name in methods:
            self.estimates[(problem, name)] = self.estimates.get((other, name))

    def announce(self):
        """Print the total estimate (after :meth:`estimate`)."""
        if not self.probe:
            self._print("time estimate: none for a quick run")
            return
        total = sum(s for s in self.estimates.values() if s is not None)
        missing = [name for (_, name), s in self.estimates.items() if s is None]
        line = f"time estimate: at most {format_duration(total)} in all"
        if missing:
            line += f", plus {', '.join(dict.fromkeys(missing))} (not estimated)"
        self._print(line + f"; the estimate took {format_duration(self.elapsed())}")

    def elapsed(self):
        return time.perf_counter() - self.start

    def left(self):
        return sum(
            seconds
            for key, seconds in self.estimates.items()
            if key not in self.done and seconds is not None
        )

    def begin(self, problem, name, index, count):
        line = f"{problem}: method {index}/{count}: {name} ... "
        line += f"({format_duration(self.elapsed())} elapsed"
        if self.estimates:
            line += f", at most {format_duration(self.left())} left"
        self._print(line + ")")

    def end(self, problem, name):
        self.done.add((problem, name))


def check_methods(requested, registry, default):
    """The methods to run: ``requested`` (``["all"]``: every one) or
    ``default``; unknown names end the command with the valid ones."""
    methods = requested or default
    if list(methods) == ["all"]:
        return list(registry)
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose from {list(registry)}")
    return list(methods)


@dataclass(frozen=True)
class Workers:
    """Where a problem's methods run: ``n_jobs`` local processes (1: in this
    process, one after another), or the Dask cluster at ``scheduler``."""

    n_jobs: int = 1
    scheduler: str = None

    @classmethod
    def from_args(cls, args):
        return cls(getattr(args, "n_jobs", 1) or 1, getattr(args, "scheduler", None))

    @property
    def serial(self):
        return self.n_jobs == 1 and self.scheduler is None

    @contextlib.contextmanager
    def backend(self):
        """joblib's backend for the run; yields the ``n_jobs`` to ask for
        and the torch threads each method may use: the cores shared out
        among the local processes, or a Dask worker's thread count."""
        if self.scheduler is None:
            n_jobs = self.n_jobs if self.n_jobs > 0 else os.cpu_count()
            with parallel_config(backend="loky"):
                yield n_jobs, max(1, os.cpu_count() // n_jobs)
            return
        try:
            from distributed import Client
        except ImportError as error:
            raise SystemExit(
                '--scheduler needs dask: pip install "sklearn-l2o[distributed]"'
            ) from error
        with Client(self.scheduler) as client, parallel_config(backend="dask"):
            check_worker_environment(client)
            info = client.scheduler_info()["workers"].values()
            # a method takes as many torch threads as its worker has slots
            threads = min((w["nthreads"] for w in info), default=None)
            yield max(len(info), 1), threads


def _run_method(method, ctx, threads):
    """``method.run(ctx)`` in a worker, with ``threads`` torch threads."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return method.run(ctx)


#: the last problem a worker process built, ``(key, context)``: the methods
#: of one problem often follow each other on a worker
_last_problem = [None, None]


def _load_and_run(key, load, method, threads):
    """Build a problem's context in the worker (``load()``, unless the worker
    built problem ``key`` last), then run ``method`` on it: the data never
    travels, only how to make it."""
    if _last_problem[0] != key:
        _last_problem[:] = [None, None]  # the old data goes before the new comes
        _last_problem[:] = [key, load()]
    return _run_method(method, _last_problem[1], threads)


def run_jobs(jobs, workers):
    """Run ``jobs``, ``(load, method)`` pairs, on ``workers``, all of them
    side by side whatever problem they belong to; yields their results in
    the order of ``jobs`` as they come in.

    ``load()`` makes the context ``method.run`` takes; it is called in the
    worker (once for consecutive jobs with equal ``load`` there: the key is
    a hash of its content), so that a sweep over many problems holds no
    problem's data in this process and a job waits for a free worker, not
    for the slowest method of its problem.
    """
    with workers.backend() as (n_jobs, threads):
        # one job per worker in flight: a Dask scheduler assigns a job to a
        # worker when it is submitted, so jobs handed out ahead would wait
        # behind a long one while another worker idles
        yield from Parallel(
            n_jobs=n_jobs, return_as="generator", pre_dispatch="n_jobs"
        )(
            delayed(_load_and_run)(joblib.hash(load), load, method, threads)
            for load, method in jobs
        )


def run_methods(
    problem, methods, registry, ctx, table, save, progress, out=None, workers=None
):
    """Run ``methods`` on one problem; after each, save every finished result
    (``save(results)``) and print the method's table rows. Returns the
    results, method name -> result. ``workers`` (:class:`Workers`) runs them
    side by side; results and rows come in the same order."""
    out = sys.stdout if out is None else out
    workers = Workers() if workers is None else workers
    results = {}
    print(table.header(), file=out, flush=True)
    if workers.serial:
        for index, name in enumerate(methods, 1):
            progress.begin(problem, name, index, len(methods))
            results[name] = registry[name].run(ctx)
            save(results)
            print(table.rows(name, results[name]), file=out, flush=True)
            progress.end(problem, name)
    else:
        with workers.backend() as (n_jobs, threads):
            finished = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_run_method)(registry[name], ctx, threads) for name in methods
            )
            for name, result in zip(methods, finished):
                results[name] = result
                save(results)
                print(table.rows(name, result), file=out, flush=True)
    print(table.legend, file=out, flush=True)
    return results
