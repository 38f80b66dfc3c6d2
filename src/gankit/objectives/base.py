"""The Objective interface: what a GAN variant is to the training loop.

A variant is not a loop. It is a pair of losses the loop calls, an optional
constraint applied after each critic step, optional state saved in
checkpoints, and its recommended optimiser settings. The loop never asks
which variant it runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import Tensor, nn

from gankit.models.heads import CriticHead, LatentCodes, ScoreHead
from gankit.objectives.penalties import (
    PENALTY_POINTS,
    gradient_norm_penalty,
    input_gradient_norms,
    penalty_point_labels,
    penalty_points,
)

Stats = dict[str, Tensor]
#: Samples per row of the grids ``Objective.sample_grids`` returns.
GRID_ROW = 10


@dataclass
class ObjectiveParams:
    """Parameters every objective accepts: an optional gradient-norm penalty.

    The penalty is ``penalty_weight * E_{x~r}[|(||grad D(x)|| - penalty_target)|^penalty_power]``
    with r(x) named by ``penalty_points``; a weight of 0 turns it off. It is
    shared by all objectives so that, say, an LSGAN with a gradient penalty
    needs no new code.
    """

    penalty_weight: float = 0.0
    penalty_target: float = 1.0
    penalty_power: float = 2.0
    penalty_points: str = "real-fake"

    def validate(self, prefix: str) -> list[str]:
        """Problems with the values, each as '<key>: <what is wrong and the fix>'."""
        problems = []
        if self.penalty_weight < 0:
            problems.append(f"{prefix}.penalty_weight must be >= 0, got {self.penalty_weight}")
        if self.penalty_power < 1:
            problems.append(f"{prefix}.penalty_power must be >= 1, got {self.penalty_power}")
        if self.penalty_points not in PENALTY_POINTS:
            choices = ", ".join(PENALTY_POINTS)
            problems.append(f"{prefix}.penalty_points must be one of {choices}, got '{self.penalty_points}'")
        return problems


@dataclass(frozen=True)
class Recommendation:
    """Optimiser settings and critic steps an objective's paper recommends."""

    optimizer: str
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1


@dataclass
class CriticBatch:
    """What one critic step sees: a real batch, a generated batch and the latent codes that made it."""

    real: Tensor
    fake: Tensor
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None
    latent: Tensor | None = None  # the z behind ``fake`` (InfoGAN reads its codes back)


def _identity(value: Tensor) -> Tensor:
    return value


class Objective:
    """Base class. Subclasses set ``name``, ``Params``, ``recommended`` and the two link functions."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[ObjectiveParams]] = ObjectiveParams
    recommended: ClassVar[Recommendation]
    #: True where the critic's mean score gap estimates the Wasserstein-1 distance.
    estimates_wasserstein: ClassVar[bool] = False

    def __init__(self, params: ObjectiveParams | None = None, fused_critic_forward: bool = True):
        self.params = params if params is not None else self.Params()
        # One critic forward over [real, fake] is cheaper than two, but only
        # correct when the critic scores each sample on its own; the trainer
        # turns it off for critics with batch statistics.
        self.fused_critic_forward = fused_critic_forward
        # (rank, world size): set by a data-parallel trainer so that random draws cover the global batch.
        self.shard: tuple[int, int] = (0, 1)
        # Averages a tensor over data-parallel ranks (set by the trainer): state that adapts during
        # training (BEGAN's k_t) must move the same way on every rank.
        self.average: Callable[[Tensor], Tensor] = _identity

    # -- what the networks must be --------------------------------------------
    def critic_head(self) -> CriticHead:
        """The critic this objective needs: a plain score by default."""
        return ScoreHead()

    def latent_codes(self) -> LatentCodes | None:
        """Structured codes the generator's latent carries (InfoGAN), or None."""
        return None

    # -- what subclasses define -------------------------------------------------
    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The critic's loss from its raw scores on real and generated samples."""
        raise NotImplementedError

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        """The generator's loss from the critic's raw scores on generated samples."""
        raise NotImplementedError

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        """Extra statistics of the scores worth logging (detached)."""
        return {}

    # -- what the loop calls ----------------------------------------------------
    @property
    def uses_penalty(self) -> bool:
        return self.params.penalty_weight > 0

    def critic_loss(self, critic: nn.Module, batch: CriticBatch) -> tuple[Tensor, Stats]:
        parts = [batch.real, batch.fake]
        labels = [batch.real_labels, batch.fake_labels]
        points = None
        if self.uses_penalty:
            kind = self.params.penalty_points
            points = penalty_points(kind, batch.real, batch.fake, self.shard)
            points.requires_grad_(True)
            parts.append(points)
            # Only a conditional critic reads the points' labels.
            conditional = getattr(critic, "conditional", False)
            labels.append(penalty_point_labels(kind, batch.real_labels, batch.fake_labels) if conditional else None)
        scores = critic_scores(critic, parts, labels, fused=self.fused_critic_forward)
        real_scores, fake_scores = scores[0], scores[1]
        loss = self.critic_link(real_scores, fake_scores)
        stats: Stats = {"critic_loss": loss.detach()}
        if points is not None:
            norms = input_gradient_norms(scores[2], points)
            p = self.params
            penalty = gradient_norm_penalty(norms, p.penalty_weight, p.penalty_target, p.penalty_power)
            loss = loss + penalty
            stats["critic_loss"] = loss.detach()
            stats["penalty"] = penalty.detach()
            stats["grad_norm"] = norms.detach().mean()
        stats.update(self.score_stats(real_scores.detach(), fake_scores.detach()))
        return loss, stats

    def generator_loss(
        self, critic: nn.Module, fake: Tensor, fake_labels: Tensor | None = None, latent: Tensor | None = None
    ) -> tuple[Tensor, Stats]:
        loss = self.generator_link(critic(fake, fake_labels).float())
        return loss, {"generator_loss": loss.detach()}

    def after_critic_step(self, critic: nn.Module) -> None:
        """A constraint applied after each critic optimiser step (e.g. clipping), or a state update."""

    def sample_grids(self, generator: nn.Module, noise: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """Extra sample grids this objective's runs should show, by file stem, e.g. InfoGAN's code sweeps.

        Each value is a batch of samples meant to be drawn as rows of ``GRID_ROW`` samples.
        """
        return {}

    def state_dict(self) -> dict[str, Tensor]:
        """Tensors the objective adapts during training (BEGAN's k_t...)."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state:
            raise ValueError(f"objective {self.name} keeps no state, got keys {sorted(state)}")


def critic_scores(
    critic: nn.Module, parts: list[Tensor], labels: list[Tensor | None], fused: bool
) -> list[Tensor]:
    """The critic's scores on each part in float32; with ``fused``, real and fake share one forward.

    Joining is only for the parts that need no input gradient (real and
    generated samples): one forward and one weight-gradient matmul over 2B
    rows is cheaper than two over B. Penalty points, which require grad, keep
    their own forward: joined with the others, the penalty's input gradient
    and its double backward would run over the whole 3B-row batch. Measured
    on 2 CPU cores (wgan-gp, generator steps/s): MLP 6.7 separate, 7.1 real
    and fake joined, 6.2 all three joined; DCGAN 3.3 / 3.1-3.6 / 2.3-2.8.

    Under bf16 autocast the critic returns bf16 scores; the losses and the
    penalty are computed from float32 copies, so only the network runs in bf16.
    """
    scores: list[Tensor | None] = [None] * len(parts)
    joinable = [i for i, x in enumerate(parts) if not x.requires_grad]
    joined_labels = [labels[i] for i in joinable]
    # Parts with and without labels cannot share a forward (a conditional critic needs every label).
    same_conditioning = all(y is None for y in joined_labels) or all(y is not None for y in joined_labels)
    if fused and len(joinable) > 1 and same_conditioning:
        y = torch.cat(joined_labels) if joined_labels[0] is not None else None
        joined = critic(torch.cat([parts[i] for i in joinable]), y).float()
        for i, part_scores in zip(joinable, joined.split([parts[i].shape[0] for i in joinable])):
            scores[i] = part_scores
    for i, (x, y) in enumerate(zip(parts, labels)):
        if scores[i] is None:
            scores[i] = critic(x, y).float()
    return scores


def params_field_names(params_type: type[ObjectiveParams]) -> list[str]:
    return [f.name for f in dataclasses.fields(params_type)]
