import pytest
import torch

from engine.models import build_model

# Tiny configs: every test builds its models in milliseconds on a CPU.
TINY = {
    "vae": {"latent_dim": 4, "width": 4, "hidden": 16},
    "gan": {"latent_dim": 8, "width": 4, "disc_width": 4},
    "flow": {"levels": 2, "steps_per_level": 1, "hidden": 8},
    "vaeac": {"latent_dim": 4, "width": 4, "hidden": 16},
}


def tiny_model(kind: str, *, channels: int = 1, image_size: int = 28, seed: int = 0, **overrides):
    """A small model with non-trivial weights (flows start as the identity otherwise)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(
            kind, {**TINY[kind], "channels": channels, "image_size": image_size, **overrides}
        )
        with torch.no_grad():
            for p in model.parameters():
                if p.abs().sum() == 0:  # zero-initialised layers (flow couplings, priors)
                    p.normal_(0, 0.05)
    return model.eval()


@pytest.fixture
def digits8bit():
    """Eight 28x28 grayscale images on the 8-bit grid, in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (8, 1, 28, 28), generator=g).float() / 255
