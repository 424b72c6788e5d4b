"""``python -m engine evaluate | report``: held-out figures of one checkpoint, and the offline
report of them all."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.cli.common import capabilities, positive_int
from engine.errors import EngineError

UNTIMED = ("eval_time_s",)  # changes on every run: not a figure


def _same_figures(old: dict, new: dict) -> bool:
    def strip(m: dict) -> dict:
        return {k: v for k, v in m.items() if k not in UNTIMED}

    return strip(old) == strip(new)


def _cmd_evaluate(a) -> None:
    from engine.checkpoint import load, read_card, update_card
    from engine.evaluate import classifier_path_for, evaluate

    model = load(a.checkpoint, device=a.device)
    card = read_card(a.checkpoint)
    classifier = None
    path = (
        Path(a.classifier) if a.classifier else classifier_path_for(a.checkpoint, card["dataset"])
    )
    if "sample" in capabilities(model) and (a.classifier or path.is_dir()):
        classifier = load(path, device=a.device)  # reads samples of models without a likelihood
    metrics = evaluate(model, card["dataset"], k=a.k, seed=a.seed, classifier=classifier)
    if a.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{key:>24}: {value}")
    if not a.write_card:
        return
    old = card.get("metrics", {}).get("test", {})
    if _same_figures(old, metrics):  # the card stays byte-identical: nothing to commit
        print(f"{a.checkpoint}/card.json: figures unchanged", file=sys.stderr)
        return
    update_card(a.checkpoint, metrics={**card.get("metrics", {}), "test": metrics})
    print(f"{a.checkpoint}/card.json: metrics.test written", file=sys.stderr)


def _cmd_report(a) -> None:
    from engine.report import ReportSettings, build_report

    sections = tuple(x.strip() for x in a.sections.split(",") if x.strip())
    known = ReportSettings.sections
    unknown = sorted(set(sections) - set(known))
    if unknown or not sections:
        raise EngineError(f"--sections takes {', '.join(known)}, not {a.sections!r}")
    pretrained = Path(a.pretrained)
    if not (pretrained / "mnist-classifier").is_dir():
        raise EngineError(f"{pretrained}: no mnist-classifier checkpoint (the feature extractor)")
    path = build_report(
        ReportSettings(pretrained=pretrained, out=Path(a.out), seed=a.seed, sections=sections),
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(path)


def add_commands(sub) -> None:
    """Add evaluate and report to the ``python -m engine`` subparsers."""
    e = sub.add_parser("evaluate", help="held-out metrics of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--k", type=positive_int, default=1000, help="importance samples (VAE)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument(
        "--classifier", help="classifier checkpoint for sample figures (default: beside it)"
    )
    e.add_argument("--json", action="store_true")
    e.add_argument(
        "--write-card",
        action="store_true",
        help="store the figures in the card's metrics.test (left untouched when none changed)",
    )
    e.add_argument("--device")
    e.set_defaults(run=_cmd_evaluate)

    r = sub.add_parser(
        "report", help="offline evaluation report (Markdown + PNGs) of the checkpoints"
    )
    r.add_argument("--pretrained", default="pretrained", help="folder of checkpoints to read")
    r.add_argument("--out", default="reports/latest", help="folder to write report.md into")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--sections",
        default="quality,likelihood,inpainting,probe,disentangle",
        help="comma-separated subset of the default to measure; the other sections are kept "
        "from OUT/results.json when it has them",
    )
    r.set_defaults(run=_cmd_report)
