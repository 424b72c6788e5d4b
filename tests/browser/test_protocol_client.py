"""The load test's class without browsers (``benchmarks/protocol_client.py``) drives the app
the way a page does: if a Streamlit upgrade changes the messages, this fails before a load test
reports a class that did nothing."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from benchmarks.protocol_client import ProtocolClient, ProtocolError, plotly_point

pytestmark = [pytest.mark.slow, pytest.mark.pretrained]


def run_async(coro) -> None:
    """``asyncio.run`` on a thread of its own: Playwright's fixtures hold this thread's loop."""
    failure = []

    def run():
        try:
            asyncio.run(coro)
        except BaseException as e:  # handed to the test's thread
            failure.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_a_session_without_a_browser_moves_a_slider_and_clicks_the_map(server):
    async def scenario():
        async with ProtocolClient(server.url, timeout_s=120) as client:
            await client.open("sample", "model=mnist-vae&seed=31&n=16&t=1.0")
            grid = client.image_urls()
            assert grid and client.values["Temperature"] == [1.0]
            await client.set_widget("Temperature", double_array_value=[1.2])
            assert client.image_urls() != grid  # a new picture, fetched
            assert "temperature 1.2" in " ".join(client.captions())
            first_answer, run, images = client.phases  # where the move's time went
            assert first_answer > 0 and run > 0 and images > 0

            await client.open("map", "model=mnist-vae")
            point = plotly_point(client.element("plotly_chart"), 0, 5)
            await client.set_widget("plotly_chart", string_value=json.dumps(point))
            x, y = point["selection"]["points"][0]["x"], point["selection"]["points"][0]["y"]
            assert f"decoded at ({x:.2f}, {y:.2f})" in client.captions()

            with pytest.raises(KeyError):  # a widget the page does not have
                await client.set_widget("No such slider", double_array_value=[0.0])

    run_async(scenario())


def test_an_error_on_the_page_fails_the_action(server):
    async def scenario():
        async with ProtocolClient(server.url, timeout_s=120) as client:
            await client.open("walk", "model=mnist-vae&seed=2&fam=principal&dirs=PC+1")
            # saving the combined move with every slider at 0: the page shows a one-line error
            with pytest.raises(ProtocolError, match="move at least one slider"):
                await client.set_widget("Save direction", trigger_value=True)

    run_async(scenario())


def test_the_load_tests_baseline_inpaints_a_new_image_each_round_and_a_student_the_same(server):
    """The baseline's inpainting p95 must be over computations, not over results it finds in
    the shared cache; a student of the class goes back to the same image every round."""
    from benchmarks.load_test import ProtocolSession

    async def shown(session) -> list[str]:
        urls = []
        for _ in range(2):
            await session.inpaint()
            urls += [
                u
                for place in session.client.images.values()
                for u, c in place
                if c == "completion 1"
            ]
        await session.close()
        assert not session.errors, session.errors
        return urls

    async def go():
        baseline = ProtocolSession(server.url, 808, (0, 0), nth=10, fresh=True)
        student = ProtocolSession(server.url, 808, (0, 0))
        fresh, same = await shown(baseline), await shown(student)
        assert len(fresh) == 2 and fresh[0] != fresh[1]
        assert len(same) == 2 and same[0] == same[1]

    run_async(go())
