"""``python -m engine train``: train a model of any registered kind into a checkpoint folder."""

from __future__ import annotations

import shlex
from pathlib import Path

from engine.cli.common import key_value, positive_int


def _cmd_train(a) -> None:
    from engine.train import TrainSettings, train

    out = train(
        TrainSettings(
            kind=a.kind,
            dataset=a.dataset,
            out=Path(a.out),
            epochs=a.epochs,
            batch_size=a.batch_size,
            lr=a.lr,
            seed=a.seed,
            device=a.device,
            image_size=a.image_size,
            channels=a.channels,
            config=dict(a.config),
            patience=a.patience,
            ema=a.ema,
            grids=a.grids,
            max_minutes=a.max_minutes,
            resume=a.resume,
            init_from=Path(a.init_from) if a.init_from else None,
            command="python -m engine " + shlex.join(a.argv),
        )
    )
    print(out)


def add_commands(sub) -> None:
    """Add ``train`` to the ``python -m engine`` subparsers."""
    from engine.models import KINDS  # the registry: a new kind is offered without a CLI edit

    t = sub.add_parser("train", help="train a model and write its checkpoint folder")
    t.add_argument("--kind", required=True, choices=sorted(KINDS))
    t.add_argument(
        "--dataset", required=True, help="mnist, digits, sprites, sprites-color or folder:PATH"
    )
    t.add_argument("--out", required=True, help="checkpoint folder to write")
    t.add_argument("--epochs", type=positive_int, default=50)
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", help="cpu, cuda, mps (default: best available)")
    t.add_argument("--image-size", type=int, choices=[28, 32, 64])
    t.add_argument("--channels", type=int, choices=[1, 3])
    t.add_argument(
        "--config",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config field, e.g. latent_dim=16 or beta=4 (repeatable)",
    )
    t.add_argument("--patience", type=int, help="early-stopping patience in epochs (0: off)")
    t.add_argument("--ema", type=float, help="EMA decay of the shipped weights (0: off)")
    t.add_argument("--grids", type=int, default=20, help="sample grids to keep over training")
    t.add_argument("--max-minutes", type=float, help="stop (and save) after this much wall time")
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue from the training state saved beside --out (a fresh start if none)",
    )
    t.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="start from this checkpoint folder's weights and carry on its card's steps and history"
        " (when the --resume state is gone; the optimiser starts fresh)",
    )
    t.set_defaults(run=_cmd_train)
