"""Running the package's estimators on Dask.

Searches and cross-validation need nothing of their own: scikit-learn's
:class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_validate` send their fits to a Dask
cluster under joblib's ``"dask"`` backend (``pip install
"sklearn-l2o[distributed]"``)::

    from distributed import Client
    from joblib import parallel_config

    client = Client("tcp://scheduler:8786")  # or LocalCluster().get_client()
    with parallel_config(backend="dask"):
        search = GridSearchCV(HyperLISTA(dictionary=A), grid, n_jobs=-1)
        search.fit(B, X)

The estimators pickle (a model trained on a GPU unpickles on a CPU worker),
so a fitted one can also be sent to the workers to predict a Dask array of
measurements block by block: :func:`dask_predict`.

Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which
makes the solvers run two to three times slower there;
:func:`check_worker_environment` says whether a cluster's workers do, and
how to start them without it.
"""

import numbers
import os
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["check_worker_environment", "dask_predict"]

_METHODS = ("predict", "transform")


#: glibc's allocator variables: setting the first (as Dask's nanny does by
#: default) without the second pins the mmap threshold at 128 KiB
_TRIM, _MMAP = "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"


def _allocator_environment():
    return {name: os.environ.get(name) for name in (_TRIM, _MMAP)}


def check_worker_environment(client):
    """Warn if Dask workers run with an allocator setting that slows the solvers.

    Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` by
    default. Once that variable is set, glibc stops raising its mmap
    threshold, so every array above 128 KiB is mapped, zeroed and unmapped
    afresh; the solvers here allocate arrays of a batch's size at every
    iteration and run two to three times slower on such a worker. Start the
    workers without it, by setting Dask's
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` to None
    before the cluster starts (with the variable absent from the
    environment too), or give them ``MALLOC_MMAP_THRESHOLD_=33554432`` as
    well.

    Parameters
    ----------
    client : distributed.Client
        A client of the cluster.

    Returns
    -------
    slowed : list of str
        The addresses of the workers with the setting (a RuntimeWarning is
        raised when there are any).

    Examples
    --------
    >>> import dask
    >>> from distributed import LocalCluster
    >>> key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    >>> with dask.config.set({key: None}):  # doctest: +SKIP
    ...     cluster = LocalCluster(n_workers=2, threads_per_worker=1)
    >>> check_worker_environment(cluster.get_client())  # doctest: +SKIP
    []
    """
    slowed = [
        worker
        for worker, env in client.run(_allocator_environment).items()
        if env[_TRIM] is not None and env[_MMAP] is None
    ]
    if slowed:
        warnings.warn(
            f"{len(slowed)} Dask worker(s) run with {_TRIM} set (Dask's "
            "default, 65536), under which glibc maps every array above 128 KiB "
            "afresh: the solvers run 2 to 3 times slower there. Start the "
            "workers without it: dask.config.set({'distributed.nanny."
            f"pre-spawn-environ.{_TRIM}': None}}) before creating the cluster "
            f"(with no {_TRIM} in the environment), or set {_MMAP}=33554432 "
            "as well.",
            RuntimeWarning,
            stacklevel=2,
        )
    return slowed


def _apply(block, estimator, method):
    return np.asarray(getattr(estimator, method)(block), dtype=np.float64)


def dask_predict(estimator, B, method="predict"):
    """Apply a fitted estimator to a Dask array of measurements, block by block.

    Each block of rows is solved where it lives (on the worker that holds
    it, under a distributed scheduler), by a copy of ``estimator``; nothing
    is computed until the result is.

    Parameters
    ----------
    estimator : fitted estimator
        Any of the package's solvers (or any fitted estimator whose
        ``method`` maps an (n, n_features) array to an (n, n_outputs) one;
        ``n_outputs`` is read from ``n_components_`` or
        ``get_feature_names_out``).
    B : dask.array.Array of shape (n_samples, n_features)
        Measurements, one per row, in any chunking along the rows (the
        columns are gathered into one chunk).
    method : {"predict", "transform"}, default="predict"
        The estimator's method to apply.

    Returns
    -------
    codes : dask.array.Array of shape (n_samples, n_outputs)
        float64, chunked along the rows as ``B``.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn_l2o import FISTA
    >>> from sklearn_l2o.datasets import make_sparse_recovery
    >>> from sklearn_l2o.parallel import dask_predict
    >>> B, X, A = make_sparse_recovery(1000, n_components=40, n_features=20,
    ...                                random_state=0)
    >>> model = FISTA(dictionary=A, alpha=0.01).fit(B)
    >>> codes = dask_predict(model, da.from_array(B, chunks=250))
    >>> codes.shape, codes.chunks[0]
    ((1000, 40), (250, 250, 250, 250))
    >>> bool(abs(codes.compute() - model.predict(B)).max() < 1e-12)
    True
    """
    try:
        import dask.array as da
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            'dask_predict needs dask: pip install "sklearn-l2o[distributed]"'
        ) from error
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    if not isinstance(B, da.Array):
        raise ValueError(
            f"B must be a dask array; got {type(B).__name__}. Call the "
            f"estimator's {method} directly on in-memory data."
        )
    if B.ndim != 2:
        raise ValueError(f"B must be 2-D (n_samples, n_features); got {B.ndim}-D.")
    check_is_fitted(estimator)
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and B.shape[1] != n_features:
        raise ValueError(
            f"B has {B.shape[1]} features, but {type(estimator).__name__} is "
            f"fitted with {n_features}."
        )
    n_outputs = getattr(estimator, "n_components_", None)
    if not isinstance(n_outputs, numbers.Integral):
        n_outputs = len(estimator.get_feature_names_out())
    if B.numblocks[1] != 1:
        B = B.rechunk({1: -1})
    return B.map_blocks(
        _apply,
        estimator,
        method,
        dtype=np.float64,
        chunks=(B.chunks[0], (int(n_outputs),)),
    )
