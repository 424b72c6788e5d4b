"""Training a binary RBM by persistent contrastive divergence (PCD; Tieleman 2008).

Each step binarises the batch afresh (pixel ~ Bernoulli(grey level)), advances ``chains``
persistent Gibbs chains (the "fantasy particles") by ``k`` sweeps, and follows the gradient of
``mean F(v_data) - mean F(v_chains)``, which is exactly the log-likelihood gradient with the
model's expectation replaced by the chains' average. SGD with momentum, the learning rate
falling as ``lr / (1 + epoch / decay_epochs)`` so the chains can keep up late in training, weight
decay on ``W`` only; visible biases start at the data's log-odds (Hinton 2010, "A Practical Guide to Training
Restricted Boltzmann Machines").

Validation: the mean log-likelihood in nats of the validation split (binarised once, seeded) with
``log Z`` from a short AIS run (its base model: the validation images' pixel log-odds) (:mod:`engine.metrics.ais`, ``val_betas`` steps, ``val_runs``
chains). Short runs under-estimate ``log Z`` a little, so the figure leans optimistic; it serves to
compare epochs, and the test figure of ``python -m engine evaluate`` uses the full schedule.
"""

from __future__ import annotations

import torch

from engine.metrics.ais import ais_log_partition, base_bias, default_betas, log_likelihood


class RBMObjective:
    """One PCD step per batch; see the module docstring."""

    def __init__(
        self,
        model,
        *,
        lr: float,
        wrap,
        k: int = 1,
        chains: int = 100,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        decay_epochs: float = 25.0,
        val_betas: int = 5000,
        val_runs: int = 16,
    ) -> None:
        self.model = model  # one process: the persistent chains are this process's own
        self.k, self.n_chains = k, chains
        self.lr, self.decay_epochs = lr, decay_epochs
        self.val_betas, self.val_runs = val_betas, val_runs
        self.opt = torch.optim.SGD(
            [
                {"params": [model.W], "weight_decay": weight_decay},
                {"params": [model.b_v, model.b_h], "weight_decay": 0.0},
            ],
            lr=lr,
            momentum=momentum,
        )
        self.chains: torch.Tensor | None = None  # (chains, V) binary
        self.b_a: torch.Tensor | None = None  # AIS base biases, from the first batch
        self.steps = 0

    def state_dict(self) -> dict:
        empty = torch.empty(0)
        return {
            "opt": self.opt.state_dict(),
            "steps": self.steps,
            "chains": self.chains if self.chains is not None else empty,
            "b_a": self.b_a if self.b_a is not None else empty,
        }

    def load_state_dict(self, state: dict) -> None:
        self.opt.load_state_dict(state["opt"])
        self.steps = int(state["steps"])
        self.chains = state["chains"] if state["chains"].numel() else None
        self.b_a = state["b_a"] if state["b_a"].numel() else None

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Visible biases from the first batch's log-odds per pixel."""
        self.b_a = base_bias(x.flatten(1).cpu(), smoothing=1.0)
        self.model.b_v.copy_(self.b_a.to(self.model.device))

    def step(self, x, y, *, epoch: float, generator) -> dict:
        m = self.model
        self.steps += 1
        for group in self.opt.param_groups:
            group["lr"] = self.lr / (1 + epoch / self.decay_epochs)
        v_pos = m._bernoulli(x.flatten(1), generator)
        if self.chains is None:
            self.chains = m._bernoulli(torch.full((self.n_chains, v_pos.shape[1]), 0.5), generator)
        with torch.no_grad():
            v_neg = self.chains.to(m.device)
            for _ in range(self.k):
                v_neg, _ = m.gibbs_sweep(v_neg, generator=generator)
            self.chains = v_neg.cpu()
        loss = m.free_energy(v_pos).mean() - m.free_energy(v_neg).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():  # one-sweep reconstruction error: a rough, cheap progress signal
            p = m.visible_probs(m.hidden_probs(v_pos))
            recon = (p - v_pos).pow(2).sum(1).mean()
        return {"gap": loss.item(), "recon": recon.item()}

    @torch.no_grad()
    def validate(self, model, x, y, generator) -> dict:
        v = torch.bernoulli(x.cpu(), generator=generator).to(x.device)
        ais = ais_log_partition(
            model,
            runs=self.val_runs,
            betas=default_betas(self.val_betas),
            b_a=base_bias(
                v.flatten(1).cpu()
            ),  # any base gives an unbiased Z; this one anneals well
            generator=generator,
        )
        ll = log_likelihood(model, v, ais.log_z).mean().item()
        return {"loss": -ll, "val_ll_nats": round(ll, 2), "log_z": round(ais.log_z, 2)}
