"""Every operation of every shipped checkpoint on CUDA and on the CPU: same results, and times.

    python benchmarks/gpu_check.py [--pretrained pretrained] [--repeats 3]

For each checkpoint, each operation its capabilities offer (sample, decode, encode, log-prob,
reconstruct, inpaint, surprise score) runs with the same seed and inputs on both devices; the
table gives the largest difference between the two results (relative to the largest value,
when that is above 1) and the median time of each
(after one warm-up run; CUDA timed to its last kernel). Randomness is drawn by CPU generators, so
both devices start from the same numbers. Without CUDA it says so in one line and exits 0.
``--against cpu`` compares the CPU with itself: a check of this script on any machine.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.errors import EngineError  # noqa: E402
from engine.ops.inpaint import method_for  # noqa: E402

TOLERANCE = 1e-3  # of the result's largest magnitude (at least 1); a larger one is marked


def _first(result) -> torch.Tensor:
    """The tensor an operation's result is judged by."""
    for attr in ("x_hat", "completions"):
        if hasattr(result, attr):
            return getattr(result, attr)
    return result if isinstance(result, torch.Tensor) else torch.as_tensor(result)


def operations(model, x: torch.Tensor) -> dict:
    """name -> function of nothing, for what ``model`` can do (inputs moved to its device)."""
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731 (a fresh one per run)
    dev = model.device
    ops = {}
    if model.has("sample"):
        ops["sample 16"] = lambda: model.sample(16, generator=g())
    if model.has("decode"):
        z = torch.stack([engine.latent_from_seed(model, s) for s in range(16)])
        ops["decode 16"] = lambda: model.decode(z.to(dev))
        ops["reconstruct 8"] = lambda: engine.reconstruct(model, x[:8], generator=g())
    if model.has("encode"):
        ops["encode 64"] = lambda: model.encode(x.to(dev))
    if model.has("log_prob"):
        seeded = "generator" in inspect.signature(model.log_prob).parameters  # dequantization
        extra = (lambda: {"generator": g()}) if seeded else dict
        ops["log-prob 64"] = lambda: model.log_prob(x.to(dev), **extra())
    known = engine.mask_preset("centre square", tuple(model.image_shape))
    try:
        method_for(model)
        ops["inpaint 1x4"] = lambda: engine.inpaint(model, x[:1], known, samples=4, generator=g())
    except EngineError:
        pass
    try:
        engine.anomaly_score(model, x[:1], generator=g())
        ops["surprise 8"] = lambda: engine.anomaly_score(model, x[:8], generator=g())
    except (EngineError, KeyError, NotImplementedError):
        pass
    return ops


def timed(fn, device: torch.device, repeats: int) -> tuple[torch.Tensor, float]:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with torch.no_grad():
        out = _first(fn()).float().cpu()  # warm-up, and the result compared
        sync()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            seconds.append(time.perf_counter() - start)
    return out, statistics.median(seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pretrained", default=str(ROOT / "pretrained"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--against", default="cuda", help="the device compared with the CPU")
    a = ap.parse_args()
    if a.against == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing compared (run it on a machine with a GPU)")
        return 0
    other = torch.device(a.against)
    name = torch.cuda.get_device_name(0) if other.type == "cuda" else str(other)
    print(f"CPU ({torch.get_num_threads()} threads) against {name}, torch {torch.__version__}\n")
    print(
        f"| checkpoint | operation | largest difference | CPU (s) | {other.type} (s) | speed-up |"
    )
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for folder in sorted(p for p in Path(a.pretrained).iterdir() if (p / "config.json").is_file()):
        try:
            models = {d: engine.load(folder, device=d) for d in ("cpu", other)}
        except EngineError as e:
            print(f"| {folder.name} | not loaded: {e} | | | | |")
            continue
        card = engine.read_card(folder)
        c, h, _ = models["cpu"].image_shape
        data = engine.load_dataset(card["dataset"], "test", image_size=h, channels=c)
        x = data.x[:64].float() / 255  # (64, C, H, W) in [0, 1]
        runs = {d: operations(m, x) for d, m in models.items()}
        for op, fn in runs["cpu"].items():
            try:
                ref, t_cpu = timed(fn, torch.device("cpu"), a.repeats)
                got, t_other = timed(runs[other][op], other, a.repeats)
            except (EngineError, RuntimeError) as e:
                print(f"| {folder.name} | {op} | failed: {str(e).splitlines()[0][:80]} | | | |")
                continue
            scale = max(1.0, float(ref.abs().max()))  # images in [0, 1]; log-probs in nats
            same_shape = ref.shape == got.shape
            diff = float((ref - got).abs().max()) / scale if same_shape else float("inf")
            worst = max(worst, diff)
            mark = "" if diff <= TOLERANCE else " **differs**"
            print(
                f"| {folder.name} | {op} | {diff:.2g}{mark} | {t_cpu:.4f} | {t_other:.4f} "
                f"| {t_cpu / t_other:.1f}x |",
                flush=True,
            )
    print(f"\nlargest difference over all: {worst:.2g} (marked above {TOLERANCE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
