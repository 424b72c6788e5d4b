"""``python -m engine report``: an offline evaluation report of the shipped checkpoints.

The package: :mod:`~engine.report.models` chooses the checkpoints of each section by
capability, :mod:`~engine.report.sections` and :mod:`~engine.report.sprites` measure,
:mod:`~engine.report.markdown` and :mod:`~engine.report.tables` write the Markdown,
:mod:`~engine.report.figures` the PNGs.

Writes ``report.md``, ``results.json`` and PNG figures into one folder (``reports/latest`` by
default, which the app shows as is). Everything is measured against held-out data, beside a
real-vs-real floor at the same sample size, with the seeds and sizes printed next to each table
and in each figure's title. Nothing is trained: only checkpoints in ``pretrained/`` are read.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from engine.images import make_grid, save_png
from engine.report import sections as sec
from engine.report import sprites
from engine.report.figures import (
    disentangle_figure,
    histogram_figure,
    probe_figure,
    sweep_figure,
)
from engine.report.markdown import render_markdown
from engine.report.models import checkpoints


@dataclass
class ReportSettings:
    """Sizes and seeds of every measurement (the defaults take ~10-15 min on a 2-core CPU)."""

    pretrained: Path = Path("pretrained")
    out: Path = Path("reports/latest")
    seed: int = 0
    n_samples: int = 450  # per set; the val split (the real floor) has 450 images
    temperatures: tuple[float, ...] = (0.6, 0.8, 1.0, 1.2)
    ppl_pairs: int = 200
    iwae_k: int = 50
    inpaint_n: int = 10
    inpaint_samples: int = 4
    probe_labels: tuple[int, ...] = (10, 100)
    probe_seeds: tuple[int, ...] = (0, 1, 2)
    gan_probe_test: int = 200
    gan_inversion: dict = field(default_factory=lambda: {"restarts": 1, "steps": 100})
    sprites_n: int | None = None  # None: the whole val split (1,152)
    disent_codes: int = 4000
    votes: int = 600
    vote_batch: int = 64
    sections: tuple[str, ...] = ("quality", "likelihood", "inpainting", "probe", "disentangle")


def _settings_json(s: ReportSettings) -> dict:
    d = asdict(s)
    d["pretrained"], d["out"] = str(s.pretrained), str(s.out)
    return d


def build_report(s: ReportSettings, *, log=print) -> Path:
    """Measure every section in ``s.sections`` and write the report folder; returns report.md.

    Sections not in ``s.sections`` are carried over from the folder's ``results.json`` when it
    has them and was measured with the same settings (the report says when each section was
    measured).
    """
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "results.json"
    prev = json.loads(previous.read_text()) if previous.is_file() else {}
    if _comparable(prev.get("settings", {})) != _comparable(_settings_json(s)):
        prev = {}  # measured with other sizes or seeds: nothing can be carried over
    models = checkpoints(s.pretrained, "mnist")  # each section picks by capability
    results: dict = {"settings": _settings_json(s), "timing_s": {}, "measured": {}}
    steps = {
        "quality": lambda: sec.mnist_quality(s, models, log),
        "sprites_quality": lambda: sprites.sprites_quality(s, log),
        "likelihood": lambda: sec.likelihood(s, models, log),
        "inpainting": lambda: sec.inpainting(s, models, log),
        "probe": lambda: sec.probe(s, models, log),
        "disentangle": lambda: sprites.disentanglement(s, log),
    }
    for name, run in steps.items():
        if name.removeprefix("sprites_") not in s.sections:
            if name in prev:
                results[name] = prev[name]
                results["timing_s"][name] = prev.get("timing_s", {}).get(name, 0.0)
                results["measured"][name] = prev.get("measured", {}).get(name, "an earlier run")
            continue
        t = time.time()
        log(f"{name} ...")
        results[name] = run()
        results["timing_s"][name] = round(time.time() - t, 1)
        results["measured"][name] = datetime.now(UTC).isoformat(timespec="minutes")
    results["timing_s"]["total"] = round(sum(results["timing_s"].values()), 1)
    grids = results.get("quality", {}).pop("grids", None)
    if grids is not None:
        for name, x in grids.items():
            save_png(make_grid(x), out / f"samples-{_slug(name)}.png")
        results["quality"]["grid_names"] = list(grids)
    md = render_markdown(
        results, s, grids=results.get("quality", {}).get("grid_names", []), slug=_slug
    )
    _figures(results, s, out)
    previous.write_text(json.dumps(results, indent=1, default=_jsonable) + "\n")
    (out / "report.md").write_text(md)
    return out / "report.md"


def _comparable(settings: dict) -> dict:
    """Settings that change numbers (not which sections run, nor where they are written)."""
    keep = {k: v for k, v in settings.items() if k not in ("sections", "out")}
    return json.loads(json.dumps(keep, default=_jsonable))


def _jsonable(v):
    if isinstance(v, torch.Tensor):
        return v.tolist()
    return str(v)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def _figures(r: dict, s: ReportSettings, out: Path) -> None:
    if "quality" in r:
        q = r["quality"]
        floor = q["rows"]["real: held-out (val)"]
        sweep_figure(
            q["sweep"], floor, out / "precision-recall-temperature.png", n=q["n"], seed=s.seed
        )
        histogram_figure(q["rows"], out / "label-histograms.png", n=q["n"], seed=s.seed)
    if "probe" in r:
        probe_figure(r["probe"], out / "linear-probe.png")
    if r.get("disentangle"):
        disentangle_figure(r["disentangle"], out / "disentanglement.png")
