"""The Objective interface: what a GAN system is to the training loop.

A GAN variant is not a loop. It is an objective that owns the game:

* the **networks it needs, by role**, in two optimiser sides (``Networks``):
  one generator and one critic by default; CycleGAN's two of each, BiGAN's
  encoder beside its generator are the same record with more roles;
* **what its generators consume** (``generator_input``: a declared latent);
* the **phases of a step** (``phases``): which side steps, in what order, and
  which phases draw a fresh real batch;
* **each phase's loss** (``loss``), computed from the networks, the real batch
  and a ``StepContext`` (rank-sharded noise, autocast, averaging over ranks),
  and what follows an optimiser step (``after_step``: clipping, k_t);
* its **state** (k_t, margins, image pools) as module buffers, so checkpoints
  save it, ``.to(device)`` moves it and resume restores it;
* the **regularisers every objective shares** (``ObjectiveParams``): a
  gradient-norm penalty (WGAN-GP's, WGAN-div's, R1, R2), taken on every
  critic step or lazily on every k-th, and LeCam's anchored scores, whose
  state (a critic-step counter, the anchors) is buffers like the rest;
* its recommended optimiser settings.

The loop does zero_grad, backward, gradient averaging, the optimiser step
and the objective's ``finish_phase`` (the shared regularisers' bookkeeping,
then ``after_step``); an objective never calls ``backward``.
The losses themselves are pure functions in ``gankit.losses``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses import debiased_moving_average, lecam_regularization
from gankit.models.heads import CriticHead, LatentCodes, ScoreHead
from gankit.objectives.penalties import (
    PENALTY_POINTS,
    Shard,
    gradient_norm_penalty,
    input_gradient_norms,
    penalty_point_labels,
    penalty_points,
)
from gankit.sampling import LatentInput, generate

Stats = dict[str, Tensor]
#: Samples per row of the preview and objective grids of conditional runs.
GRID_ROW = 10
#: 2-D runs are drawn as scatter plots, which need more points than an image grid.
POINTS_PER_PLOT = 1024

# The two optimiser sides: every network belongs to one, and each side has one optimiser over all its networks.
GENERATOR = "generator"
CRITIC = "critic"
SIDES = (GENERATOR, CRITIC)


@dataclass(frozen=True)
class Phase:
    """One optimiser step of a training step: which side steps, and whether it draws a fresh real batch.

    A phase that does not draw reuses the batch the step drew last (the
    generator phase after the critic phases sees the class mix of the last
    critic batch; CycleGAN's critic phase sees the images its generators just
    translated).
    """

    side: str
    fresh_batch: bool


CRITIC_PHASE = Phase(CRITIC, fresh_batch=True)
GENERATOR_PHASE = Phase(GENERATOR, fresh_batch=False)


class Networks(nn.ModuleDict):
    """A GAN system's networks by role (``generator``, ``critic``, ``g_ab``...), each on one optimiser side."""

    def __init__(self, generator_side: Mapping[str, nn.Module], critic_side: Mapping[str, nn.Module]):
        clash = set(generator_side) & set(critic_side)
        if clash:
            raise ValueError(f"a role belongs to one side only, got {sorted(clash)} on both")
        super().__init__({**generator_side, **critic_side})
        self.sides: dict[str, tuple[str, ...]] = {GENERATOR: tuple(generator_side), CRITIC: tuple(critic_side)}

    def side(self, side: str) -> list[tuple[str, nn.Module]]:
        """``(role, module)`` of one side, in declaration order."""
        return [(role, self[role]) for role in self.sides[side]]

    def side_parameters(self, side: str) -> Iterator[nn.Parameter]:
        """All parameters of one side's networks: what its optimiser steps (``itertools.chain`` of them)."""
        for _, module in self.side(side):
            yield from module.parameters()

    def side_of(self, role: str) -> str:
        return next(side for side, roles in self.sides.items() if role in roles)


@dataclass
class DomainBatch:
    """A real batch of one domain: samples and, where the data has them, class labels."""

    samples: Tensor
    labels: Tensor | None = None


@dataclass
class RealBatch:
    """One real batch of each of the data's domains (one domain, ``"data"``, for most data sets).

    ``carried`` holds what a phase leaves, detached, for the later phases that
    share this batch in the same step (CycleGAN's critics read the
    translations its generators just made). It lives and dies with the
    batch: nothing passes between steps, nothing is written onto the objective.
    """

    domains: dict[str, DomainBatch]
    carried: dict[str, Tensor] = field(default_factory=dict)

    @classmethod
    def single(cls, samples: Tensor, labels: Tensor | None = None) -> RealBatch:
        return cls({"data": DomainBatch(samples, labels)})

    def __getitem__(self, domain: str) -> DomainBatch:
        return self.domains[domain]

    @property
    def only(self) -> DomainBatch:
        if len(self.domains) != 1:
            raise ValueError(f"this batch has domains {sorted(self.domains)}: ask for one by name")
        return next(iter(self.domains.values()))

    @property
    def samples(self) -> Tensor:
        return self.only.samples

    @property
    def labels(self) -> Tensor | None:
        return self.only.labels

    def __len__(self) -> int:
        return next(iter(self.domains.values())).samples.shape[0]


def _identity(value: Tensor) -> Tensor:
    return value


@dataclass
class StepContext:
    """What a phase's loss may ask of the loop, besides the networks and the batch."""

    latent: LatentInput | None = None  # the generator input the objective declared
    step: int = 0  # the generator step being trained (0-based), for losses whose weights follow a curriculum
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # (rank, world size): random draws cover the global batch, each rank keeps its slice, so N processes
    # draw the same numbers as one.
    shard: Shard = (0, 1)
    precision: str = "fp32"
    # Real and generated samples may share one critic forward only when the critic scores each sample on its
    # own; the trainer turns this off for critics with batch statistics.
    join_critic_forwards: bool = True
    # The mean over data-parallel ranks: state that adapts during training (k_t) must move alike on each rank.
    average: Callable[[Tensor], Tensor] = _identity
    # Every rank's slices joined along dim 0, in rank order (the global batch): state built from whole
    # batches (an image pool) stays equal on every rank.
    gather: Callable[[Tensor], Tensor] = _identity

    def local_slice(self, global_batch: Tensor) -> Tensor:
        """This rank's slice of a tensor that holds the whole global batch along dim 0."""
        rank, world = self.shard
        n = global_batch.shape[0] // world
        return global_batch[rank * n:(rank + 1) * n] if world > 1 else global_batch

    def noise(self, n: int) -> Tensor:
        """``n`` latent codes: this rank's slice of the global batch's codes, so every rank's RNG stays in step."""
        if self.latent is None:
            raise ValueError("this objective declared no latent input, so it cannot draw latent noise")
        return self.local_slice(self.latent.draw(n * self.shard[1], self.device))

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")


@dataclass
class Preview:
    """What a preview grid shows: samples, samples per row (None: square), and for 2-D data the points
    they are drawn over (None: the first domain's training points)."""

    samples: Tensor
    rows: int | None = None
    reference: Tensor | None = None


@dataclass
class CriticBatch:
    """What one critic step of a one-generator game scores: real samples, generated ones and their inputs."""

    real: Tensor
    fake: Tensor
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None
    latent: Tensor | None = None  # the z behind ``fake`` (InfoGAN reads its codes back)


@dataclass(frozen=True)
class Penalty:
    """The gradient-norm penalty a run takes: ``weight * E_{x~r}[|(||grad D(x)|| - target)|^power]``, r = ``points``."""

    weight: float
    target: float
    power: float
    points: str


# The keys that spell the penalty out, which r1_gamma and r2_gamma set in one go.
PENALTY_KEYS = ("penalty_weight", "penalty_target", "penalty_power", "penalty_points")


@dataclass
class ObjectiveParams:
    """Parameters every objective accepts: a gradient-norm penalty and LeCam's regulariser, both off by default.

    The penalty is ``penalty_weight * E_{x~r}[|(||grad D(x)|| - penalty_target)|^penalty_power]``
    with r(x) named by ``penalty_points``; a weight of 0 turns it off. It is
    shared by all objectives so that, say, an LSGAN with a gradient penalty
    needs no new code. ``r1_gamma`` and ``r2_gamma`` are Mescheder et al.'s
    (2018) R1 and R2 by their paper's name: ``gamma/2 E||grad D(x)||^2`` at
    real (R1) or generated (R2) samples, i.e. weight gamma/2, target 0, power
    2, points ``real`` or ``fake`` of the same penalty (they replace the
    objective's own, e.g. WGAN-GP's). ``penalty_every`` k > 1 is StyleGAN2's
    lazy regularisation: the penalty is taken on every k-th critic step only,
    k times as heavy (critic steps are counted, not generator steps, so
    n_critic > 1 changes nothing about it).

    ``lecam_weight`` > 0 adds Tseng et al.'s (2021) LeCam regulariser to the
    critic's loss: ``lecam_weight * (E (D(x) - alpha_F)^2 + E (D(G(z)) - alpha_R)^2)``,
    alpha_R and alpha_F the zero-debiased moving averages (``lecam_decay``)
    of the critic's mean score on real and generated samples, updated with
    each critic step's batch before the regulariser reads them (as the
    authors' code does). ``lecam_one_sided`` is the form of the authors' code
    (``relu`` of each gap before squaring); the default is the paper's Eq. 3.
    """

    penalty_weight: float = 0.0
    penalty_target: float = 1.0
    penalty_power: float = 2.0
    penalty_points: str = "real-fake"
    r1_gamma: float = 0.0
    r2_gamma: float = 0.0
    penalty_every: int = 1
    lecam_weight: float = 0.0
    lecam_decay: float = 0.99
    lecam_one_sided: bool = False

    @property
    def penalty(self) -> Penalty:
        """The penalty these settings ask for (weight 0: none)."""
        if self.r1_gamma > 0:
            return Penalty(self.r1_gamma / 2, 0.0, 2.0, "real")
        if self.r2_gamma > 0:
            return Penalty(self.r2_gamma / 2, 0.0, 2.0, "fake")
        return Penalty(self.penalty_weight, self.penalty_target, self.penalty_power, self.penalty_points)

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
        for key in ("r1_gamma", "r2_gamma"):
            if getattr(self, key) < 0:
                problems.append(f"{prefix}.{key} must be >= 0 (0 turns it off), got {getattr(self, key)}")
        if self.r1_gamma > 0 and self.r2_gamma > 0:
            problems.append(
                f"{prefix}.r1_gamma and {prefix}.r2_gamma are both set, but a run takes one penalty: set one of "
                "them to 0 (Mescheder et al. recommend R1, at the real samples)"
            )
        elif self.r1_gamma > 0 or self.r2_gamma > 0:
            key = "r1_gamma" if self.r1_gamma > 0 else "r2_gamma"
            defaults = type(self)()
            # The objective's own penalty is replaced; a penalty key set by hand as well is ambiguous.
            clash = [k for k in PENALTY_KEYS if getattr(self, k) != getattr(defaults, k)
                     and not (k == "penalty_weight" and self.penalty_weight == 0)]
            if clash:
                problems.append(
                    f"{prefix}.{key} sets the penalty itself (gamma/2 E||grad D||^2 at the "
                    f"{'real' if key == 'r1_gamma' else 'generated'} samples), so {prefix}.{clash[0]} cannot be "
                    f"set beside it: drop {prefix}.{clash[0]}, or drop {key} and spell the penalty out with "
                    f"{', '.join(PENALTY_KEYS)}"
                )
        if self.penalty_every < 1:
            problems.append(
                f"{prefix}.penalty_every must be >= 1, got {self.penalty_every}: 1 takes the penalty on every "
                "critic step, k on every k-th at k times the weight (StyleGAN2 uses 16 for R1)"
            )
        if self.lecam_weight < 0:
            problems.append(f"{prefix}.lecam_weight must be >= 0 (0 turns LeCam off), got {self.lecam_weight}")
        if not 0 <= self.lecam_decay < 1:
            problems.append(f"{prefix}.lecam_decay must be in [0, 1), got {self.lecam_decay}: the paper uses 0.99")
        return problems


@dataclass(frozen=True)
class Recommendation:
    """Optimiser settings and critic steps an objective's paper recommends."""

    optimizer: str
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1


class Objective(nn.Module):
    """Base class: the one-generator, one-critic game, scored by two link functions.

    A subclass of this shape sets ``name``, ``summary``, ``Params``,
    ``recommended`` and ``critic_link``/``generator_link``; a GAN with other
    networks overrides ``build_networks``, ``phases``, ``loss`` and the
    preview hooks instead.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[ObjectiveParams]] = ObjectiveParams
    recommended: ClassVar[Recommendation]
    #: The statistics the progress bar shows.
    headline: ClassVar[tuple[str, ...]] = ("critic_loss", "generator_loss")
    #: For the live alarms (training/alarms.py): the statistic that is the critic side's loss, and the one that
    #: estimates a Wasserstein distance (None unless the critic's score gap means W, so a negative one is wrong).
    critic_loss_stat: ClassVar[str | None] = "critic_loss"
    w_estimate_stat: ClassVar[str | None] = None
    #: What evaluation measures: "samples" of a latent generator, or "translations" between two domains.
    evaluates: ClassVar[str] = "samples"
    #: Whether the ``critic`` role scores a sample alone (so 2-D runs can draw its value surface).
    critic_scores_samples: ClassVar[bool] = True
    #: Whether the critic step scores through ``score_critic`` (or reads ``_lecam`` itself), so LeCam applies.
    supports_lecam: ClassVar[bool] = True
    #: Whether the networks come from ``model.arch`` (False: the objective builds its own, whatever the arch says).
    uses_model_arch: ClassVar[bool] = True
    #: Buffers of the shared regularisers, present only while a setting turns them on: a checkpoint may lack
    #: them (written before they existed, or by a run without them) or hold them for a run that has none.
    OPTIONAL_STATE: ClassVar[tuple[str, ...]] = ("critic_updates", "lecam_anchors", "lecam_updates")

    def __init__(self, params: ObjectiveParams | None = None):
        super().__init__()
        self.params = params if params is not None else self.Params()
        # Lazy regularisation counts critic steps: state, so a resumed run takes the penalty on the same steps.
        # The Python copy decides each step without reading the device (no host sync per step).
        self._critic_updates = 0
        if self.params.penalty_every > 1:
            self.register_buffer("critic_updates", torch.zeros((), dtype=torch.long))
        if self.params.lecam_weight > 0:
            # (alpha_R, alpha_F): the moving averages of the mean real and generated scores, and how many
            # critic steps they have seen (the zero-debiasing reads it).
            self.register_buffer("lecam_anchors", torch.zeros(2))
            self.register_buffer("lecam_updates", torch.zeros((), dtype=torch.long))

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict``, where the shared regularisers' optional state may be missing or extra.

        A run that gains lazy regularisation or LeCam on a checkpoint without
        their state starts it afresh (counter 0, anchors from the next batch);
        state for a regulariser this run does not use is dropped. Everything
        else loads strictly.
        """
        state = OrderedDict(state_dict)
        metadata = getattr(state_dict, "_metadata", None)
        if metadata is not None:
            state._metadata = metadata  # type: ignore[attr-defined]
        own = dict(self.named_buffers())
        for key in self.OPTIONAL_STATE:
            if key in own and key not in state:
                state[key] = own[key].clone()
            elif key in state and key not in own:
                del state[key]
        result = super().load_state_dict(state, strict=strict, assign=assign)
        if "critic_updates" in own:
            self._critic_updates = int(self.critic_updates)
        return result

    # -- the networks and what they consume -------------------------------------
    def critic_head(self) -> CriticHead:
        """The critic this objective needs: a plain score by default."""
        return ScoreHead()

    def latent_codes(self) -> LatentCodes | None:
        """Structured codes the generator's latent carries (InfoGAN), or None."""
        return None

    def generator_input(self, latent_dim: int) -> LatentInput | None:
        """What the generator consumes: standard normal codes of ``model.latent_dim`` by default."""
        return LatentInput(latent_dim)

    def build_networks(self, build) -> Networks:
        """The networks by role; ``build`` is a ``gankit.models.NetworkBuilder`` for the run's model and data."""
        if len(build.domain_shapes) > 1:
            raise ConfigError(
                f"objective {self.name} learns one data set, but the data has domains "
                f"{', '.join(build.domain_shapes)}: use a translation objective (cyclegan) for a pair A:B, "
                "or set data.name to one data set"
            )
        return Networks(
            {"generator": build.generator(codes=self.latent_codes())},
            {"critic": build.critic(head=self.critic_head())},
        )

    def attach_data(self, dataset) -> None:
        """Called by the trainer with the training data (on the device) before the first step.

        For objectives whose losses read the data's structure beyond a batch
        (IRGAN's and BPR's per-user training positives); it is static data, not
        state, so it stays out of checkpoints. The default needs nothing.
        """

    # -- the phases of a step ------------------------------------------------------
    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        """The phases of generator step ``step``: ``critic_steps`` critic phases (the n_critic schedule), each
        on a fresh batch, then the generator's."""
        return [CRITIC_PHASE] * critic_steps + [GENERATOR_PHASE]

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        """The loss the ``side`` phase minimises, and its statistics (detached, on the device)."""
        if side == CRITIC:
            return self.critic_loss(nets, batch, ctx)
        return self.generator_loss(nets, batch, ctx)

    def finish_phase(self, side: str, nets: Networks, stats: Stats, ctx: StepContext) -> None:
        """What the loop calls after each optimiser step: the shared regularisers' state, then ``after_step``."""
        if side == CRITIC:
            self._record_critic_step(stats)
        self.after_step(side, nets, stats, ctx)

    @torch.no_grad()
    def _record_critic_step(self, stats: Stats) -> None:
        """Count the critic step (lazy penalty) and keep the LeCam anchors it computed."""
        if self.params.penalty_every > 1:
            self._critic_updates += 1
            self.critic_updates.fill_(self._critic_updates)
        if self.params.lecam_weight > 0 and "lecam_anchor_real" in stats:
            self.lecam_anchors.copy_(torch.stack([stats["lecam_anchor_real"], stats["lecam_anchor_fake"]]))
            self.lecam_updates.add_(1)

    def after_step(self, side: str, nets: Networks, stats: Stats, ctx: StepContext) -> None:
        """Called after each optimiser step of ``side``, with that phase's statistics."""
        if side == CRITIC:
            self.after_critic_step(nets["critic"], stats, ctx)

    @property
    def uses_penalty(self) -> bool:
        """Whether the run takes a gradient-norm penalty at all (on some critic steps at least)."""
        return self.params.penalty.weight > 0

    def penalty_due(self) -> bool:
        """Whether this critic step takes the penalty: each one, or with ``penalty_every`` k each k-th (the first,
        the (k+1)-th...)."""
        return self.uses_penalty and self._critic_updates % self.params.penalty_every == 0

    # -- the one-generator game ----------------------------------------------------
    def critic_loss(self, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        latent = ctx.noise(len(batch))
        with torch.no_grad():
            fake = nets["generator"](latent, batch.labels)
        # Generated samples enter the critic in float32, like the real ones, so that the penalty's
        # interpolates mix two float32 tensors.
        scored = CriticBatch(batch.samples, fake.float(), batch.labels, batch.labels, latent)
        return self.score_critic(nets["critic"], scored, ctx)

    def generator_loss(self, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        # A conditional generator draws the class mix of the step's real batch.
        latent = ctx.noise(len(batch))
        fake = nets["generator"](latent, batch.labels)
        return self.score_generator(nets["critic"], fake, batch.labels, latent)

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The critic's loss from its raw scores on real and generated samples."""
        raise NotImplementedError

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        """The generator's loss from the critic's raw scores on generated samples."""
        raise NotImplementedError

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        """Extra statistics of the scores worth logging (detached)."""
        return {}

    def score_critic(
        self, critic: nn.Module, batch: CriticBatch, ctx: StepContext | None = None,
        link: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> tuple[Tensor, Stats]:
        """The critic's loss on a scored batch: ``link`` (default ``critic_link``) plus the shared penalty."""
        ctx = ctx if ctx is not None else StepContext()
        link = link if link is not None else self.critic_link
        parts = [batch.real, batch.fake]
        labels = [batch.real_labels, batch.fake_labels]
        points = None
        if self.penalty_due():
            kind = self.params.penalty.points
            points = penalty_points(kind, batch.real, batch.fake, ctx.shard)
            points.requires_grad_(True)
            parts.append(points)
            # Only a conditional critic reads the points' labels.
            conditional = getattr(critic, "conditional", False)
            labels.append(penalty_point_labels(kind, batch.real_labels, batch.fake_labels) if conditional else None)
        scores = critic_scores(critic, parts, labels, fused=ctx.join_critic_forwards)
        real_scores, fake_scores = scores[0], scores[1]
        loss = link(real_scores, fake_scores)
        stats: Stats = {}
        if points is not None:
            penalty, norms = self._penalty(scores[2], points)
            loss = loss + penalty
            stats["penalty"] = penalty.detach()
            stats["grad_norm"] = norms.detach().mean()
        lecam, lecam_stats = self._lecam(real_scores, fake_scores, ctx)
        if lecam is not None:
            loss = loss + lecam
            stats.update(lecam_stats)
        stats = {"critic_loss": loss.detach(), **stats}
        stats.update(self.score_stats(real_scores.detach(), fake_scores.detach()))
        return loss, stats

    def _penalty(self, point_scores: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
        """The penalty at ``points`` from the critic's scores on them, and the gradient norms."""
        norms = input_gradient_norms(point_scores, points)
        return self.penalty_of(norms), norms

    def penalty_of(self, norms: Tensor) -> Tensor:
        """The penalty of these gradient norms, through the one shared ``gradient_norm_penalty``.

        Taken lazily (every k-th critic step), it weighs k times as much, so that
        on average it weighs what it would on every step (StyleGAN2).
        """
        spec = self.params.penalty
        return gradient_norm_penalty(norms, spec.weight * self.params.penalty_every, spec.target, spec.power)

    def _lecam(self, real_scores: Tensor, fake_scores: Tensor, ctx: StepContext) -> tuple[Tensor | None, Stats]:
        """LeCam's weighted regulariser on this critic step's scores and its statistics, or (None, {}) when off.

        The anchors are updated with this step's mean scores, averaged over the
        data-parallel ranks (the mean of equal slices is the global batch's
        mean, so every rank holds the same anchors), and the regulariser reads
        the updated ones. They are kept (``finish_phase``) from the statistics
        ``lecam_anchor_real`` and ``lecam_anchor_fake``.
        """
        p = self.params
        if p.lecam_weight <= 0:
            return None, {}
        means = ctx.average(torch.stack([real_scores.detach().mean(), fake_scores.detach().mean()]))
        anchors = debiased_moving_average(self.lecam_anchors, means, p.lecam_decay, self.lecam_updates + 1)
        regulariser = lecam_regularization(real_scores, fake_scores, anchors[0], anchors[1], p.lecam_one_sided)
        term = p.lecam_weight * regulariser
        return term, {"lecam": term.detach(), "lecam_anchor_real": anchors[0], "lecam_anchor_fake": anchors[1]}

    def score_generator(
        self, critic: nn.Module, fake: Tensor, fake_labels: Tensor | None = None, latent: Tensor | None = None
    ) -> tuple[Tensor, Stats]:
        """The generator's loss on generated samples (with grad)."""
        loss = self.generator_link(critic(fake, fake_labels).float())
        return loss, {"generator_loss": loss.detach()}

    def after_critic_step(self, critic: nn.Module, stats: Stats, ctx: StepContext) -> None:
        """A constraint applied after each critic optimiser step (e.g. clipping), or a state update."""

    # -- what the run shows ----------------------------------------------------------
    def preview_inputs(self, nets: Networks, dataset, ctx: StepContext, seed: int, grid_size: int) -> dict[str, Tensor | None]:
        """The fixed inputs of the sample grids drawn during training (saved in checkpoints).

        2-D data get a scatter plot's worth of points; a conditional image
        model's grid has one class per row, GRID_ROW samples each.
        """
        generator = nets["generator"]
        classes = dataset.num_classes
        if dataset.kind == "points":
            n = POINTS_PER_PLOT
        elif generator.conditional:
            n = classes * GRID_ROW
        else:
            n = grid_size
        noise = ctx.latent.draw(n, ctx.device, seed=seed)
        if not classes:
            labels = None
        elif generator.conditional and dataset.kind != "points":
            labels = torch.arange(classes, device=ctx.device).repeat_interleave(GRID_ROW)
        else:
            labels = torch.arange(n, device=ctx.device) % classes
        return {"noise": noise, "labels": labels}

    def preview(self, nets: Mapping[str, nn.Module], inputs: dict[str, Tensor | None]) -> Preview:
        """What the preview grid of these fixed inputs shows."""
        generator = nets["generator"]
        samples = generate(generator, inputs["noise"], inputs["labels"])
        return Preview(samples, GRID_ROW if generator.conditional else None)

    def sample_grids(self, nets: Mapping[str, nn.Module], inputs: dict[str, Tensor | None]) -> dict[str, Tensor]:
        """Extra sample grids this objective's runs should show, by file stem, e.g. InfoGAN's code sweeps.

        Each value is a batch of samples meant to be drawn as rows of ``GRID_ROW`` samples.
        """
        return {}


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
