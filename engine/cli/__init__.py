"""``python -m engine COMMAND``: train, sample, evaluate, map, interpolate, walk, reconstruct,
inpaint, score, project, report.

Each module of this package adds its commands with ``add_commands(subparsers)``; :data:`MODULES`
lists them in the order ``--help`` shows. A new command is a new module here (or a function in the
module of its kind of work) and one entry in :data:`MODULES`; nothing imports this package back.

Every problem the user can fix (bad arguments, a broken checkpoint, a checkpoint that cannot do what
the command asks, a bad dataset) exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from engine.cli import evaluation, export, images, latent, scoring, train
from engine.cli.common import Parser
from engine.errors import EngineError

MODULES = (train, latent, evaluation, images, scoring, export)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m engine`` parser with every module's commands."""
    p = Parser(prog="python -m engine", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in MODULES:
        module.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code: 0, 2 for a user error (one line on stderr), 130 on Ctrl-C."""
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(argv)
        args.argv = argv
        args.run(args)
    except EngineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
