"""Start the app: ``python -m app [streamlit flags]`` (what ``make run`` calls).

Every entry of the top-level ``streamlit_config.toml`` becomes a ``--section.key value`` flag of
``streamlit run app/main.py``; flags given on this command line come after them and win.
"""

from __future__ import annotations

import ctypes
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


def tune_malloc() -> bool:
    """Keep the server's freed memory returnable to the system (glibc; False elsewhere).

    Every script run is a thread, and glibc gives threads their own malloc arenas (up to 8 per
    core), each keeping the free space of what its runs freed; large blocks freed into them
    also raise glibc's mmap threshold, so later large blocks land in those arenas too. Measured
    over a class of 20 sessions, until they had expired: the memory in use ended 4 MB above its
    level before the class, the free space the arenas held 175 MB above, and the process 150 MB
    above. Two arenas and a fixed 256 KiB mmap threshold (large blocks are mapped and unmapped,
    not kept) bring the process to 7 MB above. Call before any thread starts: arenas made
    before are not merged.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold, m_arena_max = -3, -8  # from <malloc.h>
    return mallopt(m_arena_max, 2) == 1 and mallopt(m_mmap_threshold, 256 * 1024) == 1


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    tune_malloc()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # sessions run side by side; see resources
    os.environ.setdefault("LATENT_ATLAS_PAGE_WAIT_S", "0.5")  # see app/lazy.py
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    from streamlit.web import cli

    from app import workers

    workers.start()  # the worker processes for long computations, while the server starts
    from app import warmup

    warmup.start()  # the default views, in the background once the server is up
    sys.argv = ["streamlit", "run", str(ROOT / "app" / "main.py"), *config_flags(), *argv]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
