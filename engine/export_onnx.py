"""A model's decoder as an ONNX file, so a browser can decode latents itself (onnxruntime-web).

The file is data, not code: a protobuf graph with its weights inside, which ONNX Runtime reads
without running anything else. It lives in the checkpoint folder beside the safetensors
(:data:`ONNX_FILE`), and the card records its sha256 (``card["onnx"]``); :func:`onnx_decoder`
checks that hash before anyone serves the bytes.

Which decoders are exported: any model with ``decode`` whose decode is one pass of a network.
A kind that decodes by running a chain (its ``trajectory`` capability: diffusion runs its U-Net
tens of times per image) is refused by :func:`frame_decoder_reason`, and an exported graph that
takes longer than ``max_frame_ms`` per latent on this CPU is refused too (the measured cost is
kept in the card).

Export goes through ``torch.export`` and the dynamo ONNX exporter. Parameter-only subgraphs
(the flow's inverse 1x1 convolutions call ``torch.linalg.inv`` on a weight, which ONNX has no
operator for) are evaluated once and stored as constants before translation; the graph that
remains only ever touches the latent.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.errors import CheckpointError, EngineError
from engine.images import write_atomic

ONNX_FILE = "decoder.onnx"
OPSET = 18
MAX_FRAME_MS = 10.0  # per latent, onnxruntime on one CPU thread; wasm in a browser is ~2x slower
TOLERANCE = 1e-4  # max |onnx - torch| on images in [0, 1]
MAX_BATCH = 1024


class _Decoder(nn.Module):
    """``model.decode`` as a module of its own: latents (B, *latent_shape) -> images (B, C, H, W)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decode(z)


def frame_decoder_reason(model) -> str | None:
    """None when ``model`` can decode in the browser on every frame; else why not, one line."""
    if not model.has("decode"):
        return f"a {model.kind} model has no decoder to run in the browser"
    if model.has("trajectory"):
        return (
            "its decoder runs a chain of many network passes per image, far too slow to run "
            "on every frame in a browser"
        )
    return None


def _attr(module: nn.Module, target: str):
    for part in target.split("."):
        module = getattr(module, part)
    return module


def fold_constants(gm: torch.fx.GraphModule) -> int:
    """Evaluate every node that depends only on weights and store its value as a buffer.

    Returns the number of nodes replaced. A result larger than its inputs (an ``expand``) is
    left in the graph, so the file never grows.
    """
    graph, values, sizes = gm.graph, {}, {}
    for node in graph.nodes:
        if node.op == "get_attr":
            values[node] = _attr(gm, node.target)
        elif node.op == "call_function" and node.all_input_nodes:
            if all(n in values for n in node.all_input_nodes):
                args, kwargs = torch.fx.node.map_arg((node.args, node.kwargs), lambda n: values[n])
                values[node] = node.target(*args, **kwargs)
                sizes[node] = sum(
                    values[n].numel()
                    for n in node.all_input_nodes
                    if isinstance(values[n], torch.Tensor)
                )
    folded = 0
    for node in list(graph.nodes):
        value = values.get(node)
        if node.op != "call_function" or not isinstance(value, torch.Tensor):
            continue
        if all(user in values for user in node.users) or value.numel() > sizes[node]:
            continue
        name = f"_folded_{folded}"
        gm.register_buffer(name, value.detach().clone().contiguous())
        with graph.inserting_before(node):
            const = graph.get_attr(name)
        const.meta.update(node.meta)
        node.replace_all_uses_with(const)
        folded += 1
    graph.eliminate_dead_code()
    gm.recompile()
    return folded


def onnx_bytes(model, *, opset: int = OPSET) -> bytes:
    """The serialized ONNX graph of ``model.decode``: input ``z`` (B, *latent_shape) float32,
    output ``x`` (B, C, H, W) in [0, 1], any batch size B from 1 to 1024.

    Raises:
        EngineError: the model cannot decode per frame (see :func:`frame_decoder_reason`) or
            its decoder does not translate to ONNX.
    """
    reason = frame_decoder_reason(model)
    if reason:
        raise EngineError(f"no browser decoder: {reason}")
    model = model.cpu().eval()
    z = model.sample_latent(2, generator=torch.Generator().manual_seed(0)).cpu()
    dims = ({0: torch.export.Dim("batch", min=1, max=MAX_BATCH)},)
    # The exporter logs a warning per torchvision operator it cannot find; none is used here.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            gm = torch.export.export(_Decoder(model), (z,), dynamic_shapes=dims).module()
            fold_constants(gm)
            # The unlifted graph reports training mode, but it holds the eval-mode ops.
            warnings.filterwarnings("ignore", "Exporting a model while it is in training mode")
            warnings.filterwarnings("ignore", "`isinstance.treespec, LeafSpec.` is deprecated")
            program = torch.onnx.export(
                gm,
                (z,),
                input_names=["z"],
                output_names=["x"],
                opset_version=opset,
                dynamic_shapes=dims,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except Exception as err:  # the exporter's errors are many and long: one line for the user
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EngineError(f"the {model.kind} decoder does not export to ONNX: {first}") from err
    buf = io.BytesIO()
    program.save(buf)
    return buf.getvalue()


def check_onnx(model, data: bytes, *, n: int = 8, seed: int = 0) -> dict:
    """Run the ONNX graph with onnxruntime (one thread) beside ``model.decode`` on ``n`` prior
    latents; returns ``{"max_abs_err", "frame_ms"}`` (the fastest of 15 runs on one latent: the
    cost of the graph, not of whatever else the machine is doing)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    z = model.sample_latent(n, generator=torch.Generator().manual_seed(seed)).cpu()
    with torch.no_grad():
        expected = model.cpu().decode(z).numpy()
    got = session.run(["x"], {"z": z.numpy()})[0]
    err = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
    one = z[:1].numpy()
    session.run(["x"], {"z": one})  # warm-up
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        session.run(["x"], {"z": one})
        times.append(1000 * (time.perf_counter() - t0))
    return {"max_abs_err": err, "frame_ms": round(min(times), 3)}


def export_onnx(
    model,
    out_path: str | Path,
    *,
    opset: int = OPSET,
    tolerance: float = TOLERANCE,
    max_frame_ms: float = MAX_FRAME_MS,
) -> dict:
    """Export ``model.decode`` to ``out_path`` (atomically) after checking it against torch.

    Returns:
        The card entry: ``{"file", "sha256", "bytes", "opset", "torch", "latent_shape",
        "image_shape", "max_abs_err", "frame_ms"}``.

    Raises:
        EngineError: not exportable, outputs further than ``tolerance`` from torch's, or one
            latent takes longer than ``max_frame_ms`` in onnxruntime on one CPU thread.
    """
    out_path = Path(out_path)
    data = onnx_bytes(model, opset=opset)
    checked = check_onnx(model, data)
    if not checked["max_abs_err"] <= tolerance:
        raise EngineError(
            f"the exported decoder differs from torch by {checked['max_abs_err']:.2g} "
            f"(tolerance {tolerance:g}); not written"
        )
    if checked["frame_ms"] > max_frame_ms:
        raise EngineError(
            f"the exported decoder takes {checked['frame_ms']:.1f} ms per latent on one CPU "
            f"thread, over the {max_frame_ms:g} ms a browser frame can spend; not written"
        )
    write_atomic(out_path, data)
    return {
        "file": out_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "opset": opset,
        "torch": torch.__version__,
        "latent_shape": list(model.latent_shape),
        "image_shape": list(model.image_shape),
        "max_abs_err": checked["max_abs_err"],
        "frame_ms": checked["frame_ms"],
    }


def export_checkpoint(path: str | Path, **options) -> dict:
    """Export a checkpoint folder's decoder to ``path/decoder.onnx`` and record it in the card.

    ``options`` go to :func:`export_onnx`. Returns the card entry.
    """
    from engine.checkpoint import load, update_card

    path = Path(path)
    model = load(path, device="cpu")
    entry = export_onnx(model, path / ONNX_FILE, **options)
    update_card(path, onnx=entry)
    return entry


def onnx_decoder(path: str | Path) -> tuple[Path, dict] | None:
    """The checkpoint's verified ONNX decoder: ``(file, card entry)``, or None if it has none.

    Raises:
        CheckpointError: the card names a file that is missing, outside the folder, or whose
            sha256 differs from the card's.
    """
    from engine.checkpoint import read_card, sha256_file

    path = Path(path)
    entry = read_card(path).get("onnx")
    if entry is None:
        return None
    name = entry.get("file") if isinstance(entry, dict) else None
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".onnx"):
        raise CheckpointError(f"{path / 'card.json'}: 'onnx' entry names no file in the folder")
    file = path / name
    if not file.is_file() or file.is_symlink():
        raise CheckpointError(f"{file}: missing (card.json records an ONNX decoder)")
    if sha256_file(file) != entry.get("sha256"):
        raise CheckpointError(f"{file}: sha256 does not match card.json (file changed or corrupt)")
    return file, entry
