"""Write the HAProxy configuration for a class: ``deploy/haproxy.cfg.template`` filled in.

    python deploy/render_haproxy.py --port 8500 --backend 127.0.0.1:8501 --backend 10.0.0.7:8501

Each ``--backend host:port`` is one app process (``python -m app --server.port=PORT``, on this
machine or another one); the browsers' cookie ``SERVERID`` names the one a session sticks to.
Prints the configuration, or writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg.template"
_BACKEND = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


def parse_backend(text: str) -> tuple[str, int]:
    """``host:port`` (an IPv6 host in brackets) -> (host, port); ValueError otherwise."""
    m = _BACKEND.match(text.strip())
    if not m or not 0 < int(m["port"]) < 65536:
        raise ValueError(f"{text!r}: give a backend as host:port")
    return m["host"], int(m["port"])


def render(backends: list[str], *, port: int, bind: str = "*") -> str:
    """The configuration for a proxy on ``bind:port`` in front of ``backends`` (host:port)."""
    if not backends:
        raise ValueError("give at least one backend")
    servers = []
    for i, text in enumerate(backends, start=1):
        host, p = parse_backend(text)
        servers.append(f"    server app{i} {host}:{p} cookie app{i}")
    return Template(TEMPLATE.read_text()).substitute(
        bind=bind, port=port, servers="\n".join(servers)
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="the port students open")
    ap.add_argument("--bind", default="*", help="address to listen on (default: all)")
    ap.add_argument("--backend", action="append", required=True, metavar="HOST:PORT")
    ap.add_argument("--out", help="file to write (default: print)")
    a = ap.parse_args(argv)
    try:
        text = render(a.backend, port=a.port, bind=a.bind)
    except ValueError as e:
        ap.error(str(e))
    if a.out:
        Path(a.out).write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
