"""Sphinx configuration for sklearn_l2o."""

project = "sklearn_l2o"
author = "sklearn_l2o developers"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = ["ref.ref"]  # links in docstrings inherited from scikit-learn
