"""Item recommendation from implicit feedback: IRGAN (Wang et al., SIGIR 2017) and its BPR baseline.

The data is (user, item) training positives (``data.interactions``); a real
batch is B of those rows. Every network is a matrix factorisation
(``models.recommendation``) scoring all items for a user.

**BPR** (Rendle et al. 2009): one network, on the generator side, trained on
``-log sigmoid(s(u, i) - s(u, j))``, j drawn uniformly from the items that are
not u's training positives. It has no critic: its critic side is empty, and
the trainer builds no optimiser for a side without parameters.

**IRGAN**, the item-recommendation game:

* the generator is a softmax policy over all items, ``p_theta(d | q) =
  softmax_d(g(q, d))``, g its MF scores;
* the discriminator ``D(d | q) = sigmoid(f_phi(q, d))`` separates the user's
  observed items (the batch's positives, label 1) from items drawn from the
  generator (label 0), on the cross-entropy plus ``critic_l2`` times the
  batch rows' half squared norms (the reference's ``lamda = 0.1 / BATCH_SIZE``
  over 16 rows is 0.1 times their mean). The generator's items for D are drawn
  from its softmax at ``temperature`` (the reference's 0.2 in generate_for_d),
  afresh at every critic step (the reference redraws every 5 D-epochs);
* the generator maximises ``J = E_{d ~ p_theta}[r(q, d)]`` by REINFORCE with
  importance sampling: per batch row, ``samples_per_pair`` items (the
  reference's 2 per positive) are drawn from ``pn = (1 - sample_lambda) p_theta
  + sample_lambda * uniform(the user's training positives)`` (0.2 in the
  reference), weighted by ``p_theta(d) / pn(d)``, with the reward
  ``r = log(1 + exp(f))`` (``reward: paper``) or ``2 (sigmoid(f) - 0.5)``
  (``reward: code``, the reference's dis_model). Its loss is
  ``-mean(w r log p_theta(d))``: its gradient is minus the importance-weighted
  REINFORCE estimate of ``grad J = sum_d p(d) r(d) grad log p(d)``, so gradient
  *descent* on it is ascent on J. This settles the sign the reference's issue
  #35 disputes: with the paper's reward, ``r = -log(1 - D)``, maximising J is the
  generator minimising ``E log(1 - D)``, its side of the minimax game;
* the schedule: the paper trains 100 D-epochs then 50 G-epochs per round, i.e.
  two passes of D (over positives and as many samples) per pass of G. Here a
  step is ``train.n_critic`` critic phases (default 2) and ``generator_steps``
  generator phases (default 1), each on a fresh batch: the same 2 : 1 ratio of
  data passes, alternated per step rather than per 150 epochs;
* pre-training (``pretrain_steps`` > 0): the first steps train the generator
  alone on the BPR loss, on training batches only, so an IRGAN run starts
  from a BPR-like policy without reading any run or file (the reference
  pre-trains from a pickled model and its D pre-training read test data, #34).
  Then ``critic_pretrain_steps`` steps train the discriminator alone against
  that generator, so the game's first rewards come from a trained critic
  (as the reference does, here without its test data).
* ``reward_baseline``: the batch's mean reward subtracted before REINFORCE,
  an unbiased variance reduction (``E_p[grad log p] = 0``); off, as in the paper.

Measured on the synthetic set (README; ``benchmarks/irgan.py``), the game lowers
the pre-trained generator's scores: most of the generator's draws outside a
user's training positives are held-out test positives, which the
discriminator learns to call generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses import IRGAN_REWARDS, bpr_loss, irgan_reward, reinforce_loss
from gankit.models.recommendation import MatrixFactorisation
from gankit.objectives.base import (
    CRITIC_PHASE,
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

PREVIEW_USERS = 64  # rows of the policy picture
GENERATOR_STEP = Phase(GENERATOR, fresh_batch=True)


@dataclass
class RecommenderParams(ObjectiveParams):
    embedding_dim: int = 5  # the reference's EMB_DIM
    item_bias: bool = True
    generator_l2: float = 0.0  # times the mean half squared norm of the rows a batch reads (reference G: 0)

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.embedding_dim < 1:
            problems.append(f"{prefix}.embedding_dim must be >= 1, got {self.embedding_dim}")
        if self.generator_l2 < 0:
            problems.append(f"{prefix}.generator_l2 must be >= 0, got {self.generator_l2}")
        if self.penalty.weight > 0:
            problems.append(
                f"{prefix}: a gradient-norm penalty needs samples a critic is smooth in, and recommended items "
                "are discrete: set penalty_weight, r1_gamma and r2_gamma to 0"
            )
        return problems


@dataclass
class IRGANParams(RecommenderParams):
    reward: str = "paper"  # paper: log(1 + exp(f)); code: 2 (sigmoid(f) - 0.5), the reference's
    temperature: float = 0.2  # of the generator's softmax when it draws items for the discriminator
    sample_lambda: float = 0.2  # the share of the proposal pn on the user's training positives
    samples_per_pair: int = 2  # generator samples per batch row (the reference: 2 per positive)
    generator_steps: int = 1  # generator phases per step, after train.n_critic critic phases
    pretrain_steps: int = 0  # first steps train the generator alone on the BPR loss
    critic_pretrain_steps: int = 0  # then steps of critic phases alone, against the pre-trained generator
    reward_baseline: bool = False  # subtract the batch's mean reward (unbiased: E_p[grad log p] = 0)
    critic_l2: float = 0.1  # times the mean half squared norm of D's batch rows (the reference's 0.1 / 16 over 16)

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.reward not in IRGAN_REWARDS:
            problems.append(f"{prefix}.reward must be one of {', '.join(IRGAN_REWARDS)}, got '{self.reward}'")
        if self.temperature <= 0:
            problems.append(f"{prefix}.temperature must be > 0, got {self.temperature}: the reference uses 0.2")
        if not 0 <= self.sample_lambda < 1:
            problems.append(f"{prefix}.sample_lambda must be in [0, 1), got {self.sample_lambda}: the reference uses 0.2")
        for key in ("samples_per_pair", "generator_steps"):
            if getattr(self, key) < 1:
                problems.append(f"{prefix}.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("pretrain_steps", "critic_pretrain_steps", "critic_l2"):
            if getattr(self, key) < 0:
                problems.append(f"{prefix}.{key} must be >= 0, got {getattr(self, key)}")
        return problems


def proposal(policy: Tensor, positives: Tensor, sample_lambda: float) -> Tensor:
    """IRGAN's importance-sampling proposal per row: ``(1 - lambda) p + lambda uniform(positives)``.

    ``policy`` (B, I) rows sum to 1; ``positives`` (B, I) bool, each row with at least one True.
    """
    share = positives.float() / positives.sum(-1, keepdim=True).clamp_min(1)
    return (1 - sample_lambda) * policy + sample_lambda * share


def importance_weights(policy: Tensor, proposal_: Tensor) -> Tensor:
    """``p(d) / pn(d)``: what makes a draw from pn count as one from p (``E_pn[w f] = E_p[f]``)."""
    return policy / proposal_


class RecommenderObjective(Objective):
    """What IRGAN and BPR share: MF networks over the data's users and items, ranked on the test split."""

    Params = RecommenderParams
    evaluates = "rankings"
    critic_scores_samples = False  # items are not points a critic surface could be drawn over
    supports_lecam = False
    uses_model_arch = False  # matrix factorisations, sized from the data
    headline = ("generator_loss",)

    def generator_input(self, latent_dim: int):
        return None  # the generator reads user ids

    def sizes(self, build) -> tuple[int, int]:
        data = build.data
        if data.get("kind") != "interactions":
            raise ConfigError(
                f"objective {self.name} recommends items from (user, item) interactions, but the data "
                f"'{data.get('name')}' is {data.get('kind')}: set data.name to synthetic-feedback or movielens-100k"
            )
        return int(data["num_users"]), int(data["num_items"])

    def factorisation(self, build) -> MatrixFactorisation:
        users, items = self.sizes(build)
        return MatrixFactorisation(users, items, self.params.embedding_dim, self.params.item_bias)

    def attach_data(self, dataset) -> None:
        """The training positives as a dense (users, items) mask: negatives, proposals and previews read it."""
        self.train_positives = dataset.train_mask()

    def after_step(self, side: str, nets: Networks, stats: Stats, ctx: StepContext) -> None:
        """No constraint and no adaptive state."""

    def bpr_step(self, model: MatrixFactorisation, batch: RealBatch) -> Tensor:
        """BPR's loss on the batch's (user, positive) rows, one uniform non-positive item each, plus L2."""
        users, positives = batch.samples[:, 0], batch.samples[:, 1]
        # Uniform over the user's non-positives, drawn exactly (no rejection loop, no host sync).
        negatives = torch.multinomial((~self.train_positives[users]).float(), 1).squeeze(1)
        loss = bpr_loss(model.score(users, positives), model.score(users, negatives))
        if self.params.generator_l2 > 0:
            loss = loss + self.params.generator_l2 * (
                model.squared_norms(users, positives) + model.squared_norms(users, negatives)).mean()
        return loss

    def preview_inputs(self, nets, dataset, ctx: StepContext, seed: int, grid_size: int) -> dict[str, Tensor | None]:
        """The first users (their policy rows make the preview picture)."""
        return {"users": torch.arange(min(PREVIEW_USERS, dataset.num_users), device=ctx.device)}

    @torch.no_grad()
    def preview(self, nets: Mapping[str, nn.Module], inputs: dict[str, Tensor | None]) -> Preview:
        """One grey image: rows are users, columns items, brightness the generator's softmax over items
        (each row scaled to its largest probability)."""
        policy = torch.softmax(nets["generator"](inputs["users"]).float(), -1)
        picture = policy / policy.amax(-1, keepdim=True) * 2 - 1
        return Preview(picture[None, None], rows=1)


class BPR(RecommenderObjective):
    name = "bpr"
    summary = "BPR matrix factorisation (Rendle et al. 2009): the plain recommender IRGAN is measured against"
    recommended = Recommendation(optimizer="adam", lr=1e-2, betas=(0.9, 0.999), n_critic=1)

    def build_networks(self, build) -> Networks:
        return Networks({"generator": self.factorisation(build)}, {})

    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        return [GENERATOR_STEP]

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        loss = self.bpr_step(nets["generator"], batch)
        return loss, {"generator_loss": loss.detach()}


class IRGAN(RecommenderObjective):
    name = "irgan"
    summary = "IRGAN (Wang et al. 2017): a softmax item policy trained by REINFORCE against an MF discriminator"
    Params = IRGANParams
    recommended = Recommendation(optimizer="adam", lr=1e-3, betas=(0.9, 0.999), n_critic=2)
    headline = ("critic_loss", "generator_loss", "reward")

    def build_networks(self, build) -> Networks:
        return Networks({"generator": self.factorisation(build)}, {"critic": self.factorisation(build)})

    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        if step < self.params.pretrain_steps:
            return [GENERATOR_STEP]
        if step < self.params.pretrain_steps + self.params.critic_pretrain_steps:
            return [CRITIC_PHASE] * critic_steps
        return [CRITIC_PHASE] * critic_steps + [GENERATOR_STEP] * self.params.generator_steps

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        if side == GENERATOR and ctx.step < self.params.pretrain_steps:
            loss = self.bpr_step(nets["generator"], batch)
            return loss, {"pretrain_loss": loss.detach()}
        if side == GENERATOR:
            return self.generator_loss(nets, batch, ctx)
        return self.critic_loss(nets, batch, ctx)

    def critic_loss(self, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        users, positives = batch.samples[:, 0], batch.samples[:, 1]
        critic = nets["critic"]
        with torch.no_grad():
            policy = torch.softmax(nets["generator"](users).float() / self.params.temperature, -1)
            generated = torch.multinomial(policy, 1).squeeze(1)
        scores = torch.cat([critic.score(users, positives), critic.score(users, generated)])
        labels = torch.cat([torch.ones_like(users), torch.zeros_like(users)]).float()
        loss = nn.functional.binary_cross_entropy_with_logits(scores.float(), labels)
        if self.params.critic_l2 > 0:
            rows = torch.cat([critic.squared_norms(users, positives), critic.squared_norms(users, generated)])
            loss = loss + self.params.critic_l2 * rows.mean()
        d = torch.sigmoid(scores.detach())
        n = len(users)
        return loss, {"critic_loss": loss.detach(), "d_real": d[:n].mean(), "d_fake": d[n:].mean()}

    def generator_loss(self, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        p = self.params
        users = batch.samples[:, 0].repeat_interleave(p.samples_per_pair)
        log_policy = torch.log_softmax(nets["generator"](users).float(), -1)
        with torch.no_grad():
            policy = log_policy.exp()
            pn = proposal(policy, self.train_positives[users], p.sample_lambda)
            items = torch.multinomial(pn, 1).squeeze(1)
            weights = importance_weights(policy.gather(1, items[:, None]), pn.gather(1, items[:, None])).squeeze(1)
            rewards = irgan_reward(nets["critic"].score(users, items).float(), p.reward)
            advantages = rewards - rewards.mean() if p.reward_baseline else rewards
        loss = reinforce_loss(log_policy.gather(1, items[:, None]).squeeze(1), advantages, weights)
        if p.generator_l2 > 0:
            loss = loss + p.generator_l2 * nets["generator"].squared_norms(users, items).mean()
        return loss, {"generator_loss": loss.detach(), "reward": rewards.mean(), "importance_weight": weights.mean()}
