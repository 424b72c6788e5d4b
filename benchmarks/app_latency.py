"""What a student feels in the browser, measured in headless Chromium against real servers.

    python benchmarks/app_latency.py [--moves 20] [--per-load 5] [--starts 3] [--out latency.json]

All figures come from the same run on the same machine:

(a) slider -> new image visible: the Sample page's "Temperature" slider moved with the keyboard
    (ArrowRight), timed in the page from the keydown to the first animation frame at which the
    grid image has a new ``src`` that has loaded; median over ``--moves`` moves. The same for a
    trivial Streamlit app (``benchmarks/trivial_app.py``: one slider, one image, nothing computed)
    served with the same flags (``streamlit_config.toml``); the ratio app / trivial is reported.
    Every move goes to a temperature not shown before: the page is loaded at 0.10, the slider
    stepped right ``--per-load`` times (0.15, 0.20, ...), the page loaded again (a new session)
    where it ended, and so on, so the app's per-session result cache never answers. The trivial
    app is driven the same way. The app's own compute time (its latency caption) is recorded.
(b) frame time while scrubbing the Latent walk page's scrubber: 24 ArrowRight presses in the
    iframe's range input, read from ``window.scrubTimes`` (input event -> next animation frame).
(c) fresh server start -> home page (``/``) interactive: from launching ``python -m app`` (what
    ``make run`` runs) to the home page showing its title, its checkpoint count and the model
    cards' images, the script idle; a new server process and a new browser context each time.
(d) then a click on "Latent map" in the sidebar -> the Plotly scatter has drawn its points
    (more than 1000 ``.scatterlayer .point``). Medians over ``--starts`` fresh starts.
(e) the Latent walk page's combined directions decoded in the browser (onnxruntime-web) for the
    VAE, the GAN and the flow, on the same server as (a) and (b): frame time while dragging the
    2-D pad with one core kept busy, websocket messages sent during the drag, page up -> first
    frame, and the same page's server path beside it (``benchmarks/browser_decoder.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import browser_decoder  # noqa: E402  (benchmarks/ is on the path when run as a script)

from tests.browser.harness import (  # noqa: E402
    IDLE_JS,
    IMAGE_SRC_JS,
    VIEWPORT,
    Server,
    app_command,
    free_port,
    launch_chromium,
    open_page,
    streamlit_command,
    wait_idle,
)

TARGETS = {"ratio": 1.2, "scrub_ms": 16.0, "home_s": 10.0, "map_s": 2.0}
MAIN_IMAGE = '[data-testid="stMain"] [data-testid="stImage"] img'

# Armed before a key press: records the keydown time and, polling every animation frame, the
# first frame at which the image shows a new src that has loaded.
ARM_JS = """([sel, before]) => {
  window.__t0 = null; window.__t1 = null;
  document.addEventListener('keydown', () => { if (window.__t0 === null)
    window.__t0 = performance.now(); }, {capture: true, once: true});
  const poll = () => {
    const img = document.querySelector(sel);
    if (img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0) {
      window.__t1 = performance.now();
    } else { requestAnimationFrame(poll); }
  };
  requestAnimationFrame(poll);
}"""

HOME_READY_JS = """() => {
  const h1 = document.querySelector('h1');
  if (!h1 || h1.innerText.trim() !== 'latent-atlas') return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || !/\\d+ checkpoints loaded/.test(main.innerText)) return false;
  const imgs = [...main.querySelectorAll('[data-testid="stImage"] img')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""

MAP_READY_JS = "() => document.querySelectorAll('.scatterlayer .point').length > 1000"
MAP_SCRIPT_DONE_JS = f"""() => {{
  const h1 = document.querySelector('h1');
  return !!h1 && h1.innerText.trim() === 'Latent map' && ({IDLE_JS})();
}}"""


def pctl(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _server(command: list[str], port: int) -> Server:
    srv = Server(command, port).start()
    srv.wait_healthy(timeout=120)
    return srv


def slider_moves(
    browser,
    url: str,
    path: str,
    label: str,
    values: list[str],
    param: str,
    moves_per_load: int,
    caption_re=None,
):
    """Keyboard moves of the slider, each to a new value: the page is loaded at ``values[0]``,
    the slider stepped right ``moves_per_load`` times, then loaded again where the last move
    ended, and so on. One unmeasured move on a separate load warms the server up first."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    times, compute = [], []
    moves = len(values) - 1
    loads = [(None, values[0], 1)]  # the warm-up
    for start in range(0, moves, moves_per_load):
        loads.append((start, values[start], min(moves_per_load, moves - start)))
    try:
        for start, value, count in loads:
            open_page(page, url, f"{path}?{param}={value}", timeout_ms=180_000)
            page.wait_for_selector(MAIN_IMAGE)
            for _ in range(count):
                before = page.evaluate(IMAGE_SRC_JS, MAIN_IMAGE)
                page.get_by_role("slider", name=label).focus()
                page.evaluate(ARM_JS, [MAIN_IMAGE, before])
                page.keyboard.press("ArrowRight")
                page.wait_for_function("() => window.__t1 !== null", timeout=120_000)
                ms = page.evaluate("window.__t1 - window.__t0")
                wait_idle(page)
                if start is None:
                    continue
                times.append(ms)
                if caption_re is not None:
                    main = '[data-testid="stMain"] [data-testid="stCaptionContainer"]'
                    for t in page.locator(main).all_inner_texts():
                        m = caption_re.match(t.strip())
                        if m:
                            compute.append(float(m.group(1)) * (1000 if m.group(2) == "s" else 1))
                            break
    finally:
        context.close()
    return times, compute


def scrub_times(browser, url: str, presses: int = 24) -> list[float]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        open_page(page, url, "walk", timeout_ms=180_000)
        handle = page.locator('iframe[data-testid="stIFrame"]').first.element_handle()
        frame = handle.content_frame()
        frame.wait_for_selector("#pos")
        frame.focus("#pos")
        # To frame 0 first, so every press moves (the strip has 25 frames), and wait for that
        # move's own entry (after the first frame's) before starting afresh.
        frame.press("#pos", "Home")
        frame.wait_for_function(
            "() => document.getElementById('pos').value === '0' && window.scrubTimes.length >= 2"
        )
        frame.evaluate("window.scrubTimes = []")
        for _ in range(presses):
            frame.press("#pos", "ArrowRight")
        frame.wait_for_function(f"() => window.scrubTimes.length >= {presses}")
        return list(frame.evaluate("window.scrubTimes"))
    finally:
        context.close()


def fresh_start(browser) -> dict[str, float]:
    """Seconds to healthy, to home interactive, and from home to the map page's script having
    finished and to its points drawn."""
    port = free_port()
    context = browser.new_context(viewport=VIEWPORT)  # a cold browser cache too
    page = context.new_page()
    srv = Server(app_command(port), port).start()
    try:
        healthy = srv.wait_healthy(timeout=120)
        page.goto(f"{srv.url}/", wait_until="domcontentloaded")  # the default page
        page.wait_for_function(HOME_READY_JS, timeout=120_000, polling="raf")
        wait_idle(page, 120_000)
        home = time.perf_counter() - srv.started_at
        t0 = time.perf_counter()
        page.locator('[data-testid="stSidebarNav"] a', has_text="Latent map").click()
        page.wait_for_function(MAP_SCRIPT_DONE_JS, timeout=120_000, polling="raf")
        script = time.perf_counter() - t0
        page.wait_for_function(MAP_READY_JS, timeout=120_000, polling="raf")
        map_s = time.perf_counter() - t0
        return {"healthy_s": healthy, "home_s": home, "map_script_s": script, "map_s": map_s}
    finally:
        context.close()
        srv.stop()


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20, help="slider moves per app (>= 20)")
    parser.add_argument("--per-load", type=int, default=5, help="slider moves per page load")
    parser.add_argument("--starts", type=int, default=3, help="fresh server starts")
    parser.add_argument("--drag-moves", type=int, default=60, help="pointer moves per drag (e)")
    parser.add_argument("--out", type=Path, help="write every figure and sample as JSON")
    args = parser.parse_args()
    if not 1 <= args.moves <= 28:
        parser.error("--moves: 1 to 28 (new temperatures from 0.15 to 1.50)")
    if args.per_load < 1:
        parser.error("--per-load: at least 1")

    from playwright.sync_api import sync_playwright

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_before = os.getloadavg()
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            # (c), (d): fresh starts first, while nothing else of ours runs.
            starts = []
            for i in range(args.starts):
                fig = fresh_start(browser)
                starts.append(fig)
                print(
                    f"fresh start {i + 1}: healthy {fig['healthy_s']:.2f} s, home "
                    f"{fig['home_s']:.2f} s, map script done {fig['map_script_s']:.2f} s, "
                    f"map painted {fig['map_s']:.2f} s",
                    flush=True,
                )

            # (a) and (b) on one app server.
            port = free_port()
            srv = _server(app_command(port), port)
            try:
                temps = [f"{0.10 + 0.05 * k:.2f}" for k in range(args.moves + 1)]
                caption = re.compile(r"^(\d+(?:\.\d+)?) (ms|s)$")
                app_ms, compute_ms = slider_moves(
                    browser, srv.url, "sample", "Temperature", temps, "t", args.per_load, caption
                )
                print(f"app slider: median {statistics.median(app_ms):.0f} ms", flush=True)
                scrub = scrub_times(browser, srv.url)
                print(f"scrub: median {statistics.median(scrub):.1f} ms", flush=True)
                in_browser = browser_decoder.measure(browser, srv.url, moves=args.drag_moves)
            finally:
                srv.stop()

            port = free_port()
            srv = _server(streamlit_command(ROOT / "benchmarks" / "trivial_app.py", port), port)
            try:
                values = [str(k) for k in range(args.moves + 1)]
                trivial_ms, _ = slider_moves(
                    browser, srv.url, "", "Value", values, "v", args.per_load
                )
                print(f"trivial slider: median {statistics.median(trivial_ms):.0f} ms", flush=True)
            finally:
                srv.stop()
        finally:
            browser.close()

    app_med, trivial_med = statistics.median(app_ms), statistics.median(trivial_ms)
    ratio = app_med / trivial_med
    scrub_med, scrub_p95 = statistics.median(scrub), pctl(scrub, 0.95)
    home_med = statistics.median(s["home_s"] for s in starts)
    map_med = statistics.median(s["map_s"] for s in starts)
    script_med = statistics.median(s["map_script_s"] for s in starts)
    compute_med = statistics.median(compute_ms) if compute_ms else float("nan")

    rows = [
        (
            f"(a) slider -> new image, Sample page (median of {len(app_ms)})",
            f"{app_med:.0f} ms",
            "",
            "",
        ),
        ("    of which the app's compute (its latency caption)", f"{compute_med:.0f} ms", "", ""),
        ("    the rest (app latency minus compute)", f"{app_med - compute_med:.0f} ms", "", ""),
        (
            f"(a) slider -> new image, trivial app (median of {len(trivial_ms)})",
            f"{trivial_med:.0f} ms",
            "",
            "",
        ),
        (
            "(a) ratio app / trivial",
            f"{ratio:.2f}x",
            f"<= {TARGETS['ratio']}x",
            verdict(ratio <= TARGETS["ratio"]),
        ),
        (
            f"(b) scrub frame time, median of {len(scrub)}",
            f"{scrub_med:.1f} ms",
            f"<= {TARGETS['scrub_ms']:.0f} ms",
            verdict(scrub_med <= TARGETS["scrub_ms"]),
        ),
        (
            "(b) scrub frame time, p95",
            f"{scrub_p95:.1f} ms",
            f"<= {TARGETS['scrub_ms']:.0f} ms",
            verdict(scrub_p95 <= TARGETS["scrub_ms"]),
        ),
        (
            f"(c) fresh start -> home interactive (median of {len(starts)})",
            f"{home_med:.2f} s",
            f"<= {TARGETS['home_s']:.0f} s",
            verdict(home_med <= TARGETS["home_s"]),
        ),
        (
            f"(d) home up -> map painted (median of {len(starts)})",
            f"{map_med:.2f} s",
            f"<= {TARGETS['map_s']:.0f} s",
            verdict(map_med <= TARGETS["map_s"]),
        ),
        ("    of which until the map page's script has finished", f"{script_med:.2f} s", "", ""),
        *browser_decoder.rows(in_browser),
    ]
    load_after = os.getloadavg()
    print()
    print(
        f"{started} · {platform.node()} · {os.cpu_count()} CPUs · commit {git_commit()} · "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print()
    print("| figure | measured | target | result |")
    print("|---|---:|---|---|")
    for name, value, target, ok in rows:
        print(f"| {name.strip()} | {value} | {target} | {ok} |")

    if args.out:
        result = {
            "started": started,
            "machine": {
                "node": platform.node(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "loadavg_before": load_before,
                "loadavg_after": load_after,
            },
            "commit": git_commit(),
            "targets": TARGETS,
            "slider_ms": {
                "app": app_ms,
                "app_compute_caption": compute_ms,
                "trivial": trivial_ms,
                "app_median": app_med,
                "trivial_median": trivial_med,
                "ratio": ratio,
            },
            "scrub_ms": {"samples": scrub, "median": scrub_med, "p95": scrub_p95},
            "fresh_starts": starts,
            "browser_decoder": in_browser,
            "home_s_median": home_med,
            "map_s_median": map_med,
            "map_script_s_median": script_med,
            "rows": [
                dict(zip(("figure", "measured", "target", "result"), r, strict=True)) for r in rows
            ],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
