"""Evaluation report: the offline report of the shipped models (``make report``), as shipped."""

import streamlit as st

from app import resources as R
from app import ui

st.title("Evaluation report")
ui.teaching_note(
    "How good are these models, measured on digits they never saw? Quality and diversity use the "
    "project's own digit classifier as the feature space (FID, precision / recall, coverage); "
    "each number sits next to the same measure on real images, the floor, so read the gap. The "
    "sanity rows show how each metric reacts to blurred, noisy, partial or copied data. This "
    "page shows the report as shipped; `make report` measures it again (about 15 minutes)."
)
parts = R.report_parts()
if parts is None:
    st.info("No report yet: run `make report` to write reports/latest/report.md.")
    st.stop()
for part, body, caption in parts:
    if part == "image":
        ui.image(st, body, caption=caption, width="stretch")
    else:
        st.markdown(body)
