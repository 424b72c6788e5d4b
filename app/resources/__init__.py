"""Everything the pages get from the engine, and every Streamlit cache, in one package.

- :mod:`~app.resources.checkpoints`: the checkpoints found on disk and what each offers; pages list
  models by capability (``R.entries(needs=("decode",))``) and say in one line which they leave
  out (``R.absent(...)``).
- :mod:`~app.resources.results`: the shared and per-session result caches, timing, the run log.
- :mod:`~app.resources.images`: images for the page and exports.
- :mod:`~app.resources.inputs`: test digits, uploads, drawings and masks.
- :mod:`~app.resources.operations`: one helper per operation (sample, walk, interpolate,
  reconstruct, inpaint, surprise); :mod:`~app.resources.directions` and
  :mod:`~app.resources.maps` for latent directions and maps; :mod:`~app.resources.shipped` for
  training grids and the report.

Models, latent maps, directions and test images are loaded once per server process with
``st.cache_resource`` and shared read-only by every session. Pages get numpy arrays, PIL images
and plain numbers; they never import torch. Call sites use ``from app import resources as R``.
"""

# ruff: noqa: F401  (the package's API is what its modules define, re-exported here)

from app.resources.browser import browser_decoder, path_ends, path_frame, walk_vectors
from app.resources.checkpoints import (
    EXTRA_ROOTS_ENV,
    FEATURES,
    PRETRAINED,
    ROOT,
    WHY,
    Entry,
    absent,
    catalog,
    checkpoint_roots,
    entries,
    entry,
    model,
    model_facts,
    names,
    offers,
    reason,
)
from app.resources.directions import (
    MAX_SAVED_DIRECTIONS,
    direction_families,
    directions_json,
    find_direction,
    load_direction_file,
    save_combined,
    save_direction,
    saved_directions,
)
from app.resources.images import (
    DISPLAY_PX,
    data_uri,
    frames_to_pils,
    gif,
    grid,
    image_from_canvas,
    masked_view,
    pixels,
    png,
    row_pils,
    spread_image,
    strip,
    upscale,
)
from app.resources.inputs import (
    MASK_PRESETS,
    UPLOAD_TYPES,
    known_from_drawing,
    mask_preset,
    preprocess,
    test_digit_index,
    test_image,
    test_images,
)
from app.resources.maps import (
    latent_map,
    map_grid,
    map_image,
    overlay_points,
    pick,
    place,
    thumb_size,
    thumbnail_rows,
    thumbnail_uri,
)
from app.resources.operations import (
    ChainStrip,
    Grid,
    InpaintResult,
    anomaly,
    chain_strip,
    inpaint,
    inpaint_method,
    inpaint_steps,
    interpolation,
    latent_for,
    multi_walk,
    reconstruct,
    sample_grid,
    start_latent,
    walk_strip,
)
from app.resources.results import (
    RUN_LOG_ENV,
    SESSION_CACHE_BYTES,
    SESSION_CACHE_ENTRIES,
    SHARED_CACHE_BYTES,
    SHARED_CACHE_ENTRIES,
    Timed,
    _shared_cache,
    log_run,
    memory_trimmer,
    run,
    timed_run,
)
from app.resources.shipped import REPORT, grids_gif, report_parts, training_grids
