"""The README's shell commands stay true: every one is checked against what exists (a make
target, a benchmark script, the CLI's subcommands and flags as its own parser reads them), and
the cheap ``python -m engine`` ones are run on the shipped checkpoints."""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine
from engine.cli import build_parser, main
from engine.errors import EngineError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CHEAP = {"sample", "interpolate", "walk", "reconstruct", "inpaint", "score", "project", "evaluate"}
UNCHECKED = {"pip"}  # installs from an index this machine does not reach: said so in the README


def readme_commands() -> list[list[str]]:
    """Each command of the README's ``sh`` blocks as words (continuations joined, comments and
    leading VAR=value assignments dropped)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            if words:
                commands.append(words)
    return commands


def engine_args(words: list[str]) -> list[str] | None:
    """The arguments after ``python -m engine`` (or ``torchrun ... -m engine``), else None."""
    for i in range(len(words) - 2):
        if words[i] == "-m" and words[i + 1] == "engine":
            return words[i + 2 :]
    return None


COMMANDS = readme_commands()


def _id(words):
    return " ".join(words)[:60]


def test_the_readme_has_commands_of_every_sort():
    programs = {w[0] for w in COMMANDS}
    assert {"make", "python", "torchrun"} <= programs
    assert sum(engine_args(w) is not None for w in COMMANDS) >= 10


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("words", COMMANDS, ids=_id)
def test_each_command_names_what_exists(words):
    if words[0] in UNCHECKED:
        pytest.skip(f"{words[0]}: not checked here (see the README)")
    if words[0] == "make":
        targets = re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M)
        assert words[1] in targets
        return
    args = engine_args(words)
    if args is None:  # python benchmarks/x.py
        assert words[0] == "python" and (ROOT / words[1]).is_file(), words
        return
    if any(w.startswith(("[", "{")) for w in args):  # a synopsis: flags and choices exist
        sub = _subparsers()[args[0]]
        options = {s for a in sub._actions for s in a.option_strings}
        for flag in re.findall(r"--[a-z][\w-]*", " ".join(args)):
            assert flag in options, flag
        for choices in re.findall(r"\{([^}]*)\}", " ".join(args)):
            names = set(choices.split(","))
            if args[0] == "train" and "vae" in names:  # the kinds: every registered one
                assert names == set(engine.KINDS)
        return
    try:
        build_parser().parse_args(args)  # subcommand, flags, choices and required options
    except EngineError as e:
        pytest.fail(f"{' '.join(words)}: {e}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder to run the README's commands in: the shipped checkpoints, a test digit as
    seven.png and a bottom-half mask as hole.png."""
    root = tmp_path_factory.mktemp("readme")
    (root / "pretrained").symlink_to(ROOT / "pretrained")
    data = engine.load_dataset("mnist", "test")
    seven = data.float()[(data.labels == 7).nonzero()[0, 0], 0].numpy()
    Image.fromarray((seven * 255).round().astype(np.uint8)).save(root / "seven.png")
    hole = np.zeros((28, 28), np.uint8)
    hole[14:] = 255
    Image.fromarray(hole).save(root / "hole.png")
    return root


RUN = [  # on the shipped checkpoints (the own-checkpoint section: tests/test_own_checkpoint.py)
    w
    for w in COMMANDS
    if (a := engine_args(w)) and a[0] in CHEAP and "--checkpoint pretrained/" in " ".join(a)
]


@pytest.mark.pretrained
@pytest.mark.parametrize("words", RUN, ids=_id)
def test_the_cheap_commands_run(words, workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    args = engine_args(words)
    card = workdir / args[args.index("--checkpoint") + 1] / "card.json"
    before = card.read_bytes()
    assert main(args) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip()
    assert card.read_bytes() == before  # no README command edits the card
