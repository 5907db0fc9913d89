"""Write the intersphinx inventories that the documentation reads offline.

The machines that build the documentation cannot reach the internet, so
``doc/conf.py`` reads the inventory of each linked project (scikit-learn,
NumPy, SciPy, PyTorch, Python) from a file in this folder instead of from the
project's site; the links still point to the online documentation. Each file
lists only the objects these documents refer to. To link to another object,
add it to ``OBJECTS`` below (its role, its name and the page of the online
documentation that describes it, without ``.html``) and run

    python doc/_inventories/make_inventories.py

which rewrites every ``<project>.inv`` here. Sphinx writes them: for each
project the script builds a throwaway Sphinx project with one page per
online page, declaring the objects on it, and keeps the ``objects.inv`` of
the result, so the files have exactly the format and anchors Sphinx expects.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from sphinx.cmd.build import build_main

HERE = Path(__file__).resolve().parent

#: project key in intersphinx_mapping -> (project name, version, objects), an
#: object being (role, full name, page of the online documentation); the roles
#: are those of Sphinx's Python domain ("class", "function", "data", ...),
#: "term" for a glossary entry and "label" for a section label
OBJECTS = {
    "sklearn": (
        "scikit-learn",
        "stable",
        [
            ("function", "sklearn.base.clone", "modules/generated/sklearn.base.clone"),
            (
                "class",
                "sklearn.decomposition.MiniBatchDictionaryLearning",
                "modules/generated/sklearn.decomposition.MiniBatchDictionaryLearning",
            ),
            (
                "class",
                "sklearn.decomposition.SparseCoder",
                "modules/generated/sklearn.decomposition.SparseCoder",
            ),
            (
                "function",
                "sklearn.datasets.fetch_openml",
                "modules/generated/sklearn.datasets.fetch_openml",
            ),
            (
                "function",
                "sklearn.datasets.load_digits",
                "modules/generated/sklearn.datasets.load_digits",
            ),
            (
                "function",
                "sklearn.datasets.load_sample_images",
                "modules/generated/sklearn.datasets.load_sample_images",
            ),
            (
                "function",
                "sklearn.datasets.make_sparse_coded_signal",
                "modules/generated/sklearn.datasets.make_sparse_coded_signal",
            ),
            (
                "class",
                "sklearn.exceptions.ConvergenceWarning",
                "modules/generated/sklearn.exceptions.ConvergenceWarning",
            ),
            (
                "class",
                "sklearn.linear_model.Lasso",
                "modules/generated/sklearn.linear_model.Lasso",
            ),
            (
                "function",
                "sklearn.metrics.make_scorer",
                "modules/generated/sklearn.metrics.make_scorer",
            ),
            (
                "class",
                "sklearn.model_selection.GridSearchCV",
                "modules/generated/sklearn.model_selection.GridSearchCV",
            ),
            (
                "function",
                "sklearn.model_selection.cross_val_score",
                "modules/generated/sklearn.model_selection.cross_val_score",
            ),
            (
                "class",
                "sklearn.pipeline.Pipeline",
                "modules/generated/sklearn.pipeline.Pipeline",
            ),
            ("class", "sklearn.utils.Bunch", "modules/generated/sklearn.utils.Bunch"),
            # in the docstrings of the methods inherited from scikit-learn
            ("term", "meta-estimator", "glossary"),
            ("label", "metadata_routing", "metadata_routing"),
            ("label", "df_output_transform", "modules/df_output_transform"),
            ("label", "r2_score", "modules/model_evaluation"),
            (
                "label",
                "sphx_glr_auto_examples_miscellaneous_plot_set_output.py",
                "auto_examples/miscellaneous/plot_set_output",
            ),
            ("function", "sklearn.set_config", "modules/generated/sklearn.set_config"),
            (
                "function",
                "sklearn.metrics.r2_score",
                "modules/generated/sklearn.metrics.r2_score",
            ),
            (
                "class",
                "sklearn.multioutput.MultiOutputRegressor",
                "modules/generated/sklearn.multioutput.MultiOutputRegressor",
            ),
            (
                "class",
                "sklearn.utils.metadata_routing.MetadataRequest",
                "modules/generated/sklearn.utils.metadata_routing.MetadataRequest",
            ),
        ],
    ),
    "numpy": (
        "NumPy",
        "stable",
        [
            ("class", "numpy.ndarray", "reference/generated/numpy.ndarray"),
            ("class", "numpy.random.RandomState", "reference/random/legacy"),
            # numpydoc links "array-like" in a parameter's type here
            ("term", "array_like", "glossary"),
        ],
    ),
    # the Python names numpydoc links in parameter types
    "python": (
        "Python",
        "3",
        [
            ("term", "callable", "glossary"),
            ("term", "iterable", "glossary"),
            ("data", "None", "library/constants"),
            ("data", "True", "library/constants"),
            ("data", "False", "library/constants"),
            ("function", "callable", "library/functions"),
            ("class", "float", "library/functions"),
            ("class", "int", "library/functions"),
            ("label", "bltin-boolean-values", "library/stdtypes"),
            ("class", "dict", "library/stdtypes"),
            ("class", "list", "library/stdtypes"),
            ("class", "str", "library/stdtypes"),
            ("class", "tuple", "library/stdtypes"),
        ],
    ),
    "scipy": (
        "SciPy",
        "stable",
        [
            (
                "class",
                "scipy.optimize.OptimizeResult",
                "reference/generated/scipy.optimize.OptimizeResult",
            ),
        ],
    ),
    "torch": (
        "PyTorch",
        "stable",
        [
            ("class", "torch.Tensor", "tensors"),
            ("class", "torch.device", "tensor_attributes"),
            ("class", "torch.dtype", "tensor_attributes"),
            ("class", "torch.nn.Module", "generated/torch.nn.Module"),
            ("class", "torch.optim.Optimizer", "optim"),
            ("class", "torch.optim.Adam", "generated/torch.optim.Adam"),
            ("class", "torch.optim.SGD", "generated/torch.optim.SGD"),
        ],
    ),
}


def _markup(role, name):
    """reST that declares ``name`` as Sphinx would find it on the real page."""
    if role == "term":
        return f".. glossary::\n\n   {name}\n      A term of the glossary.\n"
    if role == "label":
        return f".. _{name}:\n\n{name}\n{'-' * len(name)}\n"
    return f".. py:{role}:: {name}\n"


def write_inventory(key, folder):
    """Build ``key``'s throwaway project and copy its inventory into ``folder``."""
    project, version, objects = OBJECTS[key]
    with tempfile.TemporaryDirectory() as tmp:
        source, build = Path(tmp) / "source", Path(tmp) / "build"
        pages = {}
        for role, name, page in objects:
            pages.setdefault(page, []).append(_markup(role, name))
        for page, blocks in pages.items():
            path = source / f"{page}.rst"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(":orphan:\n\n" + "\n".join(blocks))
        (source / "index.rst").write_text(f"{project}\n{'=' * len(project)}\n")
        status = build_main(
            [
                "--quiet",
                "--isolated",
                "--fail-on-warning",
                "--builder",
                "html",
                "--define",
                f"project={project}",
                "--define",
                f"version={version}",
                "--define",
                f"release={version}",
                str(source),
                str(build),
            ]
        )
        if status:
            raise RuntimeError(f"the Sphinx build of {key}'s inventory failed")
        target = Path(folder) / f"{key}.inv"
        shutil.copyfile(build / "objects.inv", target)
    return target


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else HERE
    for key in OBJECTS:
        print(write_inventory(key, folder))


if __name__ == "__main__":
    main()
