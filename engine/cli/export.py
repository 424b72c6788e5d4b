"""``python -m engine export-onnx``: a checkpoint's decoder as ``decoder.onnx`` for the browser."""

from __future__ import annotations


def _cmd_export_onnx(a) -> None:
    from engine.export_onnx import export_checkpoint

    options = {} if a.max_frame_ms is None else {"max_frame_ms": a.max_frame_ms}
    entry = export_checkpoint(a.checkpoint, **options)
    print(
        f"{a.checkpoint}/{entry['file']}: {entry['bytes'] / 1e6:.1f} MB, sha256 "
        f"{entry['sha256'][:12]}..., max difference from torch {entry['max_abs_err']:.1g}, "
        f"{entry['frame_ms']:.2f} ms per latent on one CPU thread"
    )


def add_commands(sub) -> None:
    """Add export-onnx to the ``python -m engine`` subparsers."""
    e = sub.add_parser(
        "export-onnx",
        help="export the decoder to DIR/decoder.onnx (checked against torch, hash in the card)",
    )
    e.add_argument("--checkpoint", required=True)
    e.add_argument(
        "--max-frame-ms",
        type=float,
        help="refuse a decoder slower than this per latent on one CPU thread (default 10)",
    )
    e.set_defaults(run=_cmd_export_onnx)
