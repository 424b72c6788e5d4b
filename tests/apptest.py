"""Shared by the AppTest suites: open a page of the app, with the checkpoint catalog fresh."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import resources as R
from app.components.latent_canvas import FALLBACK_KEY

MAIN = Path(__file__).resolve().parents[1] / "app" / "main.py"
TIMEOUT = 240


@pytest.fixture(autouse=True)
def fresh_catalog(monkeypatch):
    """No extra checkpoint roots, and no catalog cached by an earlier test (it is kept a minute)."""
    monkeypatch.delenv(R.EXTRA_ROOTS_ENV, raising=False)
    st.cache_data.clear()
    R.catalog.clear()
    yield
    st.cache_data.clear()
    R.catalog.clear()


def page(name: str, *, browser: bool = False, **query) -> AppTest:
    """Run one page (``home`` or a file name in app/app_pages) with these query parameters.

    AppTest runs no JavaScript, so by default the session is one whose browser said it cannot
    decode (the latent canvas's fallback, the server's sliders); ``browser=True`` leaves that
    out, to see what a browser that can is sent.
    """
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)
    if not browser:
        at.session_state[FALLBACK_KEY] = "AppTest runs no JavaScript"
    if name != "home":
        at.switch_page(f"app_pages/{name}.py")
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()
