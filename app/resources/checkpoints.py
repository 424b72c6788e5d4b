"""The checkpoint catalog: every folder found on disk, what each model offers, in a fixed order.

Pages choose models by what they offer, never by kind: ``entries(needs=("decode",))`` lists the
loaded checkpoints that can decode a latent, and :func:`absent` says in one line which others a
page leaves out and why. What a checkpoint offers is its model's ``capabilities`` plus a few
features derived from them or from files beside it (:data:`FEATURES`), so a new kind joins every
page its capabilities allow with no page edited. The order (the first is every page's default
model) is the model registry's, :data:`engine.KINDS`: the VAE first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

import engine
from engine.errors import EngineError
from engine.ops.anomaly import REFERENCE_FILE
from engine.ops.inpaint import NEEDS as INPAINT_NEEDS
from engine.ops.latent_map import MAP_FILE

ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = ROOT / "pretrained"
EXTRA_ROOTS_ENV = "LATENT_ATLAS_CHECKPOINTS"  # more checkpoint folders, os.pathsep-separated

# Features beyond the model's own capabilities, asked for like capabilities:
FEATURES = {
    "inpaint": "some inpainting method fits its capabilities (engine.ops.inpaint.method_for)",
    "reconstruct": "it decodes: an encoder's code or an inversion is decoded again",
    "surprise": "an anomaly score: a likelihood, a bound or an energy, or any score with its test-digit"
    " reference beside it (an inversion's error is too slow to offer without one)",
    "map": "it decodes and has a latent map file beside it",
    "training grids": "sample grids were saved while it trained",
}
# Why a model lacks what a page needs, in the words of "<name> is not listed: it has ...".
WHY = {
    "sample": "no sampler",
    "decode": "no latent code to decode",
    "encode": "no encoder",
    "trajectory": "no sampling chain to watch",
    "inpaint": "no way to fill in a hidden part",
    "reconstruct": "no decoder to reconstruct with",
    "surprise": "no likelihood, bound or surprise reference to score with",
    "map": "no latent map file (`python -m engine map` builds one)",
    "training grids": "no sample grids saved while training",
}


def offers_of(capabilities: Iterable[str], folder: Path) -> frozenset[str]:
    """A checkpoint's capabilities and the :data:`FEATURES` that follow from them and its files."""
    caps = set(capabilities)
    if caps & set(INPAINT_NEEDS.values()):
        caps.add("inpaint")
    if "decode" in caps:
        caps.add("reconstruct")
    if caps & {"log_prob", "elbo", "energy"} or (folder / REFERENCE_FILE).is_file():
        caps.add("surprise")
    if "decode" in caps and (folder / MAP_FILE).is_file():
        caps.add("map")
    if any((folder / "samples").glob("epoch-*.png")):
        caps.add("training grids")
    return frozenset(caps)


@dataclass(frozen=True)
class Entry:
    """One checkpoint folder found on disk: its card and what it offers, or the error that keeps
    it from loading."""

    name: str
    path: str
    kind: str | None
    dataset: str | None
    card: dict = field(default_factory=dict, hash=False, compare=False)
    error: str | None = None
    offers: frozenset[str] = frozenset()
    rank: int = 99  # position of its kind in the model registry: the order of every list

    def has(self, *needs: str) -> bool:
        return self.error is None and set(needs) <= self.offers

    @property
    def generative(self) -> bool:
        return self.has("sample")

    @property
    def inpaints(self) -> bool:
        return self.has("inpaint")


def checkpoint_roots() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(EXTRA_ROOTS_ENV, "").split(os.pathsep) if p]
    return [PRETRAINED, *extra]


@st.cache_resource(show_spinner=False)
def _load(path: str):
    return engine.load(path, device="cpu").eval()


def _rank(kind: str) -> int:
    kinds = list(engine.KINDS)
    return kinds.index(kind) if kind in kinds else len(kinds)


@st.cache_resource(ttl=60, show_spinner=False)
def catalog() -> tuple[Entry, ...]:
    """Every checkpoint folder under the roots; a broken one is listed with its error. Looked at
    again after a minute; shared as it is, not copied per call: a page asks for it many times a
    run. Entries are frozen and their cards only read."""
    entries, seen = [], set()
    for root in checkpoint_roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
            name = folder.name if folder.name not in seen else f"{folder.name} ({root.name})"
            seen.add(name)
            if not folder.resolve().is_relative_to(root.resolve()):
                error = f"{folder}: points outside the checkpoint folder {root}; not loaded"
                entries.append(Entry(name, str(folder), None, None, error=error))
                continue
            try:
                model = _load(str(folder))
                card = engine.read_card(folder)
            except EngineError as e:
                entries.append(Entry(name, str(folder), None, None, error=str(e)))
                continue
            offers = offers_of(model.capabilities, folder)
            kind = model.kind
            entries.append(
                Entry(name, str(folder), kind, card.get("dataset"), card, None, offers, _rank(kind))
            )
    return tuple(entries)


def _ordered(found: list[Entry]) -> list[Entry]:
    """MNIST first, then in the model registry's order (the VAE first), then by name."""
    return sorted(found, key=lambda e: (e.dataset != "mnist", e.rank, e.name))


def entries(*, needs: Iterable[str] = (), dataset: str | None = None) -> list[Entry]:
    """Loaded checkpoints that offer everything in ``needs`` (capabilities or :data:`FEATURES`),
    in order: the first is a page's default model."""
    needs = tuple(needs)
    found = [e for e in catalog() if e.has(*needs) and dataset in (None, e.dataset)]
    return _ordered(found)


def names(*, needs: Iterable[str] = ()) -> list[str]:
    return [e.name for e in entries(needs=needs)]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def reason(need: str, *, why: dict[str, str] | None = None) -> str:
    """Why a model lacks ``need``, as in "it has <reason>"."""
    return {**WHY, **(why or {})}.get(need, f"no {need!r} capability")


def absent(needs: Iterable[str], *, why: dict[str, str] | None = None) -> str | None:
    """One line naming the loaded checkpoints a page that needs ``needs`` leaves out, and why
    (the first need each lacks, in the words of ``why`` or else :data:`WHY`); None if none is."""
    needs = tuple(needs)
    reasons: dict[str, list[str]] = {}
    for e in _ordered([e for e in catalog() if e.error is None and not e.has(*needs)]):
        lacking = next(n for n in needs if n not in e.offers)
        reasons.setdefault(reason(lacking, why=why), []).append(e.name)
    parts = [
        f"{_join(found)} {'is' if len(found) == 1 else 'are'} not listed: "
        f"{'it has' if len(found) == 1 else 'they have'} {because}"
        for because, found in reasons.items()
    ]
    return "; ".join(parts) + "." if parts else None


def entry(name: str) -> Entry:
    for e in catalog():
        if e.name == name:
            return e
    raise EngineError(f"no checkpoint named {name!r}")


def offers(name: str, *needs: str) -> bool:
    """True when the checkpoint ``name`` offers every one of ``needs``."""
    return entry(name).has(*needs)


def model(name: str):
    return _load(entry(name).path)


def model_facts(name: str) -> dict:
    m = model(name)
    return {
        "kind": m.kind,
        "image_shape": tuple(m.image_shape),
        "latent_shape": tuple(m.latent_shape) if m.has("decode") else None,  # none: no latent
        "capabilities": sorted(m.capabilities),
    }
