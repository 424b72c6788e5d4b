"""Latent map: the model's codes of the training images laid out in 2-D; click to decode."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import resources as R
from app import state, ui

st.title("Latent map")
ui.teaching_note(
    "Every dot is one training image, placed by where the model put its code. The layout was "
    "computed once when the checkpoint was built (UMAP keeps neighbourhoods, PCA keeps the two "
    "directions of most variance), so the map opens instantly. Colours are the digit labels: "
    "clean islands mean the model separates digits without ever being told the labels. "
    "**Click anywhere**, on a dot or between dots: the app blends the codes of the nearest dots, "
    "decodes the blend and shows the nearest real images. Overlays place new codes (samples, your "
    "upload, an interpolation path) on the same map by their nearest neighbours."
)
names = ui.models_for(
    ("decode", "map"),
    why={"decode": "no latent code to lay out"},
    none="No loaded checkpoint has a latent map (build one with `python -m engine map`).",
)

top = st.columns([2, 1, 1, 2])
with top[0]:
    name = state.model_choice(names)
lm = R.latent_map(name)
methods = list(lm.xy)
method = top[1].radio(
    "Layout",
    methods,
    horizontal=True,
    key=state.bind("layout", methods[0], choices=methods),
)
thumbs = top[2].toggle("Thumbnails", key=state.bind("thumbs", False))
OVERLAYS = ["16 samples", "path between two test digits", "an upload"]
overlays = top[3].multiselect("Overlay", OVERLAYS)
st.caption(f"{len(lm.codes)} points: {lm.source}")

xy = lm.xy[method]
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


@st.cache_resource(show_spinner=False, max_entries=16)
def base_figure(name: str, method: str) -> go.Figure:
    """The map's points and its clickable grid, built once for every session (about 15 ms of
    Python each time otherwise); read-only: a page that adds to it copies it first."""
    lm = R.latent_map(name)
    xy, labels = lm.xy[method], lm.labels
    fig = go.Figure()
    for lab in np.unique(labels).tolist():
        rows = (labels == lab).nonzero()[0]
        fig.add_trace(
            go.Scatter(
                x=xy[rows, 0],
                y=xy[rows, 1],
                mode="markers",
                name=str(lab) if lab >= 0 else "?",
                marker={"size": 5, "color": PALETTE[lab % 10] if lab >= 0 else "#999"},
                customdata=rows,
                hovertemplate=f"label {lab}<br>point %{{customdata}}<extra></extra>",
            )
        )
    # An invisible grid, so a click on an empty place also selects something.
    gx, gy = R.map_grid(xy)
    fig.add_trace(
        go.Scatter(
            x=gx,
            y=gy,
            mode="markers",
            marker={"size": 14, "opacity": 0.0},
            showlegend=False,
            hovertemplate="decode here<extra></extra>",
            name="grid",
        )
    )
    fig.update_layout(
        height=620,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        dragmode="pan",
        legend={"title": "label", "itemsizing": "constant"},
        clickmode="event+select",
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, scaleanchor="x")
    return fig


fig = base_figure(name, method)
if overlays or thumbs:
    fig = go.Figure(fig)  # a copy of this session's own
with ui.one_line_errors("overlay"):
    for what in overlays:
        label, pts = R.overlay_points(name, what, method, upload=st.session_state.get("map_upload"))
        if pts is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers+lines" if "path" in what else "markers",
                name=label,
                marker={"size": 12, "symbol": "star", "color": "black"},
                line={"color": "black", "width": 2},
            )
        )
if "an upload" in overlays:
    up = st.file_uploader("Image to place on the map", type=R.UPLOAD_TYPES)
    if up is not None and st.session_state.get("map_upload") != up.getvalue():
        st.session_state["map_upload"] = up.getvalue()
        st.rerun()
if thumbs:
    for row in R.thumbnail_rows(name, 80):
        fig.add_layout_image(
            source=R.thumbnail_uri(name, int(row)),
            x=float(xy[row, 0]),
            y=float(xy[row, 1]),
            xref="x",
            yref="y",
            sizex=R.thumb_size(xy),
            sizey=R.thumb_size(xy),
            xanchor="center",
            yanchor="middle",
            layer="above",
        )

plot, side = st.columns([3, 1])
with plot:
    event = st.plotly_chart(
        fig,
        on_select="rerun",
        selection_mode="points",
        key=f"map_{name}_{method}",
        config={"displaylogo": False, "scrollZoom": True},
    )
with side:
    points = (event.selection.points if event and event.selection else []) or []
    if not points:
        st.info("Click the map to decode that place.")
    else:
        p = points[0]
        where = (float(p["x"]), float(p["y"]))
        with ui.one_line_errors("decoding the map"):
            timed = R.pick(name, where, method)
            image, z, neighbours = timed.value
            ui.show(image, caption=f"decoded at ({where[0]:.2f}, {where[1]:.2f})")
            ui.latency(timed)
            st.session_state.setdefault("map_pick", {})[name] = z
            if lm.encoded:
                st.caption("Nearest real images (use this point as an end on the Interpolate page)")
            else:  # a model without an encoder: its map is made of its own samples
                st.caption(
                    "Nearest map points: decoded samples of the model, not real digits (it has no "
                    "encoder, so its map is made of its own samples). Use this point as an end on "
                    "the Interpolate page."
                )
            ui.image(st, R.row_pils(neighbours), width="stretch")
