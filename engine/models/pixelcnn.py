"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

An autoregressive model: ``p(x) = prod_i p(x_i | x_<i)`` over the pixels in raster order, each
factor a ``levels``-way softmax over the pixel's grey levels (256 for 8-bit images). Two stacks of
masked (shifted) convolutions, gated by ``tanh(a) * sigmoid(b)``:

- the *vertical* stack sees every pixel strictly above the current row (shifted down by one);
- the *horizontal* stack sees the current row strictly left of the current pixel, and takes the
  vertical stack's features through a 1x1 link, so the receptive field has no blind spot.

Exact likelihood. For a discrete model ``log P(x)`` of the 8-bit values is the exact
log-likelihood. It is the same number a dequantised density model reports: the density on [0, 1]^D
that is constant on each pixel's bin, ``p(y) = P(x) 256^D``, gives ``-log p(y) + D log 256 =
-log P(x)`` for every dequantisation sample ``y`` of ``x``. So bits/dim here and the flow's
``(-log p(y) + D log 256) / (D ln 2)`` on the same test split measure the same quantity (the flow's
one-sample figure is, in expectation, an upper bound on its own discrete -log P(x)).

Sampling and completion draw one pixel at a time. The vertical stack's features for row ``r``
depend on rows above only, so they are computed once per row on a crop of the rows in its
receptive field; each pixel then runs only the horizontal stack over its own row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.base import LatentFreeModel
from engine.errors import EngineError
from engine.ops.chains import ChainStep


@dataclass
class PixelCNNConfig:
    channels: int = 1
    image_size: int = 28
    levels: int = 256  # grey levels per pixel: the softmax's width (4 for a 2-bit test model)
    hidden: int = 64  # channels of both stacks
    layers: int = 8  # gated layers after the first masked convolution
    kernel: int = 3  # gated layers: vertical (k//2 + 1) x k, horizontal 1 x (k//2 + 1)
    first_kernel: int = 7
    head: int = 128  # channels of the 1x1 output head
    dropout: float = 0.0


def down_shift(x: torch.Tensor) -> torch.Tensor:
    """Row i takes row i - 1 (zeros on top): features of row i then see only rows above it."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def right_shift(x: torch.Tensor) -> torch.Tensor:
    """Column j takes column j - 1 (zeros on the left)."""
    return F.pad(x, (1, 0))[..., :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class VerticalConv(nn.Conv2d):
    """(k//2 + 1) x k convolution over the rows at and above each position."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__(cin, cout, (k // 2 + 1, k))
        self.pad = (k // 2, k // 2, k // 2, 0)  # left, right, top, bottom

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))


class HorizontalConv(nn.Conv2d):
    """1 x (k//2 + 1) convolution over the columns at and left of each position."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__(cin, cout, (1, k // 2 + 1))
        self.pad = (k // 2, 0, 0, 0)

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))


class GatedLayer(nn.Module):
    """One gated layer of both stacks (the paper's Figure 2), with residual connections."""

    def __init__(self, f: int, k: int, dropout: float) -> None:
        super().__init__()
        self.v_conv = VerticalConv(f, 2 * f, k)
        self.v_to_h = nn.Conv2d(2 * f, 2 * f, 1)
        self.h_conv = HorizontalConv(f, 2 * f, k)
        self.h_out = nn.Conv2d(f, f, 1)
        self.drop = nn.Dropout(dropout)

    def vertical(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(next vertical state, the link into the horizontal stack)."""
        vf = self.v_conv(v)
        return v + gate(vf), self.v_to_h(vf)

    def horizontal(self, h: torch.Tensor, link: torch.Tensor) -> torch.Tensor:
        return h + self.h_out(self.drop(gate(self.h_conv(h) + link)))


class GatedPixelCNN(LatentFreeModel):
    kind = "pixelcnn"
    capabilities = frozenset({"sample", "log_prob", "trajectory", "complete"})
    config_class = PixelCNNConfig
    complete_defaults = {"temperature": 1.0, "candidates": 1}
    complete_description = (
        "raster order: exact when the known pixels come first (top rows known); for other masks"
        " an approximation, each hidden pixel blind to the known pixels after it"
    )

    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__(config)
        if config.channels != 1:
            raise EngineError("a pixelcnn is built for grayscale images (channels=1)")
        if config.levels < 2 or config.kernel % 2 == 0 or config.first_kernel % 2 == 0:
            raise EngineError("a pixelcnn needs at least 2 levels and odd kernel sizes")
        f, fk = config.hidden, config.first_kernel
        self.v_in = VerticalConv(1, f, fk)
        self.h_in = HorizontalConv(1, f, fk)
        self.gated = nn.ModuleList(
            GatedLayer(f, config.kernel, config.dropout) for _ in range(config.layers)
        )
        self.out = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(f, config.head, 1),
            nn.ReLU(),
            nn.Conv2d(config.head, config.levels, 1),
        )
        # Rows above row r that its vertical features depend on: a crop this deep is exact.
        self.reach = fk // 2 + 1 + config.layers * (config.kernel // 2)

    def extra_repr(self) -> str:
        return f"kind={self.kind}, image_shape={self.image_shape}, levels={self.config.levels}"

    # -- the network --------------------------------------------------------------------------------
    def to_levels(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> integer grey levels (B, 1, H, W) in [0, levels)."""
        return torch.round(x.clamp(0, 1) * (self.config.levels - 1)).long()

    def from_levels(self, v: torch.Tensor) -> torch.Tensor:
        return v.float() / (self.config.levels - 1)

    def _input(self, v: torch.Tensor) -> torch.Tensor:
        return self.from_levels(v).to(self.device) * 2 - 1

    def logits(self, v: torch.Tensor) -> torch.Tensor:
        """Levels (B, 1, H, W) -> logits (B, levels, H, W) of each pixel given those before it.

        Any H and W: the network is convolutional (tests enumerate 2x2 images).
        """
        return self.network(self._input(v))

    def network(self, xin: torch.Tensor) -> torch.Tensor:
        """The stacks on network inputs ``2 x - 1`` (B, 1, H, W) -> logits (B, levels, H, W)."""
        vs, h = down_shift(self.v_in(xin)), right_shift(self.h_in(xin))
        for layer in self.gated:
            vs, link = layer.vertical(vs)
            h = layer.horizontal(h, link)
        return self.out(h)

    def log_prob_levels(self, v: torch.Tensor) -> torch.Tensor:
        """Exact log P(v) in nats (B,) of integer levels ``v`` (B, 1, H, W)."""
        logp = F.log_softmax(self.logits(v), dim=1)
        return logp.gather(1, v.to(logp.device)).flatten(1).sum(1)

    def log_prob(self, x: torch.Tensor, *, generator=None, dequantize: bool = True):
        """Exact log P(x) in nats (B,) of 8-bit images ``x`` in [0, 1] (see the module docstring:
        equal to the log-density of the bin-constant dequantised model minus D log 256, so
        ``bits_per_dim`` compares with the flow's). ``generator`` and ``dequantize`` change
        nothing: there is no dequantisation noise to draw."""
        return self.log_prob_levels(self.to_levels(x))

    # -- drawing pixel by pixel ---------------------------------------------------------------------
    def _row_links(self, xin: torch.Tensor, r: int) -> list[torch.Tensor]:
        """The vertical stack's links (B, 2F, 1, W) into row ``r``, from a crop of the rows above."""
        top = max(0, r - self.reach)
        crop = xin[:, :, top : r + 1]  # rows top..r; row r's own values are never used
        vs = down_shift(self.v_in(crop))
        links = []
        for layer in self.gated:
            vs, link = layer.vertical(vs)
            links.append(link[:, :, -1:])
        return links

    def _pixel_logits(self, row: torch.Tensor, links: list[torch.Tensor], j: int) -> torch.Tensor:
        """Logits (B, levels) of pixel ``j`` of a row (B, 1, 1, W) in network input units."""
        w = self.config.first_kernel // 2 + 1 + len(self.gated) * (self.config.kernel // 2)
        lo = max(0, j - w)  # the horizontal stack's receptive field: a crop is exact
        h = right_shift(self.h_in(row[..., lo : j + 1]))
        for layer, link in zip(self.gated, links, strict=True):
            h = layer.horizontal(h, link[..., lo : j + 1])
        return self.out(h[..., -1:]).flatten(1)  # (B, F, 1, 1) -> (B, levels)

    def _draw(
        self,
        v: torch.Tensor,
        hidden: torch.Tensor,
        generator: torch.Generator | None,
        temperature: float,
        on_row: Callable[[int, torch.Tensor], None] | None = None,
    ) -> torch.Tensor:
        """Draw the pixels of levels ``v`` (B, 1, H, W) where ``hidden`` (B, 1, H, W) in raster
        order, each given all pixels before it; the others stay. ``on_row(r, v)`` after each row."""
        if not temperature > 0:
            raise EngineError(f"temperature must be positive, not {temperature}")
        v = v.clone().cpu()
        hidden = hidden.cpu()
        height, width = v.shape[-2:]
        for r in range(height):
            cols = hidden[:, 0, r].any(0).nonzero().flatten().tolist()
            if cols:
                xin = self._input(v)
                links = self._row_links(xin, r)
                for j in cols:
                    logits = self._pixel_logits(self._input(v[:, :, r : r + 1]), links, j)
                    probs = F.softmax(logits.float().cpu() / temperature, dim=1)  # (B, levels)
                    u = torch.rand(len(v), 1, generator=generator)
                    drawn = (probs.cumsum(1) < u).sum(1).clamp(max=probs.shape[1] - 1)
                    v[:, 0, r, j] = torch.where(hidden[:, 0, r, j], drawn, v[:, 0, r, j])
            if on_row is not None:
                on_row(r, v)
        return v

    @torch.no_grad()
    def trajectory(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        temperature: float = 1.0,
    ) -> Iterator[ChainStep]:
        """Ancestral sampling, one :class:`ChainStep` per row (``x`` = the image so far, rows not
        yet drawn black). ``steps`` < H yields only that many evenly spaced rows (all are drawn)."""
        if n < 1:
            raise EngineError(f"number of samples must be at least 1, not {n}")
        c, height, width = self.image_shape
        shown = _shown_rows(height, steps)
        v = torch.zeros(n, c, height, width, dtype=torch.long)
        for r in range(height):  # one row at a time, so the caller sees each as it is made
            row = torch.zeros_like(v, dtype=torch.bool)
            row[:, :, r] = True
            v = self._draw(v, row, generator, temperature)
            if r in shown:
                x = self.from_levels(v).to(self.device)
                yield ChainStep(shown.index(r) + 1, len(shown), x, label=f"row {r + 1}/{height}")

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, temperature: float = 1.0) -> torch.Tensor:
        """``n`` images (n, 1, H, W) in [0, 1], drawn pixel by pixel (the last trajectory step)."""
        *_, last = self.trajectory(n, generator=generator, temperature=temperature, steps=1)
        return last.x

    @torch.no_grad()
    def complete(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        k: int,
        *,
        generator: torch.Generator | None = None,
        progress: Callable[[int, torch.Tensor], None] | None = None,
        temperature: float = 1.0,
        candidates: int = 1,
    ) -> torch.Tensor:
        """``k`` completions (B, k, 1, H, W) of ``x`` where ``known`` (True = kept) is False.

        ``candidates`` > 1 draws ``k * candidates`` completions and keeps the ``k`` the model
        finds most likely (exact log P of the whole image): cleaner fills, no longer draws from
        the conditional.

        Raster-order completion: each hidden pixel is drawn from p(x_i | every pixel before it),
        known pixels clamped as the scan passes them. Exact for a mask whose known pixels come
        first in raster order (top rows known, bottom drawn); for any other mask it is an
        approximation: a hidden pixel ignores the known pixels after it (below, or right in its
        row). ``progress(row, fills)`` after each row, fills (B, 1, H, W) of the first completion.
        """
        if candidates > 1:
            draws = self.complete(
                x,
                known,
                k * candidates,
                generator=generator,
                progress=progress,
                temperature=temperature,
            )  # (B, k*c, ...)
            logp = self.log_prob(draws.flatten(0, 1)).view(draws.shape[:2])
            best = logp.topk(k, dim=1).indices  # (B, k), most likely first
            return draws[torch.arange(len(x)).unsqueeze(1), best]
        b = x.shape[0]
        known = known.to(x.device).bool().expand_as(x)
        v = self.to_levels(x).repeat_interleave(k, 0)  # (B*k, ...) image-major
        hidden = (~known).repeat_interleave(k, 0)
        x_ = x.repeat_interleave(k, 0)

        def on_row(r: int, cur: torch.Tensor) -> None:
            if progress is not None:
                filled = self.from_levels(cur).to(x.device)
                progress(r + 1, torch.where(hidden.to(x.device), filled, x_)[::k])

        v = self._draw(v, hidden, generator, temperature, on_row)
        fills = self.from_levels(v).to(x.device).view(b, k, *x.shape[1:])
        return torch.where(known.unsqueeze(1), x.unsqueeze(1), fills)


def _shown_rows(height: int, steps: int | None) -> list[int]:
    if steps is None or steps >= height:
        return list(range(height))
    if steps < 1:
        raise EngineError(f"steps must be at least 1, not {steps}")
    return sorted({round((i + 1) * height / steps) - 1 for i in range(steps)})
