"""Fixtures of the browser tests: one ``make run`` server and one Chromium for the session.

Without Chromium (``/usr/bin/chromium``) or Playwright the tests are skipped, unless
``LATENT_ATLAS_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .harness import CHROMIUM, VIEWPORT, Server, free_port, launch_chromium, make_run_command

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
REQUIRE_ENV = "LATENT_ATLAS_REQUIRE_BROWSER"


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires the browser tests to run)")
    pytest.skip(f"{reason}; install Debian's chromium to run the browser tests")


@pytest.fixture(scope="session")
def sync_playwright():
    if not Path(CHROMIUM).is_file():
        _missing(f"{CHROMIUM} not found")
    if shutil.which("make") is None:
        _missing("make not found (the server is started with `make run`)")
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        _missing("the playwright package is not installed")
    with start() as p:
        yield p


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def server(sync_playwright, artifacts):
    """The app as the README starts it, ``make run PORT=...``, on a free port."""
    port = free_port()
    srv = Server(make_run_command(port), port, log_path=artifacts / "server.log").start()
    try:
        srv.wait_healthy(timeout=90)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser(sync_playwright):
    b = launch_chromium(sync_playwright)
    yield b
    b.close()


@pytest.fixture
def page(browser, server, artifacts, request):
    """A new browser context (a new Streamlit session) per test; its screenshot if it fails."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    request.node.page_errors = errors  # uncaught JavaScript errors, for the tests to check
    outside: list[str] = []  # requests that leave this machine (there is no network at run time)
    pg.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if urlsplit(r.url).hostname not in (None, "localhost", "127.0.0.1")
            and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    request.node.outside_requests = outside
    yield pg
    if getattr(request.node, "rep_call_failed", False):
        try:
            pg.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"))
        except Exception:  # the page may be gone; the failure itself is what matters
            pass
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failed call on the item, so the page fixture can screenshot it."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed
