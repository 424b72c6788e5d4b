"""``python -m engine reconstruct | inpaint``: a model's reconstruction of images, and K
completions of their hidden part."""

from __future__ import annotations

import torch

from engine.cli.common import positive_int
from engine.cli.image_io import (
    common_options,
    fit_for,
    images_in,
    known_from_file,
    load_with_card,
    open_image,
    pairs,
    png_outputs,
    preprocess,
    save,
)


def _cmd_reconstruct(a) -> None:
    from engine.images import make_grid
    from engine.ops import reconstruct

    model, card = load_with_card(a, "decode", doing="reconstruct images")
    paths = images_in(a.image)
    outs = png_outputs(paths, a.image, a.out)
    views = [preprocess(p, p, model, fit_for(a, card)) for p in paths]
    for path, view, out in zip(paths, views, outs, strict=True):
        r = reconstruct(model, view.x, generator=torch.Generator().manual_seed(a.seed))
        save(make_grid(torch.cat([view.x, r.x_hat.cpu()]), nrow=2), out)
        print(f"{path.name}: {r.method}, MSE {r.mse.item():.3g} -> {out}")


def _cmd_inpaint(a) -> None:
    from engine.images import make_grid
    from engine.ops import inpaint

    model, _ = load_with_card(a, "decode", "complete", doing="inpaint")
    files = pairs(a.image, a.mask)
    outs = png_outputs([p for p, _ in files], a.image, a.out)
    inputs = []
    for image_path, mask_path in files:
        image = open_image(image_path)
        view = preprocess(image, image_path, model, "whole")  # no crop: the mask must still fit
        inputs.append((view.x, known_from_file(mask_path, image.size, model.image_shape[1])))
    for (path, _), (x, known), out in zip(files, inputs, outs, strict=True):
        result = inpaint(
            model, x, known, samples=a.samples, generator=torch.Generator().manual_seed(a.seed)
        )
        spread = result.spread.cpu()
        spread = spread / spread.max() if spread.max() > 0 else spread
        shown = torch.where(known, x, torch.full_like(x, 0.5))  # missing pixels mid-gray
        row = torch.cat([shown, result.completions[0].cpu(), spread])  # (K + 2, C, H, W)
        save(make_grid(row, nrow=len(row)), out)
        missing = int((~known).sum())
        print(f"{path.name}: {result.method}, {a.samples} completions of {missing} pixels -> {out}")


def add_commands(sub) -> None:
    """Add reconstruct and inpaint to the ``python -m engine`` subparsers."""
    r = sub.add_parser("reconstruct", help="reconstruct images (GAN: by inversion)")
    common_options(r)
    r.add_argument("--image", required=True, help="an image file or a folder of PNG/JPEG images")
    r.add_argument("--out", required=True, help="a .png (input | reconstruction), or a folder")
    r.set_defaults(run=_cmd_reconstruct)

    i = sub.add_parser("inpaint", help="fill in the white part of a mask, K ways")
    common_options(i, fit=False)
    i.add_argument("--image", required=True, help="an image file, or a folder of PNGs")
    i.add_argument("--mask", required=True, help="white = missing; a file, or a folder, same names")
    i.add_argument("--samples", type=positive_int, default=4, help="K completions")
    i.add_argument("--out", required=True, help="a .png row, or a folder (with folder inputs)")
    i.set_defaults(run=_cmd_inpaint)
