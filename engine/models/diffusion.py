"""A pixel-space denoising diffusion model (Ho et al. 2020) read with DDIM (Song et al. 2021).

The network is diffusers' ``UNet2DModel``, built here from :class:`DiffusionConfig` (never
downloaded); the schedulers that walk it are diffusers' DDIM, DDIM-inverse and RePaint schedulers
over the same cosine noise schedule (Nichol & Dhariwal 2021, ``squaredcos_cap_v2``).

The latent of this model is the initial noise ``x_T``, image-shaped. DDIM with ``eta = 0`` is a
deterministic map from ``x_T`` to an image (an ODE solver for the probability-flow ODE), so
``decode(z)`` is a function like a GAN's generator, and ``encode(x)`` runs the same ODE backwards
(DDIM inversion). 28x28 images are padded with black to 32x32 inside, so ``latent_shape`` is
``(C, 32, 32)``; images at the boundary stay ``(B, C, 28, 28)`` in [0, 1].
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from engine.base import GenerativeModel
from engine.errors import EngineError
from engine.ops.chains import ChainStep, last_step

Progress = Callable[[int, int], None] | None  # progress(step, total)


def _diffusers():
    """Import diffusers with the hub switched off: nothing here may touch the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import diffusers

    return diffusers


@dataclass
class DiffusionConfig:
    channels: int = 1
    image_size: int = 28  # 28 is padded to 32 inside so the U-Net can halve it three times
    widths: list = field(default_factory=lambda: [16, 32, 64])  # U-Net channels per resolution
    attention: list = field(default_factory=lambda: [False, False, True])  # self-attention where
    layers_per_block: int = 1
    norm_groups: int = 8
    train_timesteps: int = 1000
    schedule: str = "squaredcos_cap_v2"
    prediction: str = "epsilon"
    steps: int = 20  # default DDIM steps of decode, encode and sample
    spacing: str = "leading"  # DDIM timesteps: "leading" starts at T - T/steps, "trailing" at T - 1
    clip_x0: bool = False  # clipping the predicted x_0 would make encode and decode disagree


class DDPM(GenerativeModel):
    """``decode``: deterministic DDIM from noise ``x_T``; ``encode``: DDIM inversion;
    ``complete``: RePaint (Lugmayr et al. 2022); ``trajectory``: x_t and predicted x_0 per step."""

    kind = "diffusion"
    capabilities = frozenset({"sample", "decode", "encode", "trajectory", "complete"})
    config_class = DiffusionConfig
    complete_defaults = {"steps": 30, "jump_length": 5, "resamples": 10, "eta": 1.0}

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__(config)
        c = config
        if len(c.widths) != len(c.attention) or not c.widths:
            raise EngineError("DiffusionConfig: widths and attention need one entry per level")
        if c.prediction not in ("epsilon", "v_prediction"):
            raise EngineError("DiffusionConfig.prediction must be epsilon or v_prediction")
        if c.steps < 1 or c.steps > c.train_timesteps:
            raise EngineError(f"DiffusionConfig.steps must be in 1..{c.train_timesteps}")
        self.inner = 32 if c.image_size == 28 else c.image_size
        self.pad = (self.inner - c.image_size) // 2
        d = _diffusers()
        down = ["AttnDownBlock2D" if a else "DownBlock2D" for a in c.attention]
        up = ["AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(c.attention)]
        self.unet = d.UNet2DModel(
            sample_size=self.inner,
            in_channels=c.channels,
            out_channels=c.channels,
            layers_per_block=c.layers_per_block,
            block_out_channels=tuple(c.widths),
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            norm_num_groups=c.norm_groups,
            attention_head_dim=8,
        )
        self._schedulers: dict = {}

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.channels, self.inner, self.inner)

    # -- schedules --------------------------------------------------------------------------------
    def scheduler(self, name: str = "ddim"):
        """A diffusers scheduler over this model's noise schedule: ``ddpm`` (training), ``ddim``,
        ``ddim_inverse`` or ``repaint``. DDIM's timesteps are ``config.spacing``: "leading" (the
        default) starts at t = T - T/steps, where the cosine schedule still scales the image by
        0.076 (20 steps); "trailing" starts at T - 1, where it scales it by 5e-5 and inversion
        cannot recover the image (the first step divides the noise error by that)."""
        if name not in self._schedulers:
            d, c = _diffusers(), self.config
            common = dict(num_train_timesteps=c.train_timesteps, beta_schedule=c.schedule)
            ddim = dict(
                common,
                clip_sample=c.clip_x0,
                prediction_type=c.prediction,
                timestep_spacing=c.spacing,
                set_alpha_to_one=True,
            )
            self._schedulers[name] = {
                "ddpm": lambda: d.DDPMScheduler(**common, prediction_type=c.prediction),
                "ddim": lambda: d.DDIMScheduler(**ddim),
                "ddim_inverse": lambda: d.DDIMInverseScheduler(**ddim),
                "repaint": lambda: d.RePaintScheduler(**common, clip_sample=True),
            }[name]()
        return self._schedulers[name]

    # -- pixels <-> the U-Net's space ---------------------------------------------------------------
    def to_inner(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> (B, C, 32, 32) in [-1, 1], padded with black."""
        return F.pad(x * 2 - 1, [self.pad] * 4, value=-1.0)

    def to_image(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 32, 32) in [-1, 1] -> images (B, C, H, W) in [0, 1], cropped."""
        p, s = self.pad, self.config.image_size
        return ((x[..., p : p + s, p : p + s] + 1) / 2).clamp(0, 1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The U-Net's prediction (noise, or v) for x_t (B, C, 32, 32) at timesteps t (B,)."""
        return self.unet(x_t, t).sample

    def _eps_x0(self, scheduler, out, t, x_t):
        a = scheduler.alphas_cumprod[int(t)].to(x_t.device)
        if self.config.prediction == "epsilon":
            return out, (x_t - (1 - a).sqrt() * out) / a.sqrt()
        return a.sqrt() * out + (1 - a).sqrt() * x_t, a.sqrt() * x_t - (1 - a).sqrt() * out

    def _steps(self, steps: int | None) -> int:
        steps = self.config.steps if steps is None else int(steps)
        if not 1 <= steps <= self.config.train_timesteps:
            raise EngineError(f"steps must be in 1..{self.config.train_timesteps}, not {steps}")
        return steps

    # -- the interface ----------------------------------------------------------------------------
    @torch.no_grad()
    def denoise(self, z: torch.Tensor, *, steps: int | None = None) -> Iterator[ChainStep]:
        """Deterministic DDIM (eta = 0) from noise ``z`` (B, *latent_shape); one ChainStep per
        step with x_t and the predicted x_0 as images."""
        sched = self.scheduler("ddim")
        total = self._steps(steps)
        sched.set_timesteps(total)
        x = z.to(self.device, torch.float32)
        for i, t in enumerate(sched.timesteps):
            out = self(x, t.expand(x.shape[0]).to(x.device))
            res = sched.step(out, t, x, eta=0.0)
            x = res.prev_sample
            yield ChainStep(
                step=i + 1,
                total=total,
                x=self.to_image(x),
                x0=self.to_image(res.pred_original_sample),
                label=f"t = {int(t)}",
            )

    def decode(
        self, z: torch.Tensor, *, steps: int | None = None, progress: Progress = None
    ) -> torch.Tensor:
        """Noise x_T (B, *latent_shape) -> images (B, C, H, W) in [0, 1] by DDIM with ``steps``
        (default ``config.steps``); ``progress(step, total)`` after each step."""
        return last_step(self.denoise(z, steps=steps), progress=progress).x

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        steps: int | None = None,
        progress: Progress = None,
    ) -> torch.Tensor:
        z = self.sample_latent(n, generator=generator, temperature=temperature)
        return self.decode(z, steps=steps, progress=progress)

    def trajectory(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        z: torch.Tensor | None = None,
        temperature: float = 1.0,
    ) -> Iterator[ChainStep]:
        """The denoising chain of ``n`` samples (or of the noise ``z``): x_t and predicted x_0."""
        if z is None:
            z = self.sample_latent(n, generator=generator, temperature=temperature)
        return self.denoise(z, steps=steps)

    @torch.no_grad()
    def encode(
        self, x: torch.Tensor, *, steps: int | None = None, progress: Progress = None
    ) -> torch.Tensor:
        """Images (B, C, H, W) in [0, 1] -> the noise x_T (B, *latent_shape) that DDIM with the
        same ``steps`` decodes back to them (DDIM inversion: the ODE run forwards in time)."""
        sched = self.scheduler("ddim_inverse")
        total = self._steps(steps)
        sched.set_timesteps(total)
        h = self.to_inner(x.to(self.device, torch.float32))
        for i, t in enumerate(sched.timesteps):
            out = self(h, t.expand(h.shape[0]).to(h.device))
            h = sched.step(out, t, h).prev_sample
            if progress is not None:
                progress(i + 1, total)
        return h

    surprise_unit = "denoising error (training loss, 10 noise levels)"

    @torch.no_grad()
    def surprise(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, levels: int = 10
    ) -> torch.Tensor:
        """Per-image surprise (B,): the training loss (min-SNR-weighted noise-prediction error)
        at ``levels`` evenly spaced noise levels, noise from ``generator``. The diffusion bound is
        a weighted sum of such errors: an image the model denoises badly is one it finds
        unlikely."""
        sched = self.scheduler("ddpm")
        x0 = self.to_inner(x.to(self.device, torch.float32))
        T = sched.config.num_train_timesteps
        total = torch.zeros(len(x), device=x0.device)
        for i in range(levels):
            t = torch.full((len(x),), int((i + 0.5) * T / levels), device=x0.device)
            noise = torch.randn(x0.shape, generator=generator).to(x0.device)
            x_t = sched.add_noise(x0, noise, t)
            eps_hat, _ = self._eps_x0(sched, self(x_t, t), t[0], x_t)
            a = sched.alphas_cumprod[int(t[0])]
            snr = a / (1 - a)
            weight = min(float(snr), 5.0) / float(snr)
            total += weight * (eps_hat - noise).pow(2).flatten(1).mean(1)
        return total / levels

    @torch.no_grad()
    def complete(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        k: int,
        *,
        generator: torch.Generator | None = None,
        progress=None,
        steps: int = 30,
        jump_length: int = 5,
        resamples: int = 10,
        eta: float = 1.0,
    ) -> torch.Tensor:
        """``k`` completions (B, k, C, H, W) by RePaint (Lugmayr et al. 2022) with diffusers'
        RePaintScheduler: reverse steps on the hidden pixels while the known ones are the noised
        original, jumping back ``jump_length`` steps ``resamples`` times in all so the two parts
        agree; ``eta`` = 1 is the paper's ancestral sampling, 0 a DDIM-like step.
        ``progress(step, fills)`` with the first completion every few steps."""
        sched = self.scheduler("repaint")
        sched.set_timesteps(steps, jump_length=jump_length, jump_n_sample=resamples)
        sched.eta = eta
        b = x.shape[0]
        x = x.to(self.device, torch.float32)
        known = known.to(x.device).bool().expand_as(x)
        original = self.to_inner(x.repeat(k, 1, 1, 1))  # (k*B, C, 32, 32), sample-major rows
        mask = F.pad(known.repeat(k, 1, 1, 1).float(), [self.pad] * 4, value=1.0)  # 1 = known
        h = torch.randn(original.shape, generator=generator).to(self.device)
        t_last, n = sched.timesteps[0] + 1, len(sched.timesteps)
        for i, t in enumerate(sched.timesteps):
            if t < t_last:  # a reverse step
                out = self(h, t.expand(h.shape[0]).to(h.device))
                eps, _ = self._eps_x0(sched, out, t, h)
                h = sched.step(eps, t, h, original, mask, generator=generator).prev_sample
            else:  # jump back up: re-noise by the steps just taken
                h = sched.undo_step(h, t_last, generator=generator)
            t_last = t
            if progress is not None and (i % 25 == 0 or i == n - 1):
                progress(i + 1, self.to_image(h[:b]))
        fills = self.to_image(h).view(k, b, *x.shape[1:]).transpose(0, 1)
        return torch.where(known.unsqueeze(1), x.unsqueeze(1), fills)
