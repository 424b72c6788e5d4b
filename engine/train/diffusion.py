"""The denoising objective of a DDPM (Ho et al. 2020): predict the noise added at a random step.

Timesteps are uniform over the training schedule; the loss is the MSE of the predicted noise (or
of v, Salimans & Ho 2022, when the model predicts v) with min-SNR-5 weights (Hang et al. 2023):
the nearly clean steps, whose noise is hardest to see and matters least for samples, count less,
which the paper measured to converge about three times faster. Validation draws its timesteps and
noise from the seed the loop passes, the same every epoch, so epochs compare.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DiffusionObjective:
    """MSE of the U-Net's noise (or v) prediction; AdamW, linear warmup, gradient clipping."""

    def __init__(
        self, model, *, lr: float, wrap, warmup_steps: int = 200, snr_gamma: float = 5.0
    ) -> None:
        self.model, self.lr, self.warmup, self.gamma = model, lr, warmup_steps, snr_gamma
        self.net = wrap(model)
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        self.steps = 0

    def _loss(self, net, model, x, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image weighted loss and plain MSE (B,) of images ``x`` in [0, 1], timesteps and
        noise from ``generator``."""
        sched = model.scheduler("ddpm")
        x0 = model.to_inner(x)
        t = torch.randint(0, sched.config.num_train_timesteps, (len(x),), generator=generator)
        noise = torch.randn(x0.shape, generator=generator).to(x.device)
        t = t.to(x.device)
        x_t = sched.add_noise(x0, noise, t)
        target = noise if model.config.prediction == "epsilon" else sched.get_velocity(x0, noise, t)
        mse = F.mse_loss(net(x_t, t), target, reduction="none").flatten(1).mean(1)
        a = sched.alphas_cumprod.to(x.device)[t]
        snr = a / (1 - a)
        weight = snr.clamp(max=self.gamma) / (
            snr if model.config.prediction == "epsilon" else snr + 1
        )
        return weight * mse, mse

    def step(self, x, y, *, epoch: float, generator) -> dict:
        self.steps += 1
        for group in self.opt.param_groups:
            group["lr"] = self.lr * min(1.0, self.steps / self.warmup)
        loss = self._loss(self.net, self.model, x, generator)[0].mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        return {"loss": loss.item(), "grad": norm.item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        losses, mses = zip(
            *(self._loss(model, model, c, generator) for c in x.split(500)), strict=True
        )
        return {"loss": torch.cat(losses).mean().item(), "mse": torch.cat(mses).mean().item()}
