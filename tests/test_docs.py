"""The documentation: every public name is in the API reference with an example,
the snippets of the user guide run, the offline intersphinx inventories are
current, and the HTML builds without a warning (when Sphinx is installed)."""

import doctest
import inspect
import runpy
import shutil
import zlib
from pathlib import Path

import pytest

import sklearn_l2o
import sklearn_l2o.datasets
import sklearn_l2o.metrics
import sklearn_l2o.parallel
import sklearn_l2o.problems

ROOT = Path(__file__).parent.parent
DOC = ROOT / "doc"
API = (DOC / "api.rst").read_text()

PUBLIC = [
    (module, name)
    for module in (
        sklearn_l2o,
        sklearn_l2o.datasets,
        sklearn_l2o.metrics,
        sklearn_l2o.parallel,
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


PAGES = sorted(
    path
    for path in DOC.rglob("*.rst")
    if "_build" not in path.parts
    and "generated" not in path.parts
    and "auto_examples" not in path.parts
    and ">>>" in path.read_text()
)


@pytest.mark.parametrize(
    "page", PAGES, ids=[p.relative_to(DOC).as_posix() for p in PAGES]
)
def test_page_snippets_run(page):
    """The ``>>>`` snippets of the narrative pages give the output they show."""
    failed, attempted = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=True,
    )
    assert attempted > 0
    assert failed == 0, f"{failed} of {attempted} snippets of {page.name} failed"


def _inventory_body(path):
    """The entries of an inventory file (the part after its 4 header lines)."""
    data = Path(path).read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    return data[:header_end], zlib.decompress(data[header_end:])


def test_inventories_are_current(tmp_path):
    """doc/_inventories/*.inv are what make_inventories.py writes now."""
    pytest.importorskip("sphinx")
    script = runpy.run_path(str(DOC / "_inventories" / "make_inventories.py"))
    for key in script["OBJECTS"]:
        fresh = script["write_inventory"](key, tmp_path)
        committed = DOC / "_inventories" / f"{key}.inv"
        assert _inventory_body(fresh) == _inventory_body(committed), (
            f"{committed.name} is out of date: run "
            "python doc/_inventories/make_inventories.py"
        )


def test_docs_build_without_warnings(tmp_path):
    """The HTML builds with -W, offline, the gallery's scripts not run."""
    pytest.importorskip("numpydoc")
    pytest.importorskip("sphinx_gallery")
    from sphinx.cmd.build import build_main

    # a copy, so that the files the build generates (autosummary pages, the
    # gallery's pages) stay out of the checkout
    shutil.copytree(
        DOC,
        tmp_path / "doc",
        ignore=shutil.ignore_patterns(
            "_build", "generated", "auto_examples", "sg_execution_times.rst"
        ),
    )
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    # the benchmarks page shows the committed figures
    shutil.copytree(
        ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results"
    )
    status = build_main(
        [
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",
            str(tmp_path / "doc"),
            str(tmp_path / "html"),
        ]
    )
    assert status == 0
    page = (tmp_path / "html" / "generated" / "sklearn_l2o.ALISTA.html").read_text()
    # methods are documented with their parameters, not only listed
    assert 'id="sklearn_l2o.ALISTA.staged_predict"' in page
    assert "Measurements b, one per row." in page
