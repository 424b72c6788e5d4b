"""The latent canvas in headless Chromium: the decoder runs in the page (onnxruntime-web), the
image follows the sliders and the pad with nothing sent to the server until release, every file
comes from this server and is cached, and without WebAssembly the page takes its server path.

Served alone by ``tests/browser/latent_canvas_app.py`` with the app's flags (one small server
for the module), so these tests do not wait for the whole app.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .harness import ROOT, VIEWPORT, Server, free_port, open_page, streamlit_command

pytestmark = [pytest.mark.slow, pytest.mark.pretrained]

APP = ROOT / "tests" / "browser" / "latent_canvas_app.py"
CANVAS = '[data-testid="latent-canvas"] canvas'
FIRST_FRAME_JS = "() => !!window.__latentCanvas && window.__latentCanvas.firstFrame !== null"
NO_WASM = "delete window.WebAssembly;"


@pytest.fixture(scope="module")
def canvas_server(sync_playwright, artifacts):
    port = free_port()
    srv = Server(streamlit_command(APP, port), port, log_path=artifacts / "canvas.log").start()
    try:
        srv.wait_healthy(timeout=90)
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(60_000)
    yield ctx
    ctx.close()


def watch(page) -> dict:
    """Requests that leave this machine, JavaScript errors and websocket frames the page sends."""
    seen = {"outside": [], "errors": [], "sent": []}
    page.on(
        "request",
        lambda r: (
            seen["outside"].append(r.url)
            if urlsplit(r.url).hostname not in ("localhost", "127.0.0.1")
            and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: seen["sent"].append(f)))
    return seen


def canvas_png(page) -> str:
    return page.locator(CANVAS).evaluate("c => c.toDataURL()")


def released(page, text: str) -> None:
    page.get_by_text(text, exact=True).wait_for()


def open_canvas(page, server, query: str) -> None:
    open_page(page, server.url, query)
    page.wait_for_function(FIRST_FRAME_JS)


def test_sliders_redraw_in_the_browser_and_release_sends_the_amounts(context, canvas_server):
    page = context.new_page()
    seen = watch(page)
    open_canvas(page, canvas_server, "?model=mnist-vae")
    assert page.evaluate("window.__latentCanvas.backend") == "browser"
    before, runs = canvas_png(page), page.evaluate("window.__latentCanvas.runs")
    slider = page.get_by_role("slider", name="axis 0")
    slider.focus()
    sent = len(seen["sent"])
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => window.__latentCanvas.runs > {runs}")
    page.wait_for_function("() => window.__latentCanvas.frames.length >= 4")
    assert canvas_png(page) != before  # the decoded image follows the slider
    released(page, "released at [0.2, 0.0, 0.0]")  # keys at rest: the amounts reach the page
    # One state message for the four presses (and what Streamlit sends around a rerun).
    assert 1 <= len(seen["sent"]) - sent <= 3
    assert seen["outside"] == [] and seen["errors"] == []


def test_pad_drag_moves_two_directions_with_no_message_until_release(context, canvas_server):
    page = context.new_page()
    seen = watch(page)
    open_canvas(page, canvas_server, "?model=mnist-gan")
    before = canvas_png(page)
    box = page.get_by_test_id("latent-pad").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    sent = len(seen["sent"])
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x0 + 3 * k, y0 - 2 * k)
        page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
    assert len(seen["sent"]) == sent  # nothing left the browser during the drag
    after = canvas_png(page)
    page.mouse.up()
    assert after != before
    assert float(page.get_by_role("slider", name="axis 0").input_value()) > 0
    assert float(page.get_by_role("slider", name="axis 1").input_value()) > 0
    page.get_by_text("released at [").filter(has_text="0.0]").wait_for()
    assert len(seen["sent"]) > sent
    assert seen["outside"] == [] and seen["errors"] == []


def test_path_position_redraws(context, canvas_server):
    page = context.new_page()
    seen = watch(page)
    open_canvas(page, canvas_server, "?model=mnist-flow&mode=path")
    before = canvas_png(page)
    page.get_by_role("slider", name="position t").fill("0.5")  # an input event, then change
    page.wait_for_function("() => window.__latentCanvas.runs >= 2")
    released(page, "released at t = 0.5")
    assert canvas_png(page) != before
    assert seen["outside"] == [] and seen["errors"] == []


def test_without_webassembly_the_page_takes_the_server_path(context, canvas_server):
    context.add_init_script(NO_WASM)
    page = context.new_page()
    seen = watch(page)
    open_page(page, canvas_server.url, "?model=mnist-vae")
    page.get_by_text("server path: this browser has no WebAssembly").wait_for()
    assert page.evaluate("window.__latentCanvas.runs") == 0
    assert seen["outside"] == [] and seen["errors"] == []


def test_runtime_and_decoder_are_cached_by_the_browser(context, canvas_server):
    """Served by the app with validators; a second visit downloads neither again."""
    page = context.new_page()
    headers = {}
    page.on(
        "response",
        lambda r: (
            headers.setdefault(urlsplit(r.url).path, r.headers) if "/app/static/" in r.url else None
        ),
    )
    open_canvas(page, canvas_server, "?model=mnist-vae")
    big = [p for p in headers if p.endswith((".wasm.gz", ".onnx.gz", ".mjs"))]
    assert len(big) == 3, big
    for path in big:
        assert "etag" in headers[path] and "last-modified" in headers[path], path
    page.reload()
    page.wait_for_function(FIRST_FRAME_JS)
    sizes = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter(e => /\\.(wasm\\.gz|onnx\\.gz|mjs)$/.test(e.name) && e.name.includes('/app/static/'))
             .map(e => [e.name, e.transferSize])"""
    )
    assert len(sizes) == 3
    for name, transferred in sizes:
        assert transferred < 2000, f"{name} downloaded again ({transferred} bytes)"
