"""The baseline of ``benchmarks/app_latency.py``: the least a Streamlit slider-to-image round trip
costs. One slider, one image that changes with it (a 28x28 pattern upscaled to 560 px and sent
as PNG, like the Sample page's grid); nothing is computed.

    python -m streamlit run benchmarks/trivial_app.py   (the benchmark adds the app's flags)
"""

import numpy as np
import streamlit as st
from PIL import Image

st.set_page_config(page_title="trivial", layout="wide")
st.title("trivial")

start = st.query_params.get("v", "0")
value = st.slider("Value", 0, 100, int(start) if start.isdigit() else 0, 1)
pattern = np.random.default_rng(value).integers(0, 256, (28, 28), dtype=np.uint8)
picture = Image.fromarray(pattern).resize((560, 560), Image.NEAREST)
st.image(picture, caption=f"value {value}", output_format="PNG")
