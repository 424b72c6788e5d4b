"""Short work beside long work: does a slider move wait behind a class's inpaintings?

    python benchmarks/long_work.py [--long 8] [--repeats 3]

Starts ``--long`` VAE inpaintings at once (one test digit each, centre square, 4 completions,
the app's settings), each from its own thread as the app's script threads would, and meanwhile
times a piece of short work every 20 ms on the main thread: a decode of one latent plus about
5 ms of Python, the shape of a slider move's run. Three ways, in the same run:

- alone: the short work with nothing else running;
- plain threads: the inpaintings run on their own threads at the server's priority;
- ``app.workers.call``: the app's way, the inpaintings handed to its low-priority pool.

Prints the short work's p50 / p95 in each, its ratio to alone, and how long the inpaintings took
in all (the long work's own cost of yielding). Torch as in the app (2 threads).
"""

from __future__ import annotations

import argparse
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
        else:
            workers.call(lambda step: inpaint(i, step), lambda *_: None)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=8, help="inpaintings at once")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = engine.load(ROOT / "pretrained" / "mnist-vae")
    test = engine.load_dataset("mnist", "test").float()
    x = test[:: len(test) // args.long][: args.long]
    known = engine.mask_preset("centre square", (1, 28, 28))
    under(model, x[:2], known, "workers")  # warm both ways up
    for r in range(args.repeats):
        alone = [short_work(model) for _ in range(40)]
        base = p(alone, 0.95)
        print(
            f"round {r + 1}: short work alone p50 {statistics.median(alone) * 1e3:.1f} ms, "
            f"p95 {base * 1e3:.1f} ms"
        )
        for way in ("plain", "workers"):
            times, total = under(model, x, known, way)
            print(
                f"  beside {args.long} inpaintings on {way + ' threads':<15} n={len(times):3d}"
                f" p50 {statistics.median(times) * 1e3:5.1f} ms  p95 {p(times, 0.95) * 1e3:5.1f} ms"
                f" ({p(times, 0.95) / base:.1f}x alone); inpaintings done in {total:.2f} s"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
