"""The evaluation report end to end on tiny checkpoints, and its command line."""

import dataclasses
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_model

from engine.checkpoint import save_checkpoint
from engine.cli import main
from engine.models import build_model
from engine.report import ReportSettings, build_report

pytestmark = pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance`")


def _save(model, folder: Path, dataset: str) -> None:
    card = {"name": folder.name, "dataset": dataset, "split": {"train": 1}, "seed": 0}
    save_checkpoint(model, folder, card=card)


@pytest.fixture(scope="module")
def tiny_pretrained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pretrained")
    for kind in ("vae", "gan", "flow"):
        _save(tiny_model(kind), root / f"mnist-{kind}", "mnist")
    torch.manual_seed(0)
    _save(
        build_model("classifier", {"width": 4, "features": 8}).eval(),
        root / "mnist-classifier",
        "mnist",
    )
    clf = build_model("classifier", {"width": 4, "features": 8, "image_size": 32, "num_classes": 3})
    _save(clf.eval(), root / "sprites-classifier", "sprites")
    for beta, seed in [(1, 0), (1, 1), (4, 0)]:
        vae = tiny_model("vae", image_size=32, seed=seed, beta=beta)
        _save(vae, root / "disentangle" / f"sprites-vae-b{beta}-s{seed}", "sprites")
    return root


def _digest(folder: Path) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def report(tiny_pretrained, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    before = _digest(tiny_pretrained)
    settings = ReportSettings(
        pretrained=tiny_pretrained,
        out=out,
        n_samples=40,
        temperatures=(0.8, 1.0),
        ppl_pairs=10,
        iwae_k=2,
        inpaint_n=2,
        inpaint_samples=2,
        probe_labels=(2, 4),
        probe_seeds=(0, 1),
        gan_probe_test=10,
        gan_inversion={"restarts": 1, "steps": 2},
        disent_codes=200,
        votes=30,
        vote_batch=8,
    )
    md = build_report(settings, log=lambda _: None)
    return md, json.loads((out / "results.json").read_text()), before, settings


def test_report_writes_every_section_and_every_figure_it_links(report):
    md, _, _, _ = report
    text = md.read_text()
    for heading in (
        "## Summary",
        "## Sample quality",
        "### Sprites",
        "## Likelihood",
        "## Inpainting",
        "## What the codes are worth",
        "## Disentanglement",
    ):
        assert heading in text
    links = re.findall(r"\]\(([^)]+\.png)\)", text)
    assert {"precision-recall-temperature.png", "disentanglement.png"} <= set(links)
    for link in links:
        assert (md.parent / link).is_file(), link
    for caption in re.findall(r"^\*.*\*$", text, flags=re.M):  # every figure caption
        assert "seed" in caption and re.search(r"\d", caption)


def test_report_flags_the_training_copy_and_groups_the_seeds(report):
    _, results, _, _ = report
    rows = results["quality"]["rows"]
    assert rows["real: training images"]["memorisation"]["flagged"]
    assert rows["real: training images"]["memorisation"]["median_ratio"] < 1e-3  # cdist round-off
    assert not rows["real: held-out (val)"]["memorisation"]["median_ratio"] < 0.5
    groups = results["disentangle"]["groups"]
    assert [len(groups[g]["runs"]) for g in ("VAE, beta 1", "VAE, beta 4")] == [2, 1]
    assert len(groups["random encoder (untrained)"]["runs"]) == 3


def test_report_only_reads_the_checkpoints(report):
    _, _, before, settings = report
    assert _digest(settings.pretrained) == before


def test_report_cli_rejects_bad_arguments_in_one_line(tmp_path, capsys):
    assert main(["report", "--sections", "quality,nonsense", "--out", str(tmp_path)]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert main(["report", "--pretrained", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "mnist-classifier" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_subset_of_sections_keeps_the_others_from_the_last_run(report, tmp_path):
    md, results, _, settings = report
    folder = tmp_path / "again"
    shutil.copytree(md.parent, folder)
    again_settings = dataclasses.replace(settings, out=folder, sections=("likelihood",))
    text = build_report(again_settings, log=lambda _: None).read_text()
    again = json.loads((folder / "results.json").read_text())
    assert again["disentangle"] == results["disentangle"]
    assert again["measured"]["quality"] == results["measured"]["quality"]
    assert "## Sample quality" in text and "## Disentanglement" in text
    assert text.count(" ± ") == md.read_text().count(" ± ")  # carried-over tables still filled
    other_seed = dataclasses.replace(again_settings, seed=1)
    text = build_report(other_seed, log=lambda _: None).read_text()
    assert "## Likelihood" in text and "## Sample quality" not in text


def test_the_summary_shows_the_figures_it_measured(report):
    """Each MNIST model's summary row carries its own FID, precision and recall from
    results.json, rounded as printed: not another model's, not a stale run's."""
    md, results, _, _ = report
    text = md.read_text()
    summary = text[text.index("## Summary") :].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[1:]
        for line in summary.splitlines()
        if line.startswith("| ")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    quality = results["quality"]["rows"]
    for name in ("mnist-vae", "mnist-gan", "mnist-flow"):
        fid, precision, recall = (float(v) for v in rows[name][:3])
        assert fid == pytest.approx(quality[name]["fid"], abs=0.005 + 1e-9)
        assert precision == pytest.approx(quality[name]["precision"], abs=0.0005 + 1e-9)
        assert recall == pytest.approx(quality[name]["recall"], abs=0.0005 + 1e-9)
    fids = [quality[name]["fid"] for name in ("mnist-vae", "mnist-gan", "mnist-flow")]
    assert len(set(fids)) == 3  # three different models: a row swap would show
