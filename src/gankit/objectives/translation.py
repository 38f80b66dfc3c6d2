"""Unpaired image-to-image translation: CycleGAN (Zhu et al., 2017).

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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses import ADVERSARIAL_TERMS, l1_reconstruction
from gankit.objectives.base import (
    CRITIC,
    GENERATOR,
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
        if self.penalty_points not in ("real-fake", "real", "fake", "mixed"):
            problems.append(f"{prefix}.penalty_points must be real-fake, real, fake or mixed for cyclegan")
        return problems


class CycleGAN(Objective):
    name = "cyclegan"
    summary = "CycleGAN: two generators and two critics, least squares + lambda L1 cycle + identity, image pool"
    Params = CycleGANParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)
    headline = ("critic_loss", "generator_loss", "cycle_loss")
    evaluates = "translations"

    def generator_input(self, latent_dim: int):
        return None  # the generators read images of the other domain

    def build_networks(self, build) -> Networks:
        shapes = build.domain_shapes
        if set(shapes) != {"A", "B"}:
            raise ConfigError(
                f"cyclegan translates between two domains, but the data has {', '.join(shapes)}: "
                "set data.name to a pair A:B, e.g. mnist:mnist-inverted or ./photos:./paintings"
            )
        a, b = shapes["A"], shapes["B"]
        if self.params.identity_weight > 0 and a[0] != b[0]:
            raise ConfigError(
                f"the identity loss feeds each generator images of its own target domain, which needs equal "
                f"channels, but A has {a[0]} and B has {b[0]}: set objective.identity_weight=0"
            )
        self.pool_a = ImagePool(self.params.pool_size, a)
        self.pool_b = ImagePool(self.params.pool_size, b)
        return Networks(
            {"g_ab": build.translator(a, b), "g_ba": build.translator(b, a)},
            {"d_a": build.domain_critic(a), "d_b": build.domain_critic(b)},
        )

    def phases(self, critic_steps: int) -> list[Phase]:
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

    def after_step(self, side: str, nets: Networks, stats: Stats, ctx: StepContext) -> None:
        """No constraint and no adaptive state beyond the pools (updated when queried)."""

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
        fake_a, fake_b = batch.carried["fake_a"], batch.carried["fake_b"]
        fake_a = ctx.local_slice(self.pool_a.query(ctx.gather(fake_a)))
        fake_b = ctx.local_slice(self.pool_b.query(ctx.gather(fake_b)))
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
        if self.uses_penalty:
            points = penalty_points(self.params.penalty_points, real, fake, ctx.shard).requires_grad_(True)
            # A PatchGAN scores each patch: the penalty is on the gradient of the patches' sum.
            penalty, norms = self._penalty(critic(points).float().reshape(len(points), -1).sum(1), points)
            loss = loss + penalty
            stats.update(penalty=penalty.detach(), grad_norm=norms.detach().mean())
        return loss, stats

    # -- what the run shows --------------------------------------------------------
    def preview_inputs(self, nets, dataset, ctx: StepContext, seed: int, grid_size: int) -> dict[str, Tensor | None]:
        """Fixed held-out images of each domain (the first of each test split)."""
        inputs = {}
        for name in ("A", "B"):
            source = dataset.test_domains.get(name) or dataset.domains[name]
            n = min(len(source), PREVIEW_IMAGES if dataset.kind == "images" else 1024)
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
