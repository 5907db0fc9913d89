"""Ill-conditioned and coherent dictionaries, and the benchmark's named settings."""

import inspect
import math
import re

import numpy as np
import pytest

from sklearn_l2o.datasets import (
    SPARSE_RECOVERY_SETTINGS,
    learn_coherent_dictionary,
    load_coherent_dictionary,
    load_sparse_recovery,
    make_conditioned_dictionary,
    make_gaussian_dictionary,
    make_sparse_recovery,
)
from sklearn_l2o.datasets._coherent import main as regenerate


def coherence(A):
    G = np.abs(A.T @ A)
    np.fill_diagonal(G, 0.0)
    return G.max()


@pytest.mark.parametrize("kappa", [5.0, 30.0, 50.0])
def test_conditioned_dictionary_spectrum(kappa):
    A = make_conditioned_dictionary(50, 100, kappa, random_state=0)
    assert A.shape == (50, 100)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)
    # the unit columns move the condition number only a little from kappa
    assert abs(np.linalg.cond(A) / kappa - 1) < 0.1
    # before normalisation the singular values are exactly geometric
    rng = np.random.RandomState(0)
    raw = rng.normal(0.0, 1.0 / np.sqrt(50), size=(50, 100))
    U, _, Vt = np.linalg.svd(raw, full_matrices=False)
    target = np.logspace(0, -np.log10(kappa), 50)
    unnormalised = (U * target) @ Vt
    np.testing.assert_allclose(
        A, unnormalised / np.linalg.norm(unnormalised, axis=0), atol=1e-12
    )


def test_condition_number_keyword():
    B, X, A = make_sparse_recovery(
        20, n_features=30, n_components=60, condition_number=30, random_state=0
    )
    np.testing.assert_allclose(A, make_conditioned_dictionary(30, 60, 30, 0))
    np.testing.assert_allclose(B, X @ A.T)
    # a Gaussian dictionary of the same size is far better conditioned
    assert np.linalg.cond(A) > 3 * np.linalg.cond(make_gaussian_dictionary(30, 60, 0))
    # without the keyword, the output is what it always was
    B0, X0, A0 = make_sparse_recovery(
        20, n_features=30, n_components=60, random_state=0
    )
    np.testing.assert_allclose(A0, make_gaussian_dictionary(30, 60, 0))
    with pytest.raises(ValueError, match="condition_number"):
        make_sparse_recovery(5, dictionary=A, condition_number=5)
    with pytest.raises(ValueError, match="condition_number"):
        make_sparse_recovery(5, condition_number=0.5)


def test_coherent_dictionary_matches_its_documentation():
    A = load_coherent_dictionary()
    assert A.shape == (256, 512) and A.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, atol=1e-12)
    doc = inspect.getdoc(load_coherent_dictionary)
    documented = float(re.search(r"coherence .*? is (0\.\d+)", doc, re.S).group(1))
    assert round(coherence(A), 4) == documented
    # highly coherent: far above a Gaussian dictionary of the same size
    assert coherence(A) > 2 * coherence(make_gaussian_dictionary(256, 512, 0))
    # atoms of mean-removed patches have zero mean
    np.testing.assert_allclose(A.sum(axis=0), 0.0, atol=1e-5)


def test_learning_runs_on_a_tiny_configuration(tmp_path, monkeypatch):
    A = learn_coherent_dictionary(
        patch_size=3, n_components=6, n_patches=200, max_iter=2, random_state=0
    )
    assert A.shape == (9, 6)
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0)
    np.testing.assert_allclose(A.sum(axis=0), 0.0, atol=1e-10)
    again = learn_coherent_dictionary(
        patch_size=3, n_components=6, n_patches=200, max_iter=2, random_state=0
    )
    np.testing.assert_array_equal(A, again)


def test_regeneration_script_writes_a_loadable_file(tmp_path, monkeypatch, capsys):
    import sklearn_l2o.datasets._coherent as coherent

    tiny = dict(coherent._SHIPPED, patch_size=3, n_components=6, n_patches=200)
    monkeypatch.setattr(coherent, "_SHIPPED", tiny)
    out = tmp_path / "tiny.npz"
    regenerate(["--output", str(out)])
    with np.load(out) as data:
        assert data["dictionary"].shape == (9, 6)
        assert data["dictionary"].dtype == np.float32
        assert int(data["patch_size"]) == 3
    assert "mutual coherence" in capsys.readouterr().out


EXPECTED = {
    "canonical": ((250, 500), math.inf),
    "noiseless": ((256, 512), math.inf),
    "snr40": ((256, 512), 40.0),
    "snr30": ((256, 512), 30.0),
    "snr20": ((256, 512), 20.0),
    "coherent": ((256, 512), math.inf),
    "large": ((512, 1024), math.inf),
    "kappa5": ((250, 500), math.inf),
    "kappa30": ((250, 500), math.inf),
    "kappa50": ((250, 500), math.inf),
}


def test_setting_names():
    assert set(SPARSE_RECOVERY_SETTINGS) == set(EXPECTED)


@pytest.mark.parametrize("setting", sorted(EXPECTED))
def test_each_setting(setting):
    data = load_sparse_recovery(setting, n_train=40, n_test=30)
    shape, snr = EXPECTED[setting]
    m, n = shape
    assert data.dictionary.shape == shape
    assert data.B_train.shape == (40, m) and data.X_train.shape == (40, n)
    assert data.B_test.shape == (30, m) and data.X_test.shape == (30, n)
    assert data.setting == setting and data.snr == snr
    assert setting in data.description
    np.testing.assert_allclose(np.linalg.norm(data.dictionary, axis=0), 1.0)
    clean = data.X_train @ data.dictionary.T
    if math.isinf(snr):
        np.testing.assert_allclose(data.B_train, clean, atol=1e-12)
    else:
        assert not np.allclose(data.B_train, clean)
    if setting.startswith("kappa"):
        kappa = SPARSE_RECOVERY_SETTINGS[setting]["condition_number"]
        assert abs(np.linalg.cond(data.dictionary) / kappa - 1) < 0.1
    if setting == "coherent":
        np.testing.assert_array_equal(data.dictionary, load_coherent_dictionary())


def test_noise_level_of_a_noisy_setting():
    data = load_sparse_recovery("snr30", n_train=2000, n_test=10)
    clean = data.X_train @ data.dictionary.T
    noise = data.B_train - clean
    measured = 10 * np.log10(
        np.sum(clean.std(axis=1) ** 2) / np.sum(noise.std(axis=1) ** 2)
    )
    assert abs(measured - 30.0) < 0.3


def test_seeds_and_return_x_y():
    first = load_sparse_recovery("canonical", n_train=20, n_test=15, random_state=3)
    more = load_sparse_recovery("canonical", n_train=50, n_test=15, random_state=3)
    # the dictionary and the test set do not depend on n_train
    np.testing.assert_array_equal(first.dictionary, more.dictionary)
    np.testing.assert_array_equal(first.B_test, more.B_test)
    other = load_sparse_recovery("canonical", n_train=20, n_test=15, random_state=4)
    assert not np.allclose(first.dictionary, other.dictionary)
    # train and test are different draws
    assert not np.allclose(first.X_train[:15], first.X_test)
    B, X, B_test, X_test, A = load_sparse_recovery(
        "canonical", n_train=20, n_test=15, random_state=3, return_X_y=True
    )
    np.testing.assert_array_equal(B, first.B_train)
    np.testing.assert_array_equal(X_test, first.X_test)
    np.testing.assert_array_equal(A, first.dictionary)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"setting": "bsd500"}, "setting"),
        ({"n_train": 0}, "n_train"),
        ({"n_test": -1}, "n_test"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_sparse_recovery(**kwargs)
