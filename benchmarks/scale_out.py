"""Scaling measured: one app process on one core against two behind HAProxy on two cores.

    python benchmarks/scale_out.py [--class-rounds 2] [--out logs/scale-out.json]

Both setups are started by ``deploy/class_server.py --pin`` (what ``make class`` runs, each app
process pinned to a core of its own, with one worker process for long work) and loaded by the
load test's sessions without a browser (``benchmarks/load_test.py --crowd protocol``: each
student slides on the Sample page, inpaints and clicks the map, with 1-3 s of think time; the
walk page is left out, its sliders decode in the browser), which keep the proxy's
cookie as a browser does:

1. baseline: 1 process on 1 core, ``--sessions-per-core`` sessions (10);
2. scale-out: 2 processes on 2 cores behind the proxy, twice as many sessions (20).

If adding a process and a core carries twice the class, the p95s match. Prints one table of
both (and how the proxy spread the sessions); JSON with ``--out``. The load generator runs on the
same machine, unpinned, at normal priority.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load_test import Actor, ProtocolSession, pooled, run_class, times  # noqa: E402
from tests.browser.harness import Server, free_port, wait_warmed_up  # noqa: E402

SETUPS = (("1 process, 1 core", 1), ("2 processes, 2 cores", 2))


async def one_setup(processes: int, sessions: int, args) -> dict:
    port = free_port()
    log = ROOT / "logs" / f"scale-out-{processes}.log"
    command = [sys.executable, str(ROOT / "deploy" / "class_server.py")]
    command += ["--workers", str(processes), "--port", str(port), "--pin"]
    runs = log.with_suffix(".runs.jsonl")
    runs.write_text("")
    os.environ["LATENT_ATLAS_RUN_LOG"] = str(runs)  # the app processes inherit it
    server = Server(command, port, log_path=log).start()
    try:
        server.wait_healthy(240)
        # each process's start-up warm-up, before the class
        await asyncio.to_thread(wait_warmed_up, runs, processes)
        for i in range(1, processes + 1):  # models, maps and directions loaded in each
            warm = ProtocolSession(server.url, 990 + i, (0, 0))
            warm.cookies["SERVERID"] = f"app{i}"
            await warm.scenario()
            await warm.close()
        load = os.getloadavg()[0]
        crowd_args = SimpleNamespace(
            sessions=sessions,
            think_min=1.0,
            think_max=3.0,
            crowd="protocol",
            class_rounds=args.class_rounds,
            max_minutes=args.max_minutes,
        )
        crowd = await run_class(None, server.url, 1, crowd_args)
        return {
            "processes": processes,
            "sessions": sessions,
            "times": times(crowd),
            "stats": pooled([times(crowd)]),
            "errors": [e for s in crowd for e in s.errors],
            "sessions_per_process": dict(Counter(s.cookies.get("SERVERID") for s in crowd)),
            "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
        }
    finally:
        server.stop()


def table(runs: list[dict]) -> str:
    (a_name, _), (b_name, _) = SETUPS
    a, b = runs
    lines = [
        f"| action | {a_name}, {a['sessions']} sessions: median / p95 (s) "
        f"| {b_name}, {b['sessions']} sessions: median / p95 (s) | p95 ratio |",
        "|---|---|---|---|",
    ]
    for name, sa in a["stats"].items():
        sb = b["stats"].get(name)
        if not sb:
            continue
        lines.append(
            f"| {name} | {sa['median_s']} / {sa['p95_s']} (n={sa['n']}) "
            f"| {sb['median_s']} / {sb['p95_s']} (n={sb['n']}) | {sb['p95_s'] / sa['p95_s']:.2f} |"
        )
    for r in runs:
        lines.append(
            f"\n{r['processes']} process(es): errors {len(r['errors'])}; sessions per process "
            f"{r['sessions_per_process']}; machine load average {r['load_average'][0]} before, "
            f"{r['load_average'][1]} after the class"
        )
    return "\n".join(lines)


async def main(args) -> list[dict]:
    return [await one_setup(n, args.sessions_per_core * n, args) for _, n in SETUPS]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions-per-core", type=int, default=10)
    ap.add_argument("--class-rounds", type=int, default=2, help="times each student runs it")
    ap.add_argument("--max-minutes", type=float, default=15.0)
    ap.add_argument("--out")
    a = ap.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("scale_out needs 2 cores: one per app process")
    if not 1 <= a.sessions_per_core <= 20 or not 1 <= a.class_rounds <= 5:
        ap.error("--sessions-per-core 1-20 and --class-rounds 1-5 (this test stays bounded)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    Actor.walks = False  # the walk page decodes in the browser: its sliders run nothing here
    result = asyncio.run(main(a))
    print(table(result))
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
