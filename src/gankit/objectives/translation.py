"""Unpaired image-to-image translation: CycleGAN (Zhu et al., 2017) and DiscoGAN (Kim et al., 2017).

Two generators map the domains to each other (``g_ab``: A -> B, ``g_ba``:
B -> A) and two critics judge them (``d_a`` on domain A, ``d_b`` on B). As
the reference code (junyanz/pytorch-CycleGAN-and-pix2pix) does, each step
trains the generators first, with the critics frozen, on

    adversarial(d_b(g_ab(a))) + adversarial(d_a(g_ba(b)))
    + lambda (|g_ba(g_ab(a)) - a| + |g_ab(g_ba(b)) - b|)             (cycle, lambda = 10)
    + 0.5 lambda (|g_ab(b) - b| + |g_ba(a) - a|)                      (identity, same channels only)

then each critic on 0.5 (real term + fake term), its fakes drawn from an image
pool of the last 50 translations (returned with probability 0.5 once full).
The adversarial loss is least squares by default, as the reference's; BCE
("gan") and Wasserstein ("wgan") are selectable, and a gradient penalty
(``penalty_weight``) is really applied to both critics, at the points
``penalty_points`` names (the reference's WGAN-GP mode computes one and never
adds it).

The paper's ablations are settings, not copies (``adversarial_weight``,
``cycle``): GAN only (cycle none), cycle only (adversarial_weight 0), GAN +
forward cycle (cycle forward: A -> B -> A only), GAN + both (the default).

DiscoGAN's paper trains each generator on its non-saturating BCE loss plus a
reconstruction loss (MSE; cosine and hinge selectable), summed over both
directions, and the critics on BCE. Its trio is a setting (``model``):
``gan`` (G_AB and D_B alone), ``recongan`` (plus G_BA reconstructing A),
``discogan`` (both directions). The official code's extras, not in the
paper, are named options, off by default: feature matching at three critic
layers (``feature_matching``), the reconstruction curriculum
(``curriculum_steps``: reconstruction weight 0.01 then 0.5, GAN and feature
terms sharing the rest), and a critic step only every third step (``critic_every``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses import (
    ADVERSARIAL_TERMS,
    cosine_reconstruction,
    hinge_reconstruction,
    l1_reconstruction,
    squared_reconstruction,
)
from gankit.objectives.base import (
    CRITIC,
    GENERATOR,
    POINTS_PER_PLOT,
    Networks,
    Objective,
    ObjectiveParams,
    Phase,
    Preview,
    RealBatch,
    Recommendation,
    Stats,
    StepContext,
)
from gankit.objectives.penalties import penalty_points

CYCLES = ("both", "forward", "backward", "none")
PREVIEW_IMAGES = 8  # test images of each domain in a preview grid


def translation_rows(rows: list[Tensor]) -> Tensor:
    """Image rows of equal length joined into one grid batch, grey rows promoted to RGB beside colour ones."""
    channels = max(r.shape[1] for r in rows)
    return torch.cat([r.expand(-1, channels, -1, -1) for r in rows])


class ImagePool(nn.Module):
    """The reference's history of generated images (Shrivastava et al.): a buffer the critic learns from.

    Until it holds ``size`` images, each new one is stored and returned; then
    each new one is, with probability 0.5, swapped for a random stored one
    (which is returned), else returned as it is. The images and the count
    are buffers, so a checkpoint saves the pool and resume restores it. The
    query runs on the global batch (every rank's slices, in rank order), so
    data-parallel ranks keep identical pools and return what one process would.
    """

    def __init__(self, size: int, sample_shape: tuple[int, ...]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *sample_shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        # Drawn for every image whatever the pool holds, so the random stream does not depend on the fill.
        swap = (torch.rand(len(images), device=images.device) > 0.5).tolist()
        slots = torch.randint(self.size, (len(images),), device=images.device).tolist()
        count = int(self.count)
        returned = []
        for image, swaps, slot in zip(images, swap, slots):
            if count < self.size:
                self.images[count] = image
                count += 1
                returned.append(image)
            elif swaps:
                returned.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                returned.append(image)
        self.count.fill_(count)
        return torch.stack(returned)


@dataclass
class CycleGANParams(ObjectiveParams):
    adversarial: str = "lsgan"  # lsgan (the reference's default) | gan (BCE, non-saturating) | wgan
    adversarial_weight: float = 1.0  # 0: the paper's "cycle alone" ablation
    cycle_weight: float = 10.0  # lambda
    cycle: str = "both"  # both | forward (A -> B -> A only) | backward | none ("GAN alone")
    identity_weight: float = 0.5  # times lambda; 0 turns the identity loss off
    pool_size: int = 50

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.adversarial not in ADVERSARIAL_TERMS:
            problems.append(f"{prefix}.adversarial must be one of {', '.join(ADVERSARIAL_TERMS)}, got '{self.adversarial}'")
        if self.cycle not in CYCLES:
            problems.append(f"{prefix}.cycle must be one of {', '.join(CYCLES)}, got '{self.cycle}'")
        for key in ("adversarial_weight", "cycle_weight", "identity_weight"):
            if getattr(self, key) < 0:
                problems.append(f"{prefix}.{key} must be >= 0, got {getattr(self, key)}")
        if self.pool_size < 0:
            problems.append(f"{prefix}.pool_size must be >= 0, got {self.pool_size}: the reference keeps 50")
        if self.penalty.points not in ("real-fake", "real", "fake", "mixed"):
            problems.append(f"{prefix}.penalty_points must be real-fake, real, fake or mixed for cyclegan")
        return problems


class TranslationObjective(Objective):
    """What CycleGAN and DiscoGAN share: two translators and two critics between domains A and B."""

    evaluates = "translations"
    supports_lecam = False  # two critics, each scored in the objective's own loss

    def generator_input(self, latent_dim: int):
        return None  # the generators read samples of the other domain

    def domain_shapes(self, build) -> tuple[tuple[int, ...], tuple[int, ...]]:
        shapes = build.domain_shapes
        if set(shapes) != {"A", "B"}:
            raise ConfigError(
                f"{self.name} translates between two domains, but the data has {', '.join(shapes)}: "
                "set data.name to a pair A:B, e.g. mnist:mnist-inverted or ./photos:./paintings"
            )
        return shapes["A"], shapes["B"]

    def translation_networks(self, build, a: tuple[int, ...], b: tuple[int, ...]) -> Networks:
        return Networks(
            {"g_ab": build.translator(a, b), "g_ba": build.translator(b, a)},
            {"d_a": build.domain_critic(a), "d_b": build.domain_critic(b)},
        )

    def after_step(self, side: str, nets: Networks, stats: Stats, ctx: StepContext) -> None:
        """No constraint and no adaptive state (CycleGAN's pools are updated when queried)."""

    def preview_inputs(self, nets, dataset, ctx: StepContext, seed: int, grid_size: int) -> dict[str, Tensor | None]:
        """Fixed held-out samples of each domain (the first of each test split)."""
        inputs = {}
        for name in ("A", "B"):
            source = dataset.test_domains.get(name) or dataset.domains[name]
            n = min(len(source), PREVIEW_IMAGES if dataset.kind == "images" else POINTS_PER_PLOT)
            inputs[name], _ = source.batch(torch.arange(n, device=ctx.device))
        return inputs

    @torch.no_grad()
    def preview(self, nets: Mapping[str, nn.Module], inputs: dict[str, Tensor | None]) -> Preview:
        """Rows of input / translation / reconstruction for each domain; 2-D: A's points translated, over B."""
        was = {role: net.training for role, net in nets.items()}
        for net in nets.values():
            net.eval()
        try:
            a, b = inputs["A"], inputs["B"]
            if a.dim() == 2:
                return Preview(nets["g_ab"](a).float(), None, reference=b)
            rows = []
            for x, there, back in ((a, "g_ab", "g_ba"), (b, "g_ba", "g_ab")):
                translated = nets[there](x).float()
                rows.append((x, translated, nets[back](translated).float()))
            per_row = min(a.shape[0], b.shape[0])
            return Preview(translation_rows([part[:per_row] for triple in rows for part in triple]), per_row)
        finally:
            for role, net in nets.items():
                net.train(was[role])


class CycleGAN(TranslationObjective):
    name = "cyclegan"
    summary = "CycleGAN: two generators and two critics, least squares + lambda L1 cycle + identity, image pool"
    Params = CycleGANParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)
    headline = ("critic_loss", "generator_loss", "cycle_loss")

    def build_networks(self, build) -> Networks:
        a, b = self.domain_shapes(build)
        if self.params.identity_weight > 0 and a[0] != b[0]:
            raise ConfigError(
                f"the identity loss feeds each generator images of its own target domain, which needs equal "
                f"channels, but A has {a[0]} and B has {b[0]}: set objective.identity_weight=0"
            )
        self.pool_a = ImagePool(self.params.pool_size, a)
        self.pool_b = ImagePool(self.params.pool_size, b)
        return self.translation_networks(build, a, b)

    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        # The reference's order: the generators step first on a fresh batch, then the critics on the same one.
        return [Phase(GENERATOR, fresh_batch=True)] + [Phase(CRITIC, fresh_batch=False)] * critic_steps

    @property
    def uses_cycle(self) -> tuple[bool, bool]:
        """(A -> B -> A, B -> A -> B)."""
        c = self.params.cycle
        return c in ("both", "forward"), c in ("both", "backward")

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        if side == GENERATOR:
            return self._generator_loss(nets, batch)
        return self._critic_loss(nets, batch, ctx)

    def _generator_loss(self, nets: Networks, batch: RealBatch) -> tuple[Tensor, Stats]:
        a, b = batch["A"].samples, batch["B"].samples
        p = self.params
        generator_term = ADVERSARIAL_TERMS[p.adversarial][2]
        fake_b, fake_a = nets["g_ab"](a), nets["g_ba"](b)
        adversarial = generator_term(nets["d_b"](fake_b).float()) + generator_term(nets["d_a"](fake_a).float())
        forward, backward = self.uses_cycle
        zero = adversarial.new_zeros(())
        cycle_a = l1_reconstruction(a, nets["g_ba"](fake_b)) if forward else zero
        cycle_b = l1_reconstruction(b, nets["g_ab"](fake_a)) if backward else zero
        identity = zero
        if p.identity_weight > 0:
            identity = l1_reconstruction(b, nets["g_ab"](b)) + l1_reconstruction(a, nets["g_ba"](a))
        cycle = cycle_a + cycle_b
        loss = p.adversarial_weight * adversarial + p.cycle_weight * cycle + p.identity_weight * p.cycle_weight * identity
        # The critics of this step judge these translations (through the pools), as in the reference.
        batch.carried.update(fake_a=fake_a.detach().float(), fake_b=fake_b.detach().float())
        return loss, {
            "generator_loss": loss.detach(), "adversarial_loss": adversarial.detach(),
            "cycle_loss": cycle.detach(), "identity_loss": identity.detach(),
        }

    def _critic_loss(self, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        a, b = batch["A"].samples, batch["B"].samples
        if "fake_a" not in batch.carried:
            raise ValueError("cyclegan's critic phase needs the translations of a generator phase on this batch")
        if "pooled_a" not in batch.carried:
            # The pools take each translation once: with n_critic > 1 the step's later critic phases reuse what
            # the first one drew, rather than pushing the same images into the history again.
            batch.carried["pooled_a"] = ctx.local_slice(self.pool_a.query(ctx.gather(batch.carried["fake_a"])))
            batch.carried["pooled_b"] = ctx.local_slice(self.pool_b.query(ctx.gather(batch.carried["fake_b"])))
        fake_a, fake_b = batch.carried["pooled_a"], batch.carried["pooled_b"]
        stats: Stats = {}
        total = a.new_zeros(())
        for name, critic, real, fake in (("a", nets["d_a"], a, fake_a), ("b", nets["d_b"], b, fake_b)):
            loss, part = self._one_critic(critic, real, fake, ctx)
            total = total + loss
            stats.update({f"{key}_{name}": value for key, value in part.items()})
        stats["critic_loss"] = total.detach()
        return total, stats

    def _one_critic(self, critic: nn.Module, real: Tensor, fake: Tensor, ctx: StepContext) -> tuple[Tensor, Stats]:
        real_term, fake_term, _ = ADVERSARIAL_TERMS[self.params.adversarial]
        real_scores, fake_scores = critic(real).float(), critic(fake).float()
        loss = 0.5 * (real_term(real_scores) + fake_term(fake_scores))
        stats: Stats = {"critic_loss": loss.detach(), "d_real": real_scores.detach().mean(), "d_fake": fake_scores.detach().mean()}
        if self.penalty_due():
            points = penalty_points(self.params.penalty.points, real, fake, ctx.shard).requires_grad_(True)
            # A PatchGAN scores each patch: the penalty is on the gradient of the patches' sum.
            penalty, norms = self._penalty(critic(points).float().reshape(len(points), -1).sum(1), points)
            loss = loss + penalty
            stats.update(penalty=penalty.detach(), grad_norm=norms.detach().mean())
        return loss, stats


RECONSTRUCTIONS = {"mse": squared_reconstruction, "cosine": cosine_reconstruction, "hinge": hinge_reconstruction}
DISCOGAN_MODELS = ("discogan", "recongan", "gan")
# The official code's curriculum: reconstruction weighs 0.01 until curriculum_steps, then 0.5.
CURRICULUM_RATES = (0.01, 0.5)
FEATURE_MATCHING_LAYERS = 3
FEATURE_MATCHING_SHARE = 0.9  # the official code: 0.9 feature matching, 0.1 GAN loss


@dataclass
class DiscoGANParams(ObjectiveParams):
    model: str = "discogan"  # discogan (both directions) | recongan (A -> B -> A only) | gan (G_AB, D_B alone)
    reconstruction: str = "mse"  # the paper's distance; cosine and hinge selectable
    # The official code's extras (not in the paper), off by default:
    feature_matching: bool = False  # match the critic's mean activations at its last three layers
    curriculum_steps: int = 0  # > 0: reconstruction weight 0.01 until this step, then 0.5 (GAN the rest)
    critic_every: int = 1  # 3: the critics step only every third generator step

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.model not in DISCOGAN_MODELS:
            problems.append(f"{prefix}.model must be one of {', '.join(DISCOGAN_MODELS)}, got '{self.model}'")
        if self.reconstruction not in RECONSTRUCTIONS:
            problems.append(f"{prefix}.reconstruction must be one of {', '.join(RECONSTRUCTIONS)}, got '{self.reconstruction}'")
        if self.curriculum_steps < 0 or self.critic_every < 1:
            problems.append(f"{prefix}.curriculum_steps must be >= 0 and critic_every >= 1")
        if self.penalty.weight > 0:
            key = "r1_gamma" if self.r1_gamma > 0 else "r2_gamma" if self.r2_gamma > 0 else "penalty_weight"
            problems.append(f"{prefix}.{key} must be 0 for discogan: its critics are the paper's BCE critics")
        return problems


def critic_activations(critic: nn.Module, x: Tensor, layers: int = FEATURE_MATCHING_LAYERS) -> list[Tensor]:
    """The outputs of the critic's last ``layers`` LeakyReLUs on ``x`` (what feature matching compares)."""
    captured: list[Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: captured.append(out))
             for m in critic.modules() if isinstance(m, nn.LeakyReLU)]
    try:
        critic(x)
    finally:
        for hook in hooks:
            hook.remove()
    return captured[-layers:]


class DiscoGAN(TranslationObjective):
    name = "discogan"
    summary = "DiscoGAN: two generators and two BCE critics, non-saturating GAN + MSE reconstruction in both directions"
    Params = DiscoGANParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)
    headline = ("critic_loss", "generator_loss", "reconstruction_loss")

    def build_networks(self, build) -> Networks:
        return self.translation_networks(build, *self.domain_shapes(build))

    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        # Generators first on a fresh batch, then (every critic_every steps) the critics on the same batch.
        critics = critic_steps if step % self.params.critic_every == 0 else 0
        return [Phase(GENERATOR, fresh_batch=True)] + [Phase(CRITIC, fresh_batch=False)] * critics

    @property
    def directions(self) -> tuple[bool, bool]:
        """(A -> B trained with D_B, B -> A trained with D_A) adversarially, as the paper's trio asks."""
        return True, self.params.model == "discogan"

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        a, b = batch["A"].samples, batch["B"].samples
        if side == GENERATOR:
            return self._generator_loss(nets, batch, ctx)
        if "fake_b" not in batch.carried:
            raise ValueError("discogan's critic phase needs the translations of a generator phase on this batch")
        fake_b, fake_a = batch.carried["fake_b"], batch.carried.get("fake_a")
        real_term, fake_term, _ = ADVERSARIAL_TERMS["gan"]
        loss_b = real_term(nets["d_b"](b).float()) + fake_term(nets["d_b"](fake_b).float())
        stats: Stats = {"critic_loss_b": loss_b.detach()}
        loss = loss_b
        if fake_a is not None:
            loss_a = real_term(nets["d_a"](a).float()) + fake_term(nets["d_a"](fake_a).float())
            stats["critic_loss_a"] = loss_a.detach()
            loss = loss + loss_a
        stats["critic_loss"] = loss.detach()
        return loss, stats

    def _generator_loss(self, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        p = self.params
        a, b = batch["A"].samples, batch["B"].samples
        distance = RECONSTRUCTIONS[p.reconstruction]
        _, backward_gan = self.directions
        rate = None
        if p.curriculum_steps:
            rate = CURRICULUM_RATES[0] if ctx.step < p.curriculum_steps else CURRICULUM_RATES[1]
        gan_terms, reconstruction = [], a.new_zeros(())
        fake_b = nets["g_ab"](a)
        gan_terms.append(self._generator_gan(nets["d_b"], b, fake_b))
        if p.model != "gan":
            reconstruction = reconstruction + distance(a, nets["g_ba"](fake_b))
        batch.carried["fake_b"] = fake_b.detach().float()
        if backward_gan:
            fake_a = nets["g_ba"](b)
            gan_terms.append(self._generator_gan(nets["d_a"], a, fake_a))
            reconstruction = reconstruction + distance(b, nets["g_ab"](fake_a))
            batch.carried["fake_a"] = fake_a.detach().float()
        gan = sum(gan_terms)
        loss = gan + reconstruction if rate is None else (1 - rate) * gan + rate * reconstruction
        return loss, {
            "generator_loss": loss.detach(), "adversarial_loss": gan.detach(), "reconstruction_loss": reconstruction.detach(),
        }

    def _generator_gan(self, critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        gan = ADVERSARIAL_TERMS["gan"][2](critic(fake).float())
        if not self.params.feature_matching:
            return gan
        with torch.no_grad():
            real_features = critic_activations(critic, real)
        fake_features = critic_activations(critic, fake)
        matching = sum(
            (r.float().mean(0) - f.float().mean(0)).pow(2).mean() for r, f in zip(real_features, fake_features)
        )
        return (1 - FEATURE_MATCHING_SHARE) * gan + FEATURE_MATCHING_SHARE * matching
