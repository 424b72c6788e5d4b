"""Latent operations: interpolation, directions and walks, their files, the result cache, the CLI."""

import json

import pytest
import torch

from engine import CapabilityError, EngineError
from engine.ops import (
    Direction,
    axis_directions,
    class_directions,
    factor_directions,
    interpolate,
    latent_from_image,
    latent_from_seed,
    load_directions,
    orthogonalize,
    principal_directions,
    save_directions,
    walk,
)
from tests.conftest import tiny_model

KINDS = ["vae", "gan", "flow"]


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _count_decodes(model):
    calls = []
    decode = model.decode

    def counting(z):
        calls.append(len(z))
        return decode(z)

    model.decode = counting
    return calls


# -- interpolation -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["slerp", "lerp"])
@pytest.mark.parametrize("kind", KINDS)
def test_interpolation_ends_are_the_endpoints(kind, method):
    model = tiny_model(kind)
    z0, z1 = latent_from_seed(model, 0), latent_from_seed(model, 1)
    latents, frames = interpolate(model, z0, z1, steps=5, method=method)
    assert latents.shape == (5, *model.latent_shape) and frames.shape == (5, *model.image_shape)
    assert torch.equal(latents[0], z0) and torch.equal(latents[-1], z1)
    # A batch of 5 and a batch of 1 may take different convolution kernels: equal to the last bit
    # of float32, not always bit for bit.
    torch.testing.assert_close(frames[0], model.decode(z0[None])[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(frames[-1], model.decode(z1[None])[0], atol=1e-6, rtol=0)
    assert frames.min() >= 0 and frames.max() <= 1
    assert not torch.allclose(frames[2], frames[0])


def test_slerp_keeps_the_norm_and_lerp_dips():
    model = tiny_model("flow")  # 784-dimensional latents
    z0 = latent_from_seed(model, 0)
    z1 = latent_from_seed(model, 1)
    z1 = z1 * z0.norm() / z1.norm()  # equal norms
    slerp, _ = interpolate(model, z0, z1, steps=7, method="slerp")
    lerp, _ = interpolate(model, z0, z1, steps=7, method="lerp")
    norms = slerp.flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.full_like(norms, float(z0.norm())), rtol=1e-5, atol=0)
    assert lerp.flatten(1).norm(dim=1)[3] < 0.8 * z0.norm()  # near-orthogonal: ~1/sqrt(2)


def test_slerp_of_parallel_latents_falls_back_to_lerp():
    model = tiny_model("vae")
    z0 = latent_from_seed(model, 0)
    for z1 in (2 * z0, -z0, torch.zeros_like(z0)):
        slerp, _ = interpolate(model, z0, z1, steps=5, method="slerp")
        lerp, _ = interpolate(model, z0, z1, steps=5, method="lerp")
        assert torch.isfinite(slerp).all()
        torch.testing.assert_close(slerp, lerp)


def test_extrapolation_goes_past_both_ends():
    model = tiny_model("vae")
    z0, z1 = latent_from_seed(model, 0), latent_from_seed(model, 1)
    latents, _ = interpolate(model, z0, z1, steps=5, method="lerp", extrapolate=0.5)
    # times -0.5, 0, 0.5, 1, 1.5
    torch.testing.assert_close(latents[0], z0 - 0.5 * (z1 - z0))
    torch.testing.assert_close(latents[-1], z1 + 0.5 * (z1 - z0))
    assert torch.equal(latents[1], z0) and torch.equal(latents[3], z1)
    slerp, _ = interpolate(model, z0, z1, steps=5, extrapolate=0.5)
    assert not torch.allclose(slerp[0], z0) and torch.equal(slerp[1], z0)
    with pytest.raises(EngineError, match="extrapolate"):
        interpolate(model, z0, z1, steps=5, extrapolate=-0.1)


def test_interpolate_and_walk_decode_once():
    model = tiny_model("gan")
    calls = _count_decodes(model)
    z0, z1 = latent_from_seed(model, 0), latent_from_seed(model, 1)
    interpolate(model, z0, z1, steps=9)
    assert calls == [9]
    walk(model, z0, axis_directions(model)[0], steps=7, span=2.0)
    assert calls == [9, 7]


def test_endpoints_from_seeds_and_images():
    model = tiny_model("flow")
    z = latent_from_seed(model, 3, temperature=0.5)
    assert torch.equal(z, model.sample_latent(1, generator=_gen(3), temperature=0.5)[0])
    x = model.decode(z[None])
    torch.testing.assert_close(latent_from_image(model, x[0]), z, atol=1e-3, rtol=1e-3)
    with pytest.raises(EngineError, match="shape"):
        latent_from_image(model, torch.zeros(3, 28, 28))
    with pytest.raises(CapabilityError, match="encode"):
        latent_from_image(tiny_model("gan"), x)


# -- directions and walks --------------------------------------------------------------------


def test_walk_is_centred_on_z():
    model = tiny_model("vae")
    z = latent_from_seed(model, 0)
    d = axis_directions(model, indices=[2])[0]
    latents, frames = walk(model, z, d, steps=5, span=2.0)
    assert frames.shape == (5, *model.image_shape) and torch.equal(latents[2], z)
    torch.testing.assert_close(latents[:, 2] - z[2], torch.tensor([-2.0, -1, 0, 1, 2]))
    torch.testing.assert_close(latents[:, [0, 1, 3]], z[[0, 1, 3]].expand(5, 3))
    with pytest.raises(EngineError, match="span"):
        walk(model, z, d, steps=5, span=0)


def test_axis_directions_are_capped_for_image_shaped_latents():
    vae, flow = tiny_model("vae"), tiny_model("flow")
    axes = axis_directions(vae)
    assert [a.name for a in axes] == ["axis 0", "axis 1", "axis 2", "axis 3"]
    assert len(axis_directions(flow)) == 256 and len(axis_directions(flow, limit=10)) == 10
    last = axis_directions(flow, indices=[783])[0]
    assert last.vector.shape == (1, 28, 28) and last.vector[0, 27, 27] == 1
    assert last.name == "axis 783 (channel 0, row 27, column 27)"
    with pytest.raises(EngineError, match="axes 0 to 783"):
        axis_directions(flow, indices=[784])


def test_pca_of_codes_is_unit_orthogonal_and_finds_the_wide_axis():
    model = tiny_model("vae")
    codes = torch.randn(500, 4, generator=_gen()) * torch.tensor([0.5, 3.0, 1.0, 0.2])
    pcs = principal_directions(model, k=3, codes=codes)
    v = torch.stack([d.vector for d in pcs]).double()
    torch.testing.assert_close(v @ v.T, torch.eye(3, dtype=torch.float64), atol=1e-6, rtol=0)
    assert abs(v[0, 1]) > 0.99 and abs(v[1, 2]) > 0.95
    assert [d.name for d in pcs] == ["PC 1", "PC 2", "PC 3"]
    assert "500 given codes" in pcs[0].source and "% of the variance" in pcs[0].source
    assert len(principal_directions(model, k=10, codes=codes)) == 4  # capped at the latent size


@pytest.mark.parametrize("kind", KINDS)
def test_ganspace_directions_are_unit_and_orthogonalize_on_request(kind):
    model = tiny_model(kind)
    pcs = principal_directions(model, n=128, k=3, generator=_gen())
    assert len(pcs) == 3 and all(d.vector.shape == model.latent_shape for d in pcs)
    v = torch.stack([d.vector.flatten() for d in pcs]).double()
    torch.testing.assert_close(v.norm(dim=1), torch.ones(3, dtype=torch.float64))
    again = principal_directions(model, n=128, k=3, generator=_gen())
    assert all(torch.equal(a.vector, b.vector) for a, b in zip(pcs, again, strict=True))
    o = torch.stack([d.vector.flatten() for d in orthogonalize(pcs)]).double()
    torch.testing.assert_close(o @ o.T, torch.eye(3, dtype=torch.float64), atol=1e-6, rtol=0)
    assert torch.equal(o[0].float(), pcs[0].vector.flatten())  # the first keeps its direction


def test_ganspace_leaves_out_samples_that_decode_to_nan():
    model = tiny_model("gan")
    decode = model.decode

    def overflowing(z):  # like a flow whose inverse overflows on some tail samples
        x = decode(z)
        x[z[:, 0] > 1.5] = float("nan")
        return x

    model.decode = overflowing
    pcs = principal_directions(model, n=200, k=2, generator=_gen())
    kept = int((model.sample_latent(200, generator=_gen())[:, 0] <= 1.5).sum())
    assert 150 < kept < 200 and f"PCA of {kept} decoded prior samples" in pcs[0].source
    assert all(torch.isfinite(d.vector).all() for d in pcs)


def test_orthogonalize_refuses_dependent_directions():
    a = Direction("a", torch.tensor([1.0, 0, 0]), "")
    b = Direction("b", torch.tensor([2.0, 0, 0]), "")
    with pytest.raises(EngineError, match="'b' lies in the span"):
        orthogonalize([a, b])


def test_class_direction_points_from_b_to_a():
    g = _gen()
    centre = torch.tensor([3.0, 0, 0, 0])
    codes = torch.cat([torch.randn(50, 4, generator=g) + centre, torch.randn(50, 4, generator=g)])
    labels = torch.tensor([7] * 50 + [1] * 50)
    d = class_directions(codes, labels, 7, 1)
    assert d.name == "7 - 1" and d.vector[0] > 0.9 and abs(float(d.vector.norm()) - 1) < 1e-6
    assert class_directions(codes, labels, 1, 7).vector[0] < -0.9
    raw = class_directions(codes, labels, 7, 1, normalize=False).vector
    torch.testing.assert_close(codes[50:].mean(0) + raw, codes[:50].mean(0))
    with pytest.raises(EngineError, match="no codes with label 3"):
        class_directions(codes, labels, 3, 1)


def test_factor_directions_recover_planted_factors():
    g = _gen()
    n, dim = 400, 6
    d_scale, d_x = torch.randn(dim, generator=g), torch.randn(dim, generator=g)
    factors = torch.stack([torch.rand(n, generator=g) * 2, torch.rand(n, generator=g) * 10], 1)
    noise = 0.1 * torch.randn(n, dim, generator=g)
    codes = factors[:, :1] * d_scale + factors[:, 1:] * d_x + noise + 1.0
    scale, x = factor_directions(codes, factors, ["scale", "x"])
    for found, planted in ((scale, d_scale), (x, d_x)):
        assert torch.cosine_similarity(found.vector, planted, dim=0) > 0.99  # right sign too
    raw = factor_directions(codes, factors, ["scale", "x"], normalize=False)
    torch.testing.assert_close(raw[0].vector, d_scale, atol=0.05, rtol=0)
    with pytest.raises(EngineError, match="do not vary"):
        factor_directions(codes, torch.ones(n, 1), ["shape"])


# -- directions files ------------------------------------------------------------------------


def test_directions_round_trip_through_json(tmp_path):
    model = tiny_model("flow")
    dirs = principal_directions(model, n=64, k=2, generator=_gen()) + axis_directions(
        model, indices=[5]
    )
    path = save_directions(tmp_path / "dirs.json", dirs)
    back = load_directions(path, latent_shape=model.latent_shape)
    assert [(d.name, d.source) for d in back] == [(d.name, d.source) for d in dirs]
    assert all(torch.equal(a.vector, b.vector) for a, b in zip(back, dirs, strict=True))
    with pytest.raises(EngineError, match=r"dirs\.json: .*shape \(1, 28, 28\).*\(4,\)"):
        load_directions(path, latent_shape=(4,))


def _good_doc():
    return {
        "format": "latent-atlas directions",
        "version": 1,
        "latent_shape": [2],
        "directions": [{"name": "a", "source": "", "vector": [1.0, 0.0]}],
    }


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.write_bytes(b"\x00{nope"), "not JSON"),
        (lambda p: p.write_text("[1, 2]"), "format"),
        (lambda p: p.write_text(json.dumps({**_good_doc(), "version": 9})), "newer"),
        (lambda p: p.write_text(json.dumps({**_good_doc(), "latent_shape": "2"})), "latent_shape"),
        (
            lambda p: p.write_text(
                json.dumps({**_good_doc(), "directions": [{"name": "a", "vector": [1.0]}]})
            ),
            "has 1 values, latent shape (2,) needs 2",
        ),
        (
            lambda p: p.write_text(
                json.dumps({**_good_doc(), "directions": [{"name": "a", "vector": [1, "x"]}]})
            ),
            "finite numbers",
        ),
        (lambda p: p.write_text(json.dumps(_good_doc()).replace("0.0", "NaN")), "finite"),
        (lambda p: p.unlink(), "no such directions file"),
    ],
)
def test_a_bad_directions_file_gives_one_clear_error(tmp_path, edit, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(_good_doc()))
    assert load_directions(path)[0].name == "a"
    edit(path)
    with pytest.raises(EngineError) as err:
        load_directions(path)
    text = str(err.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "d.json"
    save_directions(path, [Direction("a", torch.tensor([1.0, 0.0]), "first")])
    before = path.read_bytes()
    bad = Direction("b", torch.tensor([float("nan"), 0.0]), "")
    with pytest.raises(EngineError, match="NaN"):
        save_directions(path, [bad])

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.images.os.replace", disk_full)
    with pytest.raises(EngineError, match="d.json: cannot write .*No space"):
        save_directions(path, [Direction("c", torch.tensor([0.0, 1.0]), "second")])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]  # no temp file left behind
