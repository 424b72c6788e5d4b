"""Training a deep EBM: contrastive divergence against Langevin chains kept in a replay buffer.

Du & Mordatch 2019 ("Implicit Generation and Generalization in Energy-Based Models") and the
JEM recipe (Grathwohl et al. 2020). Each step:

1. take a batch of chain states from a buffer of ``buffer_size`` images, restarting a fraction
   ``reinit`` of them from uniform noise;
2. run ``steps`` Langevin steps on them (the model's own step, :meth:`ConvEBM.langevin_step`) and
   put them back;
3. lower the energy of (slightly noised) data and raise that of the chain states:
   ``E(x+) - E(x-) + alpha * (E(x+)^2 + E(x-)^2)``, the second term keeping energies near zero;
   Adam with beta1 = 0 and gradient clipping, as in those papers.

Validation is what the shipped model is judged by: ``val_samples`` chains of the model's default
length from *noise* (not from the buffer), read by the project's held-out classifier; the loss is
``-(mean confidence + entropy of the mean class probabilities / log 10)``, so 0 to -2, lower is
better: confident digits, all ten drawn alike. (The smallest class share, also logged, moves by
whole samples out of 100 and picked a poor early epoch when it was part of the loss.) Without
a classifier of the right shape it falls back to the energy gap of validation images and chain
states. The buffer, the optimiser and the counters are the objective's state, so ``--resume``
continues the same chains.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

JUDGE = Path(__file__).resolve().parents[2] / "pretrained" / "mnist-classifier"


class EBMObjective:
    """One contrastive-divergence step per batch; see the module docstring."""

    def __init__(
        self,
        model,
        *,
        lr: float,
        wrap,
        buffer_size: int = 10_000,
        reinit: float = 0.05,
        steps: int = 20,
        alpha: float = 0.1,
        data_noise: float = 0.01,
        clip: float = 1.0,
        val_samples: int = 100,
    ) -> None:
        self.model = model  # one process: each rank would need its own buffer (no DDP wrap)
        self.buffer_size, self.reinit, self.chain_steps = buffer_size, reinit, steps
        self.alpha, self.data_noise, self.clip, self.val_samples = (
            alpha,
            data_noise,
            clip,
            val_samples,
        )
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.0, 0.999))
        self.buffer: torch.Tensor | None = None  # (N, C, H, W) on the CPU
        self.steps = 0
        self._judge = None

    def state_dict(self) -> dict:
        return {
            "opt": self.opt.state_dict(),
            "steps": self.steps,
            "buffer": self.buffer if self.buffer is not None else torch.empty(0),
        }

    def load_state_dict(self, state: dict) -> None:
        self.opt.load_state_dict(state["opt"])
        self.steps = int(state["steps"])
        self.buffer = state["buffer"] if state["buffer"].numel() else None

    def _negatives(self, b: int, generator: torch.Generator) -> torch.Tensor:
        m = self.model
        if self.buffer is None:
            self.buffer = torch.rand((self.buffer_size, *m.image_shape), generator=generator)
        idx = torch.randint(0, len(self.buffer), (b,), generator=generator)
        start = self.buffer[idx].clone()
        fresh = torch.rand(b, generator=generator) < self.reinit
        start[fresh] = torch.rand((int(fresh.sum()), *m.image_shape), generator=generator)
        x = start.to(m.device)
        for _ in range(self.chain_steps):
            x = m.langevin_step(x, generator=generator)
        self.buffer[idx] = x.detach().cpu()
        return x.detach()

    def step(self, x, y, *, epoch: float, generator) -> dict:
        self.steps += 1
        x_neg = self._negatives(len(x), generator)
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        x_pos = (x + self.data_noise * noise).clamp(0, 1)
        e = self.model.energy(torch.cat([x_pos, x_neg]))  # (2B,)
        e_pos, e_neg = e[: len(x)], e[len(x) :]
        loss = e_pos.mean() - e_neg.mean() + self.alpha * (e_pos.pow(2) + e_neg.pow(2)).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        return {
            "loss": loss.item(),
            "e_pos": e_pos.mean().item(),
            "e_neg": e_neg.mean().item(),
            "grad": norm.item(),
        }

    def judge(self):
        """The held-out classifier that reads validation samples, or None."""
        if self._judge is None and JUDGE.is_dir():
            from engine.checkpoint import load

            judge = load(JUDGE, device=self.model.device)
            shape = (judge.config.channels, judge.config.image_size, judge.config.image_size)
            self._judge = judge if shape == tuple(self.model.image_shape) else False
        return self._judge or None

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        e_data = model.energy(x).mean().item()
        samples = model.sample(self.val_samples, generator=generator)
        e_samples = model.energy(samples).mean().item()
        out = {"e_val": round(e_data, 4), "e_samples": round(e_samples, 4)}
        judge = self.judge()
        if judge is None:
            return {"loss": e_data - e_samples, **out}
        probs = judge.predict_proba(samples.to(judge.device))
        share = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).float() / len(samples)
        confidence = probs.max(1).values.mean().item()
        mean = probs.mean(0)  # (classes,)
        spread = -(mean * mean.clamp_min(1e-12).log()).sum().item() / math.log(len(mean))
        return {
            "loss": -(confidence + spread),
            "confidence": round(confidence, 4),
            "class_entropy": round(spread, 4),
            "min_class_share": round(share.min().item(), 4),
            **out,
        }
