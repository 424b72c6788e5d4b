"""Files shipped beside the checkpoints: the grids saved during training, and the report."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st
from PIL import Image

from app.resources.checkpoints import ROOT, entry
from engine.images import gif_from_pils

REPORT = ROOT / "reports" / "latest" / "report.md"
_IMAGE_LINE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")


@st.cache_resource(show_spinner=False)
def _grids(path: str) -> list[tuple[int, Image.Image]]:
    out = []
    for f in sorted((Path(path) / "samples").glob("epoch-*.png")):
        try:
            with Image.open(f) as im:
                out.append((int(f.stem.split("-")[1]), im.convert("RGB")))
        except (OSError, ValueError):
            continue  # a damaged grid is left out, the others still show
    return out


def training_grids(name: str) -> list[tuple[int, Image.Image]]:
    return _grids(entry(name).path)


def grids_gif(name: str) -> bytes:
    return gif_from_pils([im for _, im in training_grids(name)], duration_ms=300)


@st.cache_data(ttl=300, show_spinner=False)
def report_parts() -> list[tuple[str, object, str]] | None:
    """The shipped report as ("markdown", text, "") and ("image", path, caption) parts, or None.

    Images are only taken from the report's own folder.
    """
    if not REPORT.is_file():
        return None
    parts: list[tuple[str, object, str]] = []
    text: list[str] = []
    for line in REPORT.read_text(encoding="utf-8").splitlines():
        m = _IMAGE_LINE.match(line)
        path = (REPORT.parent / m.group(2)).resolve() if m else None
        if m and path.is_file() and path.parent == REPORT.parent.resolve():
            parts.append(("markdown", "\n".join(text), ""))
            parts.append(("image", str(path), m.group(1)))
            text = []
        else:
            text.append(line)
    parts.append(("markdown", "\n".join(text), ""))
    return [p for p in parts if p[1]]
