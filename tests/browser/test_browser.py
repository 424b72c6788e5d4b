"""The app in headless Chromium, served by ``make run``: every page renders without an error, and
the main interactions work as a student meets them (a slider, an upload, a map click, a scrubber).

Streamlit reruns are asynchronous: every step waits for the element it expects and for the app to
be idle again (``harness.wait_idle``), never for a fixed time alone. Screenshots of every page go
to ``tests/browser/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import re

import pytest
from PIL import Image, ImageDraw

from .harness import IMAGE_CHANGED_JS, IMAGE_SRC_JS, PAGES, errors_on, open_page, wait_idle

pytestmark = [pytest.mark.slow, pytest.mark.pretrained]

TITLES = {
    "home": "latent-atlas",
    "sample": "Sample",
    "walk": "Latent walk",
    "interpolate": "Interpolate",
    "inpaint": "Reconstruct & inpaint",
    "map": "Latent map",
    "compare": "Compare",
    "report": "Evaluation report",
    "evolution": "Training evolution",
}
# Compare the VAE and the flow only: the GAN's inversion (reconstruction and 4 fills) adds 20 s to
# minutes on two busy cores, and the AppTest suite covers it.
QUERY = {"compare": "?models=mnist-vae,mnist-flow"}
FIRST_RUN_MS = 180_000  # a page's first run on a cold server: models load, directions are built
MAIN_IMAGE = '[data-testid="stMain"] [data-testid="stImage"] img'
MAP_POINTS_JS = "(n) => document.querySelectorAll('.scatterlayer .point').length > n"
SCRUBBER_FRAME = 'iframe[data-testid="stIFrame"]'


def assert_clean(page, request) -> None:
    """No exception, no error alert and no uncaught JavaScript error on the page."""
    assert errors_on(page) == [], f"errors on {page.url}"
    assert request.node.page_errors == [], f"JavaScript errors on {page.url}"
    assert request.node.outside_requests == [], f"requests off this machine from {page.url}"


def shoot(page, artifacts, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def map_painted(page, timeout_ms: float = 60_000) -> None:
    page.wait_for_function(MAP_POINTS_JS, arg=1000, timeout=timeout_ms)


def scrubber_frame(page):
    handle = page.locator(SCRUBBER_FRAME).first.element_handle(timeout=FIRST_RUN_MS)
    frame = handle.content_frame()
    frame.wait_for_selector("#pos")
    frame.wait_for_function("() => document.getElementById('frame').complete")
    return frame


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_without_errors(page, server, artifacts, request, name):
    open_page(page, server.url, PAGES[name] + QUERY.get(name, ""), timeout_ms=FIRST_RUN_MS)
    assert page.locator("h1").first.inner_text().strip() == TITLES[name]
    if name == "map":
        map_painted(page)
    if name in ("walk", "evolution"):
        scrubber_frame(page)
    if name in ("home", "sample", "compare"):
        page.wait_for_function(
            "(sel) => [...document.querySelectorAll(sel)].some(i => i.complete && i.naturalWidth)",
            arg=MAIN_IMAGE,
        )
    wait_idle(page)
    shoot(page, artifacts, name)
    assert_clean(page, request)


def shown_temperature(page) -> float | None:
    """The temperature in the grid's caption ("..., temperature 1.05")."""
    for text in page.get_by_test_id("stImage").all_inner_texts():
        m = re.search(r"temperature (\d+(?:\.\d+)?)\s*$", text)
        if m:
            return float(m.group(1))
    return None


def test_sample_slider_changes_the_image(page, server, artifacts, request):
    open_page(page, server.url, "sample", timeout_ms=FIRST_RUN_MS)
    page.wait_for_selector(MAIN_IMAGE)
    before = page.evaluate(IMAGE_SRC_JS, MAIN_IMAGE)
    slider = page.get_by_role("slider", name="Temperature")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(IMAGE_CHANGED_JS, arg=[MAIN_IMAGE, before])
    wait_idle(page)
    assert shown_temperature(page) == pytest.approx(1.05)
    shoot(page, artifacts, "sample-after-slider")
    assert_clean(page, request)


def test_sample_slider_moves_twice(page, server, request):
    """Two moves in a row both count (a widget whose identity changed would drop the second)."""
    open_page(page, server.url, "sample", timeout_ms=FIRST_RUN_MS)
    page.wait_for_selector(MAIN_IMAGE)
    slider = page.get_by_role("slider", name="Temperature")
    for expected in (1.05, 1.10):
        before = page.evaluate(IMAGE_SRC_JS, MAIN_IMAGE)
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(IMAGE_CHANGED_JS, arg=[MAIN_IMAGE, before], timeout=30_000)
        wait_idle(page)
        assert shown_temperature(page) == pytest.approx(expected)
    assert_clean(page, request)


def digit_png(path) -> None:
    """A white '7'-like stroke on black, larger than the models' 28x28."""
    img = Image.new("L", (112, 112), 0)
    draw = ImageDraw.Draw(img)
    draw.line([(24, 22), (86, 22), (50, 94)], fill=255, width=11, joint="curve")
    draw.line([(40, 58), (76, 58)], fill=255, width=8)
    img.save(path)


def test_inpaint_upload_centre_square(page, server, artifacts, request, tmp_path):
    # The VAE prepares the image and fills it in (a link can choose the model): the flow's and
    # the GAN's fills take tens of seconds on two cores.
    open_page(page, server.url, "inpaint?model=mnist-vae", timeout_ms=FIRST_RUN_MS)
    page.get_by_test_id("stRadio").filter(has_text="Source").get_by_text(
        "upload", exact=True
    ).click()
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.wait_for(state="attached")
    wait_idle(page)

    png = tmp_path / "seven.png"
    digit_png(png)
    uploader.set_input_files(str(png))
    page.get_by_text("what the model sees", exact=True).wait_for()
    wait_idle(page)
    masked = "caption=input with the hidden part in grey"
    before = page.evaluate(IMAGE_SRC_JS, masked)
    assert before is not None

    page.get_by_test_id("stSelectbox").filter(has_text="Mask").click()
    page.get_by_role("option", name="centre square", exact=True).click()
    page.wait_for_function(IMAGE_CHANGED_JS, arg=[masked, before])
    wait_idle(page)
    mask = page.get_by_test_id("stSelectbox").filter(has_text="Mask").locator("input")
    assert mask.first.input_value() == "centre square"
    assert_clean(page, request)

    page.get_by_role("button", name=re.compile("Fill in the hidden part")).click()
    page.get_by_text("completion 1", exact=True).first.wait_for(timeout=FIRST_RUN_MS)
    wait_idle(page, FIRST_RUN_MS)
    for i in range(1, 5):  # 4 completions per model by default
        assert page.get_by_text(f"completion {i}", exact=True).count() >= 1
    assert page.get_by_text("uncertainty", exact=True).count() >= 1
    shoot(page, artifacts, "inpaint-filled")
    assert_clean(page, request)


@pytest.mark.parametrize(
    ("path", "neighbours"),
    [("map", "Nearest real images"), ("map?model=mnist-gan", "Nearest map points")],
)
def test_map_click_decodes(page, server, artifacts, request, path, neighbours):
    open_page(page, server.url, path, timeout_ms=FIRST_RUN_MS)
    map_painted(page)
    wait_idle(page)
    point = page.locator(".scatterlayer .trace").first.locator(".point").nth(10)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    decoded = page.get_by_test_id("stImage").filter(has_text=re.compile(r"^decoded at \("))
    decoded.wait_for(timeout=FIRST_RUN_MS)
    wait_idle(page)
    # The decoded image is a media file the browser fetches after the run: wait for it to load.
    loaded = "i => i.complete && i.naturalWidth > 0"
    page.wait_for_function(loaded, arg=decoded.locator("img").element_handle(), timeout=30_000)
    # A GAN's map is made of its own samples: the page must not call them real images.
    captions = ("Nearest real images", "Nearest map points")
    for caption in captions:
        shown = page.get_by_text(re.compile("^" + caption)).count()
        assert shown == (caption == neighbours), (caption, shown)
    shoot(page, artifacts, "map-clicked")
    assert_clean(page, request)


def test_walk_scrubber_changes_the_frame(page, server, artifacts, request):
    open_page(page, server.url, "walk", timeout_ms=FIRST_RUN_MS)
    frame = scrubber_frame(page)
    before = frame.eval_on_selector("#frame", "i => i.getAttribute('src')")
    label = frame.inner_text("#lab")
    frame.focus("#pos")
    for _ in range(3):
        frame.press("#pos", "ArrowRight")
    frame.wait_for_function(IMAGE_CHANGED_JS, arg=["#frame", before])
    assert frame.inner_text("#lab") != label
    assert frame.evaluate("document.getElementById('pos').value") == "15"  # started at 12
    # first frame + three moves; each time is recorded at the next animation frame
    frame.wait_for_function("() => window.scrubTimes.length >= 4", timeout=5_000)
    shoot(page, artifacts, "walk-scrubbed")
    assert_clean(page, request)


def test_walk_downloads_its_strip_as_a_gif(page, server, request, tmp_path):
    """Exports are made when their button is pressed: the file still arrives, whole."""
    open_page(page, server.url, "walk", timeout_ms=FIRST_RUN_MS)
    scrubber_frame(page)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download GIF").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.endswith(".gif")
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 25  # the strip's 25 frames
    wait_idle(page)
    assert_clean(page, request)


def test_sample_chain_scrubber_shows_x_t_and_predicted_x0(page, server, artifacts, request):
    """A ``trajectory`` model's grid comes with its chain: both images move with one slider, in
    the browser alone (no rerun of the app)."""
    open_page(page, server.url, "sample?model=mnist-diffusion&n=16", timeout_ms=FIRST_RUN_MS)
    handle = page.locator("iframe[data-testid='stIFrame']").first.element_handle(
        timeout=FIRST_RUN_MS
    )
    frame = handle.content_frame()
    frame.wait_for_selector("#pos")
    frame.wait_for_function("() => document.getElementById('guess').complete")
    last = int(frame.evaluate("document.getElementById('pos').max"))
    assert last >= 5 and frame.evaluate("document.getElementById('pos').value") == str(last)
    state, guess = (frame.eval_on_selector(s, "i => i.src") for s in ("#state", "#guess"))
    assert state == guess  # the chain's last state is its own x_0: the sample itself
    wait_idle(page)
    frame.focus("#pos")
    frame.press("#pos", "Home")
    frame.wait_for_function(IMAGE_CHANGED_JS, arg=["#state", state])
    assert frame.inner_text("#lab").startswith("step 1 of")
    assert frame.eval_on_selector("#state", "i => i.src") != frame.eval_on_selector(
        "#guess", "i => i.src"
    )  # the first step: noise beside the model's first guess of the digit
    frame.wait_for_function("() => window.scrubTimes.length >= 2", timeout=5_000)
    shoot(page, artifacts, "sample-chain-scrubbed")
    assert_clean(page, request)


@pytest.mark.parametrize(
    ("model", "last_label"),
    [
        ("mnist-pixelcnn", r"row 28/28"),  # the image fills in row by row
        ("mnist-rbm", r"Gibbs sweep (\d+)/\1"),
        ("mnist-ebm", r"Langevin step (\d+)/\1"),
    ],
)
def test_sample_chain_scrubber_of_the_kinds_without_a_latent(
    page, server, artifacts, request, model, last_label
):
    """The PixelCNN's rows and the RBM's and EBM's chains are scrubbed in the browser like the
    diffusion model's, with the chain's state alone (they have no guess of the end)."""
    open_page(page, server.url, f"sample?model={model}&n=16", timeout_ms=FIRST_RUN_MS)
    frame = page.locator(SCRUBBER_FRAME).first.element_handle(timeout=FIRST_RUN_MS).content_frame()
    frame.wait_for_selector("#pos")
    frame.wait_for_function("() => document.getElementById('state').complete")
    assert frame.locator("#guess").count() == 0
    last = int(frame.evaluate("document.getElementById('pos').max"))
    assert last >= 5 and frame.evaluate("document.getElementById('pos').value") == str(last)
    assert re.search(f": {last_label}$", frame.inner_text("#lab")), frame.inner_text("#lab")
    end = frame.eval_on_selector("#state", "i => i.src")
    wait_idle(page)
    frame.focus("#pos")
    frame.press("#pos", "Home")
    frame.wait_for_function(IMAGE_CHANGED_JS, arg=["#state", end])
    assert frame.inner_text("#lab").startswith("step 1 of")
    frame.press("#pos", "End")  # back to the end: the grid's own images again
    frame.wait_for_function("(s) => document.getElementById('state').src === s", arg=end)
    frame.wait_for_function("() => window.scrubTimes.length >= 3", timeout=5_000)
    shoot(page, artifacts, f"sample-chain-{model}")
    assert_clean(page, request)
