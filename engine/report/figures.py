"""Figures and table helpers of the evaluation report (matplotlib, Agg backend, PNG files).

Every figure's title states its sample size and seeds, so a PNG taken out of the report still
says what it measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fmt(v, digits: int = 3) -> str:
    """A number for a table cell ('-' for missing)."""
    if v is None:
        return "-"
    return f"{v:.{digits}f}"


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_figure(sweep: dict, floor: dict, path: Path, *, n: int, seed: int) -> None:
    """Precision vs. recall of each model as its sampling temperature changes."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, points in sweep.items():
        temps = sorted(points, key=float)
        xs = [points[t]["recall"] for t in temps]
        ys = [points[t]["precision"] for t in temps]
        ax.plot(xs, ys, "o-", label=name)
        for t, x, y in zip(temps, xs, ys, strict=True):
            ax.annotate(
                f"{float(t):g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8
            )
    ax.plot([floor["recall"]], [floor["precision"]], "k*", markersize=14, label="real val (floor)")
    ax.set(xlabel="recall (k = 3)", ylabel="precision (k = 3)", xlim=(0, 1.02), ylim=(0, 1.02))
    ax.set_title(
        f"MNIST: precision vs recall by temperature\n{n} samples per point vs 500 test "
        f"images, seed {seed} + model",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="lower left")
    _save(fig, path)


def histogram_figure(rows: dict, path: Path, *, n: int, seed: int) -> None:
    """Predicted-label histograms of every set that has one."""
    names = [k for k, v in rows.items() if "label_histogram" in v and not k.startswith("real: b")]
    names = [k for k in names if "noisy" not in k]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        hist = rows[name]["label_histogram"]
        ax.bar([c + i * width for c in range(len(hist))], hist, width=width, label=name)
    ax.axhline(0.1, color="k", lw=0.8, ls="--")
    ax.set(xlabel="predicted digit", ylabel="share of images", xticks=[c + 0.4 for c in range(10)])
    ax.set_xticklabels(range(10))
    ax.set_title(
        f"Label histograms (mnist-classifier): {n} images per set, seed {seed}", fontsize=10
    )
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


def probe_figure(pr: dict, path: Path) -> None:
    """Linear-probe accuracy per code and label budget, with the spread over seeds."""
    names = list(pr["rows"])
    budgets = sorted({k for v in pr["rows"].values() for k in v}, key=int)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / len(budgets)
    for j, k in enumerate(budgets):
        xs = [i + j * width for i, n in enumerate(names) if k in pr["rows"][n]]
        means = [pr["rows"][n][k]["mean"] for n in names if k in pr["rows"][n]]
        stds = [pr["rows"][n][k]["std"] for n in names if k in pr["rows"][n]]
        ax.bar(xs, means, width=width, yerr=stds, capsize=3, label=f"{k} labels / class")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))])
    ax.set_xticklabels([n.split(" (")[0] for n in names], rotation=15, fontsize=8)
    ax.set(ylabel="test accuracy", ylim=(0, 1))
    ax.set_title(
        f"Linear probe on codes: {pr['n_test']} test images, label seeds {pr['seeds']}", fontsize=10
    )
    ax.legend(fontsize=8)
    _save(fig, path)


def disentangle_figure(d: dict, path: Path) -> None:
    """MIG, FactorVAE and DCI-disentanglement per group, mean ± std over seeds."""
    keys = ("mig", "factorvae", "disentanglement")
    groups = [g for g in d["groups"] if not g.startswith("random")]
    floor = next((v for g, v in d["groups"].items() if g.startswith("random")), None)
    fig, axes = plt.subplots(1, len(keys), figsize=(10, 3.6))
    for ax, key in zip(axes, keys, strict=True):
        means = [d["groups"][g][key][0] for g in groups]
        stds = [d["groups"][g][key][1] for g in groups]
        ax.bar(range(len(groups)), means, yerr=stds, capsize=4, color="tab:blue")
        if floor:
            ax.axhline(floor[key][0], color="k", ls="--", lw=1)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([g.split(" (")[0] for g in groups], rotation=15, fontsize=8)
        ax.set_title(key, fontsize=10)
        ax.set_ylim(0, 1)
    seeds = {g: len(d["groups"][g]["runs"]) for g in groups}
    fig.suptitle(
        f"Sprites disentanglement: {d['n_codes']} codes, {d['votes']} votes x "
        f"{d['vote_batch']}, seeds per group {seeds}; dashed: random encoder",
        fontsize=9,
    )
    _save(fig, path)
