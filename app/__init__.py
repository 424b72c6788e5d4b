"""latent-atlas's Streamlit app: thin pages over the engine (start it with ``make run``)."""
