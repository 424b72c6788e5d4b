"""Sessions are isolated from each other and from the disk; untrusted checkpoints are refused
while the app keeps serving the others."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from apptest import fresh_catalog, page  # noqa: F401  (fixture used by every test)
from PIL import Image

from app import resources as R

pytestmark = pytest.mark.pretrained


def by_label(widgets, label):
    return next(w for w in widgets if w.label == label)


SKIP = (".git", ".venv", "__pycache__", "logs", ".pytest_cache", ".ruff_cache", ".hypothesis")


def files_under(*roots: Path) -> set[str]:
    out = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP]
            out.update(os.path.join(dirpath, f) for f in filenames)
    return out


def digit_png() -> bytes:
    img = Image.new("L", (60, 80), 255)
    img.paste(0, (25, 10, 35, 70))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_one_sessions_directions_uploads_and_results_stay_out_of_another_and_off_disk(
    tmp_path, monkeypatch
):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # anything temporary lands here
    watched = (R.PRETRAINED, R.ROOT / "app", private_tmp)
    before = files_under(*watched) | set(os.listdir(Path.cwd()))
    alice = page("walk", model="mnist-vae")
    by_label(alice.slider, "PC 1").set_value(2.0).run()
    alice.text_input[0].input("alice-secret")
    alice.button(key="FormSubmitter:save_direction-Save direction").click().run()
    assert "saved" in by_label(alice.selectbox, "Direction family").options
    upload = json.dumps(
        {"format": "latent-atlas directions", "version": 1, "latent_shape": [32],
         "directions": [{"name": "alice-upload", "source": "", "vector": [1.0] + [0.0] * 31}]}
    ).encode()  # fmt: skip
    alice.file_uploader(key="dir_upload").upload("d.json", upload, "application/json").run()
    assert not alice.exception and not alice.error
    by_label(alice.selectbox, "Direction family").set_value("saved").run()  # walk her own
    assert not alice.exception and not alice.error

    inpaint = page("inpaint", model="mnist-vae", src="upload")
    inpaint.file_uploader[0].upload("mine.png", digit_png(), "image/png").run()
    assert not inpaint.exception and not inpaint.error

    bob = page("walk", model="mnist-vae")
    assert "saved" not in by_label(bob.selectbox, "Direction family").options
    assert not bob.session_state["_saved_directions"].get("mnist-vae")
    assert [d.name for d in alice.session_state["_saved_directions"]["mnist-vae"]] == [
        "alice-secret",
        "alice-upload",
    ]
    # Alice's walk along her saved direction is a private result; Bob has none of hers.
    assert len(alice.session_state["_results"]) >= 1
    assert "_results" not in bob.session_state or len(bob.session_state["_results"]) == 0

    after = files_under(*watched) | set(os.listdir(Path.cwd()))
    assert after - before == set(), "a session wrote to shared disk"


def test_a_pickle_a_tampered_file_an_absurd_config_and_an_escaping_link_are_refused(
    tmp_path, monkeypatch
):
    good = R.PRETRAINED / "mnist-vae"
    outside = tmp_path / "elsewhere" / "innocent-vae"
    shutil.copytree(good, outside)
    root = tmp_path / "models"
    root.mkdir()

    pickled = root / "pickled-vae"
    shutil.copytree(good, pickled)
    (pickled / "model.safetensors").unlink()
    (pickled / "model.pt").write_bytes(b"\x80\x04\x95 pickle that must never be loaded")

    tampered = root / "tampered-vae"
    shutil.copytree(good, tampered)
    data = bytearray((tampered / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF
    (tampered / "model.safetensors").write_bytes(bytes(data))

    absurd = root / "absurd-vae"
    shutil.copytree(good, absurd)
    config = json.loads((absurd / "config.json").read_text())
    config["config"]["hidden"] = 10**6  # a terabyte of weights, refused before allocating
    (absurd / "config.json").write_text(json.dumps(config))

    unknown = root / "unknown-kind"
    shutil.copytree(good, unknown)
    config = json.loads((unknown / "config.json").read_text())
    config["kind"] = "os.system"
    (unknown / "config.json").write_text(json.dumps(config))

    (root / "linked-vae").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv(R.EXTRA_ROOTS_ENV, str(root))

    at = page("home")
    assert not at.exception
    errors = {e.value.split(":")[0]: e.value for e in at.error}
    assert len(at.error) == 5, [e.value for e in at.error]
    text = " | ".join(errors.values())
    assert "model.safetensors: missing" in text
    assert "sha256 does not match" in text
    assert "parameters (limit" in text
    assert "unknown model kind 'os.system'" in text
    assert "points outside the checkpoint folder" in text
    shipped = sorted(p.name for p in R.PRETRAINED.iterdir() if (p / "config.json").is_file())
    assert set(shipped) <= {h.value for h in at.subheader}  # the good ones still served
    sample = page("sample")  # and still work on another page
    assert not sample.exception and sample.get("image")
    assert set(by_label(sample.selectbox, "Model").options) == set(R.names(needs=("sample",)))
