"""Inference GANs: BiGAN (Donahue et al., 2017) and ALI (Dumoulin et al., 2017).

Beside the generator G(z) an encoder E(x) learns the inverse map, and the
critic scores (x, z) pairs: real pairs (x, E(x)) against generated pairs
(G(z), z). The critic minimises the cross-entropy of telling them apart; the
generator side (G and E together, one optimiser) minimises it with the labels
swapped, as both papers' code does. BiGAN's encoder is deterministic and its
z uniform on [-1, 1]; ALI's encoder samples z = mu(x) + sigma(x) eps
(reparametrised) and its z is standard normal. A gradient penalty, when
asked for, is taken over the joint input: real and generated pairs are
interpolated with one weight per pair for x and z alike, and the norm of the
gradient with respect to both is penalised (WGAN-GP on pairs).

Image runs draw one grid of their own, ``samples/reconstructions.png``: rows
of fixed held-out images (the held-out part of the default evaluation, where
the encoding metric is measured) alternating with their G(E(x)).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.data import held_out_indices
from gankit.errors import ConfigError
from gankit.losses import minimax_critic_loss
from gankit.objectives.base import (
    CRITIC,
    GRID_ROW,
    Networks,
    Objective,
    ObjectiveParams,
    RealBatch,
    Recommendation,
    Stats,
    StepContext,
)
from gankit.sampling import LatentInput, generate

RECONSTRUCTION_ROWS = 4  # pairs of rows (inputs, reconstructions) in samples/reconstructions.png


@dataclass
class InferenceParams(ObjectiveParams):
    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.r1_gamma > 0 or self.r2_gamma > 0:
            key = "r1_gamma" if self.r1_gamma > 0 else "r2_gamma"
            problems.append(
                f"{prefix}.{key} must be 0 for a critic of (x, z) pairs, whose penalty is taken at real-fake "
                f"interpolates of the pairs: use {prefix}.penalty_weight"
            )
        elif self.penalty_points != "real-fake":
            problems.append(f"{prefix}.penalty_points must be real-fake for pairs (x, z), got '{self.penalty_points}'")
        return problems


class BiGAN(Objective):
    name = "bigan"
    summary = "BiGAN: an encoder E(x) beside G(z), a critic of (x, z) pairs, z ~ U(-1, 1), swapped labels for G and E"
    Params = InferenceParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)
    stochastic_encoder = False
    latent_distribution = "uniform"
    critic_scores_samples = False  # it scores (x, z) pairs
    supports_lecam = False  # its critic step scores pairs in its own loss

    def generator_input(self, latent_dim: int) -> LatentInput:
        return LatentInput(latent_dim, self.latent_distribution)

    def build_networks(self, build) -> Networks:
        if build.num_classes and build.cfg.conditional:
            raise ConfigError(f"{self.name} has no conditional form here: set model.conditional=false")
        if len(build.domain_shapes) > 1:
            raise ConfigError(f"{self.name} learns one data set, not a pair of domains: set data.name to one data set")
        return Networks(
            {"generator": build.generator(), "encoder": build.encoder(stochastic=self.stochastic_encoder)},
            {"critic": build.joint_critic()},
        )

    def _pairs(self, nets: Mapping[str, nn.Module], batch: RealBatch, ctx: StepContext) -> tuple[Tensor, ...]:
        x = batch.samples
        z = ctx.noise(len(batch))
        return x, nets["encoder"](x).float(), nets["generator"](z).float(), z

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        critic = nets["critic"]
        if side == CRITIC:
            with torch.no_grad():
                x, ex, gz, z = self._pairs(nets, batch, ctx)
            real, fake = critic(x, ex).float(), critic(gz, z).float()
            loss = minimax_critic_loss(real, fake)
            stats: Stats = {"critic_loss": loss.detach(), "d_real": real.detach().sigmoid().mean(),
                            "d_fake": fake.detach().sigmoid().mean()}
            if self.penalty_due():
                penalty, norm = self._pair_penalty(critic, (x, ex), (gz, z), ctx)
                loss = loss + penalty
                stats.update(critic_loss=loss.detach(), penalty=penalty.detach(), grad_norm=norm.detach())
            return loss, stats
        x, ex, gz, z = self._pairs(nets, batch, ctx)
        # Swapped labels: G and E make real pairs look generated and generated pairs look real.
        loss = minimax_critic_loss(critic(gz, z).float(), critic(x, ex).float())
        return loss, {"generator_loss": loss.detach()}

    def _pair_penalty(self, critic, real: tuple[Tensor, Tensor], fake: tuple[Tensor, Tensor], ctx: StepContext):
        rank, world = ctx.shard
        n = real[0].shape[0]
        alpha = torch.rand(n * world, 1, device=real[0].device)[rank * n:(rank + 1) * n]
        x = torch.lerp(fake[0], real[0], alpha.view(n, *([1] * (real[0].dim() - 1)))).requires_grad_(True)
        z = torch.lerp(fake[1], real[1], alpha).requires_grad_(True)
        (gx, gz) = torch.autograd.grad(critic(x, z).sum(), [x, z], create_graph=True)
        norms = (gx.flatten(1).pow(2).sum(1) + gz.pow(2).sum(1) + 1e-12).sqrt()
        return self.penalty_of(norms), norms.mean()

    def after_step(self, side: str, nets: Networks, stats: Stats, ctx: StepContext) -> None:
        """No constraint: the pair critic needs none."""

    def preview_inputs(self, nets: Networks, dataset, ctx: StepContext, seed: int, grid_size: int) -> dict[str, Tensor | None]:
        """The generator's fixed noise, and for images fixed held-out images to reconstruct."""
        inputs = super().preview_inputs(nets, dataset, ctx, seed, grid_size)
        if dataset.kind == "images":
            indices = held_out_indices(len(dataset), dataset.kind)[:RECONSTRUCTION_ROWS * GRID_ROW]
            inputs["held_out"], _ = dataset.batch(indices.to(dataset.data.device))
            inputs["held_out"] = inputs["held_out"].to(ctx.device)
        return inputs

    @torch.no_grad()
    def sample_grids(self, nets: Mapping[str, nn.Module], inputs: dict[str, Tensor | None]) -> dict[str, Tensor]:
        """``reconstructions``: rows of held-out x, each followed by the row of its G(E(x))."""
        x = inputs.get("held_out")
        if x is None:
            return {}
        encoder = nets["encoder"]
        was_training = encoder.training
        encoder.eval()  # ALI's encoder returns its posterior mean in eval mode
        try:
            codes = encoder(x).float()
        finally:
            encoder.train(was_training)
        rebuilt = generate(nets["generator"], codes)
        rows = [part[i:i + GRID_ROW] for i in range(0, len(x), GRID_ROW) for part in (x, rebuilt)]
        return {"reconstructions": torch.cat(rows)}


class ALI(BiGAN):
    name = "ali"
    summary = "ALI: BiGAN with a stochastic (reparametrised) encoder and z ~ N(0, I)"
    stochastic_encoder = True
    latent_distribution = "normal"
