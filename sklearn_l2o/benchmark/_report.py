"""Tables, results files and plots for the benchmark commands."""

import json
import math
import os
import platform

import torch


def machine_description(device):
    """One line naming where the numbers were measured."""
    device = str(device)
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return (
        f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads)"
    )


def _fmt(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.1f}"


def format_table(results, columns=(1, 2, 4, 8, 16)):
    """Text table: method, NMSE (dB) at the given layers, final, timings, device.

    Results that also carry ``nmse_db_samples`` (the mean of per-sample dB)
    get its final value in a column ``per-sample``.
    """
    per_sample = any("nmse_db_samples" in res for res in results.values())
    head = (
        ["method"]
        + [f"@{c}" for c in columns]
        + ["final"]
        + (["per-sample"] if per_sample else [])
        + ["n", "fit s", "predict s", "device"]
    )
    rows = []
    for name, res in results.items():
        curve = res["nmse_db"]
        at = [curve[c - 1] if len(curve) >= c else None for c in columns]
        extra = []
        if per_sample:
            samples = res.get("nmse_db_samples")
            extra = [_fmt(samples[-1] if samples else None)]
        rows.append(
            [name]
            + [_fmt(v) for v in at]
            + [_fmt(curve[-1])]
            + extra
            + [
                str(len(curve)),
                f"{res['fit_seconds']:.2f}",
                f"{res['predict_seconds']:.3f}",
                res["device"],
            ]
        )
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    lines = [
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(head, widths))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths))
            )
        )
    return "\n".join(lines)


def write_results(output, payload, name="results.json"):
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, name)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2)
    return path


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
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is an optional extra
        return None
    return plt


def _draw(
    ax,
    results,
    title,
    ylabel="NMSE (dB)",
    xlabel="layer / iteration",
    yscale="linear",
):
    for name, res in results.items():
        curve = res["nmse_db"]
        if len(curve) == 1:
            ax.axhline(curve[0], linestyle="--", linewidth=1, label=name, color="gray")
        else:
            marker = "o" if len(curve) <= 64 else None
            ax.plot(
                range(1, len(curve) + 1), curve, marker=marker, markersize=3, label=name
            )
    ax.set_xscale("log")
    ax.set_yscale(yscale)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def plot_curves(output, results, title, filename="nmse.png", **labels):
    """NMSE against layer / iteration for every method (log x axis; ``yscale``
    among ``labels`` sets the y axis); returns the path, or None without
    matplotlib."""
    plt = _pyplot()
    if plt is None:  # pragma: no cover
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _draw(ax, results, title, **labels)
    fig.tight_layout()
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, filename)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_panels(output, payloads, titles, filename="figure5.png"):
    """One panel per setting, as the survey's Figure 5."""
    plt = _pyplot()
    if plt is None:  # pragma: no cover
        return None
    n = len(payloads)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(6.5 * cols, 4.2 * rows), squeeze=False
    )
    for ax, (setting, payload) in zip(axes.flat, payloads.items()):
        _draw(ax, payload["methods"], titles[setting])
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, filename)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
