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
    """Text table: method, NMSE (dB) at the given layers, final, timings, device."""
    head = (
        ["method"]
        + [f"@{c}" for c in columns]
        + ["final", "n", "fit s", "predict s", "device"]
    )
    rows = []
    for name, res in results.items():
        curve = res["nmse_db"]
        at = [curve[c - 1] if len(curve) >= c else None for c in columns]
        rows.append(
            [name]
            + [_fmt(v) for v in at]
            + [
                _fmt(curve[-1]),
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


def plot_curves(
    output,
    results,
    title,
    filename="nmse.png",
    max_x=None,
    ylabel="NMSE (dB)",
    xlabel="layer / iteration",
):
    """NMSE against layer for every method; returns the path or None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is an optional extra
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, res in results.items():
        curve = res["nmse_db"]
        if max_x is not None:
            curve = curve[:max_x]
        if len(curve) == 1:
            ax.axhline(curve[0], linestyle="--", linewidth=1, label=name, color="gray")
        else:
            ax.plot(
                range(1, len(curve) + 1), curve, marker="o", markersize=3, label=name
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, filename)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
