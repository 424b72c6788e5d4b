"""A class behind HAProxy (``make class WORKERS=2``): a browser sticks to one app process, so its
images and uploads work through the proxy; killing one process loses only its sessions, which
reconnect to a live one and rebuild their view from the URL, while the others see nothing."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time

import pytest
from PIL import Image, ImageDraw

from .conftest import _missing
from .harness import (
    IMAGE_READY_JS,
    VIEWPORT,
    Server,
    errors_on,
    free_port,
    open_page,
    wait_idle,
)

FIRST_RUN_MS = 120_000
GRID = '[data-testid="stImage"] img'
# Every connection state the page goes through, from now on, kept on the page.
WATCH_CONNECTION_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__states = [app.dataset.testConnectionState];
  new MutationObserver(() => window.__states.push(app.dataset.testConnectionState))
    .observe(app, {attributes: true, attributeFilter: ['data-test-connection-state']});
}"""


@pytest.fixture(scope="module")
def proxy(sync_playwright, artifacts):
    """``make class WORKERS=2 PORT=...``: two app processes and HAProxy in front."""
    if shutil.which("haproxy") is None and not os.path.exists("/usr/sbin/haproxy"):
        _missing("haproxy not found (apt-get install haproxy)")
    port = free_port()
    srv = Server(["make", "class", "WORKERS=2", f"PORT={port}"], port, artifacts / "class.log")
    srv.start()
    try:
        srv.wait_healthy(timeout=180)  # the proxy answers once both processes are up
        yield srv
    finally:
        srv.stop()


def backend_pid(srv: Server, name: str) -> int:
    """The pid the launcher printed for app process ``name`` (the latest, if restarted)."""
    pids = re.findall(rf"^{name}: pid (\d+)", srv.log_tail(100_000), re.M)
    assert pids, srv.log_tail()
    return int(pids[-1])


def stuck_to(browser, srv: Server, name: str):
    """A new browser session whose proxy cookie names app process ``name``."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    context.add_cookies([{"name": "SERVERID", "value": name, "url": srv.url}])
    return context, context.new_page()


def caption_of_grid(page) -> str:
    return page.get_by_test_id("stImage").first.inner_text()


def test_images_and_an_upload_work_through_the_proxy(browser, proxy, tmp_path):
    context, page = stuck_to(browser, proxy, "app2")
    open_page(page, proxy.url, "inpaint?model=mnist-vae", timeout_ms=FIRST_RUN_MS)
    page.get_by_test_id("stRadio").filter(has_text="Source").get_by_text(
        "upload", exact=True
    ).click()
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.wait_for(state="attached")
    wait_idle(page)
    png = tmp_path / "seven.png"
    img = Image.new("L", (112, 112), 0)
    ImageDraw.Draw(img).line([(24, 22), (86, 22), (50, 94)], fill=255, width=11)
    img.save(png)
    uploader.set_input_files(str(png))
    page.get_by_text("what the model sees", exact=True).wait_for()
    wait_idle(page)
    shown = "caption=input with the hidden part in grey"
    page.wait_for_function(IMAGE_READY_JS, arg=shown)  # served by the process that made it
    page.get_by_role("button", name=re.compile("Fill in the hidden part")).click()
    page.get_by_text("completion 1", exact=True).first.wait_for(timeout=FIRST_RUN_MS)
    wait_idle(page, FIRST_RUN_MS)
    page.wait_for_function(IMAGE_READY_JS, arg="caption=completion 1")
    assert errors_on(page) == []
    context.close()


def test_killing_one_process_loses_only_its_sessions_which_rebuild_from_the_url(browser, proxy):
    view = "sample?model=mnist-vae&seed=7&n=16&t=1.05"
    (ctx_a, a), (ctx_b, b) = stuck_to(browser, proxy, "app1"), stuck_to(browser, proxy, "app2")
    for page in (a, b):
        open_page(page, proxy.url, view, timeout_ms=FIRST_RUN_MS)
        page.wait_for_function(IMAGE_READY_JS, arg=GRID)
        assert caption_of_grid(page).endswith("seed 7, temperature 1.05")
    b.evaluate(WATCH_CONNECTION_JS)

    os.killpg(backend_pid(proxy, "app1"), signal.SIGKILL)  # the process and its workers
    # a's websocket drops; its browser reconnects through the proxy to a live process
    a.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]').dataset.testConnectionState"
        " !== 'CONNECTED'",
        timeout=30_000,
    )
    wait_idle(a, FIRST_RUN_MS)
    a.wait_for_function(IMAGE_READY_JS, arg=GRID, timeout=FIRST_RUN_MS)
    assert caption_of_grid(a).endswith("seed 7, temperature 1.05")  # rebuilt from the URL
    assert "t=1.05" in a.url and errors_on(a) == []

    time.sleep(2)  # b's session meanwhile: still connected, and it still answers
    slider = b.get_by_role("slider", name="Temperature")
    slider.focus()
    b.keyboard.press("ArrowRight")
    b.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"]')]"
        ".some(e => e.innerText.endsWith('temperature 1.1'))",
        timeout=60_000,
    )
    wait_idle(b)
    assert set(b.evaluate("() => window.__states")) == {"CONNECTED"}
    assert errors_on(b) == []
    ctx_a.close()
    ctx_b.close()
