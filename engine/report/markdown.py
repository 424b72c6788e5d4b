"""The Markdown of ``python -m engine report``: the summary and the page around the sections'
tables (:mod:`engine.report.tables`), with sample sizes and seeds beside each of them."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.checkpoint import read_card
from engine.report.figures import fmt, markdown_table
from engine.report.tables import (
    QUALITY_COLS,
    _disentangle_md,
    _inpainting_md,
    _likelihood_md,
    _probe_md,
    _quality_md,
    _quality_rows,
    model_rows,
)


def summary_table(r: dict) -> str:
    """One row per MNIST model (and the real floor): the figures the README carries."""
    q, lk, pr, inp = (
        r.get("quality"),
        r.get("likelihood", {}),
        r.get("probe", {}),
        r.get("inpainting"),
    )
    if not q:
        return ""
    head = [
        "",
        "FID (floor)",
        "precision",
        "recall",
        "coverage",
        "memorisation",
        "PPL",
        "held-out likelihood",
        "inpainting PSNR, bottom half",
        "probe acc. 10 / 100 labels",
    ]
    floor = q["rows"]["real: held-out (val)"]
    rows = [
        [
            "real held-out images (floor)",
            fmt(floor["fid"], 2),
            fmt(floor["precision"]),
            fmt(floor["recall"]),
            fmt(floor["coverage"]),
            fmt(floor["memorisation"]["median_ratio"], 2),
            "",
            f"independent pixels: {lk.get('baseline_bpd', 0):.3f} bits/dim, "
            f"{lk.get('baseline_nll_nats', 0):.1f} nats",
            _best_baseline(inp),
            _probe_cell(pr, "pixels") + " (pixels)",
        ]
    ]
    for name in model_rows(q["rows"]):
        row, ll = q["rows"][name], lk.get(name, {})
        like = (
            f"{ll['test_bpd']:.3f} bits/dim"
            if "test_bpd" in ll
            else f"{ll['test_nll_nats']:.1f} nats (IWAE k={ll['iwae_k']})"
            if "test_nll_nats" in ll
            else f"{-ll['test_ll_nats']:.1f} nats (AIS)"
            if "test_ll_nats" in ll
            else "none"
        )
        cell = next(
            (
                v["psnr"]
                for k, v in (inp or {}).get("table", {}).get("bottom half", {}).items()
                if k.startswith(name)
            ),
            None,
        )
        probe_name = name if name in pr.get("rows", {}) else f"{name} (inverted)"
        rows.append(
            [
                name,
                fmt(row["fid"], 2),
                fmt(row["precision"]),
                fmt(row["recall"]),
                fmt(row["coverage"]),
                fmt(row["memorisation"]["median_ratio"], 2),
                fmt(q["ppl"].get(name, {}).get("ppl"), 1),
                like,
                fmt(cell, 2),
                _probe_cell(pr, probe_name),
            ]
        )
    return markdown_table(head, rows)


def _best_baseline(inp) -> str:
    if not inp:
        return ""
    best = max(
        (v["psnr"], k)
        for k, v in inp["table"]["bottom half"].items()
        if "(" not in k or k.startswith("kNN")
    )
    return f"{best[0]:.2f} ({best[1]})"


def _probe_cell(pr: dict, name: str) -> str:
    row = pr.get("rows", {}).get(name)
    if not row:
        return ""
    return " / ".join(f"{row[k]['mean']:.3f}" if k in row else "-" for k in ("10", "100"))


def _extractor_line(s, name: str) -> str:
    path = s.pretrained / name
    if not path.is_dir():
        return f"- `{name}`: not found (quality metrics for its dataset are skipped)"
    card = read_card(path)
    test = card.get("metrics", {}).get("test", {})
    return (
        f"- `{name}`: LeNet-style CNN trained on the `{card['dataset']}` training split "
        f"({card['split']['train']} images, seed {card['seed']}); held-out test accuracy "
        f"**{test.get('test_accuracy', 'n/a')}** on {test.get('test_images', '?')} test images; "
        "features: its penultimate layer."
    )


def render_markdown(r: dict, s, *, grids: list[str], slug) -> str:
    """The whole report as Markdown (figures referenced by relative file name)."""
    t = r["timing_s"]
    lines = [
        "# latent-atlas: offline evaluation report",
        "",
        f"Generated {datetime.now(UTC).isoformat(timespec='minutes')} by `python -m engine report` "
        f"(`make report`), {t['total'] / 60:.1f} min of CPU time in all; it only reads the "
        f"checkpoints in `{s.pretrained}/`. Master seed {s.seed}. Seconds per section: "
        + ", ".join(f"{k} {v:.0f}" for k, v in t.items() if k != "total")
        + ". Measured (UTC): "
        + ", ".join(f"{k} {v}" for k, v in r.get("measured", {}).items())
        + ".",
        "",
        "No Inception or LPIPS weights are used (nothing is downloaded): every feature-space metric "
        "reads the project's own domain classifiers:",
        "",
        _extractor_line(s, "mnist-classifier"),
        _extractor_line(s, "sprites-classifier"),
        "",
    ]
    if "quality" in r:
        lines += [
            "## Summary (MNIST, held-out test split)",
            "",
            summary_table(r),
            "",
            f"FID against the 500 test images; the floor row is the {r['quality']['n']} real "
            "validation images, the same sample size as each model's samples, so only the gap to "
            "it means anything. Memorisation: median nearest-training / nearest-held-out distance "
            "ratio relative to real held-out data (1 = like new data, 0 = copies). Sizes and seeds "
            "of each column: see its section below.",
            "",
        ]
        lines += _quality_md(r["quality"], s, grids, slug)
    if r.get("sprites_quality"):
        sq = r["sprites_quality"]
        lines += [
            "### Sprites",
            "",
            f"Reference: the {sq['n_reference']} sprites test images; each row {sq['n']} images "
            f"(samples: seed {s.seed} + row), features of `sprites-classifier`; classes = shape. "
            "The training grid is 8x denser than the held-out split, so new real sprites sit much "
            "closer to a training image than to another held-out one; samples far from every "
            "sprite (blurry) then get a memorisation ratio above 1: read 'copies' here.",
            "",
            markdown_table(["set", *QUALITY_COLS], _quality_rows(sq["rows"])),
            "",
        ]
    if "likelihood" in r:
        lines += _likelihood_md(r["likelihood"], s)
    if "inpainting" in r:
        lines += _inpainting_md(r["inpainting"], s)
    if "probe" in r:
        lines += _probe_md(r["probe"], s)
    if r.get("disentangle"):
        lines += _disentangle_md(r["disentangle"], s)
    elif "disentangle" in s.sections:
        lines += ["## Disentanglement", "", "No checkpoints in `pretrained/disentangle/`.", ""]
    return "\n".join(lines) + "\n"
