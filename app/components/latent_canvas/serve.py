"""The files the latent canvas loads, served by the app itself (Streamlit's static serving,
``server.enableStaticServing``: ``app/static/`` at ``/app/static/``).

- The runtime, onnxruntime-web 1.30.0 (MIT), is committed in ``app/static/onnxruntime-web/``:
  the single-threaded WebAssembly path needs two files (see ``docs/browser-decoder.md``).
- A checkpoint's ``decoder.onnx`` is copied, once its sha256 has been checked against the card,
  to ``app/static/decoders/<sha256>.onnx.gz`` (git-ignored): the name is its content, so a
  browser that has it never needs it again, and a changed decoder gets a new address.

Both big files are stored gzip-compressed (``.gz``): Streamlit serves ``application/gzip`` as it
is, where it would compress any other type again on every request (14 MB of WebAssembly at
level 9, seconds of a busy CPU); the component unpacks them with ``DecompressionStream``.
Streamlit sends these files with ``ETag`` and ``Last-Modified`` and no ``Cache-Control``
(checked in ``tests/browser/test_latent_canvas.py``), so a browser keeps them and asks again at
most with a conditional request, answered ``304`` without the body.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

STATIC = Path(__file__).resolve().parents[2] / "static"
RUNTIME_DIR = "onnxruntime-web/1.30.0"
DECODERS = "decoders"


@dataclass(frozen=True)
class BrowserDecoder:
    """A decoder a browser can fetch: its URL path, hash and shapes."""

    url: str
    sha256: str
    latent_shape: tuple[int, ...]
    image_shape: tuple[int, int, int]


def static_url(relative: str) -> str:
    """The URL path of ``app/static/<relative>``, under ``server.baseUrlPath`` if one is set."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/app/static/{relative}"


def publish_decoder(
    data: bytes, *, sha256: str, latent_shape, image_shape, static: Path = STATIC
) -> BrowserDecoder:
    """Place a decoder's bytes where the app serves them; returns how a browser finds them.

    The bytes are checked against ``sha256`` (the card's) here, so what is served is what the
    card names, and written atomically, once per content.

    Raises:
        ValueError: the bytes do not have that hash.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the decoder file does not match the sha256 in its card")
    name = f"{sha256}.onnx.gz"
    target = static / DECODERS / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(gzip.compress(data, compresslevel=6, mtime=0))
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return BrowserDecoder(
        url=static_url(f"{DECODERS}/{name}"),
        sha256=sha256,
        latent_shape=tuple(int(s) for s in latent_shape),
        image_shape=tuple(int(s) for s in image_shape),
    )
