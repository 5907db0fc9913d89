"""Every public name is documented: listed in the API reference, with an example."""

import inspect
from pathlib import Path

import pytest

import sklearn_l2o
import sklearn_l2o.datasets
import sklearn_l2o.metrics
import sklearn_l2o.problems

API = (Path(__file__).parent.parent / "doc" / "api.rst").read_text()

PUBLIC = [
    (module, name)
    for module in (
        sklearn_l2o,
        sklearn_l2o.datasets,
        sklearn_l2o.metrics,
        sklearn_l2o.problems,
    )
    for name in module.__all__
    if not name.startswith("__")
]


@pytest.mark.parametrize("module, name", PUBLIC, ids=[n for _, n in PUBLIC])
def test_public_name_is_documented(module, name):
    assert name in API, f"{name} is missing from doc/api.rst"
    obj = getattr(module, name)
    if callable(obj) and (inspect.isclass(obj) or inspect.isfunction(obj)):
        doc = inspect.getdoc(obj) or ""
        assert "Examples" in doc and ">>>" in doc, f"{name} has no runnable example"
