"""gankit.losses against TF-GAN's published test constants and values computed by hand.

TF-GAN's losses_impl_test.py scores real samples [-5.0, 1.4, 12.5, 2.7] and
generated ones [10.0, 4.4, -5.5, 3.6] and publishes each loss's value on them.
"""

import math

import pytest
import torch

from gankit import losses

REAL = torch.tensor([-5.0, 1.4, 12.5, 2.7])
FAKE = torch.tensor([10.0, 4.4, -5.5, 3.6])


def test_wasserstein_losses_on_tf_gan_constants():
    assert losses.wasserstein_critic_loss(REAL, FAKE).item() == pytest.approx(0.225, abs=1e-6)
    assert losses.wasserstein_generator_loss(FAKE).item() == pytest.approx(-3.125, abs=1e-6)


def test_least_squares_losses_on_tf_gan_constants():
    assert losses.least_squares_critic_loss(REAL, FAKE).item() == pytest.approx(41.73375, rel=1e-6)
    assert losses.least_squares_generator_loss(FAKE).item() == pytest.approx(17.69625, rel=1e-6)


def test_least_squares_pearson_coding_by_hand():
    # a = -1, b = 1, c = 0 on TF-GAN's scores: 1/2 mean((R - 1)^2) = 21.4125, 1/2 mean((F + 1)^2) = 23.94625,
    # and the generator's 1/2 mean(F^2) = 20.32125 (so the 0-1 coding's 41.73375 is 21.4125 + 20.32125).
    assert losses.least_squares_critic_loss(REAL, FAKE, real_target=1.0, fake_target=-1.0).item() == pytest.approx(
        45.35875, rel=1e-6)
    assert losses.least_squares_generator_loss(FAKE, target=0.0).item() == pytest.approx(20.32125, rel=1e-6)


def test_non_saturating_generator_loss_on_tf_gan_constants():
    assert losses.nonsaturating_generator_loss(FAKE).item() == pytest.approx(1.38582, abs=1e-5)


def test_minimax_losses_by_hand():
    softplus = lambda s: math.log1p(math.exp(s))
    expected = sum(softplus(-s) for s in REAL.tolist()) / 4 + sum(softplus(s) for s in FAKE.tolist()) / 4
    assert losses.minimax_critic_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert losses.minimax_generator_loss(FAKE).item() == pytest.approx(-sum(softplus(s) for s in FAKE.tolist()) / 4, rel=1e-6)
    # Written with softplus, a confident critic gives a large finite loss, never log(0).
    assert math.isfinite(losses.minimax_critic_loss(torch.tensor([-200.0]), torch.tensor([200.0])).item())


def test_gradient_norm_penalty_by_hand():
    norms = torch.tensor([0.5, 1.0, 2.0])
    # WGAN-GP: 10 * mean((0.5-1)^2, 0, (2-1)^2) = 10 * 1.25 / 3
    assert losses.gradient_norm_penalty(norms, 10.0, 1.0, 2.0).item() == pytest.approx(12.5 / 3)
    # WGAN-div: 2 * mean(0.5^6, 1, 2^6)
    assert losses.gradient_norm_penalty(norms, 2.0, 0.0, 6.0).item() == pytest.approx(2 * (0.015625 + 1 + 64) / 3)


def test_input_gradient_norms_of_a_linear_critic_are_its_weight_norm():
    points = torch.randn(5, 2, requires_grad=True)
    scores = points @ torch.tensor([3.0, 4.0])
    assert torch.allclose(losses.input_gradient_norms(scores, points), torch.full((5,), 5.0))


def test_energy_losses_by_hand():
    real, fake = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 1.5])
    assert losses.ebgan_critic_loss(real, fake, 1.0).item() == pytest.approx(0.3 + 0.25)
    assert losses.began_critic_loss(real, fake, 0.5).item() == pytest.approx(0.3 - 0.5 * 1.0)
    k = losses.began_k_update(torch.tensor(0.5), torch.tensor(0.4), torch.tensor(0.1), 0.5, 0.1)
    assert k.item() == pytest.approx(0.51)


def test_loss_sensitive_loss_by_hand():
    margins = losses.l1_margins(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    assert margins.item() == pytest.approx(1.5)
    # L(x) 0.5, L(G(z)) 1.0: 0.5 + 1 * max(0, 1.5 + 0.5 - 1.0) = 1.5
    assert losses.loss_sensitive_critic_loss(torch.tensor([0.5]), torch.tensor([1.0]), margins, 1.0).item() == pytest.approx(1.5)


def test_gls_loss_by_hand_and_its_two_ends():
    # Qi's margin summed over the values: scale 2 on a 2-value sample doubles the mean L1 (1.5) to the sum.
    assert losses.l1_margins(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]), 2.0).item() == pytest.approx(3.0)
    real, fake, margins = torch.tensor([0.5, 0.2]), torch.tensor([1.0, 4.0]), torch.tensor([1.5, 0.5])
    # Costs Delta + L(x) - L(G(z)): 1.5 + 0.5 - 1.0 = 1.0 and 0.5 + 0.2 - 4.0 = -3.3; mean L(x) 0.35, lambda 2.
    ls = losses.loss_sensitive_critic_loss
    assert ls(real, fake, margins, 2.0, slope=0.0).item() == pytest.approx(0.35 + 2 * 0.5)
    # GLS-GAN, C(a) = leaky_relu(a, 0.5): mean(1.0, -1.65) = -0.325
    assert ls(real, fake, margins, 2.0, slope=0.5).item() == pytest.approx(0.35 - 0.65)
    assert ls(real, fake, margins, 2.0, slope=1.0).item() == pytest.approx(0.35 - 2.3)
    torch.manual_seed(0)
    real, fake, margins = torch.rand(16), torch.rand(16) * 3, torch.rand(16)
    # slope 0 is the LS-GAN loss as it was: max(0, a).
    old = real.mean() + 0.7 * torch.clamp(margins + real - fake, min=0).mean()
    assert torch.equal(ls(real, fake, margins, 0.7), old)
    assert torch.equal(ls(real, fake, margins, 0.7, slope=0.0), old)
    # slope 1: C(a) = a, WGAN's difference E L(x) - E L(G(z)) plus the mean margin, beside the loss mean.
    wgan = losses.wasserstein_critic_loss(fake, real)  # E L(x) - E L(G(z)): the real losses play the fake scores
    expected = real.mean() + 0.7 * (margins.mean() + wgan)
    assert ls(real, fake, margins, 0.7, slope=1.0).item() == pytest.approx(expected.item())


def test_hinge_losses_on_tf_gan_constants():
    # TF-GAN's HingeWassersteinLossTest: by hand, mean(relu(1 - real)) = mean(6, 0, 0, 0) = 1.5 and
    # mean(relu(1 + fake)) = mean(11, 5.4, 0, 4.6) = 5.25, so 6.75; the generator's -mean(fake) = -12.5 / 4.
    assert losses.hinge_critic_loss(REAL, FAKE).item() == pytest.approx(6.75, abs=1e-6)
    assert losses.hinge_generator_loss(FAKE).item() == pytest.approx(-3.125, abs=1e-6)


def test_lecam_regularization_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5])
    anchor_real, anchor_fake = 2.0, -0.5
    # Real scores against alpha_F: (1.5^2 + 3.5^2) / 2 = 7.25; generated against alpha_R: (4^2 + 1.5^2) / 2 = 9.125.
    assert losses.lecam_regularization(real, fake, anchor_real, anchor_fake).item() == pytest.approx(16.375)
    # The authors' code's one-sided form keeps only real scores above alpha_F and generated ones below alpha_R:
    # here every gap has that sign, so it agrees.
    one_sided = losses.lecam_regularization(real, fake, anchor_real, anchor_fake, one_sided=True)
    assert one_sided.item() == pytest.approx(16.375)
    # With alpha_R = 0, alpha_F = 2: real gaps D(x) - 2 = -1, 1 (only 1 counts: 1^2 / 2); generated gaps
    # 0 - D(G(z)) = 2, -0.5 (only 2 counts: 2^2 / 2). The paper's two-sided form counts all four.
    assert losses.lecam_regularization(real, fake, 0.0, 2.0, one_sided=True).item() == pytest.approx(0.5 + 2.0)
    assert losses.lecam_regularization(real, fake, 0.0, 2.0).item() == pytest.approx((1 + 1) / 2 + (4 + 0.25) / 2)


def test_debiased_moving_average_by_hand():
    # decay 0.5 over 2, 4, 6: the plain average from 0 is 1, 2.5, 4.25; debiased by 1 - 0.5^t: 2, 10/3, 34/7.
    average = torch.tensor(0.0)
    seen = []
    for t, value in enumerate([2.0, 4.0, 6.0], start=1):
        average = losses.debiased_moving_average(average, torch.tensor(value), 0.5, t)
        seen.append(average.item())
    assert seen == pytest.approx([2.0, 10 / 3, 34 / 7])
    # Decay 0 keeps the newest value only.
    assert losses.debiased_moving_average(torch.tensor(5.0), torch.tensor(1.0), 0.0, 7).item() == 1.0
