"""The page state in the URL query string, so a pasted link opens the same view.

Widgets take their first value from the query string (``url_value``) and every rerun writes the
current values back (``remember``); the page itself is the URL path (``st.navigation``).
"""

from __future__ import annotations

import streamlit as st


def url_value(key: str, default, *, choices=None, low=None, high=None, raw: str | None = None):
    """The query-string value of ``key`` (or ``raw``) converted to ``default``'s type, else
    ``default`` (also when it is not among ``choices`` or outside ``low``..``high``)."""
    raw = st.query_params.get(key) if raw is None else raw
    if raw is None:
        return default
    try:
        if isinstance(default, bool):
            value = raw.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            value = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        else:
            value = str(raw)
    except ValueError:
        return default
    if choices is not None and value not in choices:
        return default
    if low is not None and value < low or high is not None and value > high:
        return default
    return value


def remember(**values) -> None:
    """Write the current widget values into the query string (only those that changed)."""
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if st.query_params.get(key) != text:
            st.query_params[key] = text


def model_choice(names: list[str], *, key: str = "model", label: str = "Model") -> str:
    """A model picker that starts from the URL and is remembered in it."""
    first = url_value(key, names[0], choices=names)
    name = st.selectbox(label, names, index=names.index(first), key=f"w_{key}")
    remember(**{key: name})
    return name
