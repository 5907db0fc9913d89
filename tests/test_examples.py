"""The scripts in examples/ run: every one in its quick mode, and in full when
SKLEARN_L2O_FULL_EXAMPLES=1 (minutes each, marked slow)."""

import os
import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))

matplotlib = pytest.importorskip("matplotlib")


def _run(path, tmp_path, monkeypatch, quick):
    """Run the script as ``python path`` would; return its open figures."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if quick:
        monkeypatch.setenv("SKLEARN_L2O_EXAMPLE_QUICK", "1")
    else:
        monkeypatch.delenv("SKLEARN_L2O_EXAMPLE_QUICK", raising=False)
    monkeypatch.chdir(tmp_path)
    plt.close("all")
    try:
        with warnings.catch_warnings():
            # plt.show() on the Agg backend says that it cannot show
            warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")
            runpy.run_path(str(path), run_name="__main__")
        figures = [plt.figure(number) for number in plt.get_fignums()]
    finally:
        plt.close("all")
    return figures


def _check_figure(figure):
    """A figure with a titled, labelled plot and a legend clear of the data."""
    (ax,) = figure.axes
    assert " x " in ax.get_title(), "the title should give the problem size"
    assert ax.get_xlabel() and ax.get_ylabel()
    legend = ax.get_legend()
    assert legend is not None and legend.get_texts()
    figure.canvas.draw()
    box = legend.get_window_extent()
    axes_box = ax.get_window_extent()
    # the legend sits beside the axes, so it cannot cover a curve
    assert box.x0 >= axes_box.x1 - 1
    # and neither it nor the title is cut off at the figure's edges
    width = figure.bbox.width
    for item in (legend, ax.title):
        extent = item.get_window_extent()
        assert extent.x0 >= -1 and extent.x1 <= width + 1, "cut off"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    assert path.name.startswith("plot_"), "an example that draws is a plot_*.py"
    figures = _run(path, tmp_path, monkeypatch, quick=True)
    assert "NMSE" in capsys.readouterr().out
    assert len(figures) == 1
    _check_figure(figures[0])


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_has_gallery_header(path):
    """sphinx-gallery needs a docstring opening with a title, and the
    docstring states how long the full run takes."""
    import ast

    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    lines = docstring.strip().splitlines()
    assert set(lines[0]) == {"="} and set(lines[2]) == {"="}, "no title block"
    assert len(lines[1].strip()) <= len(lines[0])
    assert "CPU cores" in docstring
    assert "SKLEARN_L2O_EXAMPLE_QUICK" in docstring


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SKLEARN_L2O_FULL_EXAMPLES"),
    reason="full examples take minutes; set SKLEARN_L2O_FULL_EXAMPLES=1",
)
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_in_full(path, tmp_path, monkeypatch, capsys):
    figures = _run(path, tmp_path, monkeypatch, quick=False)
    assert "NMSE" in capsys.readouterr().out
    assert len(figures) == 1
    _check_figure(figures[0])
