"""The Markdown table of each section of ``python -m engine report``, with sample sizes and seeds
beside it; rows follow the models the section measured (chosen by capability), in its order."""

from __future__ import annotations

from engine.report.figures import fmt, markdown_table


def model_rows(rows: dict) -> list[str]:
    """The model rows of a quality table, in the order measured (not the ``real:`` rows)."""
    return [name for name in rows if not name.startswith("real:")]


QUALITY_COLS = (
    "FID",
    "KID",
    "precision",
    "recall",
    "density",
    "coverage",
    "class. score",
    "smallest class",
    "memor. ratio",
    "copies",
    "flagged",
)


def _quality_rows(rows: dict) -> list[list[str]]:
    table = []
    for name, q in rows.items():
        m = q["memorisation"]
        table.append(
            [
                name,
                fmt(q["fid"], 2),
                f"{q['kid']:.3g} ± {q['kid_std']:.2g}",
                fmt(q["precision"]),
                fmt(q["recall"]),
                fmt(q["density"]),
                fmt(q["coverage"]),
                fmt(q.get("classifier_score"), 2),
                fmt(q.get("min_class_share")),
                fmt(m["median_ratio"], 2),
                fmt(m["share_copies"]),
                "**yes**" if m["flagged"] else "no",
            ]
        )
    return table


def _quality_md(q: dict, s, grids: list[str], slug) -> list[str]:
    n = q["n"]
    return [
        "## Sample quality and diversity (MNIST)",
        "",
        f"Every row: {n} images against the {q['n_reference']} test images, in `mnist-classifier` "
        f"feature space. Model samples at temperature 1 with seed {s.seed} + model index (in "
        f"the table's order). KID: mean ± std over 20 random subsets of {n // 2}. Precision / recall: "
        "k = 3; density / coverage: k = 5. Memorisation in pixel space against the 4,050 training "
        "images; 'copies' = share of images closer to a training image than 99% of test images are.",
        "",
        "The `real:` rows are the sanity check: the first is the floor; blur and noise should "
        "lower precision and density, digits 0-4 only should cut recall / coverage and show in "
        "the smallest class share, and only the training images may be flagged by the "
        "memorisation check (FID cannot tell them from new data).",
        "",
        markdown_table(["set", *QUALITY_COLS], _quality_rows(q["rows"])),
        "",
        f"Perceptual path length ({s.ppl_pairs} latent pairs, seed {s.seed} + 100 + model index, "
        "slerp, eps 1e-2, squared distance of classifier features, 1% tails trimmed):",
        "",
        markdown_table(
            ["model", "PPL", "median"],
            [[k, fmt(v["ppl"], 1), fmt(v["median"], 1)] for k, v in q["ppl"].items()],
        ),
        "",
        "![precision vs recall](precision-recall-temperature.png)",
        "",
        f"*Precision / recall while the sampling temperature (truncation for the GAN) changes: "
        f"{n} samples per point, seed {s.seed} + model index, temperatures "
        f"{list(s.temperatures)}; the star is the real floor ({n} val images).*",
        "",
        "![label histograms](label-histograms.png)",
        "",
        f"*Share of {n} images per predicted digit (`mnist-classifier`), seed {s.seed}.*",
        "",
        "Samples (first 64 of each set): "
        + ", ".join(f"[{g}](samples-{slug(g)}.png)" for g in grids),
        "",
    ]


def _likelihood_md(lk: dict, s) -> list[str]:
    rows = [
        ["independent pixels (256-level histograms, add-one)", f"{lk['baseline_bpd']:.3f}", "", ""],
        ["independent Bernoulli pixels (train mean)", "", f"{lk['baseline_nll_nats']:.2f}", ""],
    ]
    for name, v in lk.items():
        if not isinstance(v, dict):
            continue  # the sizes and baselines beside the models
        card = v.get("card", {})
        if "test_bpd" in v:
            full = f"card: {card.get('test_bpd', '?')} bits/dim"
            rows.append([name, f"{v['test_bpd']:.3f}", "", full])
        elif "test_nll_nats" in v:
            nll = f"{v['test_nll_nats']:.2f} (IWAE k={v['iwae_k']}); -ELBO {v['test_neg_elbo_nats']:.2f}"
            full = f"card: {card.get('test_nll_nats', '?')} nats (k={card.get('iwae_k', '?')})"
            rows.append([name, "", nll, full])
        elif "test_ll_nats" in v:  # log Z by AIS
            nll = f"{-v['test_ll_nats']:.2f} (AIS, {v['ais_runs']} runs x {v['ais_betas']} betas)"
            full = f"card: {card.get('test_ll_nats', '?')} nats log-likelihood"
            rows.append([name, "", nll, full])
    return [
        "## Likelihood on the held-out split (MNIST)",
        "",
        f"{lk['n_test']} test images, seed {s.seed} (one dequantization draw for the flow; one "
        "binarization for the VAE, the RBM and their baseline). Bits/dim on the 8-bit scale. Models "
        "without a likelihood or a bound on it (the GAN) have no row.",
        "",
        markdown_table(["model", "bits/dim", "NLL nats (binarized)", "full evaluation"], rows),
        "",
    ]


def _inpainting_md(inp: dict, s) -> list[str]:
    masks = list(inp["table"])
    methods = list(next(iter(inp["table"].values())))
    rows = []
    for m in methods:
        cells = [fmt(inp["table"][k][m]["psnr"], 2) for k in masks]
        sec = inp["table"][masks[0]][m].get("s_per_image")
        rows.append([m, *cells, fmt(sec, 2) if sec is not None else "-"])
    return [
        "## Inpainting (MNIST)",
        "",
        f"PSNR (dB) over the missing pixels of the mean of K = {inp['samples']} completions, "
        f"{inp['n']} test images evenly spaced, seed {s.seed}; masks and baselines are "
        "`benchmarks/inpainting.py`'s (run it for 100 images).",
        "",
        markdown_table(["method", *masks, "s / image"], rows),
        "",
    ]


def _probe_md(pr: dict, s) -> list[str]:
    rows = [
        [
            name,
            *[
                f"{by_k[str(k)]['mean']:.3f} ± {by_k[str(k)]['std']:.3f}" if str(k) in by_k else "-"
                for k in s.probe_labels
            ],
        ]
        for name, by_k in pr["rows"].items()
    ]
    note = (
        f" Models without an encoder (the GAN) get codes by inverting the labelled images and "
        f"{pr['gan_test']} evenly spaced test images ({s.gan_inversion}), so its row uses that "
        "smaller test set and only the smaller label budget; models with neither an encoder "
        "nor a decoder have no row."
        if "gan_test" in pr
        else ""
    )
    return [
        "## What the codes are worth: linear probes (MNIST)",
        "",
        f"Logistic regression on standardised codes, trained on k labelled training images per "
        f"class (drawn with seeds {pr['seeds']}: mean ± std over them), accuracy on the "
        f"{pr['n_test']} test images. VAE: posterior means (32-d); flow: its exact 784-d code."
        + note,
        "",
        markdown_table(["codes", *[f"{k} labels / class" for k in s.probe_labels]], rows),
        "",
        "![linear probe](linear-probe.png)",
        "",
        f"*Linear-probe accuracy, mean ± std over label-draw seeds {pr['seeds']}.*",
        "",
    ]


def _disentangle_md(d: dict, s) -> list[str]:
    keys = ("mig", "factorvae", "disentanglement", "completeness", "informativeness")
    rows = [
        [g, str(len(v["runs"])), *[f"{v[k][0]:.3f} ± {v[k][1]:.3f}" for k in keys]]
        for g, v in d["groups"].items()
    ]
    runs = [
        [r["name"], *[fmt(r[k]) for k in keys], str(r["active_dims"])]
        for v in d["groups"].values()
        for r in v["runs"]
    ]
    head = ["model", "seeds", "MIG", "FactorVAE", "DCI disent.", "DCI compl.", "DCI inform."]
    counts = ", ".join(f"{g}: {len(v['runs'])}" for g, v in d["groups"].items())
    return [
        "## Disentanglement on sprites (known factors: shape, scale, rotation, pos_x, pos_y)",
        "",
        f"MIG (20 bins) and DCI's forests on the codes (posterior means) of {d['n_codes']} "
        f"training-split sprites (seed {s.seed}); DCI informativeness = forest accuracy on the "
        f"{d['n_test']} test sprites; FactorVAE score from {d['votes']} batches of "
        f"{d['vote_batch']} rendered sprites with one factor fixed (2/3 fit the majority vote, "
        "1/3 score it). Mean ± std over the training seeds of each group (population std); the "
        "random encoder is an untrained VAE of the same architecture (3 init seeds).",
        "",
        markdown_table(head, rows),
        "",
        "![disentanglement](disentanglement.png)",
        "",
        f"*Mean ± std over training seeds ({counts}); "
        f"{d['n_codes']} codes, {d['votes']} votes of {d['vote_batch']}, data seed {s.seed}; "
        "the dashed line is the random-encoder floor.*",
        "",
        "Per run:",
        "",
        markdown_table(["run", "MIG", "FactorVAE", "D", "C", "I", "active dims"], runs),
        "",
    ]
