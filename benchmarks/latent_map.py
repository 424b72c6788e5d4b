"""Time placing a new image on a shipped latent map and picking a map location, per checkpoint.

    python benchmarks/latent_map.py [--repeats 50]

Target (engine issue): placing a new point on an existing map <= 50 ms, without UMAP. The
baseline measured in the same run is one decode of one latent (the least any interaction costs),
so the ratio stays meaningful when the machine's speed drifts. Prints median and 90th percentile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.ops.latent_map import load_map  # noqa: E402


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch threads: 1; repeats: {args.repeats}; times in ms (median / p90)")
    print(f"{'checkpoint':<14} {'decode 1 (base)':>16} {'encode+place 1':>16} {'pick+decode':>14}")
    for path in sorted((ROOT / "pretrained").iterdir()):
        lm = load_map(path) if path.is_dir() else None
        if lm is None:
            continue
        model = engine.load(path, device="cpu")
        c, h, _ = model.image_shape
        dataset = engine.read_card(path)["dataset"]
        x = engine.load_dataset(dataset, "test", image_size=h, channels=c).float()[:1]
        z = model.sample_latent(1, generator=torch.Generator().manual_seed(0))
        base = _time(lambda: model.decode(z), args.repeats)  # noqa: B023
        with torch.no_grad():
            if model.has("encode"):
                place = _time(lambda: lm.place(model.encode(x)), args.repeats)  # noqa: B023
            else:  # codes come from elsewhere (a sample, an inversion): time placing alone
                place = _time(lambda: lm.place(z), args.repeats)  # noqa: B023
            xy = lm.xy["umap"][7] + 0.05
            pick = _time(lambda: model.decode(lm.pick(xy)[0]), args.repeats)  # noqa: B023
        row = [f"{a:6.1f} / {b:5.1f}" for a, b in (base, place, pick)]
        print(f"{path.name:<14} {row[0]:>16} {row[1]:>16} {row[2]:>14}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
