"""Flow math: exact invertibility and log-determinants that match the Jacobian."""

import torch

from tests.conftest import tiny_model


def test_decode_inverts_encode_on_8bit_images(digits8bit):
    model = tiny_model("flow")
    z = model.encode(digits8bit)
    assert (model.decode(z) - digits8bit).abs().max() < 1e-4


def test_flow_inverse_inverts_forward_in_logit_space():
    model = tiny_model("flow")
    s = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 3
    eps, _ = model.flow_forward(s)
    assert (model.flow_inverse(eps) - s).abs().max() < 1e-4


def test_log_det_matches_the_jacobian_and_inverse_log_det_cancels_it():
    model = tiny_model("flow").double()
    s = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    eps, log_det = model.flow_forward(s)

    def forward(v):
        return model.flow_forward(v.view(1, 1, 28, 28))[0].flatten()

    def inverse(v):
        return model.flow_inverse(v.view(1, 1, 28, 28)).flatten()

    jac = torch.autograd.functional.jacobian(forward, s.flatten(), vectorize=True)  # (784, 784)
    jac_inv = torch.autograd.functional.jacobian(inverse, eps.flatten(), vectorize=True)
    assert torch.allclose(torch.linalg.slogdet(jac)[1], log_det[0], atol=1e-6)
    assert torch.allclose(
        torch.linalg.slogdet(jac_inv)[1] + log_det[0],
        torch.zeros((), dtype=torch.float64),
        atol=1e-6,
    )


def test_logit_preprocessing_log_det_is_its_elementwise_derivative():
    model = tiny_model("flow").double()
    y = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y.requires_grad_(True)
    s, log_det = model._to_logit(y)
    (grad,) = torch.autograd.grad(s.sum(), y)
    assert torch.allclose(grad.log().flatten(1).sum(1), log_det)


def test_latents_far_in_the_tails_still_decode_to_images():
    """Prior samples at high temperature overflowed the inverse into NaN images before."""
    flow = tiny_model("flow")
    with torch.no_grad():
        for p in flow.parameters():  # make couplings contract hard, so the inverse expands
            p.mul_(20)
        x = flow.decode(1e4 * flow.sample_latent(8, generator=torch.Generator().manual_seed(0)))
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
