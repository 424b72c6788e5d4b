"""The app in a real browser: start a server, launch Chromium, wait for Streamlit's reruns.

Shared by the browser tests (``tests/browser``), ``benchmarks/app_latency.py`` and
``benchmarks/screenshots.py``. Playwright drives Debian's Chromium (it cannot download its own
browsers here), always with the same flags.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 1000}
# Page name -> URL path. The home page is the default page: Streamlit serves it at "/".
PAGES = {
    "home": "",
    "sample": "sample",
    "walk": "walk",
    "interpolate": "interpolate",
    "inpaint": "inpaint",
    "map": "map",
    "compare": "compare",
    "report": "report",
    "evolution": "evolution",
}

# What Streamlit 1.67 puts on the page for an uncaught exception and for st.error.
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'

# The app is idle: connected, the script not running and the "running" status widget gone.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app
    && app.dataset.testConnectionState === 'CONNECTED'
    && app.dataset.testScriptState === 'notRunning'
    && !document.querySelector('[data-testid="stStatusWidget"]');
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_run_command(port: int) -> list[str]:
    """What the README says to run (``make run``), on another port."""
    return ["make", "run", f"PORT={port}"]


def app_command(port: int) -> list[str]:
    """What ``make run`` runs once the environment is set up: ``python -m app``."""
    return [sys.executable, "-m", "app", f"--server.port={port}"]


def streamlit_command(script: str | Path, port: int) -> list[str]:
    """Any Streamlit script served with the app's flags (``streamlit_config.toml``)."""
    from app.__main__ import config_flags

    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        *config_flags(),
        f"--server.port={port}",
    ]


def wait_warmed_up(run_log: Path, processes: int = 1, timeout: float = 300.0) -> bool:
    """Wait until ``processes`` app processes logged the end of their start-up warm-up in
    ``run_log`` (their ``$LATENT_ATLAS_RUN_LOG``), so that a measurement does not share the cores
    with it; False if ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run_log.is_file() and run_log.read_text().count('"warm-up done"') >= processes:
            return True
        time.sleep(1)
    return False


class Server:
    """A server subprocess in its own process group, killed (group and all) by :meth:`stop`."""

    def __init__(self, command: list[str], port: int, log_path: Path | None = None):
        self.command = command
        self.port = port
        self.url = f"http://localhost:{port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.started_at: float | None = None

    def start(self) -> Server:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "w")  # closed in stop()
        else:
            out = subprocess.DEVNULL
        self._out = out
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: make, python and streamlit
        )
        return self

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_healthy(self, timeout: float = 90.0) -> float:
        """Poll ``/_stcore/health`` until it answers ``ok``; returns the seconds since start."""
        assert self.proc is not None and self.started_at is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200 and r.read().strip() == b"ok":
                        return time.perf_counter() - self.started_at
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:  # anything of the group still alive (a child that ignored SIGTERM)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        out = getattr(self, "_out", None)
        if out not in (None, subprocess.DEVNULL):
            out.close()
        self.proc = None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_idle(page, timeout_ms: float = 90_000) -> None:
    """Until the app is connected, no script runs and the status widget has gone."""
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)


def open_page(page, base_url: str, path: str, timeout_ms: float = 120_000) -> None:
    """Go to one page and wait until its first run has finished."""
    page.goto(f"{base_url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def errors_on(page) -> list[str]:
    """Exceptions and error alerts on the page, and Streamlit's "Page not found" dialog."""
    found = [t.strip() for t in page.locator(ERROR_SELECTOR).all_inner_texts()]
    dialogs = page.locator('[role="dialog"]').filter(has_text="Page not found")
    return found + [f"dialog: {t.strip()}" for t in dialogs.all_inner_texts()]


# An image by CSS selector, or "caption=TEXT": the st.image whose caption contains TEXT.
FIND_IMAGE_JS = """const find = (sel) => {
  if (!sel.startsWith('caption=')) return document.querySelector(sel);
  const el = [...document.querySelectorAll('[data-testid="stImage"]')]
    .find(e => e.innerText.includes(sel.slice(8)));
  return el ? el.querySelector('img') : null;
};"""

IMAGE_SRC_JS = f"""(sel) => {{
  {FIND_IMAGE_JS}
  const img = find(sel);
  return img ? img.getAttribute('src') : null;
}}"""

# True once the image is on the page and its picture has loaded and decoded. The app's run can
# end (the page idle) before the browser has drawn its images: the code of an element kind loads
# on its first use, so read a `before` src only once this holds.
IMAGE_READY_JS = f"""(sel) => {{
  {FIND_IMAGE_JS}
  const img = find(sel);
  return !!img && img.complete && img.naturalWidth > 0;
}}"""

# True once the image's src differs from `before` and the new picture has loaded and decoded.
IMAGE_CHANGED_JS = f"""([sel, before]) => {{
  {FIND_IMAGE_JS}
  const img = find(sel);
  return !!img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0;
}}"""
