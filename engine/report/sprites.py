"""The sprites sections of ``python -m engine report``: sample quality of the sprites models and
the disentanglement of every sprites VAE (``pretrained/disentangle/``), with a random floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import load, read_card
from engine.data import load_dataset
from engine.metrics import (
    ClassifierFeatures,
    dci,
    extract,
    factorvae_score,
    memorisation,
    mig,
    quality,
)
from engine.report.models import checkpoints, samplers
from engine.report.sections import _codes, _gen


@torch.no_grad()
def sprites_quality(s, log) -> dict | None:
    """Sprites samples against the sprites test split, on the sprites classifier's features."""
    if not (s.pretrained / "sprites-classifier").is_dir():
        return None
    ext = ClassifierFeatures(load(s.pretrained / "sprites-classifier", device="cpu"))
    train, val, test = (load_dataset("sprites", sp) for sp in ("train", "val", "test"))
    ref, _ = extract(ext, test.float())
    n = min(s.sprites_n or len(val), len(val))
    pick = torch.randperm(len(val), generator=_gen(s.seed))[:n]
    sets = {"real: held-out (val)": val.float()[pick]}
    models = samplers(checkpoints(s.pretrained, "sprites"))
    for p in _disentangle_dirs(s):
        if p.name.endswith("-s0"):
            models[f"disentangle/{p.name}"] = load(p, device="cpu")
    for i, (name, model) in enumerate(models.items()):
        sets[name] = model.sample(n, generator=_gen(s.seed + i))
    rows = {}
    for name, x in sets.items():
        feats, probs = extract(ext, x)
        rows[name] = quality(ref, feats, fake_probs=probs, seed=s.seed)
        rows[name]["memorisation"] = memorisation(x, train.float(), test.float())
        log(f"  sprites quality {name}: FID {rows[name]['fid']:.2f}")
    return {"n_reference": len(test), "n": n, "rows": rows}


def _disentangle_dirs(s) -> list[Path]:
    """Finished runs only: a run still training has a checkpoint whose card says so."""
    root = s.pretrained / "disentangle"
    dirs = sorted(p for p in root.glob("sprites-vae-b*-s*") if p.is_dir()) if root.is_dir() else []
    return [p for p in dirs if read_card(p).get("status") != "training"]


def _vote_batches(s):
    """Factors of V "one factor fixed" batches of L sprites, and which factor was fixed."""
    from engine.data.sprites import FACTORS, sample_factors

    g, names = _gen(s.seed), list(FACTORS)
    fixed = torch.randint(len(names), (s.votes,), generator=g)
    rows = []
    for k in fixed.tolist():
        value = int(torch.randint(len(FACTORS[names[k]]), (1,), generator=g))
        rows.append(sample_factors(s.vote_batch, generator=g, fixed={names[k]: value}))
    return torch.stack(rows), fixed.numpy()  # (V, L, F), (V,)


@torch.no_grad()
def disentanglement(s, log) -> dict | None:
    """MIG, FactorVAE score and DCI of every sprites VAE, grouped by beta, with a random floor."""
    from engine.data.sprites import render
    from engine.models import build_model

    dirs = _disentangle_dirs(s)
    if not dirs:
        return None
    train, test = load_dataset("sprites", "train"), load_dataset("sprites", "test")
    pick = torch.randperm(len(train), generator=_gen(s.seed))[: s.disent_codes]
    x_tr, f_tr = train.float()[pick], train.factors[pick].numpy()
    vote_factors, fixed = _vote_batches(s)
    x_votes = render(vote_factors.flatten(0, 1)).float() / 255
    models: dict[str, list] = {}
    for p in dirs:
        model = load(p, device="cpu")
        models.setdefault(f"VAE, beta {model.config.beta:g}", []).append((p.name, model))
    if (s.pretrained / "sprites-vae").is_dir():
        models["sprites-vae (beta 2, shipped, 1 seed)"] = [
            ("sprites-vae", load(s.pretrained / "sprites-vae", device="cpu"))
        ]
    config = dict(models[next(iter(models))][0][1].config.__dict__)
    models["random encoder (untrained)"] = []
    for seed in range(3):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            models["random encoder (untrained)"].append(
                (f"random-s{seed}", build_model("vae", config).eval())
            )
    out = {
        "n_codes": len(x_tr),
        "n_test": len(test),
        "votes": s.votes,
        "vote_batch": s.vote_batch,
        "groups": {},
    }
    for group, members in models.items():
        runs = []
        for name, model in members:
            c_tr, c_te = _codes(model, x_tr), _codes(model, test.float())
            c_votes = _codes(model, x_votes).reshape(s.votes, s.vote_batch, -1)
            if name.startswith("random"):  # untrained means are ~0: as random features, unit std
                scale = c_tr.std(0)
                c_tr, c_te, c_votes = c_tr / scale, c_te / scale, c_votes / scale
            fv = factorvae_score(
                c_votes, fixed, c_tr, n_factors=f_tr.shape[1], n_train=s.votes * 2 // 3
            )
            d = dci(c_tr, f_tr, c_te, test.factors.numpy(), seed=s.seed)
            runs.append(
                {
                    "name": name,
                    "mig": mig(c_tr, f_tr)["mig"],
                    "factorvae": fv["score"],
                    "active_dims": fv["active_dims"],
                    **{k: d[k] for k in ("disentanglement", "completeness", "informativeness")},
                }
            )
            log(f"  disentanglement {name}: MIG {runs[-1]['mig']:.3f}")
        keys = ("mig", "factorvae", "disentanglement", "completeness", "informativeness")
        out["groups"][group] = {
            "runs": runs,
            **{
                k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs])))
                for k in keys
            },
        }
    return out
