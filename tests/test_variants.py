"""Issue 5's variants: conditional models, EBGAN, BEGAN, Loss-Sensitive GAN and InfoGAN.

Losses are checked against numbers worked out by hand in the comments.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import build_config, resolve
from gankit.errors import ConfigError
from gankit.evaluation.metrics import code_digit_matching, code_digits
from gankit.losses import (
    began_convergence,
    began_k_update,
    information_loss,
    l1_margins,
    loss_sensitive_critic_loss,
    pulling_away_term,
)
from gankit.models import LatentCodes, ModelConfig, build_critic, build_generator
from gankit.models.heads import AutoEncoderCritic, AutoEncoderHead, QHead
from gankit.objectives import CriticBatch, StepContext, objective_class
from gankit.sampling import LatentInput, generate

TOY = ModelConfig(arch="mlp", latent_dim=4, generator_widths=[16], critic_widths=[16], autoencoder_code_dim=3)


def make(name, **params):
    cls = objective_class(name)
    return cls(cls.Params(**params))


class FixedEnergies(nn.Module):
    """A stand-in auto-encoder critic: energy = first feature, code = the rest."""

    def forward(self, x, labels=None):
        return x[:, 0]

    def energy_and_code(self, x, labels=None):
        return x[:, 0], x[:, 1:]


# ------------------------------------------------------------------ EBGAN


def test_ebgan_critic_hinge_by_hand():
    # real energies 0.2, 0.4 -> 0.3; fake 0.5, 1.5 with m = 1: max(0, 0.5) and max(0, -0.5) -> 0.25. Sum 0.55.
    loss = make("ebgan", margin=1.0).critic_link(torch.tensor([0.2, 0.4]), torch.tensor([0.5, 1.5]))
    assert loss.item() == pytest.approx(0.55)


def test_pulling_away_term_is_zero_for_orthogonal_and_one_for_identical_codes():
    assert pulling_away_term(torch.eye(4)).item() == pytest.approx(0.0, abs=1e-7)
    assert pulling_away_term(torch.tensor([[1.0, 2.0]] * 3)).item() == pytest.approx(1.0)
    # [1, 0] and [1, 1]: cos = 1/sqrt(2), squared 0.5, for both ordered pairs: (0.5 + 0.5) / (2 * 1).
    assert pulling_away_term(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).item() == pytest.approx(0.5)
    # Scale does not matter: cosines only.
    assert pulling_away_term(torch.tensor([[3.0, 0.0], [7.0, 7.0]])).item() == pytest.approx(0.5)


def test_ebgan_generator_loss_is_fake_energy_plus_weighted_pulling_away():
    # Energies 0.2 and 0.6 (mean 0.4); codes [1, 0] and [1, 1] (PT 0.5); weight 0.1: 0.4 + 0.05.
    fake = torch.tensor([[0.2, 1.0, 0.0], [0.6, 1.0, 1.0]])
    loss, stats = make("ebgan", pt_weight=0.1).score_generator(FixedEnergies(), fake)
    assert loss.item() == pytest.approx(0.45)
    assert stats["pulling_away"].item() == pytest.approx(0.5)


def after_critic_step(objective, real_energy, fake_energy):
    """The objective's state update after a critic step whose statistics logged these mean energies."""
    stats = objective.score_stats(torch.tensor([real_energy]), torch.tensor([fake_energy]))
    objective.after_step("critic", {"critic": nn.Linear(1, 1)}, stats, StepContext())


def test_ebgan_margin_adaptation_shrinks_to_the_real_energy_and_never_grows():
    objective = make("ebgan", margin=1.0, margin_adaptation=True, adaptation_momentum=0.0)
    after_critic_step(objective, 0.3, 0.8)  # real below m, fake above real
    assert objective.margin.item() == pytest.approx(0.3)
    after_critic_step(objective, 0.5, 0.9)  # real energy rose: the margin stays
    assert objective.margin.item() == pytest.approx(0.3)
    restored = make("ebgan", margin=1.0, margin_adaptation=True)
    restored.load_state_dict(objective.state_dict())
    assert restored.margin.item() == pytest.approx(0.3)


def test_fixed_margin_stays_put():
    objective = make("ebgan", margin=2.0)
    after_critic_step(objective, 0.3, 0.8)
    assert objective.margin.item() == 2.0


@pytest.mark.parametrize("distance, per_value", [("l2", lambda e: e.pow(2)), ("l1", lambda e: e.abs())])
def test_autoencoder_critic_energy_is_the_mean_reconstruction_error_per_sample(distance, per_value):
    torch.manual_seed(0)
    critic = build_critic(TOY, (2,), head=AutoEncoderHead(distance))
    assert isinstance(critic, AutoEncoderCritic)
    x = torch.randn(5, 2)
    energy, code = critic.energy_and_code(x)
    reconstruction = critic.decoder(critic.encoder(x))
    assert code.shape == (5, 3)
    assert torch.allclose(energy, per_value(reconstruction - x).mean(dim=1))
    assert torch.allclose(critic(x), energy)


# ------------------------------------------------------------------ BEGAN


def test_began_critic_and_generator_losses_by_hand():
    objective = make("began", k_initial=0.3)
    # L(x) = mean(0.2, 0.4) = 0.3, L(G(z)) = mean(0.5, 0.7) = 0.6: 0.3 - 0.3 * 0.6 = 0.12.
    real, fake = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 0.7])
    assert objective.critic_link(real, fake).item() == pytest.approx(0.12)
    assert objective.generator_link(fake).item() == pytest.approx(0.6)
    # M = 0.3 + |0.5 * 0.3 - 0.6| = 0.75
    assert objective.score_stats(real, fake)["convergence"].item() == pytest.approx(0.75)
    assert began_convergence(torch.tensor(0.4), torch.tensor(0.1), 0.5).item() == pytest.approx(0.5)


def test_began_k_moves_toward_equilibrium_and_stays_in_unit_interval():
    k = torch.tensor(0.5)
    # gamma L(x) = 0.2 above L(G(z)) = 0.1: fakes are reconstructed too well, so k rises: 0.5 + 0.1 * 0.1.
    assert began_k_update(k, torch.tensor(0.4), torch.tensor(0.1), 0.5, 0.1).item() == pytest.approx(0.51)
    # gamma L(x) = 0.2 below L(G(z)) = 0.5: k falls: 0.5 - 0.1 * 0.3.
    assert began_k_update(k, torch.tensor(0.4), torch.tensor(0.5), 0.5, 0.1).item() == pytest.approx(0.47)
    assert began_k_update(k, torch.tensor(100.0), torch.tensor(0.0), 0.5, 0.1).item() == 1.0
    assert began_k_update(k, torch.tensor(0.0), torch.tensor(100.0), 0.5, 0.1).item() == 0.0


def test_began_updates_k_after_each_critic_step_from_that_steps_energies():
    objective = make("began", gamma=0.5, lambda_k=0.1, k_initial=0.5)
    after_critic_step(objective, 0.4, 0.1)
    assert objective.k.item() == pytest.approx(0.51)
    twin = make("began")
    twin.load_state_dict(objective.state_dict())
    assert twin.k.item() == pytest.approx(0.51)


def test_began_k_stays_in_unit_interval_over_a_short_run(tiny_toy_config, tmp_path):
    import gankit
    from gankit.training.logging import read_metrics

    config = tiny_toy_config("began-8gaussians", "objective.lambda_k=0.5", "train.steps=12", "train.log_every=1")
    gankit.train(config, out=tmp_path, name="b", progress=False, log=lambda m: None)
    ks = [r["k"] for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if "k" in r]
    assert len(ks) == 12 and all(0.0 <= k <= 1.0 for k in ks)
    assert len(set(ks)) > 1  # lambda_k 0.5 moves it visibly


# ------------------------------------------------------------------ Loss-Sensitive GAN


def test_loss_sensitive_losses_by_hand():
    real = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    fake = torch.tensor([[1.0, 0.0], [1.0, -1.0]])
    margins = l1_margins(real, fake)  # mean |x - G(z)|: (1 + 0) / 2 and (0 + 2) / 2
    assert margins.tolist() == [0.5, 1.0]
    # L(x) = (0.5, 1.0), L(G(z)) = (1.5, 1.2): 0.75 + mean(max(0, 0.5 + 0.5 - 1.5), max(0, 1 + 1 - 1.2)) = 0.75 + 0.4
    loss = loss_sensitive_critic_loss(torch.tensor([0.5, 1.0]), torch.tensor([1.5, 1.2]), margins, 1.0)
    assert loss.item() == pytest.approx(1.15)
    assert loss_sensitive_critic_loss(torch.tensor([0.5, 1.0]), torch.tensor([1.5, 1.2]), margins, 2.0).item() == (
        pytest.approx(0.75 + 0.8)
    )


@pytest.mark.parametrize("fused", [True, False])
def test_loss_sensitive_objective_pairs_each_real_sample_with_its_generated_one(fused):
    torch.manual_seed(1)
    critic = build_critic(TOY, (2,))
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    objective = objective_class("loss-sensitive")()
    loss, _ = objective.score_critic(critic, CriticBatch(real, fake), StepContext(join_critic_forwards=fused))
    losses_real, losses_fake = F.softplus(critic(real)), F.softplus(critic(fake))
    expected = loss_sensitive_critic_loss(losses_real, losses_fake, l1_margins(real, fake), 1.0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    generator_loss, _ = objective.score_generator(critic, fake)
    assert generator_loss.item() == pytest.approx(losses_fake.mean().item(), rel=1e-6)


def test_loss_sensitive_objective_takes_the_margin_scale_and_the_gls_slope():
    torch.manual_seed(1)
    critic = build_critic(TOY, (2,))
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    losses_real, losses_fake = F.softplus(critic(real)), F.softplus(critic(fake))
    objective = make("loss-sensitive", margin_weight=0.5, margin_scale=2.0, slope=0.3)
    loss, _ = objective.score_critic(critic, CriticBatch(real, fake))
    # Delta = 2 * mean |x - G(z)| = the L1 distance summed over the two coordinates.
    margins = (real - fake).abs().sum(1)
    expected = losses_real.mean() + 0.5 * F.leaky_relu(margins + losses_real - losses_fake, 0.3).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_loss_sensitive_in_the_form_of_qis_code_trains_the_raw_score_on_the_margin_term_alone():
    # lsgan-gp.py: cost = L(x) - L(G(z)) + tau * ||x - G(z)||_1, the critic's loss mean(max(0, cost)), L the raw
    # score; the generator's mean L(G(z)). By hand on L(x) = (0.5, -1.0), L(G(z)) = (1.5, -2.2), margins
    # (0.5, 1.0): mean(max(0, 0.5 + 0.5 - 1.5), max(0, 1.0 - 1.0 + 2.2)) = mean(0, 2.2) = 1.1.
    margins = torch.tensor([0.5, 1.0])
    loss = loss_sensitive_critic_loss(torch.tensor([0.5, -1.0]), torch.tensor([1.5, -2.2]), margins, 1.0,
                                      real_weight=0.0)
    assert loss.item() == pytest.approx(1.1)
    torch.manual_seed(1)
    critic = build_critic(TOY, (2,))
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    objective = make("loss-sensitive", loss_link="identity", real_weight=0.0)
    loss, stats = objective.score_critic(critic, CriticBatch(real, fake))
    raw_real, raw_fake = critic(real).flatten(), critic(fake).flatten()
    expected = F.relu(l1_margins(real, fake) + raw_real - raw_fake).mean()
    paper_form = loss_sensitive_critic_loss(F.softplus(raw_real), F.softplus(raw_fake), l1_margins(real, fake), 1.0)
    assert abs(paper_form.item() - expected.item()) > 0.1  # so the check below tells the two forms apart
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert stats["loss_real"].item() == pytest.approx(raw_real.mean().item(), rel=1e-6)
    generator_loss, _ = objective.score_generator(critic, fake)
    assert generator_loss.item() == pytest.approx(raw_fake.mean().item(), rel=1e-6)


def test_loss_sensitive_logs_the_share_of_pairs_whose_margin_still_binds():
    # A critic that scores each 1-D point by its value, L(x) = x. Real points 1, generated 0.1, 5, 3, 0:
    # Delta = |x - G(z)| = (0.9, 4, 2, 1), so the costs Delta + L(x) - L(G(z)) are (1.8, 0, 0, 2), exactly.
    critic = FixedEnergies()
    real = torch.ones(4, 1)
    fake = torch.tensor([[0.1], [5.0], [3.0], [0.0]])
    objective = make("loss-sensitive", loss_link="identity", real_weight=0.0)
    loss, stats = objective.score_critic(critic, CriticBatch(real, fake))
    assert stats["margin_active"].item() == pytest.approx(0.5)  # pairs 1 and 4 bind; 2 and 3 sit on the margin
    assert loss.item() == pytest.approx((1.8 + 2.0) / 4, rel=1e-6)


def test_loss_sensitive_refuses_an_unbounded_loss_with_the_real_term_and_an_unknown_link():
    params = objective_class("loss-sensitive").Params
    assert (params().loss_link, params().real_weight) == ("softplus", 1.0)  # the paper's form, as runs had it
    problems = params(loss_link="identity", real_weight=1.0).validate("objective")
    assert problems == [problems[0]] and problems[0].startswith("objective.real_weight must be 0 with loss_link identity")
    assert params(loss_link="exp").validate("objective")[0].startswith("objective.loss_link must be one of softplus, identity")
    assert params(real_weight=-1.0).validate("objective")[0].startswith("objective.real_weight must be >= 0")


def test_loss_sensitive_params_default_to_ls_gan_and_refuse_bad_values():
    params = objective_class("loss-sensitive").Params()
    assert (params.margin_scale, params.slope) == (1.0, 0.0)  # configs written before these keys still mean LS-GAN
    problems = objective_class("loss-sensitive").Params(slope=1.5, margin_scale=0.0).validate("objective")
    assert any(p.startswith("objective.slope must be in [0, 1], got 1.5") for p in problems)
    assert any(p.startswith("objective.margin_scale must be > 0") for p in problems)
    assert len(problems) == 2


# ------------------------------------------------------------------ InfoGAN


def test_information_loss_by_hand():
    codes = LatentCodes(categories=3, continuous=1)
    q = torch.tensor([[2.0, 0.0, 0.0, 0.5]])
    # CE of logits (2, 0, 0) for class 0: log(e^2 + 2) - 2 = log(1 + 2 e^-2); squared error 0.5 * 0.4^2 = 0.08.
    loss, ce, se = information_loss(q, codes.categories, torch.tensor([0]), torch.tensor([[0.1]]), (1.0, 0.1))
    assert ce.item() == pytest.approx(math.log(1 + 2 * math.exp(-2)))
    assert se.item() == pytest.approx(0.08)
    assert loss.item() == pytest.approx(math.log(1 + 2 * math.exp(-2)) + 0.008)


def test_information_loss_takes_cross_entropy_on_logits_not_on_a_softmax():
    codes = LatentCodes(categories=3, continuous=0)
    logits = torch.tensor([[2.0, -1.0, 0.5]], requires_grad=True)
    _, ce, _ = information_loss(logits, codes.categories, torch.tensor([1]), torch.zeros(1, 0), (1.0, 0.0))
    ce.backward()
    # d CE / d logits = softmax - one_hot; CE on softmax(logits) (the PyTorch-GAN bug) has a flatter gradient.
    expected = torch.softmax(logits.detach(), 1) - torch.tensor([[0.0, 1.0, 0.0]])
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_latent_codes_draw_uniform_categories_and_uniform_continuous_values():
    codes = LatentCodes(categories=10, continuous=2)
    z = torch.randn(20000, 5 + codes.width, generator=torch.Generator().manual_seed(0))
    category, continuous = codes.targets(z)
    shares = torch.bincount(category, minlength=10) / len(category)
    assert shares.min() > 0.085 and shares.max() < 0.115
    assert continuous.min() > -1 and continuous.max() < 1
    assert continuous.mean().abs() < 0.02 and (continuous.var() - 1 / 3).abs() < 0.02
    generator_input = codes.generator_input(z)
    assert torch.equal(generator_input[:, :5], z[:, :5])
    assert torch.equal(generator_input[:, 5:15].argmax(1), category)
    assert torch.equal(generator_input[:, 5:15].sum(1), torch.ones(20000))
    assert torch.equal(generator_input[:, 15:], continuous)


def test_infogan_builds_a_q_head_and_a_coded_generator_and_refuses_a_latent_without_noise():
    objective = make("infogan", categories=10, continuous=2)
    assert objective.critic_head() == QHead(outputs=12)
    cfg = ModelConfig(arch="mlp", latent_dim=20, generator_widths=[16], critic_widths=[16])
    critic = build_critic(cfg, (2,), head=objective.critic_head())
    scores, q = critic.score_and_codes(torch.randn(4, 2))
    assert scores.shape == (4,) and q.shape == (4, 12)
    generator = build_generator(cfg, (2,), codes=objective.latent_codes())
    assert generator(torch.randn(4, 20)).shape == (4, 2)
    with pytest.raises(ConfigError, match="raise model.latent_dim"):
        build_generator(ModelConfig(arch="mlp", latent_dim=12), (2,), codes=objective.latent_codes())


def test_infogan_critic_and_generator_losses_add_the_information_loss():
    torch.manual_seed(0)
    objective = make("infogan", categories=3, continuous=1)
    cfg = ModelConfig(arch="mlp", latent_dim=6, generator_widths=[16], critic_widths=[16])
    critic = build_critic(cfg, (2,), head=objective.critic_head())
    real, fake, z = torch.randn(8, 2), torch.randn(8, 2), torch.randn(8, 6)
    loss, stats = objective.score_critic(critic, CriticBatch(real, fake, latent=z))
    scores_fake, q = critic.score_and_codes(fake)
    gan = F.softplus(-critic(real)).mean() + F.softplus(scores_fake).mean()
    category, continuous = objective.codes.targets(z)
    info = F.cross_entropy(q[:, :3], category) + 0.1 * 0.5 * (q[:, 3:] - continuous).pow(2).sum(1).mean()
    assert loss.item() == pytest.approx((gan + info).item(), rel=1e-5)
    assert stats["info_loss"].item() == pytest.approx(info.item(), rel=1e-5)
    # The logged lower bound on I(c; G(z)): log 3 - CE for a uniform 3-way code.
    ce = F.cross_entropy(q[:, :3], category)
    assert stats["mutual_information_bound"].item() == pytest.approx(math.log(3) - ce.item(), rel=1e-5)
    generator_loss, _ = objective.score_generator(critic, fake, latent=z)
    assert generator_loss.item() == pytest.approx((F.softplus(-scores_fake).mean() + info).item(), rel=1e-5)


def test_infogan_takes_the_shared_gradient_penalty_and_it_changes_the_critics_gradients():
    # Before the core refactor InfoGAN refused a penalty (its critic step scored the samples itself).
    cfg = ModelConfig(arch="mlp", latent_dim=6, generator_widths=[16], critic_widths=[16])
    real, fake, z = torch.randn(8, 2), torch.randn(8, 2), torch.randn(8, 6)
    grads = {}
    for weight in (0.0, 10.0):
        torch.manual_seed(0)
        objective = make("infogan", categories=3, continuous=1, penalty_weight=weight)
        critic = build_critic(cfg, (2,), head=objective.critic_head())
        torch.manual_seed(1)
        loss, stats = objective.score_critic(critic, CriticBatch(real, fake, latent=z))
        grads[weight] = torch.autograd.grad(loss, list(critic.parameters()))
        assert ("penalty" in stats) == (weight > 0)
    assert stats["penalty"].item() > 0
    assert any(not torch.allclose(a, b) for a, b in zip(grads[0.0], grads[10.0]))


def test_infogan_runs_write_one_grid_per_code(tiny_toy_config, tmp_path):
    import gankit

    config = build_config("infogan-mnist", overrides=[
        "data.name=digits", "data.image_size=28", "model.base_channels=4", "train.steps=2", "train.batch_size=8",
        "train.tensorboard=false", "train.device=cpu", "eval.every=0",
    ])
    gankit.train(config, out=tmp_path, name="i", progress=False, log=lambda m: None)
    names = sorted(p.name for p in (tmp_path / "i" / "samples").glob("codes_*.png"))
    assert names == ["codes_categorical.png", "codes_continuous_0.png", "codes_continuous_1.png"]


def test_code_digit_matching_takes_the_best_one_to_one_assignment():
    codes = np.repeat(np.arange(10), 10)
    assert code_digit_matching(codes, (codes * 3 + 1) % 10, 10, 10) == 1.0  # a permutation reads perfectly
    assert code_digit_matching(codes, np.zeros(100, dtype=int), 10, 10) == pytest.approx(0.1)  # one digit for all
    # Code 0 draws 4s and 5s (6 and 4 of its 10), code 1 only 5s; codes 2-9 keep their digits (80). One code
    # per digit: giving 4 to code 0 (6) or 5 to code 1 (10) takes it from code 4 or 5 (10 each), so 80 count.
    digits = codes.copy()
    digits[:10] = [4] * 6 + [5] * 4
    digits[10:20] = 5
    assert code_digit_matching(codes, digits, 10, 10) == pytest.approx(0.80)


def test_code_digits_reads_each_categorical_code_by_the_classifier(classified_digits):
    from gankit.evaluation.context import EvalContext

    codes = LatentCodes(categories=10, continuous=0)
    category = torch.arange(40) % 10
    z = torch.cat([torch.randn(40, 3), torch.nn.functional.one_hot(category, 10).float() * 5 - 2.5], 1)
    assert torch.equal(codes.targets(z)[0], category)
    perm = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    # A generator whose code k draws digit perm[k]: the code is a perfect classifier up to relabelling.
    fake = torch.stack([classified_digits[perm[k]][i % len(classified_digits[perm[k]])]
                        for i, k in enumerate(category.tolist())])
    ctx = EvalContext(fake=fake, real=fake, kind="images", data_name="mnist", latent_codes=z, codes=codes)
    assert code_digits(ctx)["code_digit_accuracy"] == 1.0
    # One that ignores its code and draws 7s whatever it is asked: the matching finds one code right in ten.
    sevens = classified_digits[7][:1].expand(40, -1, -1, -1)
    ctx = EvalContext(fake=sevens, real=fake, kind="images", data_name="mnist", latent_codes=z, codes=codes)
    assert code_digits(ctx)["code_digit_accuracy"] == pytest.approx(0.1)


# ------------------------------------------------------------------ conditional models


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("dcgan", (1, 28, 28))])
def test_conditional_models_depend_on_the_label_and_unconditional_ones_ignore_it(arch, shape):
    torch.manual_seed(0)
    conditional = ModelConfig(arch=arch, latent_dim=8, generator_widths=[16], critic_widths=[16], base_channels=4,
                              conditional=True, label_dim=3)
    generator, critic = build_generator(conditional, shape, 10), build_critic(conditional, shape, 10)
    z = torch.randn(2, 8)
    zeros, ones = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
    assert not torch.allclose(generator(z, zeros), generator(z, ones))
    x = generator(z, zeros).detach()
    assert not torch.allclose(critic(x, zeros), critic(x, ones))
    with pytest.raises(ValueError, match="conditional"):
        generator(z)
    plain = build_generator(ModelConfig(arch=arch, latent_dim=8, generator_widths=[16], base_channels=4), shape, 10)
    assert torch.equal(plain(z, zeros), plain(z, ones))


def test_sampling_a_conditional_generator_without_labels_takes_the_classes_in_turn():
    torch.manual_seed(0)
    cfg = ModelConfig(arch="mlp", latent_dim=4, generator_widths=[16], conditional=True, label_dim=2)
    generator = build_generator(cfg, (2,), 3)
    noise = LatentInput(4).draw(6, "cpu", seed=0)
    assert torch.equal(generate(generator, noise), generate(generator, noise, torch.tensor([0, 1, 2, 0, 1, 2])))


def test_conditional_model_on_unlabelled_data_is_refused_with_the_fix(tiny_toy_config):
    import gankit

    config = tiny_toy_config("cwgan-gp-8gaussians", "data.name=swissroll")
    with pytest.raises(ConfigError, match="swissroll' has no class labels.*model.conditional=false"):
        gankit.train(config, out="unused", progress=False, log=lambda m: None)


def test_conditional_penalty_points_carry_labels_and_shuffled_points_are_refused():
    torch.manual_seed(0)
    cfg = ModelConfig(arch="mlp", latent_dim=4, critic_widths=[16], conditional=True, label_dim=2)
    critic = build_critic(cfg, (2,), 3)
    labels = torch.tensor([0, 1, 2, 0])
    batch = CriticBatch(torch.randn(4, 2), torch.randn(4, 2), labels, labels)
    for points in ("real-fake", "mixed"):
        loss, stats = make("wgan-gp", penalty_points=points).score_critic(critic, batch)
        assert torch.isfinite(loss) and stats["penalty"] > 0
    with pytest.raises(ConfigError, match="penalty_points 'within'.*conditional"):
        make("wgan-gp", penalty_points="within").score_critic(critic, batch)


def test_api_sample_checks_labels():
    import gankit
    from gankit.api import Run

    cfg = resolve(build_config("cwgan-gp-8gaussians", overrides=["model.generator_widths=[8]"]))
    generator = build_generator(cfg.model, (2,), 8)
    run = Run(None, cfg, {"generator": generator}, {"kind": "points"}, 0)
    assert run.sample(5, labels=3).shape == (5, 2)
    with pytest.raises(ConfigError, match="label 8 is not a class of this run: use 0 to 7"):
        run.sample(5, labels=8)
    plain = Run(None, cfg, {"generator": build_generator(ModelConfig(arch="mlp", latent_dim=2), (2,))}, {"kind": "points"}, 0)
    with pytest.raises(ConfigError, match="not conditional"):
        plain.sample(5, labels=1)
    assert gankit.api.sample(run, 4, labels=torch.tensor([0, 1, 2, 3])).shape == (4, 2)


def test_a_conditional_mnist_model_sampled_with_label_k_draws_class_k(tmp_path):
    """A short CGAN run; `gankit sample --label K` then gives digits the shipped classifier reads as K.

    Small on purpose (8-channel DCGAN, 500 steps of 32, about half a minute on 2 cores): the bar is
    "most samples", which this setting clears at 62-68% over seeds (chance is 10%).
    """
    import numpy as np

    import gankit
    from gankit.cli import main
    from gankit.evaluation.classifier import as_classifier_input, load_mnist_classifier

    config = build_config("cgan-mnist", overrides=[
        "objective.name=nsgan", "model.base_channels=8", "model.latent_dim=16", "train.batch_size=32",
        "train.steps=500", "optim.generator.lr=1e-3", "optim.critic.lr=1e-3", "train.tensorboard=false",
        "train.device=cpu", "eval.every=0", "train.sample_every=1000", "train.checkpoint_every=1000",
    ])
    gankit.train(config, out=tmp_path, name="c", progress=False, log=lambda m: None)
    classifier = load_mnist_classifier()
    matches = []
    for label in range(10):
        out = tmp_path / f"label{label}.npz"
        assert main(["sample", str(tmp_path / "c"), "--label", str(label), "-n", "50", "-o", str(out)]) == 0
        images = torch.from_numpy(np.load(out)["images"]).float() / 127.5 - 1
        with torch.no_grad():
            _, logits = classifier(as_classifier_input(images))
        matches.append((logits.argmax(1) == label).float().mean().item())
    assert sum(matches) / 10 > 0.5, f"class match per label: {matches}"
    # The label_match metric measures the same thing over the real data's class mix.
    result = gankit.evaluate(tmp_path / "c", metrics=["label_match"], samples=500, append=False)
    assert result.values["label_match"] > 0.5
    assert abs(result.values["label_match"] - sum(matches) / 10) < 0.15
