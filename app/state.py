"""The page state in the URL query string, so a pasted link opens the same view.

A widget whose value belongs in the link is created with ``key=state.bind(name, default)``: on
the first run of a session its value comes from the query string (checked, else ``default``),
afterwards Streamlit keeps it under that key, and after every run :func:`sync` writes the values of
the bound keys back into the query string. Widgets never get their value from the URL through
``value=``/``index=``: that would change the widget's identity after each move and drop the next
one. The page itself is the URL path (``st.navigation``).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

_BOUND = "_url_keys"


def _convert(raw: str, default, choices, low, high):
    if isinstance(default, list):
        value = [v for v in raw.split(",") if v]
        if choices is not None:
            value = [v for v in value if v in choices]
        return value or default
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
    if (low is not None and value < low) or (high is not None and value > high):
        return default
    return value


def url_value(key: str, default, *, choices=None, low=None, high=None, raw: str | None = None):
    """The query-string value of ``key`` (or ``raw``) converted to ``default``'s type, else
    ``default`` (also when it is not among ``choices`` or outside ``low``..``high``); a list
    default reads a comma-separated list."""
    raw = st.query_params.get(key) if raw is None else raw
    if raw is None:
        return default
    return _convert(raw, default, choices, low, high)


def bind(
    key: str,
    default,
    *,
    choices: Sequence | None = None,
    low=None,
    high=None,
) -> str:
    """Give the widget with this key its first value from the URL; returns ``key``.

    A kept value that is no longer among ``choices`` (another model was picked) is reset.
    """
    if key not in st.session_state:
        st.session_state[key] = url_value(key, default, choices=choices, low=low, high=high)
    elif choices is not None:
        value = st.session_state[key]
        values = value if isinstance(value, list) else [value]
        if any(v not in choices for v in values):
            st.session_state[key] = default
    st.session_state.setdefault(_BOUND, set()).add(key)
    return key


def remember(**values) -> None:
    """Write values into the query string (only those that changed)."""
    for key, value in values.items():
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = str(value).lower()
        else:
            text = str(value)
        if st.query_params.get(key) != text:
            st.query_params[key] = text


def start_run() -> None:
    """Forget the keys bound by the previous run (called before a page runs)."""
    st.session_state[_BOUND] = set()


def sync() -> None:
    """Write every key bound during this run into the query string (called after a page)."""
    values = {
        k: st.session_state[k] for k in st.session_state.get(_BOUND, ()) if k in st.session_state
    }
    remember(**values)


def page_opened(path: str) -> bool:
    """True on the first run of the page ``path`` in this session: opened by a link, or reached
    from another page. False on the runs that follow a widget or a click on it."""
    opened = st.session_state.get("_page") != path
    st.session_state["_page"] = path
    return opened


def stop() -> None:
    """``st.stop()`` that first writes this run's choices into the URL: after a stop Streamlit
    sends nothing more, so the :func:`sync` at the end of the run could not."""
    sync()
    st.stop()


def model_choice(names: list[str], *, key: str = "model", label: str = "Model") -> str:
    """A model picker that starts from the URL and is remembered in it."""
    return st.selectbox(label, names, key=bind(key, names[0], choices=names))
