"""The command line end to end: train a tiny model, sample from it, evaluate it, and the errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import engine
from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY_ARGS = {
    "vae": ["--config", "latent_dim=4", "--config", "width=4", "--config", "hidden=16"],
    "gan": ["--config", "latent_dim=8", "--config", "width=4", "--config", "disc_width=4"],
    "flow": ["--config", "steps_per_level=1", "--config", "hidden=8"],
    "classifier": ["--config", "width=4", "--config", "features=16"],
}


def _train(kind, out, *extra):
    args = [
        "train",
        "--kind",
        kind,
        "--dataset",
        "digits",
        "--out",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "256",
        "--grids",
        "1",
        *TINY_ARGS[kind],
        *extra,
    ]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpts")
    return {kind: _train(kind, root / kind) for kind in TINY_ARGS}


@pytest.mark.parametrize("kind", ["vae", "gan", "flow", "classifier"])
def test_train_writes_a_complete_checkpoint_with_card(trained, kind):
    path = trained[kind]
    card = engine.read_card(path)
    assert card["kind"] == kind and card["dataset"] == "digits" and card["seed"] == 0
    assert card["command"].startswith("python -m engine train --kind " + kind)
    assert card["steps"] == card["split"]["train"] // 256 and card["wall_time_s"] > 0
    assert set(card["versions"]) >= {"torch", "python"} and len(card["weights_sha256"]) == 64
    if kind != "classifier":
        assert card["sample_grids"] == ["samples/epoch-0001.png"]
        assert (path / "samples" / "epoch-0001.png").is_file() and (path / "samples.png").is_file()
    engine.load(path)


def test_training_is_deterministic_for_a_seed(tmp_path, trained):
    again = _train("vae", tmp_path / "again")
    assert (
        engine.read_card(again)["weights_sha256"]
        == engine.read_card(trained["vae"])["weights_sha256"]
    )
    other = _train("vae", tmp_path / "other", "--seed", "1")
    assert engine.read_card(other)["weights_sha256"] != engine.read_card(again)["weights_sha256"]


def test_sample_grid_and_folder(trained, tmp_path):
    grid = tmp_path / "grid.png"
    assert (
        main(["sample", "--checkpoint", str(trained["gan"]), "--n", "16", "--out", str(grid)]) == 0
    )
    assert Image.open(grid).size == (4 * 30 + 2, 4 * 30 + 2)
    folder = tmp_path / "each"
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(trained["flow"]),
                "--n",
                "5",
                "--seed",
                "3",
                "--temperature",
                "0.7",
                "--out",
                str(folder),
            ]
        )
        == 0
    )
    images = sorted(folder.glob("*.png"))
    assert len(images) == 5
    first = Image.open(images[0])
    assert first.size == (28, 28) and first.mode == "L"


def test_evaluate_writes_the_card_only_when_asked_and_only_when_a_figure_changes(trained, capsys):
    card = trained["vae"] / "card.json"
    before = card.read_bytes()
    evaluate = ["evaluate", "--checkpoint", str(trained["vae"]), "--k", "10", "--json"]
    assert main(evaluate) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["iwae_k"] == 10 and metrics["test_nll_nats"] <= metrics["test_neg_elbo_nats"] + 1
    assert card.read_bytes() == before  # not asked: the tracked card is left alone
    assert main([*evaluate, "--write-card"]) == 0
    capsys.readouterr()
    written = card.read_bytes()
    stored = engine.read_card(trained["vae"])["metrics"]["test"]
    untimed = lambda m: {k: v for k, v in m.items() if k != "eval_time_s"}  # noqa: E731
    assert written != before and untimed(stored) == untimed(metrics)
    assert main([*evaluate, "--write-card"]) == 0  # same seed, same figures: eval_time_s alone
    assert "figures unchanged" in capsys.readouterr().err
    assert card.read_bytes() == written
    assert main([*evaluate, "--write-card", "--seed", "1"]) == 0  # a figure changes: rewritten
    assert engine.read_card(trained["vae"])["metrics"]["test"]["seed"] == 1
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(trained["gan"]),
                "--classifier",
                str(trained["classifier"]),
                "--json",
            ]
        )
        == 0
    )
    gan = json.loads(capsys.readouterr().out)
    assert len(gan["label_histogram"]) == 10 and abs(sum(gan["label_histogram"]) - 1) < 1e-3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sample", "--checkpoint", "no/such/dir", "--out", "x.png"], "no such checkpoint"),
        (["sample", "--checkpoint", "CKPT", "--n", "0", "--out", "x.png"], "at least 1"),
        (["sample", "--checkpoint", "CKPT", "--out", "x.jpg"], ".png"),
        (
            ["sample", "--checkpoint", "CKPT", "--temperature", "-1", "--out", "x.png"],
            "temperature",
        ),
        (["train", "--kind", "vae", "--dataset", "imagenet", "--out", "o"], "unknown dataset"),
        (["train", "--kind", "unicorn", "--dataset", "mnist", "--out", "o"], "invalid choice"),
        (["evaluate", "--checkpoint", "GAN"], "classifier"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(trained, tmp_path, capsys, args, message):
    args = [
        a.replace("CKPT", str(trained["vae"])).replace("GAN", str(trained["gan"])) for a in args
    ]
    args = [str(tmp_path / a) if a in ("x.png", "x.jpg", "o") else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


@pytest.mark.slow
def test_python_dash_m_engine_exits_2_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "sample", "--checkpoint", str(tmp_path), "--out", "x.png"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.count("\n") == 1
        and "config.json" in proc.stderr
        and "Traceback" not in proc.stderr
    )


@pytest.mark.slow
def test_the_same_script_runs_under_torchrun(tmp_path):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).parent / "torchrun"
    proc = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "-m",
            "engine",
            "train",
            "--kind",
            "vae",
            "--dataset",
            "digits",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "128",
            "--grids",
            "1",
            "--device",
            "cpu",
            *TINY_ARGS["vae"],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = engine.read_card(out)
    assert card["world_size"] == 2 and card["steps"] == card["split"]["train"] // 128
    engine.load(out)
