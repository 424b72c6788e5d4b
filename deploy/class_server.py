"""A class on several app processes behind HAProxy: what ``make class WORKERS=N PORT=P`` runs.

Starts N app processes (``python -m app``) on 127.0.0.1, ports P+1 .. P+N, waits until each
answers Streamlit's health check, then HAProxy on port P in front of them, with the
configuration rendered from ``deploy/haproxy.cfg.template`` into ``logs/class/haproxy.cfg``.
A browser sticks to one process by a cookie; websockets pass through. A process that ends is
started again (its sessions reconnect through the proxy to a live one meanwhile). Ctrl-C (or
SIGTERM) stops everything.

- All processes share one cookie secret, so that a browser moved to another process (its own
  ended) keeps a valid upload token there.
- Each process gets ``$LATENT_ATLAS_WORKER_COUNT`` = the cores it may use divided among the
  processes (at least 1), unless it is set; ``--pin`` gives process i core i-1 alone.
- Without ``haproxy``, it installs Debian's package when it may (root and apt-get), else says how
  in one line and exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploy.render_haproxy import render  # noqa: E402

LOGS = ROOT / "logs" / "class"
PR_SET_PDEATHSIG = 1


def ensure_haproxy() -> str:
    """The haproxy executable, installed with apt-get when missing and this runs as root."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("haproxy is missing: installing Debian's package", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "haproxy"], check=True, env=env)
        found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
        if found:
            return found
    sys.exit(
        "haproxy is not installed: run `sudo apt-get install haproxy`, then `make class` again"
    )


def _child_setup(cpus: set[int] | None):
    def setup() -> None:
        with contextlib.suppress(OSError, AttributeError):  # end with this launcher (Linux)
            ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


class Backend:
    """One app process, in a process group of its own (with its worker processes)."""

    def __init__(self, index: int, port: int, flags: list[str], env: dict, cpus: set[int] | None):
        self.name, self.port, self.flags, self.env, self.cpus = (
            f"app{index}",
            port,
            flags,
            env,
            cpus,
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(LOGS / f"{self.name}.log", "a")  # noqa: SIM115 (the child keeps it)
        command = [sys.executable, "-m", "app", f"--server.port={self.port}", *self.flags]
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_child_setup(self.cpus),
        )
        log.close()
        pinned = f", core {sorted(self.cpus)}" if self.cpus else ""
        print(f"{self.name}: pid {self.proc.pid} on 127.0.0.1:{self.port}{pinned}", flush=True)

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/_stcore/health"
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().strip() == b"ok"
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="app processes (1-16)")
    ap.add_argument("--port", type=int, default=8500, help="the proxy's port; apps use the next")
    ap.add_argument("--bind", default="*", help="the proxy's address (default: all)")
    ap.add_argument("--pin", action="store_true", help="one core per app process")
    a = ap.parse_args(argv)
    if not 1 <= a.workers <= 16:
        ap.error("--workers must be 1 to 16")
    haproxy = ensure_haproxy()
    LOGS.mkdir(parents=True, exist_ok=True)
    cores = sorted(os.sched_getaffinity(0))
    if a.pin and a.workers > len(cores):
        ap.error(f"--pin needs a core per process: {len(cores)} cores for {a.workers}")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    per_process = 1 if a.pin else max(1, len(cores) // a.workers)  # worker processes each
    env.setdefault("LATENT_ATLAS_WORKER_COUNT", str(per_process))
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(16))  # no flag for it
    flags = ["--server.address=127.0.0.1"]
    backends = [
        Backend(i, a.port + i, flags, env, {cores[i - 1]} if a.pin else None)
        for i in range(1, a.workers + 1)
    ]
    proxy = None
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        for b in backends:
            b.start()
        deadline = time.monotonic() + 180
        while not all(b.healthy() for b in backends):
            if time.monotonic() > deadline or any(b.proc.poll() is not None for b in backends):
                print(f"an app process did not start; see {LOGS}/", file=sys.stderr)
                return 1
            time.sleep(0.5)
        config = LOGS / "haproxy.cfg"
        config.write_text(
            render([f"127.0.0.1:{b.port}" for b in backends], port=a.port, bind=a.bind)
        )
        proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], preexec_fn=_child_setup(None))
        print(f"class: http://localhost:{a.port} -> {a.workers} app processes", flush=True)
        while not stopping and proxy.poll() is None:
            for b in backends:
                if b.proc.poll() is not None:
                    print(f"{b.name}: ended ({b.proc.returncode}); starting it again", flush=True)
                    b.start()
            time.sleep(0.5)
        return 0 if stopping else 1
    except KeyboardInterrupt:
        return 0
    finally:
        if proxy is not None and proxy.poll() is None:
            proxy.terminate()
            proxy.wait(10)
        for b in backends:
            b.stop()


if __name__ == "__main__":
    sys.exit(main())
