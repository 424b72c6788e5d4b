"""A newcomer's first visit: after the warm-up the default views are computed already, nothing
of an upload is warmed or shared, and a page shows its slow parts as on their way, then fills
them in.

Tiny registered kinds stand in for the shipped checkpoints (``test_new_kind.new_kinds``), so the
warm-up here takes seconds; its steps are the same for any catalog.
"""

from __future__ import annotations

import io
import time

import pytest
from apptest import fresh_catalog, page  # noqa: F401  (fixture used by every test)
from PIL import Image
from test_new_kind import new_kinds  # noqa: F401  (fixture)

from app import lazy, warmup
from app import resources as R


@pytest.fixture
def warm(new_kinds, monkeypatch):  # noqa: F811
    """The tiny catalog, the shared result cache emptied, the warm-up run to its end."""
    monkeypatch.delenv(warmup.WAIT_ENV, raising=False)
    R._shared_cache.clear()
    done = warmup.warm(lower=False)
    assert done["state"] == "done" and not done["skipped"], done
    return done


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def shared():
    cache = R._shared_cache()
    return cache.misses, len(cache._entries)


def test_after_the_warm_up_a_first_visit_computes_nothing(warm):
    """Each page's default view comes from the shared cache: no computation is started, and
    Compare shows every column complete."""
    for name in ("sample", "walk", "interpolate", "compare"):
        misses, entries = shared()
        hits = R._shared_cache().hits
        at = ok(page(name))
        assert shared() == (misses, entries), name
        assert R._shared_cache().hits > hits, name
    table = at.dataframe[0].value
    assert list(table["model"]) == warmup.compare_default(R.names(needs=("sample",)))
    assert set(table["16 samples"]) == {"cached"}
    assert table.loc[table["reconstruction"] != "none", "reconstruction"].eq("cached").all()
    assert not at.get("progress")


def upload_png() -> bytes:
    digit = Image.new("L", (60, 80), 255)
    digit.paste(0, (25, 10, 35, 70))
    buf = io.BytesIO()
    digit.save(buf, format="PNG")
    return buf.getvalue()


def test_an_upload_is_never_computed_into_the_shared_cache(warm, monkeypatch):
    monkeypatch.setenv(warmup.WAIT_ENV, "0")  # even where slow parts go to the background
    at = page("compare", src="upload")
    misses, entries, jobs = *shared(), len(lazy._jobs)
    at.file_uploader[0].upload("one.png", upload_png(), "image/png").run()
    table = ok(at).dataframe[0].value
    assert table["reconstruction MSE"].notna().any()  # computed, in this session
    assert shared() == (misses, entries)  # the seed's grids were hits; nothing new is shared
    assert len(lazy._jobs) == jobs  # and nothing of the upload went to the background


def test_the_warm_up_stops_at_its_budget_and_can_be_switched_off(new_kinds, monkeypatch):  # noqa: F811
    R._shared_cache.clear()
    done = warmup.warm(budget_s=0.0, lower=False)
    assert done["skipped"] and [label for label, _ in done["done"]] == ["models"]
    assert shared() == (0, 0)
    monkeypatch.setenv(warmup.ENV, "0")
    assert warmup.start() is None


def captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def background_done(timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(f.done() for f in lazy._jobs.values()) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_compare_is_up_before_its_slow_results_and_fills_them_in(new_kinds, monkeypatch):  # noqa: F811
    """With no time to wait, the page ends at once with its results on their way and a progress
    bar; its next run (the page reruns itself as they come in) has them."""
    R._shared_cache.clear()
    lazy._jobs.clear()
    monkeypatch.setenv(warmup.WAIT_ENV, "0")
    at = ok(page("compare"))
    assert warmup.PENDING_NOTE in captions(at)
    assert at.get("progress")
    background_done()
    ok(at.run())  # the test digits came in first; the results made from them go out now
    background_done()
    ok(at.run())
    assert warmup.PENDING_NOTE not in captions(at)
    assert not at.get("progress")
    assert at.dataframe[0].value["reconstruction MSE"].notna().any()


def test_the_walk_is_up_before_its_directions_and_fills_them_in(new_kinds, monkeypatch):  # noqa: F811
    lazy._jobs.clear()
    monkeypatch.setenv(warmup.WAIT_ENV, "0")
    at = ok(page("walk"))
    assert f"are {warmup.PENDING_NOTE}" in captions(at)
    assert not at.get("iframe")  # no strip yet, but the page is up
    background_done()
    ok(at.run())
    assert warmup.PENDING_NOTE not in captions(at)
    assert at.get("iframe")  # the scrubbable strip
