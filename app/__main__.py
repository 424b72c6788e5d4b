"""Start the app: ``python -m app [streamlit flags]`` (what ``make run`` calls).

Every entry of the top-level ``streamlit_config.toml`` becomes a ``--section.key value`` flag of
``streamlit run app/main.py``; flags given on this command line come after them and win.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "streamlit_config.toml"


def _flag_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_flags(path: Path = CONFIG) -> list[str]:
    """``streamlit_config.toml`` as ``streamlit run`` flags."""
    with open(path, "rb") as f:
        config = tomllib.load(f)
    flags = []
    for section, options in config.items():
        for key, value in options.items():
            flags.append(f"--{section}.{key}={_flag_value(value)}")
    return flags


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # sessions run side by side; see resources
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(ROOT / "app" / "main.py"), *config_flags(), *argv]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
