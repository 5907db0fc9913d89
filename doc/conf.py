"""Sphinx configuration for sklearn_l2o.

Build: ``sphinx-build -W --keep-going -b html doc doc/_build/html``. The gallery
runs every example (minutes on a CPU); ``-D plot_gallery=0`` builds the pages
without running them.
"""

import os
import warnings
from pathlib import Path

import sklearn_l2o

project = "sklearn_l2o"
author = "sklearn_l2o developers"
copyright = "2026, sklearn_l2o developers"
release = sklearn_l2o.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_inventories"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Learning to optimize as scikit-learn estimators",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
# every cross-reference must resolve, here or through intersphinx
nitpicky = True
# references in sklearn_l2o's docstrings that have no target yet; each entry
# goes once its docstring is fixed
nitpick_ignore = []

# --------------------------------------------------------------------- API
autosummary_generate = True
# every method with its parameters, inherited ones (fit_transform, score,
# get_params, ...) included, as in scikit-learn's own reference; the class
# template (_templates/autosummary/class.rst) adds a table of them on top
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_member_order = "groupwise"
# the parameters are documented in the class docstring; the generated
# ``__init__`` only says that it stores them
autoclass_content = "class"
numpydoc_show_class_members = False
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    # numpydoc links these to the glossary under the name "array_like"
    "array-like": ":term:`array-like <numpy:array_like>`",
    "array_like": ":term:`array_like <numpy:array_like>`",
    # rather than the function callable(), shown as "callable()"
    "callable": ":term:`callable <python:callable>`",
    "ndarray": "numpy.ndarray",
    "Bunch": "sklearn.utils.Bunch",
    "RandomState": "numpy.random.RandomState",
    "Tensor": "torch.Tensor",
    "tensor": "torch.Tensor",
    "OptimizeResult": "scipy.optimize.OptimizeResult",
    "ProblemFamily": "sklearn_l2o.problems.ProblemFamily",
    "AnalyticOptimizer": "sklearn_l2o.AnalyticOptimizer",
}
# words of the types' prose ("array-like of shape (n, m), default=None")
# that are not objects to link
numpydoc_xref_ignore = "all"

# -------------------------------------------------------------- intersphinx
# The build machines are offline: each project's inventory is read from a
# small file under _inventories/ (regenerate it with
# ``python doc/_inventories/make_inventories.py``), while the links point to
# the project's online documentation. With SKLEARN_L2O_INTERSPHINX=online the
# full online inventory is tried first, the local file then being the
# fallback.
_INVENTORIES = Path(__file__).parent / "_inventories"
_ONLINE = os.environ.get("SKLEARN_L2O_INTERSPHINX") == "online"


def _mapping(url, name):
    local = str(_INVENTORIES / f"{name}.inv")
    return url, (None, local) if _ONLINE else (local,)


intersphinx_mapping = {
    "sklearn": _mapping("https://scikit-learn.org/stable/", "sklearn"),
    "numpy": _mapping("https://numpy.org/doc/stable/", "numpy"),
    "scipy": _mapping("https://docs.scipy.org/doc/scipy/", "scipy"),
    "torch": _mapping("https://docs.pytorch.org/docs/stable/", "torch"),
    "python": _mapping("https://docs.python.org/3/", "python"),
}
intersphinx_timeout = 10

# ----------------------------------------------------------------- gallery
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # every example draws and runs; the gallery shows its figures and output
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_l2o",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 10,
}

# matplotlib's Agg backend warns when an example calls plt.show()
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="(Matplotlib|FigureCanvasAgg) is (currently using agg|non-interactive)",
)
