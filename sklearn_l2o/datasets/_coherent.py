"""A coherent dictionary learned from natural-image patches.

The survey's "coherent" setting learns a 256 x 512 dictionary from 16 x 16
patches of BSD500 images, which cannot ship with this package. This module
learns one the same way from the two images that ship with scikit-learn
(:func:`sklearn.datasets.load_sample_images`), and stores it as package data.

Regenerate the shipped file (about a minute on one CPU core)::

    python -m sklearn_l2o.datasets._coherent
"""

import argparse
import numbers
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.utils import check_random_state

from .._metrics import mutual_coherence
from .._sklearn_compat import Interval, validate_params

_FILE = "coherent_256x512.npz"

#: ITU-R BT.601 luma weights
_GRAY = np.array([0.299, 0.587, 0.114])

#: the configuration of the shipped file
_SHIPPED = dict(
    patch_size=16,
    n_components=512,
    n_patches=20000,
    alpha=0.1,
    batch_size=256,
    max_iter=10,
    random_state=0,
)


def _patches(patch_size, n_patches, rng):
    """Mean-removed, unit-norm grayscale patches of sklearn's sample images."""
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images
    per_image = int(np.ceil(n_patches / len(images)))
    rows = []
    for image in images:
        gray = image.astype(np.float64) @ _GRAY / 255.0
        found = extract_patches_2d(
            gray, (patch_size, patch_size), max_patches=per_image, random_state=rng
        )
        rows.append(found.reshape(found.shape[0], -1))
    P = np.concatenate(rows)[:n_patches]
    P -= P.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(P, axis=1)
    textured = norms > 1e-3  # flat patches carry no direction
    return P[textured] / norms[textured, None]


@validate_params(
    {
        "patch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_patches": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def learn_coherent_dictionary(
    *,
    patch_size=16,
    n_components=512,
    n_patches=20000,
    alpha=0.1,
    batch_size=256,
    max_iter=10,
    random_state=0,
):
    """Learn a dictionary from patches of scikit-learn's sample images.

    Both images of :func:`sklearn.datasets.load_sample_images` are turned to
    grayscale in [0, 1]; ``n_patches`` random ``patch_size`` x ``patch_size``
    patches (half from each) have their mean removed and are scaled to unit l2
    norm; scikit-learn's :class:`~sklearn.decomposition.MiniBatchDictionaryLearning`
    (LARS sparse coding, l1 weight ``alpha``) learns ``n_components`` atoms
    from them, which are returned as unit-norm columns. The defaults make the
    dictionary that :func:`load_coherent_dictionary` returns.

    Parameters
    ----------
    patch_size : int, default=16
        Side of a patch; an atom has ``patch_size ** 2`` entries.
    n_components : int, default=512
        Number of atoms.
    n_patches : int, default=20000
        Patches to learn from.
    alpha : float, default=0.1
        Sparsity weight of the dictionary learning.
    batch_size : int, default=256
        Patches per mini-batch.
    max_iter : int, default=10
        Most passes over the patches (the learner stops earlier once its cost
        stops improving).
    random_state : int, RandomState instance or None, default=0
        Seeds the patch sampling and the learner.

    Returns
    -------
    A : ndarray of shape (patch_size ** 2, n_components)
        Unit-norm atoms, one per column. Their entries sum to zero (the patches
        had their mean removed), so A has rank at most ``patch_size ** 2 - 1``.

    See Also
    --------
    load_coherent_dictionary : The shipped 256 x 512 result.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.datasets import learn_coherent_dictionary
    >>> A = learn_coherent_dictionary(patch_size=4, n_components=8,
    ...                               n_patches=300, max_iter=2)
    >>> A.shape
    (16, 8)
    >>> bool(np.allclose(np.linalg.norm(A, axis=0), 1.0))
    True
    """
    rng = check_random_state(random_state)
    P = _patches(patch_size, n_patches, rng)
    learner = MiniBatchDictionaryLearning(
        n_components=n_components,
        alpha=alpha,
        batch_size=batch_size,
        max_iter=max_iter,
        fit_algorithm="lars",
        random_state=rng,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learner.fit(P)
    A = learner.components_.T
    norms = np.linalg.norm(A, axis=0, keepdims=True)
    return A / np.where(norms > 0, norms, 1.0)


def load_coherent_dictionary():
    """The 256 x 512 coherent dictionary learned from natural-image patches.

    A stand-in for the survey's coherent setting, whose dictionary was learned
    from 16 x 16 patches of 400 BSD500 images: this one is learned from 20,000
    16 x 16 patches of the two images that ship with scikit-learn, by
    :func:`learn_coherent_dictionary` with its defaults, and stored in float32.
    Its mutual coherence ``max_{i != j} abs(a_i^T a_j)`` is 0.9321 (a Gaussian 256 x 512
    dictionary's is about 0.28). Its atoms have zero mean, so up to the float32
    rounding it has rank 255: its smallest singular value is about 1e-8.

    Returns
    -------
    A : ndarray of shape (256, 512)
        Unit-norm atoms (float64, normalised again after loading).

    See Also
    --------
    learn_coherent_dictionary : How it was made; regenerate it with
        ``python -m sklearn_l2o.datasets._coherent``.
    load_sparse_recovery : The "coherent" setting uses it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_l2o.datasets import load_coherent_dictionary
    >>> A = load_coherent_dictionary()
    >>> A.shape
    (256, 512)
    >>> bool(np.allclose(np.linalg.norm(A, axis=0), 1.0))
    True
    """
    with resources.files(__package__).joinpath("data", _FILE).open("rb") as f:
        with np.load(f) as data:
            A = data["dictionary"].astype(np.float64)
    return A / np.linalg.norm(A, axis=0, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_l2o.datasets._coherent",
        description="Learn the coherent 256 x 512 dictionary and store it.",
    )
    default = Path(__file__).parent / "data" / _FILE
    parser.add_argument("--output", type=Path, default=default, help="npz to write")
    args = parser.parse_args(argv)
    A = learn_coherent_dictionary(**_SHIPPED)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.output,
        dictionary=A.astype(np.float32),
        **{key: np.asarray(value) for key, value in _SHIPPED.items()},
    )
    stored = A.astype(np.float32).astype(np.float64)
    stored /= np.linalg.norm(stored, axis=0, keepdims=True)
    print(
        f"wrote {args.output}: shape {A.shape}, mutual coherence "
        f"{mutual_coherence(stored):.4f}"
    )


if __name__ == "__main__":
    main()
