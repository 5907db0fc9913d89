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
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["dask_predict"]

_METHODS = ("predict", "transform")


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
