"""Losses and penalties against values computed by hand."""

import math

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.objectives import OBJECTIVES, CriticBatch, StepContext, objective_class
from gankit.objectives.penalties import (
    PENALTY_POINTS,
    gradient_norm_penalty,
    input_gradient_norms,
    penalty_points,
)


def sigmoid(s):
    return 1 / (1 + math.exp(-s))


class LinearCritic(nn.Module):
    """D(x) = w . x + b: its input gradient is w everywhere."""

    def __init__(self, weight, bias=0.0):
        super().__init__()
        self.linear = nn.Linear(len(weight), 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([weight]))
            self.linear.bias.fill_(bias)

    def forward(self, x, labels=None):
        return self.linear(x).squeeze(1)


class QuadraticCritic(nn.Module):
    """D(x) = ||x||^2 / 2: its input gradient at x is x itself."""

    def forward(self, x, labels=None):
        return 0.5 * x.pow(2).sum(dim=1)


class FixedScores(nn.Module):
    """Scores the first coordinate: lets a test choose the critic's outputs exactly."""

    def forward(self, x, labels=None):
        return x[:, 0]


REAL = [0.0, 1.0, -2.0]
FAKE = [0.5, -1.0, 3.0]


def batch_of_scores():
    real = torch.tensor(REAL).unsqueeze(1)
    fake = torch.tensor(FAKE).unsqueeze(1)
    return CriticBatch(real=real, fake=fake)


def mean(values):
    return sum(values) / len(values)


def critic_loss(name):
    objective = objective_class(name)()
    loss, stats = objective.score_critic(FixedScores(), batch_of_scores())
    return loss.item(), stats


def generator_loss(name):
    objective = objective_class(name)()
    loss, _ = objective.score_generator(FixedScores(), torch.tensor(FAKE).unsqueeze(1))
    return loss.item()


def test_minimax_losses_match_the_cross_entropy_by_hand():
    expected = -mean([math.log(sigmoid(s)) for s in REAL]) - mean([math.log(1 - sigmoid(s)) for s in FAKE])
    loss, stats = critic_loss("gan")
    assert loss == pytest.approx(expected, rel=1e-6)
    assert stats["d_real"].item() == pytest.approx(mean([sigmoid(s) for s in REAL]), rel=1e-6)
    # the saturating generator minimises E[log(1 - D(G(z)))]
    assert generator_loss("gan") == pytest.approx(mean([math.log(1 - sigmoid(s)) for s in FAKE]), rel=1e-6)


def test_non_saturating_generator_minimises_minus_log_d():
    assert critic_loss("nsgan")[0] == pytest.approx(critic_loss("gan")[0])
    assert generator_loss("nsgan") == pytest.approx(mean([-math.log(sigmoid(s)) for s in FAKE]), rel=1e-6)


def test_minimax_loss_stays_finite_for_extreme_logits():
    objective = objective_class("gan")()
    batch = CriticBatch(real=torch.tensor([[200.0]]), fake=torch.tensor([[-200.0]]))
    loss, _ = objective.score_critic(FixedScores(), batch)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0, abs=1e-6)


def test_least_squares_losses_by_hand():
    expected = 0.5 * mean([(s - 1) ** 2 for s in REAL]) + 0.5 * mean([s**2 for s in FAKE])
    assert critic_loss("lsgan")[0] == pytest.approx(expected, rel=1e-6)
    assert generator_loss("lsgan") == pytest.approx(0.5 * mean([(s - 1) ** 2 for s in FAKE]), rel=1e-6)


def test_least_squares_coding_comes_from_the_params():
    objective = objective_class("lsgan")(objective_class("lsgan").Params(real_target=1.0, fake_target=-1.0,
                                                                          generator_target=0.0))
    loss, _ = objective.score_critic(FixedScores(), batch_of_scores())
    assert loss.item() == pytest.approx(0.5 * mean([(s - 1) ** 2 for s in REAL]) + 0.5 * mean([(s + 1) ** 2 for s in FAKE]),
                                        rel=1e-6)
    generator, _ = objective.score_generator(FixedScores(), torch.tensor(FAKE).unsqueeze(1))
    assert generator.item() == pytest.approx(0.5 * mean([s**2 for s in FAKE]), rel=1e-6)


def test_least_squares_refuses_equal_real_and_fake_targets():
    problems = objective_class("lsgan").Params(real_target=0.5, fake_target=0.5).validate("objective")
    assert any("real_target and objective.fake_target" in problem for problem in problems)


def test_wgan_losses_and_wasserstein_estimate_by_hand():
    loss, stats = critic_loss("wgan")
    assert loss == pytest.approx(mean(FAKE) - mean(REAL), rel=1e-6)
    assert stats["wasserstein"].item() == pytest.approx(mean(REAL) - mean(FAKE), rel=1e-6)
    assert generator_loss("wgan") == pytest.approx(-mean(FAKE), rel=1e-6)


@pytest.mark.parametrize("strategy", list(PENALTY_POINTS))
def test_gradient_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared(strategy):
    torch.manual_seed(0)
    critic = LinearCritic([3.0, 4.0], bias=0.7)  # |w| = 5
    objective = objective_class("wgan-gp")(objective_class("wgan-gp").Params(penalty_points=strategy))
    real, fake = torch.randn(16, 2), torch.randn(16, 2) * 3
    loss, stats = objective.score_critic(critic, CriticBatch(real, fake))
    assert stats["penalty"].item() == pytest.approx(10 * (5 - 1) ** 2, rel=1e-5)
    w_gap = (critic(fake).mean() - critic(real).mean()).item()
    assert loss.item() == pytest.approx(w_gap + 160, rel=1e-5)
    assert stats["grad_norm"].item() == pytest.approx(5.0, rel=1e-6)


def test_wgan_div_penalty_of_a_linear_critic_is_k_times_norm_to_the_p():
    critic = LinearCritic([3.0, 4.0])
    objective = objective_class("wgan-div")()
    _, stats = objective.score_critic(critic, CriticBatch(torch.randn(8, 2), torch.randn(8, 2)))
    assert stats["penalty"].item() == pytest.approx(2 * 5**6, rel=1e-5)


def test_penalty_at_known_points_of_a_quadratic_critic():
    # grad of ||x||^2/2 is x, so the norms are the points' norms: 5 and 0.6
    points = torch.tensor([[3.0, 4.0], [0.6, 0.0]], requires_grad=True)
    norms = input_gradient_norms(QuadraticCritic()(points), points)
    assert norms.tolist() == pytest.approx([5.0, 0.6], rel=1e-6)
    gp = gradient_norm_penalty(norms, weight=10, target=1, power=2)
    assert gp.item() == pytest.approx(10 * ((5 - 1) ** 2 + (0.6 - 1) ** 2) / 2, rel=1e-6)
    div = gradient_norm_penalty(norms, weight=2, target=0, power=6)
    assert div.item() == pytest.approx(2 * (5**6 + 0.6**6) / 2, rel=1e-6)


def test_penalty_gradient_reaches_critic_weights_and_is_finite_at_zero_gradient():
    critic = LinearCritic([0.0, 0.0])  # input gradient exactly zero: a plain sqrt would give NaN here
    objective = objective_class("wgan-gp")()
    loss, _ = objective.score_critic(critic, CriticBatch(torch.randn(4, 2), torch.randn(4, 2)))
    loss.backward()
    grad = critic.linear.weight.grad
    assert grad is not None and torch.isfinite(grad).all()


def test_penalty_point_strategies_draw_from_the_right_sets():
    torch.manual_seed(0)
    real = torch.zeros(6, 2)
    fake = torch.ones(6, 2)
    between = penalty_points("real-fake", real, fake)
    assert between.shape == (6, 2)
    assert ((between >= 0) & (between <= 1)).all()
    assert torch.allclose(between[:, 0], between[:, 1])  # on the segment from (0,0) to (1,1)
    within = penalty_points("within", real, fake)
    assert within.shape == (12, 2)
    assert torch.equal(within[:6], real) and torch.equal(within[6:], fake)  # real-real stays real
    assert torch.equal(penalty_points("mixed", real, fake), torch.cat([real, fake]))
    assert torch.equal(penalty_points("real", real, fake), real)
    assert torch.equal(penalty_points("fake", real, fake), fake)
    pairs = penalty_points("mixed-pairs", real, fake)
    assert pairs.shape == (6, 2) and ((pairs >= 0) & (pairs <= 1)).all()
    assert not pairs.requires_grad


def test_fused_and_separate_critic_forwards_give_the_same_loss():
    torch.manual_seed(1)
    critic = nn.Sequential(nn.Linear(2, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 1))
    score = lambda x, labels=None: critic(x).squeeze(1)
    wrapped = type("Wrapped", (nn.Module,), {"forward": lambda self, x, labels=None: score(x)})()
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    results = []
    for fused in (True, False):
        torch.manual_seed(7)  # same interpolation weights
        objective = objective_class("wgan-gp")()
        loss, _ = objective.score_critic(wrapped, CriticBatch(real, fake), StepContext(join_critic_forwards=fused))
        grads = torch.autograd.grad(loss, list(critic.parameters()))
        results.append((loss.detach(), grads))
    assert torch.allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_wgan_clipping_keeps_every_critic_weight_within_c():
    critic = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        for p in critic.parameters():
            p.uniform_(-1, 1)
    objective_class("wgan")().after_critic_step(critic, {}, StepContext())
    values = torch.cat([p.flatten() for p in critic.parameters()])
    assert values.abs().max().item() <= 0.01 + 1e-9
    assert (values.abs() == 0.01).any()  # clipped, not rescaled


def test_objective_recommendations_follow_the_papers():
    wgan = objective_class("wgan")
    assert (wgan.recommended.optimizer, wgan.recommended.lr) == ("rmsprop", 5e-5)
    assert wgan.Params().clip_value == 0.01
    gp = objective_class("wgan-gp")
    assert (gp.recommended.optimizer, gp.recommended.lr, gp.recommended.betas) == ("adam", 1e-4, (0.0, 0.9))
    assert gp.Params().penalty_weight == 10
    div = objective_class("wgan-div").Params()
    assert (div.penalty_weight, div.penalty_target, div.penalty_power) == (2, 0, 6)


def test_every_objective_is_registered_and_unknown_names_are_refused():
    assert set(OBJECTIVES) == {
        "gan", "nsgan", "lsgan", "wgan", "wgan-gp", "wgan-div", "hinge", "ebgan", "began", "loss-sensitive",
        "infogan", "fgan", "bigan", "ali", "cyclegan", "discogan", "irgan", "bpr",
    }
    with pytest.raises(ConfigError, match="did you mean 'wgan-gp'"):
        objective_class("wgan_gp")
