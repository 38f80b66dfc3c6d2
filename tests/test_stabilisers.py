"""Issue 18's objective side: the hinge loss, R1 and R2 through the shared penalty, lazy regularisation, LeCam.

Values by hand on critics whose scores or input gradients are known in closed
form, the state they keep (a critic-step counter, LeCam's anchors) across
resume, and checkpoints written without that state.
"""

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY_TOY
from test_objectives import FAKE, REAL, FixedScores, LinearCritic, QuadraticCritic, batch_of_scores, mean
from test_training import flat_tensors, metrics_without_timing

import gankit
import gankit.api  # used as gankit.api.load_data
from gankit.config import build_config, config_from_dict, resolve
from gankit.errors import ConfigError
from gankit.objectives import CRITIC, OBJECTIVES, CriticBatch, StepContext, objective_class
from gankit.training.checkpoint import load_checkpoint
from gankit.training.trainer import Trainer

# hinge-8gaussians' own zero-centred penalty set back to the defaults, so that R1, R2 and LeCam are the only
# regularisers these tests see (a penalty key set beside r1_gamma is refused).
HINGE_UNPENALISED = ["objective.penalty_weight=0", "objective.penalty_target=1"]

FIXTURES = Path(__file__).parent / "fixtures" / "v0.1.0"


def quiet(_message):
    pass


def relu(x):
    return max(x, 0.0)


# --------------------------------------------------------------------------- hinge


def test_hinge_objective_by_hand():
    hinge = objective_class("hinge")()
    loss, stats = hinge.score_critic(FixedScores(), batch_of_scores())
    expected = mean([relu(1 - s) for s in REAL]) + mean([relu(1 + s) for s in FAKE])  # (4 + 5.5) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6) and expected == pytest.approx(9.5 / 3)
    assert stats["score_real"].item() == pytest.approx(mean(REAL))
    assert stats["real_beyond_margin"].item() == pytest.approx(1 / 3)  # only 1.0 reaches +1
    assert stats["fake_beyond_margin"].item() == pytest.approx(1 / 3)  # only -1.0 reaches -1
    generator_loss, _ = hinge.score_generator(FixedScores(), torch.tensor(FAKE).unsqueeze(1))
    assert generator_loss.item() == pytest.approx(-mean(FAKE), rel=1e-6)


def test_hinge_recommends_sngans_optimiser():
    rec = objective_class("hinge").recommended
    assert (rec.optimizer, rec.lr, rec.betas, rec.n_critic) == ("adam", 2e-4, (0.0, 0.9), 5)


# --------------------------------------------------------------------------- R1 and R2


def nsgan(**params):
    cls = objective_class("nsgan")
    return cls(cls.Params(**params))


def test_r1_of_a_linear_critic_is_gamma_over_two_times_its_weight_norm_squared():
    critic = LinearCritic([3.0, 4.0], bias=0.7)  # grad D = w everywhere, |w| = 5
    torch.manual_seed(0)
    real, fake = torch.randn(8, 2), torch.randn(8, 2) * 3
    plain, _ = nsgan().score_critic(critic, CriticBatch(real, fake))
    for key in ("r1_gamma", "r2_gamma"):
        loss, stats = nsgan(**{key: 10.0}).score_critic(critic, CriticBatch(real, fake))
        assert stats["penalty"].item() == pytest.approx(10 / 2 * 25, rel=1e-5)
        assert stats["grad_norm"].item() == pytest.approx(5.0, rel=1e-6)
        assert loss.item() == pytest.approx(plain.item() + 125, rel=1e-5)


def test_r1_is_taken_at_the_real_samples_and_r2_at_the_generated_ones():
    # grad of ||x||^2 / 2 is x: the penalty is gamma/2 times the mean squared norm of the points themselves.
    real = torch.tensor([[3.0, 4.0], [0.0, 1.0]])  # squared norms 25 and 1
    fake = torch.tensor([[1.0, 1.0], [2.0, 0.0]])  # 2 and 4
    _, r1 = nsgan(r1_gamma=4.0).score_critic(QuadraticCritic(), CriticBatch(real, fake))
    _, r2 = nsgan(r2_gamma=4.0).score_critic(QuadraticCritic(), CriticBatch(real, fake))
    assert r1["penalty"].item() == pytest.approx(2 * (25 + 1) / 2, rel=1e-6)
    assert r2["penalty"].item() == pytest.approx(2 * (2 + 4) / 2, rel=1e-6)


def test_r1_is_the_shared_penalty_spelt_by_its_papers_name():
    cls = objective_class("nsgan")
    spec = cls.Params(r1_gamma=10.0).penalty
    assert (spec.weight, spec.target, spec.power, spec.points) == (5.0, 0.0, 2.0, "real")
    assert cls.Params(r2_gamma=1.0).penalty.points == "fake"
    # The same penalty spelt out with the general keys gives the same loss.
    critic, batch = QuadraticCritic(), CriticBatch(torch.randn(6, 2), torch.randn(6, 2))
    by_name, _ = nsgan(r1_gamma=10.0).score_critic(critic, batch)
    spelt, _ = nsgan(penalty_weight=5.0, penalty_target=0.0, penalty_points="real").score_critic(critic, batch)
    assert torch.equal(by_name, spelt)
    # On WGAN-GP, R1 replaces the objective's own penalty (10 (|grad| - 1)^2 at interpolates).
    gp = objective_class("wgan-gp")
    _, stats = gp(gp.Params(r1_gamma=2.0)).score_critic(LinearCritic([3.0, 4.0]), batch)
    assert stats["penalty"].item() == pytest.approx(1.0 * 25, rel=1e-5)


@pytest.mark.parametrize("preset, overrides, words", [
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.r1_gamma=1", "objective.r2_gamma=1"], "one penalty"),
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.r1_gamma=1", "objective.penalty_points=mixed"],
     "penalty_points cannot be set"),
    ("wgan-gp-8gaussians", ["objective.r1_gamma=1", "objective.penalty_weight=5"], "penalty_weight cannot be set"),
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.r1_gamma=-1"], "r1_gamma must be >= 0"),
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.r1_gamma=1", "objective.penalty_every=0"],
     "penalty_every must be >= 1"),
    ("nsgan-8gaussians", ["objective.lecam_weight=-0.1"], "lecam_weight must be >= 0"),
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.lecam_weight=0.3", "objective.lecam_decay=1"],
     "lecam_decay must be in [0, 1)"),
    ("bigan-8gaussians", ["objective.r1_gamma=10"], "pairs"),
    ("bigan-8gaussians", ["objective.lecam_weight=0.3"], "set objective.lecam_weight=0"),
    ("discogan-arc", ["objective.r1_gamma=10"], "r1_gamma must be 0 for discogan"),
    ("cyclegan-8gaussians-25gaussians", ["objective.lecam_weight=0.3"], "set objective.lecam_weight=0"),
])
def test_bad_regulariser_settings_are_refused_naming_the_key(preset, overrides, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        build_config(preset, overrides=overrides)


def test_r1_beside_an_objectives_own_penalty_set_to_zero_is_accepted():
    config = build_config("wgan-gp-8gaussians", overrides=["objective.r1_gamma=1", "objective.penalty_weight=0"])
    assert config.objective.params.penalty.weight == 0.5
    # R1 on a conditional critic: every real sample has its label.
    build_config("cwgan-gp-8gaussians", overrides=["objective.r1_gamma=1", "objective.penalty_weight=0"])


def test_r1_on_a_batch_norm_critic_is_refused(tiny_toy_config):
    config = resolve(tiny_toy_config("hinge-8gaussians", *HINGE_UNPENALISED, "objective.r1_gamma=1",
                                     "model.critic_norm=batch"))
    with pytest.raises(ConfigError, match="couples the samples"):
        Trainer(config, gankit.api.load_data(config), progress=False, log=quiet)


# --------------------------------------------------------------------------- lazy regularisation


def test_lazy_penalty_is_absent_on_skipped_steps_and_k_times_as_heavy_on_the_others():
    critic = LinearCritic([3.0, 4.0])
    objective = nsgan(r1_gamma=10.0, penalty_every=3)
    batch = CriticBatch(torch.randn(4, 2), torch.randn(4, 2))
    plain, _ = nsgan().score_critic(critic, batch)
    taken = []
    for _ in range(7):
        loss, stats = objective.score_critic(critic, batch)
        taken.append("penalty" in stats)
        if taken[-1]:
            assert stats["penalty"].item() == pytest.approx(3 * 125, rel=1e-5)
            assert loss.item() == pytest.approx(plain.item() + 375, rel=1e-5)
        else:
            assert "grad_norm" not in stats and torch.equal(loss, plain)
        objective.finish_phase(CRITIC, {"critic": critic}, stats, StepContext())
    assert taken == [True, False, False, True, False, False, True]
    assert objective.critic_updates.item() == 7
    # penalty_every 1 (the default) keeps no counter: the state of objectives without it is unchanged.
    assert "critic_updates" not in nsgan(r1_gamma=10.0).state_dict()


def test_lazy_penalty_counts_critic_steps_not_generator_steps(tmp_path):
    # n_critic 2 and a penalty every 3rd critic step: critic steps 0, 3, 6, 9 fall in generator steps 0, 1, 3, 4.
    overrides = TINY_TOY + HINGE_UNPENALISED + ["objective.r1_gamma=1", "objective.penalty_every=3",
                                                "train.n_critic=2", "train.log_every=1", "train.steps=6"]
    gankit.train(build_config("hinge-8gaussians", overrides=overrides), out=tmp_path, name="lazy", progress=False,
                 log=quiet)
    records = [json.loads(line) for line in (tmp_path / "lazy/metrics.jsonl").read_text().splitlines()]
    with_penalty = [r["step"] for r in records if "penalty" in r]
    assert with_penalty == [1, 2, 4, 5]
    state = torch.load(tmp_path / "lazy/checkpoints/last.pt", weights_only=True)
    assert state["objective"]["critic_updates"].item() == 12


# --------------------------------------------------------------------------- LeCam


def hinge_with_lecam(**params):
    cls = objective_class("hinge")
    return cls(cls.Params(lecam_weight=0.5, lecam_decay=0.9, **params))


def lecam_by_hand(real, fake, anchor_real, anchor_fake):
    return mean([(r - anchor_fake) ** 2 for r in real]) + mean([(anchor_real - f) ** 2 for f in fake])


def scores_batch(real, fake):
    return CriticBatch(torch.tensor(real).unsqueeze(1), torch.tensor(fake).unsqueeze(1))


def test_lecam_value_and_anchor_updates_by_hand():
    objective = hinge_with_lecam()
    critic = FixedScores()
    hinge = mean([relu(1 - s) for s in REAL]) + mean([relu(1 + s) for s in FAKE])
    loss, stats = objective.score_critic(critic, scores_batch(REAL, FAKE))
    # The first step's anchors are its own mean scores (the zero-debiased average of one value).
    a_real, a_fake = mean(REAL), mean(FAKE)
    assert stats["lecam_anchor_real"].item() == pytest.approx(a_real)
    assert stats["lecam_anchor_fake"].item() == pytest.approx(a_fake)
    assert stats["lecam"].item() == pytest.approx(0.5 * lecam_by_hand(REAL, FAKE, a_real, a_fake), rel=1e-6)
    assert loss.item() == pytest.approx(hinge + 0.5 * lecam_by_hand(REAL, FAKE, a_real, a_fake), rel=1e-6)
    # Computing the loss changes no state; the step's end keeps the anchors.
    assert objective.lecam_updates.item() == 0 and objective.lecam_anchors.tolist() == [0.0, 0.0]
    objective.finish_phase(CRITIC, {"critic": critic}, stats, StepContext())
    assert objective.lecam_updates.item() == 1
    assert objective.lecam_anchors.tolist() == pytest.approx([a_real, a_fake])
    # The second step: a + (m - a) (1 - 0.9) / (1 - 0.9^2), then the regulariser reads the updated anchors.
    real2, fake2 = [2.0, 4.0, 3.0], [-3.0, -1.0, 1.0]
    weight = 0.1 / (1 - 0.81)
    a_real2 = a_real + (mean(real2) - a_real) * weight
    a_fake2 = a_fake + (mean(fake2) - a_fake) * weight
    _, stats = objective.score_critic(critic, scores_batch(real2, fake2))
    assert stats["lecam_anchor_real"].item() == pytest.approx(a_real2, abs=1e-6)  # float32 against float64
    assert stats["lecam_anchor_fake"].item() == pytest.approx(a_fake2, abs=1e-6)
    assert stats["lecam"].item() == pytest.approx(0.5 * lecam_by_hand(real2, fake2, a_real2, a_fake2), rel=1e-5)


def test_lecam_one_sided_is_the_authors_codes_form():
    objective = hinge_with_lecam(lecam_one_sided=True)
    _, stats = objective.score_critic(FixedScores(), scores_batch(REAL, FAKE))
    a_real, a_fake = mean(REAL), mean(FAKE)
    expected = mean([relu(r - a_fake) ** 2 for r in REAL]) + mean([relu(a_real - f) ** 2 for f in FAKE])
    assert stats["lecam"].item() == pytest.approx(0.5 * expected, rel=1e-6)


def test_lecam_anchors_average_the_mean_scores_over_ranks():
    # Another rank's mean scores (10, -10): every rank's anchors are the global batch's means.
    other = torch.tensor([10.0, -10.0])
    ctx = StepContext(average=lambda t: (t + other) / 2)
    _, stats = hinge_with_lecam().score_critic(FixedScores(), scores_batch(REAL, FAKE), ctx)
    assert stats["lecam_anchor_real"].item() == pytest.approx((mean(REAL) + 10) / 2)
    assert stats["lecam_anchor_fake"].item() == pytest.approx((mean(FAKE) - 10) / 2)


def test_lecam_gradient_treats_the_anchors_as_constants():
    scores = torch.tensor([[1.0], [3.0]], requires_grad=True)
    fake = torch.tensor([[0.0], [0.0]])
    loss, _ = hinge_with_lecam().score_critic(FixedScores(), CriticBatch(scores, fake))
    (grad,) = torch.autograd.grad(loss, scores)
    # d/dr of 0.5 * mean((r - a_F)^2) with a_F = 0 held fixed: 0.5 * (r - 0); the hinge adds -1/2 where r < 1.
    assert grad[:, 0].tolist() == pytest.approx([0.5 * 1.0 + 0.0, 0.5 * 3.0])


@pytest.mark.parametrize("objective", sorted(o for o, cls in OBJECTIVES.items()
                                             if cls.evaluates == "samples" and cls.supports_lecam))
def test_lecam_works_on_every_objective_that_scores_one_critic(objective, tiny_toy_config, tmp_path):
    preset = next(n for n in gankit.config.preset_names() if n.startswith(f"{objective}-")
                  and n.endswith("-8gaussians") and (objective != "gan" or n == "gan-8gaussians"))
    config = resolve(tiny_toy_config(preset, "objective.lecam_weight=0.3", "train.steps=2", "train.log_every=1",
                                     "train.n_critic=1"))
    trainer = Trainer(config, gankit.api.load_data(config), run_dir=tmp_path, progress=False, log=quiet)
    trainer.fit(2)
    assert trainer.objective.lecam_updates.item() == 2
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["lecam"]) and "lecam_anchor_real" in r for r in records if "critic_loss" in r)


# --------------------------------------------------------------------------- resume and old checkpoints


@pytest.mark.parametrize("preset, extra", [
    # Resumed mid-cycle: 6 critic steps done at the checkpoint, the penalty due every 4th.
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.r1_gamma=1", "objective.penalty_every=4", "train.n_critic=2"]),
    # LeCam's anchors and a lazy R2 together, on the hinge loss.
    ("hinge-8gaussians", [*HINGE_UNPENALISED, "objective.lecam_weight=0.3", "objective.r2_gamma=0.5",
                          "objective.penalty_every=3", "train.n_critic=2"]),
])
def test_resume_with_regulariser_state_gives_the_same_numbers(tmp_path, preset, extra):
    # A constant rate: the recipe's linear decay is spread over train.steps, which the two runs set differently.
    overrides = TINY_TOY + ["train.checkpoint_every=3", "train.log_every=1", "train.lr_schedule=constant", *extra]
    gankit.train(build_config(preset, overrides=overrides + ["train.steps=7"]), out=tmp_path, name="straight",
                 progress=False, log=quiet)
    gankit.train(build_config(preset, overrides=overrides + ["train.steps=3"]), out=tmp_path, name="split",
                 progress=False, log=quiet)
    gankit.resume(tmp_path / "split", steps=7, progress=False, log=quiet)
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)
    assert set(a["objective"]) >= {"critic_updates"}
    for part in ("networks", "objective", "optimizers"):
        flat_a, flat_b = flat_tensors(a[part]), flat_tensors(b[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            assert torch.equal(flat_a[key], flat_b[key]), f"{part}.{key} differs after resume"
    assert metrics_without_timing(tmp_path / "straight") == metrics_without_timing(tmp_path / "split")


def test_regulariser_state_is_optional_in_checkpoints_and_everything_else_stays_strict():
    with_state = hinge_with_lecam(r1_gamma=1.0, penalty_every=4)
    with_state.lecam_anchors.copy_(torch.tensor([1.5, -2.0]))
    with_state.lecam_updates.fill_(9)
    with_state.critic_updates.fill_(6)
    # A run without the regularisers ignores their state...
    objective_class("hinge")().load_state_dict(with_state.state_dict())
    # ... and a run that gains them on a checkpoint without it starts them afresh.
    gains = hinge_with_lecam(r1_gamma=1.0, penalty_every=4)
    gains.load_state_dict(objective_class("hinge")().state_dict())
    assert gains.lecam_updates.item() == 0 and gains.critic_updates.item() == 0 and gains.penalty_due()
    # Loading the state restores the counter that decides the lazy steps (6 % 4: not due).
    resumed = hinge_with_lecam(r1_gamma=1.0, penalty_every=4)
    resumed.load_state_dict(with_state.state_dict())
    assert resumed.lecam_anchors.tolist() == [1.5, -2.0] and not resumed.penalty_due()
    # An objective's own state is still required.
    with pytest.raises(RuntimeError, match="k"):
        objective_class("began")().load_state_dict({})


def test_a_010_checkpoint_resumes_into_a_run_that_adds_lecam_and_a_lazy_penalty(tmp_path):
    state = load_checkpoint(FIXTURES / "wgan-gp-8gaussians" / "checkpoints" / "last.pt")
    config = config_from_dict(state["config"])
    config.objective.params.lecam_weight = 0.3
    config.objective.params.penalty_every = 2
    config.train.steps = int(state["step"]) + 2
    trainer = Trainer(resolve(config), gankit.api.load_data(config), progress=False, log=quiet)
    trainer.load_state_dict(state)
    assert trainer.objective.lecam_updates.item() == 0
    trainer.fit(config.train.steps)
    n_critic = resolve(config).train.n_critic
    assert trainer.objective.lecam_updates.item() == 2 * n_critic
    assert trainer.objective.critic_updates.item() == 2 * n_critic
    assert all(torch.isfinite(p).all() for p in trainer.networks["critic"].parameters())
