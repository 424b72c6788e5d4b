"""Short work beside long work: does a slider move wait behind a class's inpaintings?

    python benchmarks/long_work.py [--long 8] [--repeats 3]

Starts ``--long`` VAE inpaintings at once (one test digit each, centre square, 4 completions,
the app's settings), each from its own thread as the app's script threads would, and meanwhile
times a piece of short work every 20 ms on the main thread: a decode of one latent plus about
5 ms of Python, the shape of a slider move's run. Three ways, in the same run:

- alone: the short work with nothing else running;
- plain threads: the inpaintings run on their own threads at the server's priority;
- low-priority threads: ``app.workers.call`` with ``$LATENT_ATLAS_WORKERS=threads``, the
  app's earlier way;
- worker processes: ``app.workers.call`` as the app now runs it, each inpainting a request
  to its pool of worker processes (one per core, at ``nice`` +10).

``--memory`` instead reads the worker processes' memory (``/proc/PID/smaps_rollup``: resident,
and proportional, which splits shared pages among the processes that map them) once each has
loaded the VAE and the VAEAC, with their weights memory-mapped (the app's way) and copied.

Prints the short work's p50 / p95 in each, its ratio to alone, and how long the inpaintings took
in all (the long work's own cost of yielding). Torch as in the app (2 threads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from app import workers  # noqa: E402

torch.set_num_threads(2)
WAYS = {
    "plain": "plain threads",
    "threads": "low-priority threads",
    "processes": "worker processes",
}


def short_work(model) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        model.decode(torch.randn(1, *model.latent_shape))
    sum(i * i for i in range(50_000))
    return time.perf_counter() - start


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def under(model, x, known, way: str) -> tuple[list[float], float]:
    def inpaint(i: int, step=None):
        gen = torch.Generator().manual_seed(i)
        return engine.inpaint(model, x[i : i + 1], known, samples=4, generator=gen, callback=step)

    def one(i: int) -> None:
        if way == "plain":
            inpaint(i)
        elif way == "threads":
            workers.call(lambda step: inpaint(i, step), lambda *_: None)
        else:
            path = str(ROOT / "pretrained" / "mnist-vae")
            request = workers.Request("inpaint", path, (x[i : i + 1], known), {"samples": 4}, i)
            workers.call(request, lambda *_: None)

    os.environ[workers.MODE_ENV] = "threads" if way == "threads" else "processes"
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(x))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    times = []
    while any(t.is_alive() for t in threads):
        times.append(short_work(model))
        time.sleep(0.02)
    for t in threads:
        t.join()
    return times, time.perf_counter() - start


_kept = []  # a worker's copied models, kept as the pool keeps its own


def load_models(copy: bool, step) -> int:
    """In a worker: load the VAE and the VAEAC, mapped as the app does or copied; hold a second
    so that each worker of the pool gets one of the calls made at once."""
    for name in ("mnist-vae", "mnist-vaeac"):
        path = str(ROOT / "pretrained" / name)
        _kept.append(engine.load(path, device="cpu") if copy else workers.loaded(path))
    time.sleep(1.0)
    return os.getpid()


def rollup(pid: int) -> dict[str, float]:
    """Resident, proportional and anonymous memory of a process, MB."""
    rows = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    )
    return {k: int(rows[k].split()[0]) / 1024 for k in ("Rss", "Pss", "Anonymous")}


def worker_memory() -> None:
    from functools import partial

    from app.worker_pool import Pool
    from benchmarks import long_work as me  # by module name, so that the workers find it

    for copy in (False, True):
        pool = workers._pool = Pool(2, 2)  # in place of the app's, for this reading
        try:
            calls = [
                threading.Thread(target=workers.call, args=(partial(me.load_models, copy),))
                for _ in range(2)
            ]
            for t in calls:
                t.start()
            for t in calls:
                t.join()
            for pid in pool.pids():
                m = rollup(pid)
                print(
                    f"weights {'copied' if copy else 'mapped'}: worker {pid} RSS {m['Rss']:.0f} MB, "
                    f"PSS {m['Pss']:.0f} MB, anonymous {m['Anonymous']:.0f} MB"
                )
        finally:
            pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=8, help="inpaintings at once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="the workers' memory instead")
    args = parser.parse_args()
    if args.memory:
        return worker_memory()
    model = engine.load(ROOT / "pretrained" / "mnist-vae")
    test = engine.load_dataset("mnist", "test").float()
    x = test[:: len(test) // args.long][: args.long]
    known = engine.mask_preset("centre square", (1, 28, 28))
    os.environ[workers.MODE_ENV] = "processes"
    workers.pool()
    for way in WAYS:  # warm every way up (each worker loads the model)
        under(model, x[:2], known, way)
    for r in range(args.repeats):
        alone = [short_work(model) for _ in range(40)]
        base = p(alone, 0.95)
        print(
            f"round {r + 1}: short work alone p50 {statistics.median(alone) * 1e3:.1f} ms, "
            f"p95 {base * 1e3:.1f} ms"
        )
        for way in WAYS:
            times, total = under(model, x, known, way)
            print(
                f"  beside {args.long} inpaintings on {WAYS[way]:<22} n={len(times):3d}"
                f" p50 {statistics.median(times) * 1e3:5.1f} ms  p95 {p(times, 0.95) * 1e3:5.1f} ms"
                f" ({p(times, 0.95) / base:.1f}x alone); inpaintings done in {total:.2f} s"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
