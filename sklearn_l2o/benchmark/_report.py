"""Tables, results files and plots for the benchmark commands."""

import json
import math
import os
import platform

import torch

from .._display import curve_styles
from ..metrics import NMSECurveDisplay


def machine_description(device):
    """One line naming where the numbers were measured."""
    device = str(device)
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return (
        f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads: {torch.get_num_threads()})"
    )


def describe_snr(snr):
    """``"noiseless"`` or ``"SNR 20 dB"``."""
    if snr is None or math.isinf(snr):
        return "noiseless"
    return f"SNR {snr:g} dB"


# ---------------------------------------------------------------------- tables
def fmt(value, spec=".1f"):
    """A number as text; ``-`` where there is none (missing or nan)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


class Table:
    """A text table printed one row at a time, with a legend under it.

    The columns are fixed before the first row (so that a row can be printed
    as soon as its method finishes): ``columns`` are ``(title, width)`` pairs,
    the columns numbered in ``left`` (the first by default) left-aligned and
    the rest right-aligned; a wider value shifts the rest of its own row only.
    ``cells(name, result)`` returns the rows of one method's result as lists
    of strings, one per column.
    """

    def __init__(self, columns, cells, legend, left=(0,)):
        self.titles = [title for title, _ in columns]
        self.widths = [max(width, len(title)) for title, width in columns]
        self.cells = cells
        self.legend = legend
        self.left = set(left)

    def _line(self, cells):
        return "  ".join(
            cell.ljust(width) if i in self.left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, self.widths))
        ).rstrip()

    def header(self):
        return "\n".join(
            [self._line(self.titles), "  ".join("-" * w for w in self.widths)]
        )

    def rows(self, name, result):
        """The lines of one method's rows."""
        return "\n".join(self._line(cells) for cells in self.cells(name, result))

    def render(self, results):
        """The whole table: header, every method's rows, legend."""
        body = [self.rows(name, res) for name, res in results.items()]
        return "\n".join([self.header(), *body, self.legend])


def curve_columns(candidates, lengths):
    """The ``@k`` columns worth printing: those some curve reaches.

    ``lengths`` are the numbers of values the methods will record; a method
    with a single final value fills no ``@k`` column, so it does not count.
    """
    longest = max((n for n in lengths if n > 1), default=0)
    return [c for c in candidates if c <= longest]


def format_training_times(payloads):
    """Text table: fit seconds and training steps per method (rows) and setting."""
    settings = list(payloads)
    methods = list(dict.fromkeys(m for p in payloads.values() for m in p["methods"]))
    head = ["method"] + settings
    rows = []
    for method in methods:
        row = [method]
        for setting in settings:
            res = payloads[setting]["methods"].get(method)
            if res is None:
                row.append("-")
            elif "train_steps" in res:
                row.append(f"{res['fit_seconds']:.1f} s / {res['train_steps']}")
            else:
                row.append("no training")
        rows.append(row)
    return text_table(head, rows)


def text_table(head, rows):
    """Left-aligned columns of strings under ``head`` and a rule."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------- files
def write_json(path, payload):
    """Write ``payload`` to ``path`` atomically: a reader (or a run stopped
    midway) sees the previous complete file or the new one, never a part."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # next to the target (os.replace stays on one file system), named after
    # this process so that two runs writing one folder do not collide
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_results(output, payload, name="results.json"):
    return write_json(os.path.join(output, name), payload)


# ----------------------------------------------------------------------- plots
def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is an optional extra
        return None
    return plt


def _draw(ax, results, title, styles, legend=False, xlabel=None, **labels):
    """The methods' curves on ``ax``, drawn by :class:`NMSECurveDisplay`."""
    curves = {name: res["nmse_db"] for name, res in results.items()}
    NMSECurveDisplay(curves, title=title).plot(
        ax, log_x=True, styles=styles, legend=legend, **labels
    )
    if xlabel is not None:
        ax.set_xlabel(xlabel)


def _save(fig, output, filename, dpi):
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, filename)
    # "tight" grows the canvas to hold the legend outside the axes
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def plot_curves(output, results, title, filename="nmse.png", dpi=110, **labels):
    """NMSE against layer / iteration for every method (log x axis; ``yscale``
    among ``labels`` sets the y axis), the legend right of the axes; returns
    the path, or None without matplotlib."""
    plt = _pyplot()
    if plt is None:  # pragma: no cover
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    _draw(ax, results, title, curve_styles(results), legend=True, **labels)
    path = _save(fig, output, filename, dpi)
    plt.close(fig)
    return path


def plot_panels(output, payloads, titles, filename="figure5.png", dpi=100):
    """One panel per setting, as the survey's Figure 5, with one legend for
    all panels right of them."""
    plt = _pyplot()
    if plt is None:  # pragma: no cover
        return None
    styles = curve_styles(m for p in payloads.values() for m in p["methods"])
    n = len(payloads)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.5 * cols, 3.8 * rows), squeeze=False
    )
    legend = {}
    for ax, (setting, payload) in zip(axes.flat, payloads.items()):
        _draw(ax, payload["methods"], titles[setting], styles)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.legend(
        legend.values(),
        legend.keys(),
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        frameon=False,
    )
    path = _save(fig, output, filename, dpi)
    plt.close(fig)
    return path
