"""f-GAN (issue 16): the paper's divergence table, checked from the table's own definitions."""

import math

import pytest
import torch

from gankit import losses
from gankit.config import build_config
from gankit.errors import ConfigError
from gankit.objectives import objective_class

DIVERGENCES = sorted(losses.F_DIVERGENCES)
REAL = torch.tensor([-5.0, 1.4, 12.5, 2.7])
FAKE = torch.tensor([10.0, 4.4, -5.5, 3.6])


def test_the_gan_divergence_is_the_non_saturating_gans_losses():
    assert losses.f_divergence_critic_loss(REAL, FAKE, "gan").item() == pytest.approx(
        losses.minimax_critic_loss(REAL, FAKE).item(), rel=1e-6)
    assert losses.f_divergence_generator_loss(FAKE, "gan").item() == pytest.approx(1.38582, abs=1e-5)  # TF-GAN's


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_the_composed_conjugate_is_finite_for_every_score_in_minus_50_to_50(divergence):
    activation, conjugate = losses.F_DIVERGENCES[divergence]
    v = torch.linspace(-50, 50, 2001)
    assert torch.isfinite(activation(v)).all() and torch.isfinite(conjugate(v)).all()
    # ... and it is f* applied to g_f, where both are finite in float64.
    small = torch.linspace(-4, 4, 81, dtype=torch.float64)
    expected = losses.F_CONJUGATES[divergence](activation(small))
    assert torch.allclose(conjugate(small), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_at_p_equals_q_with_the_critic_at_f_prime_of_1_the_bound_is_zero(divergence):
    """f'(1) - f*(f'(1)) = f(1): 0 for every divergence, and -log 4 for the GAN's (2 JSD - log 4)."""
    activation, conjugate = losses.F_DIVERGENCES[divergence]
    f, f_prime_1 = losses.F_GENERATORS[divergence]
    # The score v whose activation is f'(1): found by bisection (every g_f is increasing).
    lo, hi = torch.tensor(-20.0, dtype=torch.float64), torch.tensor(20.0, dtype=torch.float64)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if activation(mid) < f_prime_1 else (lo, mid)
    v = torch.full((64,), float(lo), dtype=torch.float64)
    f_at_1 = f(torch.tensor(1.0, dtype=torch.float64)).item()
    assert f_at_1 == pytest.approx(-math.log(4) if divergence == "gan" else 0.0, abs=1e-12)
    assert losses.f_divergence_critic_loss(v, v, divergence).item() == pytest.approx(-f_at_1, abs=1e-9)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_each_conjugate_is_the_legendre_transform_of_its_f(divergence):
    """f*(t) = sup_u (u t - f(u)), computed on a dense grid of u > 0, at points t inside the domain."""
    f, _ = losses.F_GENERATORS[divergence]
    activation, _ = losses.F_DIVERGENCES[divergence]
    u = torch.logspace(-6, 4, 400_001, dtype=torch.float64)
    fu = f(u)
    for v in (-1.0, -0.3, 0.0, 0.4, 1.0):
        t = activation(torch.tensor(v, dtype=torch.float64))
        numeric = (u * t - fu).max().item()
        assert losses.F_CONJUGATES[divergence](t).item() == pytest.approx(numeric, rel=1e-4, abs=1e-5), (v, float(t))


def _gaussian_divergence(divergence, mu_p, mu_q, sigma):
    """The critic's bound at its optimum T = f'(p/q) on two 1-D Gaussians, and D_f = E_Q f(p/q): both integrated."""
    p = torch.distributions.Normal(torch.tensor(mu_p, dtype=torch.float64), sigma)
    q = torch.distributions.Normal(torch.tensor(mu_q, dtype=torch.float64), sigma)
    f, _ = losses.F_GENERATORS[divergence]
    x = torch.linspace(-14, 14, 400_001, dtype=torch.float64)
    density_p, density_q = p.log_prob(x).exp(), q.log_prob(x).exp()
    ratio = (p.log_prob(x) - q.log_prob(x)).exp()
    h = 1e-6 * torch.clamp(ratio, min=1.0)
    optimum = (f(ratio + h) - f(ratio - h)) / (2 * h)  # T* = f'(p/q), by central differences
    bound = torch.trapezoid(density_p * optimum, x) - torch.trapezoid(density_q * losses.F_CONJUGATES[divergence](optimum), x)
    exact = torch.trapezoid(density_q * f(ratio), x)
    return bound.item(), exact.item()


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_the_critics_optimum_on_two_gaussians_recovers_the_divergence(divergence):
    # The bound E_P[T*] - E_Q[f*(T*)] at the optimal critic equals D_f(P || Q): measured to 1e-9 relative by
    # quadrature for every divergence (total variation's f' is taken by central differences, which give its
    # subgradient 0 at u = 1).
    bound, exact = _gaussian_divergence(divergence, 0.0, 0.5, 1.0)
    assert bound == pytest.approx(exact, rel=1e-6, abs=1e-8)
    if divergence == "kl":
        assert exact == pytest.approx(0.125, rel=1e-6)  # KL of N(0, 1) to N(0.5, 1) is (mu_p - mu_q)^2 / 2
    if divergence in ("pearson", "neyman"):
        assert exact == pytest.approx(math.exp(0.25) - 1, rel=1e-6)  # both chi^2 = exp((mu_p - mu_q)^2) - 1 here


def test_an_unknown_divergence_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'reverse-kl'"):
        build_config("fgan-kl-8gaussians", overrides=["objective.divergence=reverse_kl"])


def test_fgan_logs_its_bound_and_uses_the_practical_generator_loss_by_default():
    objective = objective_class("fgan")(objective_class("fgan").Params(divergence="kl"))
    stats = objective.score_stats(REAL, FAKE)
    assert stats["divergence_estimate"].item() == pytest.approx(
        -losses.f_divergence_critic_loss(REAL, FAKE, "kl").item())
    assert objective.generator_link(FAKE).item() == pytest.approx(-FAKE.mean().item())  # -E g_f(v), g_f = identity
    saddle = objective_class("fgan")(objective_class("fgan").Params(divergence="kl", generator_loss="saddle"))
    assert saddle.generator_link(FAKE).item() == pytest.approx(-torch.exp(FAKE - 1).mean().item(), rel=1e-6)
    assert math.isfinite(objective.critic_link(REAL, FAKE).item())


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_every_divergence_trains_a_few_steps_with_a_finite_bound(divergence, tiny_toy_config, tmp_path):
    import json

    import gankit

    config = tiny_toy_config(f"fgan-{divergence}-8gaussians", "train.steps=3", "train.log_every=1")
    run = gankit.train(config, out=tmp_path, name="r", progress=False, log=lambda _: None)
    records = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["divergence_estimate"]) and math.isfinite(r["generator_loss"]) for r in records)
