"""Screenshots of the app's main pages in a useful state, for the docs.

    python benchmarks/screenshots.py [--out docs/screenshots] [--port PORT]

Starts the app the way the README does (``make run PORT=...``), drives headless Chromium
(``/usr/bin/chromium``) at 1400x1000 and writes one viewport PNG per page: home, sample, walk,
interpolate, inpaint (the VAE filling a centre square, after running), map (after a click),
compare, evolution.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.harness import (  # noqa: E402
    PAGES,
    VIEWPORT,
    Server,
    errors_on,
    free_port,
    launch_chromium,
    make_run_command,
    open_page,
    wait_idle,
)

FIRST_RUN_MS = 180_000


def images_loaded(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')]"
        ".every(i => i.complete)"
    )


def scrubber_ready(page) -> None:
    frame = page.locator('iframe[data-testid="stIFrame"]').first.element_handle().content_frame()
    frame.wait_for_selector("#pos")
    frame.wait_for_function("() => document.getElementById('frame').complete")


def prepare_inpaint(page) -> None:
    """Run the model on the default test digit, then show the completions."""
    page.get_by_role("button", name=re.compile("Fill in the hidden part")).click()
    page.get_by_text("completion 1", exact=True).first.wait_for(timeout=FIRST_RUN_MS)
    wait_idle(page, FIRST_RUN_MS)
    page.evaluate(
        "() => { const h = [...document.querySelectorAll('h3')]"
        ".find(e => e.innerText.trim() === '3. Run'); if (h) h.scrollIntoView(); }"
    )


def prepare_map(page) -> None:
    page.wait_for_function("() => document.querySelectorAll('.scatterlayer .point').length > 1000")
    wait_idle(page)
    point = page.locator(".scatterlayer .trace").nth(3).locator(".point").nth(5)
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.get_by_test_id("stImage").filter(has_text=re.compile(r"^decoded at \(")).wait_for(
        timeout=FIRST_RUN_MS
    )
    wait_idle(page)
    page.mouse.move(5, 5)  # no hover label over the map


def prepare_compare(page) -> None:
    """Wait for the table to be drawn and scroll so it shows under the columns."""
    page.wait_for_selector('[data-testid="stDataFrame"] canvas', state="attached", timeout=60_000)
    page.locator('[data-testid="stDataFrame"]').scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # the grid paints its canvas after scrolling


# The state each page opens in (URL query), where its default is not the most telling one.
QUERY = {"inpaint": "?model=mnist-vae&mask=centre%20square"}


def image_shown(page) -> None:
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stImage"] img', timeout=60_000)


PREPARE = {
    "sample": image_shown,
    "walk": scrubber_ready,
    "evolution": scrubber_ready,
    "inpaint": prepare_inpaint,
    "map": prepare_map,
    "compare": prepare_compare,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("pages", nargs="*", default=list(PAGES), help="default: every page")
    args = parser.parse_args()
    unknown = set(args.pages) - set(PAGES)
    if unknown:
        parser.error(f"unknown pages {sorted(unknown)}; choose from {list(PAGES)}")
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    port = args.port or free_port()
    server = Server(make_run_command(port), port).start()
    problems = []
    try:
        server.wait_healthy(timeout=120)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                for name in args.pages:
                    start = time.perf_counter()
                    context = browser.new_context(viewport=VIEWPORT)
                    page = context.new_page()
                    try:
                        url_path = PAGES[name] + QUERY.get(name, "")
                        open_page(page, server.url, url_path, timeout_ms=FIRST_RUN_MS)
                        PREPARE.get(name, lambda _: None)(page)
                        images_loaded(page)
                        wait_idle(page)
                        errors = errors_on(page)
                        if errors:
                            problems.append(f"{name}: {errors}")
                        path = args.out / f"{name}.png"
                        page.screenshot(path=str(path))
                        took = time.perf_counter() - start
                        size = path.stat().st_size // 1024
                        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                        print(f"{shown}  {size} KB  ({took:.1f} s)", flush=True)
                    finally:
                        context.close()
            finally:
                browser.close()
    finally:
        server.stop()
    if problems:
        sys.exit("errors on the page:\n" + "\n".join(problems))


if __name__ == "__main__":
    main()
