"""A newcomer's first visit, page by page, on a fresh server, with and without the warm-up.

    python benchmarks/first_visit.py [--rounds 2] [--settle 0] [--out first-visit.json]

Each round starts two fresh servers one after the other, the way ``make run`` starts one
(``python -m app``): the baseline ("off": the warm-up switched off, ``LATENT_ATLAS_WARMUP=0``,
and every page waiting for all its results, ``LATENT_ATLAS_PAGE_WAIT_S=`` empty, as before) and
the default ("on": the warm-up, and slow parts filled in after the page is up). For each, a new Chromium context opens the home page and
waits until it is interactive (its title, its checkpoint count and every card image loaded, the
script idle); ``--settle`` seconds later it clicks each page of the sidebar in order and times
the click -> that page's script finished, both timed in the page (the page's title on screen, the
app connected and no script running; see ARM_JS). A page
that fills its slow parts in after its script has finished (Compare) is also timed until the
last of them is in ("complete"). The target: every page within 3 s.

The server's own time for each run and the warm-up's steps come from its run log
(``$LATENT_ATLAS_RUN_LOG``) and are written with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.harness import (  # noqa: E402
    IDLE_JS,
    VIEWPORT,
    Server,
    app_command,
    free_port,
    launch_chromium,
)

TARGET_S = 3.0
# Sidebar order after the home page (app/main.py).
PAGES = [
    "Sample",
    "Latent walk",
    "Interpolate",
    "Reconstruct & inpaint",
    "Latent map",
    "Compare",
    "Evaluation report",
    "Training evolution",
]
HOME_READY_JS = """() => {
  const h1 = document.querySelector('h1');
  if (!h1 || h1.innerText.trim() !== 'latent-atlas') return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || !/\\d+ checkpoints loaded/.test(main.innerText)) return false;
  const imgs = [...main.querySelectorAll('[data-testid="stImage"] img')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""
# Armed before the click: records the click and the first moment the page's first run has ended,
# its title on screen and no script running (observed as it happens, not polled: a page whose
# slow parts are on their way reruns a small fragment every second to look for them, and a
# poll can miss the short idle moments between; for the same reason not harness.IDLE_JS, whose
# "running" widget, fading out, is seldom gone between those runs).
ARM_JS = """(title) => {
  window.__clicked = null; window.__done = null;
  const check = () => {
    const app = document.querySelector('[data-testid="stApp"]');  // looked up afresh each time
    const h1 = document.querySelector('h1');
    if (window.__done === null && window.__clicked !== null && app && h1
        && h1.innerText.trim() === title
        && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning') window.__done = performance.now();
  };
  document.addEventListener('click', () => { window.__clicked = performance.now(); },
                            {capture: true, once: true});
  if (window.__observer) window.__observer.disconnect();  // the previous page's
  window.__observer = new MutationObserver(check);
  window.__observer.observe(document.body, {attributes: true, childList: true, subtree: true});
}"""
# A page's slow parts still on their way show this text (app/lazy.py PENDING_NOTE).
COMPLETE_JS = f"""() => ({IDLE_JS})() &&
  !document.querySelector('[data-testid="stMain"]').innerText.includes('still on its way')"""


def visit(browser, *, warm: bool, settle: float) -> dict:
    """One fresh server and one first-time visitor; seconds per page."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="first-visit-", suffix=".jsonl")[1])
    os.environ["LATENT_ATLAS_RUN_LOG"] = str(log)
    os.environ["LATENT_ATLAS_WARMUP"] = "1" if warm else "0"
    # The baseline is the app as it was: no warm-up, and every page waits for all its results.
    if warm:
        os.environ.pop("LATENT_ATLAS_PAGE_WAIT_S", None)  # python -m app's own setting
    else:
        os.environ["LATENT_ATLAS_PAGE_WAIT_S"] = ""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    srv = Server(app_command(port), port).start()
    out: dict = {"warm": warm, "pages": {}, "complete": {}}
    try:
        srv.wait_healthy(timeout=180)
        page.goto(f"{srv.url}/", wait_until="domcontentloaded")
        page.wait_for_function(HOME_READY_JS, timeout=300_000, polling="raf")
        page.wait_for_function(IDLE_JS, timeout=300_000, polling="raf")
        out["home_s"] = time.perf_counter() - srv.started_at
        time.sleep(settle)
        for title in PAGES:
            page.evaluate(ARM_JS, title)
            t0 = time.perf_counter()
            page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
            page.wait_for_function("() => window.__done !== null", timeout=300_000)
            out["pages"][title] = page.evaluate("(window.__done - window.__clicked) / 1000")
            page.wait_for_function(COMPLETE_JS, timeout=300_000, polling=100)
            out["complete"][title] = time.perf_counter() - t0
        out["run_log"] = [json.loads(line) for line in log.read_text().splitlines() if line]
    finally:
        context.close()
        srv.stop()
        log.unlink(missing_ok=True)
    return out


def table(runs: list[dict]) -> list[str]:
    off = [r for r in runs if not r["warm"]]
    on = [r for r in runs if r["warm"]]
    head = [f"off {i + 1}" for i in range(len(off))] + [f"on {i + 1}" for i in range(len(on))]
    lines = [
        "| page | " + " | ".join(head) + " | worst with warm-up | target |",
        "|---|" + "---:|" * len(head) + "---:|---|",
    ]
    for title in PAGES:
        cells = []
        for r in off + on:
            s, full = r["pages"][title], r["complete"][title]
            cells.append(f"{s:.1f}" + (f" (all in {full:.1f})" if full - s > 0.3 else ""))
        worst = max(r["pages"][title] for r in on) if on else float("nan")
        ok = "pass" if worst <= TARGET_S else "FAIL"
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {worst:.1f} | {ok} |")
    homes = " | ".join(f"{r['home_s']:.1f}" for r in off + on)
    lines.append(f"| (fresh start -> home interactive) | {homes} | | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="servers per mode (>= 1)")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds on home before clicks")
    parser.add_argument("--out", type=Path, help="write every figure and the run logs as JSON")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_before = os.getloadavg()
    runs = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            for i in range(args.rounds):
                for warm in (False, True):
                    r = visit(browser, warm=warm, settle=args.settle)
                    runs.append(r)
                    pages = ", ".join(f"{k} {v:.1f}" for k, v in r["pages"].items())
                    print(f"round {i + 1} warm-up {'on' if warm else 'off'}: {pages}", flush=True)
        finally:
            browser.close()
    load_after = os.getloadavg()
    print()
    print(
        f"{started} · {platform.node()} · {os.cpu_count()} CPUs · settle {args.settle:g} s · "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print("click -> script finished, seconds (off: the baseline; on: the default)")
    print()
    print("\n".join(table(runs)))
    medians = {
        mode: {t: statistics.median(r["pages"][t] for r in runs if r["warm"] == w) for t in PAGES}
        for mode, w in (("off", False), ("on", True))
    }
    if args.out:
        result = {
            "started": started,
            "machine": {"node": platform.node(), "cpus": os.cpu_count()},
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "settle_s": args.settle,
            "medians": medians,
            "runs": runs,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
