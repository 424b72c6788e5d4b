"""Training objective of the gated PixelCNN: the exact negative log-likelihood in bits/dim."""

from __future__ import annotations

import torch
from torch import nn


class PixelCNNObjective:
    """Bits per dimension of the 8-bit training images (the model's exact discrete likelihood),
    with a short learning-rate warmup and gradient clipping; validation: bits/dim on the val split.
    """

    def __init__(self, model, *, lr: float, wrap, warmup_steps: int = 20) -> None:
        from engine.train.objectives import _LossModule  # that module registers this one

        self.model, self.lr, self.warmup = model, lr, warmup_steps
        self.loss = wrap(_LossModule(model, lambda m, x: m.bits_per_dim(x)))
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.steps = 0

    @torch.no_grad()
    def initialize(self, x) -> None:
        """Start the output layer at the first batch's grey-level histogram (add-one smoothed),
        so training starts from the marginal's bits/dim rather than 8."""
        last = self.model.out[-1]
        counts = torch.bincount(self.model.to_levels(x).flatten(), minlength=last.bias.numel())
        last.bias.copy_(torch.log((counts.float() + 1) / (counts.sum() + len(counts))))
        last.weight.mul_(0.1)

    def step(self, x, y, *, epoch: float, generator) -> dict:
        self.steps += 1
        for group in self.opt.param_groups:
            group["lr"] = self.lr * min(1.0, self.steps / self.warmup)
        loss = self.loss(x).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
        self.opt.step()
        return {"bpd": loss.item(), "grad": norm.item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        bpd = torch.cat([model.bits_per_dim(c) for c in x.split(150)])
        return {"loss": bpd.mean().item(), "bpd": bpd.mean().item()}
