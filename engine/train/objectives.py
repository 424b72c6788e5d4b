"""What one optimisation step means for each model kind.

An objective owns its optimisers and any training-only modules (the GAN's discriminator). The loop
in :mod:`engine.train.loop` owns data, epochs, EMA, validation bookkeeping and checkpoints.
``wrap`` turns a module into its DistributedDataParallel form when running under ``torchrun``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.gan import DCGANDiscriminator
from engine.ops.inpaint import mask_preset
from engine.train.diffusion import DiffusionObjective
from engine.train.ebm import EBMObjective
from engine.train.pixelcnn import PixelCNNObjective
from engine.train.rbm import RBMObjective


class _LossModule(nn.Module):
    """Runs ``fn(model, *args)`` as ``forward`` so DDP sees the model's parameters being used."""

    def __init__(self, model: nn.Module, fn) -> None:
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *args):
        return self.fn(self.model, *args)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels, filling with black."""
    b, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


class VAEObjective:
    """Negative ELBO on dynamically binarized images, KL weight warmed up over the first epochs."""

    def __init__(self, model, *, lr: float, wrap, warmup_epochs: float = 10.0) -> None:
        self.model, self.warmup = model, warmup_epochs
        self.loss = wrap(_LossModule(model, lambda m, x, g: m.elbo_terms(x, generator=g)))
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, x, y, *, epoch: float, generator) -> dict:
        xb = torch.bernoulli(x.cpu(), generator=generator).to(x.device)
        rec, kl = self.loss(xb, generator)
        weight = self.model.config.beta * min(1.0, epoch / self.warmup) if self.warmup else 1.0
        loss = -(rec - weight * kl).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "kl": kl.mean().item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        xb = torch.bernoulli(x.cpu(), generator=generator).to(x.device)
        rec, kl = model.elbo_terms(xb, generator=generator)
        return {
            "loss": -(rec - model.config.beta * kl).mean().item(),
            "neg_elbo": -(rec - kl).mean().item(),
        }


class FlowObjective:
    """Bits per dimension under uniform dequantization; learning-rate warmup and gradient clipping."""

    def __init__(self, model, *, lr: float, wrap, warmup_steps: int = 200) -> None:
        self.model = model
        self.wrap, self.lr, self.warmup = wrap, lr, warmup_steps
        self.loss = None
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.steps = 0

    def initialize(self, x) -> None:
        """Data-dependent actnorm initialisation, before DDP wrapping copies rank 0's weights."""
        with torch.no_grad():
            self.model.train()
            self.model.log_prob(x, generator=torch.Generator().manual_seed(0))
        self.loss = self.wrap(
            _LossModule(self.model, lambda m, x, g: m.bits_per_dim(x, generator=g))
        )

    def step(self, x, y, *, epoch: float, generator) -> dict:
        self.steps += 1
        for group in self.opt.param_groups:
            group["lr"] = self.lr * min(1.0, self.steps / self.warmup)
        loss = self.loss(x, generator).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.model.parameters(), 50.0)
        self.opt.step()
        return {"bpd": loss.item(), "grad": norm.item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        bpd = torch.cat([model.bits_per_dim(c, generator=generator) for c in x.split(500)])
        return {"loss": bpd.mean().item(), "bpd": bpd.mean().item()}


class GANObjective:
    """Non-saturating loss, spectral-norm discriminator, random translations on both sides.

    The discriminator learns four times faster than the generator (TTUR, Heusel et al. 2017).
    Measured on MNIST: hinge loss with equal rates and DiffAugment cutout collapsed to one digit
    within 300 steps; this setting kept all ten.
    """

    def __init__(self, model, *, lr: float, wrap, disc_lr_ratio: float = 4.0) -> None:
        self.model = model
        self.disc = DCGANDiscriminator(model.config).to(model.device)
        self.g = wrap(model.generator)
        self.d = wrap(self.disc)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr * disc_lr_ratio, betas=betas)
        self.shift = max(1, model.config.image_size // 14)

    def step(self, x, y, *, epoch: float, generator) -> dict:
        n = x.shape[0]
        z = self.model.sample_latent(n, generator=generator)
        fake = (self.g(z) + 1) / 2
        d_real = self.d(random_shift(x, self.shift, generator))
        d_fake = self.d(random_shift(fake.detach(), self.shift, generator))
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # The discriminator's gradients from this pass are discarded (zeroed before its next
        # step); freezing it instead would confuse DDP's gradient bookkeeping.
        loss_g = F.softplus(-self.d(random_shift(fake, self.shift, generator))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"d": loss_d.item(), "g": loss_g.item()}

    validate = None

    @torch.no_grad()
    def finalize(self, model, generator) -> None:
        """Re-estimate the batch-norm statistics for the (EMA) weights being shipped."""
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the batches below
        model.train()
        for _ in range(20):
            model.decode(model.sample_latent(256, generator=generator))
        model.eval()
        for bn in bns:
            bn.momentum = 0.1


class ClassifierObjective:
    """Cross-entropy with random shifts of up to 2 pixels."""

    def __init__(self, model, *, lr: float, wrap) -> None:
        self.model = model
        self.net = wrap(model)
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, x, y, *, epoch: float, generator) -> dict:
        loss = F.cross_entropy(self.net(random_shift(x, 2, generator)), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        logits = model(x)
        return {
            "loss": F.cross_entropy(logits, y).item(),
            "accuracy": (logits.argmax(1) == y).float().mean().item(),
        }


def random_known(
    n: int, shape: tuple[int, int, int], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Training masks ``known`` (n, 1, H, W) for a VAEAC: a fifth each of the bottom half, the
    left or right half, the centre square (the app's presets), random pixels at a random rate
    and one random rectangle."""
    _, h, w = shape
    known = torch.ones(n, 1, h, w, dtype=torch.bool)
    kinds = torch.randint(0, 5, (n,), generator=generator).tolist()
    for i, t in enumerate(kinds):
        if t == 0:
            known[i] = mask_preset("bottom half", shape)[0]
        elif t == 1:
            left = mask_preset("left half", shape)[0]
            known[i] = left if torch.rand((), generator=generator).item() < 0.5 else left.flip(-1)
        elif t == 2:
            known[i] = mask_preset("centre square", shape)[0]
        elif t == 3:
            rate = 0.2 + 0.7 * torch.rand((), generator=generator).item()
            known[i] = torch.rand(1, h, w, generator=generator) >= rate
        else:
            rh, rw = (torch.randint(h // 5, 4 * h // 5, (2,), generator=generator)).tolist()
            y = torch.randint(0, h - rh + 1, (), generator=generator).item()
            x = torch.randint(0, w - rw + 1, (), generator=generator).item()
            known[i, :, y : y + rh, x : x + rw] = False
    return known


class VAEACObjective:
    """Conditional negative ELBO of the missing pixels under random training masks.

    Validation uses the same mask mixture drawn from a fixed seed, so epochs compare fairly.
    """

    def __init__(self, model, *, lr: float, wrap) -> None:
        self.model = model
        self.loss = wrap(
            _LossModule(model, lambda m, x, known, g: m.loss_terms(x, known, generator=g))
        )
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, x, y, *, epoch: float, generator) -> dict:
        known = random_known(len(x), self.model.image_shape, generator).to(x.device)
        rec, kl, reg = self.loss(x, known, generator)
        loss = -(rec - kl - reg).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "kl": kl.mean().item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        known = random_known(len(x), model.image_shape, generator).to(x.device)
        rec, kl, _ = model.loss_terms(x, known, generator=generator)
        return {"loss": -(rec - kl).mean().item(), "rec": -rec.mean().item()}


OBJECTIVES = {
    "vae": VAEObjective,
    "flow": FlowObjective,
    "gan": GANObjective,
    "classifier": ClassifierObjective,
    "vaeac": VAEACObjective,
    "diffusion": DiffusionObjective,
    "ebm": EBMObjective,
    "rbm": RBMObjective,
    "pixelcnn": PixelCNNObjective,
}
