"""InfoGAN (Chen et al., 2016): a GAN whose generator keeps its latent codes readable.

Part of z is a categorical code (one of k classes, one-hot) and continuous
codes (uniform on [-1, 1]); the generator draws them as ``CodedGenerator``
describes. A Q head on the critic's body predicts the codes from a generated
sample, and both the generator and Q minimise the mutual-information loss

    L_I = lambda_cat CE(Q_cat(G(z)), c_cat) + lambda_cont ||Q_cont(G(z)) - c_cont||^2 / 2

(a lower bound on -I(c; G(z)) up to constants: the categorical posterior as
logits, the continuous one as a unit-variance Gaussian). The cross-entropy is
taken on Q's logits: a softmax in front of it, as in the popular PyTorch-GAN
script, squashes the gradient. Beside L_I the game is the non-saturating GAN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.losses import information_loss
from gankit.models import CriticHead, LatentCodes, QHead
from gankit.objectives.base import GRID_ROW, CriticBatch, ObjectiveParams, Recommendation, Stats, StepContext
from gankit.objectives.minimax import NonSaturatingGAN
from gankit.objectives.penalties import penalty_point_labels, penalty_points
from gankit.sampling import generate

CONTINUOUS_SWEEP = (-2.0, 2.0)  # the paper's figures go beyond the training range [-1, 1]


@dataclass
class InfoGANParams(ObjectiveParams):
    categories: int = 10  # classes of the categorical code (0: none)
    continuous: int = 2  # continuous codes
    categorical_weight: float = 1.0  # the paper's lambda for discrete codes
    continuous_weight: float = 0.1  # smaller for continuous codes, as the paper advises

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.categories < 0 or self.categories == 1:
            problems.append(f"{prefix}.categories must be 0 or >= 2, got {self.categories}: MNIST uses 10")
        if self.continuous < 0:
            problems.append(f"{prefix}.continuous must be >= 0, got {self.continuous}")
        if self.categories + self.continuous == 0:
            problems.append(f"{prefix}: InfoGAN needs at least one code: set categories or continuous above 0")
        if self.categorical_weight < 0 or self.continuous_weight < 0:
            problems.append(f"{prefix}.categorical_weight and continuous_weight must be >= 0")
        return problems


class InfoGAN(NonSaturatingGAN):
    name = "infogan"
    summary = "InfoGAN: categorical + continuous latent codes, Q head on the critic, mutual-information loss on logits"
    Params = InfoGANParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)

    @property
    def codes(self) -> LatentCodes:
        return LatentCodes(self.params.categories, self.params.continuous)

    def critic_head(self) -> CriticHead:
        return QHead(outputs=self.codes.width)

    def latent_codes(self) -> LatentCodes:
        return self.codes

    def _information(self, q_outputs: Tensor, latent: Tensor) -> tuple[Tensor, Stats]:
        category, continuous = self.codes.targets(latent)
        weights = (self.params.categorical_weight, self.params.continuous_weight)
        loss, categorical, continuous_error = information_loss(
            q_outputs, self.codes.categories, category, continuous, weights
        )
        stats = {"info_loss": loss.detach()}
        if category is not None:
            stats["code_accuracy"] = (q_outputs[:, : self.codes.categories].argmax(1) == category).float().mean()
            # The paper's lower bound on I(c; G(z)) for a uniform categorical c: H(c) - CE = log k - CE.
            stats["mutual_information_bound"] = math.log(self.codes.categories) - categorical.detach()
        if self.codes.continuous:
            stats["code_error"] = continuous_error.detach()
        return loss, stats

    def score_critic(
        self, critic: nn.Module, batch: CriticBatch, ctx: StepContext | None = None, link=None
    ) -> tuple[Tensor, Stats]:
        # Q is trained with the critic (it shares its body), on the generated half only, so the generated
        # samples take the forward that also reads Q.
        if batch.latent is None:
            raise ValueError("InfoGAN's critic step needs the latent codes behind the generated batch")
        ctx = ctx if ctx is not None else StepContext()
        real_scores = critic(batch.real, batch.real_labels).float()
        fake_scores, q_outputs = critic.score_and_codes(batch.fake, batch.fake_labels)
        fake_scores = fake_scores.float()
        gan_loss = (link or self.critic_link)(real_scores, fake_scores)
        info, info_stats = self._information(q_outputs, batch.latent)
        loss = gan_loss + info
        stats: Stats = {}
        if self.penalty_due():
            kind = self.params.penalty.points
            points = penalty_points(kind, batch.real, batch.fake, ctx.shard).requires_grad_(True)
            labels = penalty_point_labels(kind, batch.real_labels, batch.fake_labels) if critic.conditional else None
            penalty, norms = self._penalty(critic(points, labels).float(), points)
            loss = loss + penalty
            stats.update(penalty=penalty.detach(), grad_norm=norms.detach().mean())
        lecam, lecam_stats = self._lecam(real_scores, fake_scores, ctx)
        if lecam is not None:
            loss = loss + lecam
            stats.update(lecam_stats)
        stats = {"critic_loss": loss.detach(), **info_stats, **stats}
        stats.update(self.score_stats(real_scores.detach(), fake_scores.detach()))
        return loss, stats

    def score_generator(
        self, critic: nn.Module, fake: Tensor, fake_labels: Tensor | None = None, latent: Tensor | None = None
    ) -> tuple[Tensor, Stats]:
        if latent is None:
            raise ValueError("InfoGAN's generator step needs the latent codes behind the generated batch")
        scores, q_outputs = critic.score_and_codes(fake, fake_labels)
        info, info_stats = self._information(q_outputs, latent)
        loss = self.generator_link(scores.float()) + info
        return loss, {"generator_loss": loss.detach(), **{f"generator_{k}": v for k, v in info_stats.items()}}

    @torch.no_grad()
    def sample_grids(self, nets: Mapping[str, nn.Module], inputs: dict[str, Tensor | None]) -> dict[str, Tensor]:
        """One grid per code; each row keeps one z (and the other codes) fixed and varies that code.

        ``codes_categorical``: column c shows category c. ``codes_continuous_i``: the columns sweep code i
        over CONTINUOUS_SWEEP, the rows take the categories in turn, the other continuous codes stay 0.
        """
        generator, noise, labels = nets["generator"], inputs["noise"], inputs["labels"]
        codes, rows, device = self.codes, GRID_ROW, noise.device
        free = noise[:rows, : noise.shape[1] - codes.width].repeat_interleave(GRID_ROW, dim=0)
        row_labels = None if labels is None else labels[:rows].repeat_interleave(GRID_ROW)
        zeros = free.new_zeros(rows * GRID_ROW, codes.continuous)
        grids: dict[str, Tensor] = {}
        if codes.categories:
            by_column = (torch.arange(GRID_ROW, device=device) % codes.categories).repeat(rows)
            grids["codes_categorical"] = generate(generator.generator, codes.explicit_input(free, by_column, zeros), row_labels)
        by_row = (torch.arange(rows, device=device) % max(codes.categories, 1)).repeat_interleave(GRID_ROW)
        sweep = torch.linspace(*CONTINUOUS_SWEEP, GRID_ROW, device=device).repeat(rows)
        for i in range(codes.continuous):
            continuous = zeros.clone()
            continuous[:, i] = sweep
            inputs = codes.explicit_input(free, by_row if codes.categories else None, continuous)
            grids[f"codes_continuous_{i}"] = generate(generator.generator, inputs, row_labels)
        return grids
