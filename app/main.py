"""latent-atlas: the Streamlit entry point (``make run``). Pages live in ``app/app_pages``."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts only app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="latent-atlas", page_icon="🧭", layout="wide")

pages = [
    st.Page("app_pages/home.py", title="Models", icon=":material/home:", default=True),
    st.Page("app_pages/sample.py", title="Sample", icon=":material/grid_view:", url_path="sample"),
    st.Page("app_pages/walk.py", title="Latent walk", icon=":material/tune:", url_path="walk"),
    st.Page(
        "app_pages/interpolate.py",
        title="Interpolate",
        icon=":material/swap_horiz:",
        url_path="interpolate",
    ),
    st.Page(
        "app_pages/inpaint.py",
        title="Reconstruct & inpaint",
        icon=":material/brush:",
        url_path="inpaint",
    ),
    st.Page("app_pages/map.py", title="Latent map", icon=":material/scatter_plot:", url_path="map"),
    st.Page(
        "app_pages/compare.py", title="Compare", icon=":material/view_column:", url_path="compare"
    ),
    st.Page(
        "app_pages/report.py",
        title="Evaluation report",
        icon=":material/analytics:",
        url_path="report",
    ),
    st.Page(
        "app_pages/evolution.py",
        title="Training evolution",
        icon=":material/movie:",
        url_path="evolution",
    ),
]
from app import resources, state, warmup  # noqa: E402

resources.memory_trimmer()  # once per server
state.start_run()
page = st.navigation(pages)
name = page.url_path or "home"
# A page's first run in a session (a link opened, or another page left) is logged apart from the
# runs that answer a click or a widget on it: the load test times those two apart.
label = f"{name} open" if state.page_opened(name) else name
with resources.timed_run(label, whole_page=True), warmup.user_run():  # the warm-up waits
    try:
        page.run()
    finally:
        state.sync()  # the bound widget values of this run into the URL
