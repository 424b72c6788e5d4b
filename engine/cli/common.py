"""What every ``python -m engine`` command shares: the parser that fails in one line, argument
types, loading a checkpoint that can do what the command needs, and writing images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.errors import CapabilityError, EngineError


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2, like every user error."""

    def error(self, message):
        raise EngineError(f"{self.prog}: {message}")


def key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> (key, value), the value parsed as JSON when it is JSON, else a string."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def positive_int(text: str) -> int:
    """An ``int`` of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def capabilities(model) -> frozenset[str]:
    """What ``model`` can do; a module without the attribute can do nothing a command asks."""
    return frozenset(getattr(model, "capabilities", frozenset()))


def require(model, checkpoint, *needs: str, doing: str) -> None:
    """Raise one :class:`CapabilityError` line unless ``model`` has at least one of ``needs``."""
    if not capabilities(model) & set(needs):
        names = " or ".join(repr(n) for n in needs)
        raise CapabilityError(
            f"{checkpoint}: a {model.kind} checkpoint has no {names} capability: it cannot {doing}"
        )


def load_model(checkpoint, *needs: str, doing: str, device: str | None = None):
    """The model of ``checkpoint``, refused in one line unless it has one of ``needs``."""
    from engine.checkpoint import load

    model = load(checkpoint, device=device)
    require(model, checkpoint, *needs, doing=doing)
    return model


def write_images(frames, out: Path, *, one_row: bool = True, prefix: str = "frame") -> None:
    """``.png``: one grid (a single row with ``one_row``); ``.gif``: an animation; no suffix: a
    folder of one PNG per image (``<prefix>-0000.png``, ...), as into any existing folder
    whatever its name (``results.v2``). Prints where it wrote."""
    from engine.images import gif_bytes, make_grid, save_png, to_pil, write_atomic

    suffix = "" if out.is_dir() else out.suffix.lower()
    if suffix in (".png", ".gif"):
        if not out.parent.is_dir():
            raise EngineError(f"{out.parent}: no such folder")
        if suffix == ".png":
            save_png(make_grid(frames, nrow=len(frames) if one_row else None), out)
        else:
            write_atomic(out, gif_bytes(frames))
    elif suffix:
        raise EngineError(f"{out}: give a .png (one grid), a .gif (animation) or a folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            save_png(to_pil(frame), out / f"{prefix}-{i:04d}.png")
    print(out)
