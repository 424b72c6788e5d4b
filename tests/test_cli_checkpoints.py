"""Every command that takes a checkpoint, on one shipped checkpoint of every kind found in
``pretrained/``: it either works (exit 0) or refuses in one line on stderr (exit 2), never with a
traceback. The kinds are discovered here, so a new kind's checkpoint is covered once it ships.

The work is kept tiny (two samples, two frames, one completion, a two-image reference). ``map``
and ``evaluate`` run their real capability checks and argument handling; the long computation
behind them (fitting a map of 4,050 codes, a held-out evaluation) is replaced by a stub that
records it was reached, so a refusal is shown to come before any work and an acceptance to reach
it.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine
from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"

pytestmark = pytest.mark.pretrained


def _one_checkpoint_per_kind() -> dict[str, Path]:
    """kind -> its first checkpoint folder (top-level folders before nested ones, by name)."""
    found: dict[str, Path] = {}
    configs = sorted(PRETRAINED.rglob("config.json"), key=lambda p: (len(p.parts), str(p)))
    for config in configs:
        folder = config.parent
        if folder.name.startswith(".") or not (folder / "model.safetensors").is_file():
            continue  # a training run's resumable state, not a checkpoint
        kind = json.loads(config.read_text()).get("kind")
        found.setdefault(kind, folder)
    return found


CHECKPOINTS = _one_checkpoint_per_kind()
COMMANDS = {
    "sample": ["--n", "2", "--out", "OUT/grid.png"],
    "interpolate": ["--seeds", "0", "1", "--steps", "2", "--out", "OUT/row.png"],
    "interpolate-images": ["--images", "IMG", "IMG", "--steps", "2", "--out", "OUT/row.png"],
    "walk": ["--axis", "0", "--steps", "2", "--span", "1", "--out", "OUT/walk.png"],
    "map": ["--methods", "pca"],
    "evaluate": ["--k", "1"],
    "reconstruct": ["--image", "IMG", "--out", "OUT/pair.png"],
    "inpaint": ["--image", "IMG", "--mask", "MASK", "--samples", "1", "--out", "OUT/row.png"],
    "score": ["--image", "IMG"],
    "score-reference": ["--build-reference", "--limit", "2"],
    "project": ["--image", "IMG"],
}


def test_the_shipped_kinds_are_found():
    assert {"classifier", "gan", "vae", "flow", "vaeac"} <= set(CHECKPOINTS)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A test digit as a PNG and a bottom-half mask (white = missing) of the same size."""
    root = tmp_path_factory.mktemp("inputs")
    x = engine.load_dataset("mnist", "test").float()[0, 0].numpy()  # (28, 28) in [0, 1]
    Image.fromarray((x * 255).round().astype(np.uint8)).save(root / "digit.png")
    mask = np.zeros((28, 28), np.uint8)
    mask[14:] = 255
    Image.fromarray(mask).save(root / "mask.png")
    return root / "digit.png", root / "mask.png"


@pytest.fixture
def stubs(monkeypatch):
    """The long work behind map and evaluate, replaced by calls that record they were reached."""
    import engine.evaluate
    import engine.ops.latent_map

    reached = []

    def build_map(checkpoint, *, methods):
        reached.append("map")
        return Path(checkpoint) / "latent_map.npz"

    def evaluate(model, dataset, **kwargs):
        reached.append("evaluate")
        return {"seed": kwargs.get("seed", 0), "eval_time_s": 0.0}

    monkeypatch.setattr(engine.ops.latent_map, "build_checkpoint_map", build_map)
    monkeypatch.setattr(engine.evaluate, "evaluate", evaluate)
    return reached


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", sorted(CHECKPOINTS))
def test_every_command_accepts_or_refuses_each_kind_in_one_line(
    kind, command, inputs, stubs, tmp_path, capsys
):
    checkpoint = CHECKPOINTS[kind]
    if command == "score-reference":  # writes anomaly.json beside the weights: on a copy
        checkpoint = Path(shutil.copytree(checkpoint, tmp_path / checkpoint.name))
    image, mask = inputs
    (tmp_path / "out").mkdir()
    args = [
        a.replace("OUT", str(tmp_path / "out"))
        .replace("IMG", str(image))
        .replace("MASK", str(mask))
        for a in COMMANDS[command]
    ]
    before = (checkpoint / "card.json").read_bytes()
    weights = (checkpoint / "model.safetensors").stat().st_mtime_ns  # a training run may rewrite
    code = main([command.split("-")[0], "--checkpoint", str(checkpoint), *args])
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
        assert stubs == []  # refused before any work
    else:
        assert captured.out.strip()
        if command in ("map", "evaluate"):
            assert stubs == [command]
        if command in ("sample", "interpolate", "walk", "reconstruct", "inpaint"):
            assert list((tmp_path / "out").iterdir())
    if (checkpoint / "model.safetensors").stat().st_mtime_ns == weights:
        assert (checkpoint / "card.json").read_bytes() == before  # no command edits the card


@pytest.mark.parametrize("kind", ["classifier", "vaeac"])
def test_a_checkpoint_that_cannot_sample_is_refused_by_name(kind, tmp_path, capsys):
    """The crash this test was written for: the classifier has no latent space to sample."""
    out = tmp_path / "grid.png"
    assert main(["sample", "--checkpoint", str(CHECKPOINTS[kind]), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"a {kind} checkpoint has no 'sample' capability" in err and not out.exists()
