"""A Streamlit session without a browser: the messages a browser sends, over the same websocket.

The load test (``--crowd protocol``) uses it for the class, so that 20 sessions load the server
as 20 students' browsers would while nothing renders on this machine: a classroom's browsers run
on the students' laptops, and here they would share the server's two cores. Each action sends
what the page would send (a widget's new value, with the fragment it lives in), waits for the
script run to finish and fetches the images it made, as a browser does before it can draw them.

    async with ProtocolClient("http://127.0.0.1:8501") as client:
        await client.open("sample", "model=mnist-vae&seed=3")
        await client.set_widget("Temperature", double_array_value=[1.05])

Widgets are found by their label among the elements the session has received. The message
formats are those of the installed Streamlit (``streamlit.proto``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request

import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
ERROR_ELEMENTS = {"exception"}


class ProtocolError(RuntimeError):
    """The run ended with an error on the page, or not at all."""


class ProtocolClient:
    def __init__(self, base_url: str, timeout_s: float = 60.0, cookies: dict | None = None):
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # a browser's cookies: a proxy's stickiness cookie keeps the websocket and the image
        # fetches on one server process, as a browser's cookie does (share one dict per student)
        self.cookies = {} if cookies is None else cookies
        self.page = ""
        self.query = ""
        self.widgets: dict[str, tuple[str, object]] = {}  # label -> (fragment id, element proto)
        self.images: dict[tuple, list[tuple[str, str]]] = {}  # place -> [(url, caption)]
        self.values: dict[str, list[float]] = {}  # a slider's value: the page's, then ours
        # seconds of the last run: sent -> first answer, -> run ended, -> its images fetched
        self.phases: tuple[float, float, float] = (0.0, 0.0, 0.0)

    async def connect(self) -> None:
        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(
            url, subprotocols=["streamlit"], max_size=None, additional_headers=self._cookie()
        )
        for header in self.ws.response.headers.get_all("Set-Cookie"):
            name, _, value = header.split(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()

    def _cookie(self) -> dict:
        return (
            {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            if self.cookies
            else {}
        )

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> ProtocolClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def open(self, page: str, query: str = "") -> None:
        """Go to a page, as a link would (a full run of it)."""
        self.page, self.query, self.widgets, self.images, self.values = page, query, {}, {}, {}
        await self._run()

    async def set_widget(self, label: str, **value) -> None:
        """Give the widget labelled ``label`` a new value (``double_array_value=[x]`` for a
        slider, ``trigger_value=True`` for a button, ``string_value=...``) and wait for the run
        that answers it."""
        fragment, element = self.widgets[label]
        state = WidgetState(id=element.id)
        for field, v in value.items():
            if isinstance(v, list):
                getattr(state, field).data.extend(v)
                self.values[label] = v  # a rerun sends the slider again without its value
            else:
                setattr(state, field, v)
        await self._run(state, fragment)

    def element(self, label: str):
        return self.widgets[label][1]

    def captions(self) -> list[str]:
        """Captions of the images on the page now."""
        return [caption for shown in self.images.values() for _, caption in shown]

    def image_urls(self) -> list[str]:
        return [url for shown in self.images.values() for url, _ in shown]

    async def _run(self, state: WidgetState | None = None, fragment: str = "") -> None:
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_name = self.page
        if fragment:
            msg.rerun_script.fragment_id = fragment
        if state is not None:
            msg.rerun_script.widget_states.widgets.append(state)
        sent = [time.perf_counter()]
        await self.ws.send(msg.SerializeToString())
        try:
            media = await asyncio.wait_for(self._until_finished(sent), self.timeout_s)
        except TimeoutError as e:
            raise ProtocolError(f"no end of run within {self.timeout_s:.0f} s") from e
        finished = time.perf_counter()
        await asyncio.gather(*(asyncio.to_thread(self._fetch, url) for url in media))
        self.phases = (sent[1] - sent[0], finished - sent[1], time.perf_counter() - finished)

    async def _until_finished(self, times: list[float]) -> list[str]:
        """Read until the run ends; the images on the page then (a run that shows its progress
        replaces images as it goes, and only the last one at each place is still served).
        Appends to ``times`` when the first answer arrives."""
        media: dict[tuple, list[str]] = {}
        errors = []
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            if len(times) == 1:
                times.append(time.perf_counter())
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") in ("new_element", "add_block"):
                where = tuple(msg.metadata.delta_path)
                for gone in [p for p in self.images if p[: len(where)] == where]:
                    del self.images[gone]  # replaced by what comes now
                    media.pop(gone, None)
                if msg.delta.WhichOneof("type") == "add_block":
                    continue
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                proto = getattr(element, which)
                if which in ERROR_ELEMENTS or (which == "alert" and proto.format == proto.ERROR):
                    errors.append(f"{which}: {str(getattr(proto, 'body', proto))[:120]}")
                elif which == "imgs":
                    media[where] = [im.url for im in proto.imgs if im.url.startswith("/")]
                    self.images[where] = [(im.url, im.caption) for im in proto.imgs]
                if getattr(proto, "id", "") and getattr(proto, "label", ""):
                    self.widgets[proto.label] = (msg.delta.fragment_id, proto)
                    if which == "slider" and proto.label not in self.values:
                        self.values[proto.label] = list(proto.value or proto.default)
                elif which == "plotly_chart":
                    self.widgets["plotly_chart"] = (msg.delta.fragment_id, proto)
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # another run follows (st.rerun)
                if msg.script_finished not in DONE:
                    errors.append(f"run ended with status {msg.script_finished}")
                if errors:
                    raise ProtocolError("; ".join(errors))
                return [url for urls in media.values() for url in urls]

    def _fetch(self, path: str) -> int:
        request = urllib.request.Request(self.base + path, headers=self._cookie())
        with urllib.request.urlopen(request, timeout=self.timeout_s) as r:
            return len(r.read())


def plotly_point(chart, trace: int, index: int) -> dict:
    """A map click as the browser reports it: the selection of one point of one trace."""
    data = json.loads(chart.spec)["data"][trace]
    x, y = (float(_values(data[axis])[index]) for axis in ("x", "y"))
    point = {"curve_number": trace, "point_number": index, "point_index": index, "x": x, "y": y}
    selection = {"points": [point], "point_indices": [index], "box": [], "lasso": []}
    return {"selection": selection}


def _values(column):
    """A Plotly JSON array: a list, or ``{"dtype", "bdata"}`` (base64 of a typed array)."""
    if isinstance(column, dict):
        return np.frombuffer(base64.b64decode(column["bdata"]), dtype=column["dtype"])
    return column
