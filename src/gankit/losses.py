"""Every loss and penalty of gankit's objectives as a pure function of tensors.

Scores, samples or gradient norms in, a scalar (or per-sample tensor) out:
no networks, no state, no optimiser. The objectives in ``gankit.objectives``
are built from these, and a user with their own training loop can call them
directly::

    from gankit import losses
    d_loss = losses.wasserstein_critic_loss(critic(real), critic(fake)) + penalty
    g_loss = losses.wasserstein_generator_loss(critic(generator(z)))

Scores are the critic's raw outputs: logits for the minimax family (the link
to a probability is a sigmoid, written with softplus so that no probability
is ever rounded to 0 or 1), energies for the auto-encoder critics. The values
on TF-GAN's published test constants are unit tests (tests/test_losses.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

# ------------------------------------------------------------------ the minimax family (Goodfellow et al.)


def minimax_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``-E log D(x) - E log(1 - D(G(z)))`` with ``D = sigmoid(score)``: softplus(-s) = -log D, softplus(s) = -log(1-D)."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def minimax_generator_loss(fake_scores: Tensor) -> Tensor:
    """``E log(1 - D(G(z)))``, minimised: the saturating loss, whose gradient vanishes when D wins."""
    return -F.softplus(fake_scores).mean()


def nonsaturating_generator_loss(fake_scores: Tensor) -> Tensor:
    """``-E log D(G(z))``: the -log D trick."""
    return F.softplus(-fake_scores).mean()


# ------------------------------------------------------------------ least squares (Mao et al.)


def least_squares_critic_loss(real_scores: Tensor, fake_scores: Tensor, real_target: float = 1.0,
                              fake_target: float = 0.0) -> Tensor:
    """``1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2``, Mao et al.'s Eq. 2: b = 1, a = 0 the paper's 0-1 coding."""
    return 0.5 * (real_scores - real_target).pow(2).mean() + 0.5 * (fake_scores - fake_target).pow(2).mean()


def least_squares_generator_loss(fake_scores: Tensor, target: float = 1.0) -> Tensor:
    """``1/2 E (D(G(z)) - c)^2``: c = 1 the 0-1 coding (the generator aims at the real label)."""
    return 0.5 * (fake_scores - target).pow(2).mean()


# ------------------------------------------------------------------ hinge (Lim & Ye; Miyato et al.'s SNGAN)


def hinge_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``E relu(1 - D(x)) + E relu(1 + D(G(z)))``: each side's hinge at margin 1, as in SNGAN and BigGAN."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: Tensor) -> Tensor:
    """``-E D(G(z))``: the generator pushes its scores up, unbounded (Wasserstein's generator loss)."""
    return -fake_scores.mean()


# ------------------------------------------------------------------ the Wasserstein family


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``E D(G(z)) - E D(x)``: minus the Kantorovich-Rubinstein estimate of W1."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """``-E D(G(z))``."""
    return -fake_scores.mean()


def input_gradient_norms(scores: Tensor, points: Tensor) -> Tensor:
    """``||grad_x D(x)||`` for each point, keeping the graph for the double backward.

    ``points`` must require grad and ``scores`` must be the critic's output on
    exactly these points. The tiny constant inside the square root keeps the
    norm differentiable where the gradient is exactly zero (a sqrt at 0 has an
    infinite derivative, which would turn the penalty's gradient into NaN).
    """
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    squared = grad.float().flatten(1).pow(2).sum(dim=1)
    return (squared + 1e-12).sqrt()


def gradient_norm_penalty(norms: Tensor, weight: float, target: float, power: float) -> Tensor:
    """``weight * mean(|norm - target| ** power)``: WGAN-GP with (1, 2), WGAN-div with (0, 6)."""
    return weight * (norms - target).abs().pow(power).mean()


# ------------------------------------------------------------------ LeCam regularisation (Tseng et al., 2021)


def lecam_regularization(
    real_scores: Tensor, fake_scores: Tensor, anchor_real: Tensor | float, anchor_fake: Tensor | float,
    one_sided: bool = False,
) -> Tensor:
    """``E (D(x) - alpha_F)^2 + E (D(G(z)) - alpha_R)^2``: each side's scores pulled towards the other's anchor.

    ``anchor_real`` (alpha_R) and ``anchor_fake`` (alpha_F) are moving averages of the critic's mean score
    on real and generated samples, constants to the gradient. ``one_sided`` is the authors' code's form
    (``mean(relu(D(x) - alpha_F)^2) + mean(relu(alpha_R - D(G(z)))^2)``): only real scores above the fake
    anchor and generated scores below the real anchor are penalised.
    """
    real_gap = real_scores - anchor_fake
    fake_gap = anchor_real - fake_scores
    if one_sided:
        real_gap, fake_gap = F.relu(real_gap), F.relu(fake_gap)
    return real_gap.pow(2).mean() + fake_gap.pow(2).mean()


def debiased_moving_average(average: Tensor, value: Tensor, decay: float, count: Tensor | int) -> Tensor:
    """The zero-debiased exponential moving average after its ``count``-th value (1 for the first).

    ``average + (value - average) (1 - decay) / (1 - decay^count)``: the first value is taken whole, and
    afterwards this equals ``biased / (1 - decay^count)`` for the plain average ``biased`` started at 0 (TF's
    ``assign_moving_average(zero_debias=True)``, which LeCam's authors use), so early values are not
    pulled towards 0.
    """
    count = torch.as_tensor(count, dtype=average.dtype, device=average.device)
    return average + (value - average) * ((1 - decay) / (1 - decay ** count))


# ------------------------------------------------------------------ energy-based critics (EBGAN, BEGAN)


def ebgan_critic_loss(real_energy: Tensor, fake_energy: Tensor, margin: Tensor | float) -> Tensor:
    """``E D(x) + E max(0, m - D(G(z)))`` over per-sample energies."""
    return real_energy.mean() + F.relu(margin - fake_energy).mean()


def pulling_away_term(codes: Tensor) -> Tensor:
    """EBGAN's PT: the mean squared cosine similarity of distinct pairs of codes (0 orthogonal, 1 identical)."""
    flat = codes.float().flatten(start_dim=1)
    n = flat.shape[0]
    if n < 2:
        return flat.new_zeros(())
    unit = F.normalize(flat, dim=1, eps=1e-8)
    cosines = unit @ unit.T
    # The diagonal holds each code with itself (1 after normalising): leave it out of the mean.
    return (cosines.pow(2).sum() - cosines.diagonal().pow(2).sum()) / (n * (n - 1))


def began_critic_loss(real_energy: Tensor, fake_energy: Tensor, k: Tensor | float) -> Tensor:
    """``L(x) - k_t L(G(z))`` over per-sample energies."""
    return real_energy.mean() - k * fake_energy.mean()


def began_k_update(k: Tensor, real_energy: Tensor, fake_energy: Tensor, gamma: float, lambda_k: float) -> Tensor:
    """``clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1)``: k rises while generated samples are too easy."""
    return (k + lambda_k * (gamma * real_energy - fake_energy)).clamp(0.0, 1.0)


def began_convergence(real_energy: Tensor, fake_energy: Tensor, gamma: float) -> Tensor:
    """BEGAN's global convergence measure ``M = L(x) + |gamma L(x) - L(G(z))|``."""
    return real_energy + (gamma * real_energy - fake_energy).abs()


# ------------------------------------------------------------------ Loss-Sensitive GAN (Qi)


def l1_margins(real: Tensor, fake: Tensor, scale: float = 1.0) -> Tensor:
    """Delta(x_i, G(z_i)): ``scale`` times the mean absolute difference of each real/generated pair, ``[B]``.

    A ``scale`` of the values per sample (784 for MNIST) gives the L1 distance summed over pixels, as in
    Qi's code (``nn.PairwiseDistance(1)``); his tau on top of that is a further factor of ``scale``.
    """
    margins = (real.float() - fake.float()).abs().flatten(start_dim=1).mean(dim=1)
    return margins if scale == 1.0 else scale * margins


def loss_sensitive_costs(real_losses: Tensor, fake_losses: Tensor, margins: Tensor) -> Tensor:
    """``Delta + L(x) - L(G(z))`` per pair: positive where a generated sample is not yet a margin worse."""
    return margins + real_losses - fake_losses


def loss_sensitive_critic_loss(
    real_losses: Tensor, fake_losses: Tensor, margins: Tensor, lambda_: float, slope: float = 0.0,
    real_weight: float = 1.0,
) -> Tensor:
    """``w mean(L(x)) + lambda mean(C(Delta + L(x) - L(G(z))))`` over pairs, ``C(a) = leaky_relu(a, slope)``.

    ``slope`` 0 is LS-GAN's ``C(a) = max(0, a)``; above 0 it is Qi's generalised GLS-GAN (his glsgan.lua,
    appendix D of the paper: any C with ``C(a) >= a`` and ``C(a) = a`` for ``a >= 0``); at 1, ``C(a) = a``
    and the margin term is WGAN's difference of means plus the constant mean margin. ``real_weight`` w is
    1 in the paper's objective and 0 in Qi's lab's code, which trains on the margin term alone.
    """
    costs = loss_sensitive_costs(real_losses, fake_losses, margins)
    cost = F.relu(costs) if slope == 0.0 else F.leaky_relu(costs, slope)
    return real_weight * real_losses.mean() + lambda_ * cost.mean()


# ------------------------------------------------------------------ InfoGAN (Chen et al.)


def information_loss(
    q_outputs: Tensor,
    categories: int,
    category: Tensor | None,
    continuous: Tensor,
    weights: tuple[float, float],
) -> tuple[Tensor, Tensor, Tensor]:
    """(L_I, categorical cross-entropy, continuous squared error) of Q's outputs against the true codes.

    ``q_outputs`` are ``[B, categories + continuous]``: logits first, then
    means. The cross-entropy is taken on the logits, never on a softmax of
    them, which would squash the gradient.
    """
    q = q_outputs.float()
    categorical = q.new_zeros(())
    if categories:
        categorical = F.cross_entropy(q[:, :categories], category)
    continuous_error = q.new_zeros(())
    if continuous.shape[1]:
        continuous_error = 0.5 * (q[:, categories:] - continuous.float()).pow(2).sum(dim=1).mean()
    return weights[0] * categorical + weights[1] * continuous_error, categorical, continuous_error


# ------------------------------------------------------------------ unpaired translation (CycleGAN, DiscoGAN)


def l1_reconstruction(x: Tensor, reconstructed: Tensor) -> Tensor:
    """``mean |x - x'|``: CycleGAN's cycle and identity terms, one direction."""
    return (x.float() - reconstructed.float()).abs().mean()


def cycle_consistency_loss(x: Tensor, x_reconstructed: Tensor, y: Tensor, y_reconstructed: Tensor) -> Tensor:
    """TF-GAN's cycle-consistency loss: the mean of the two directions' L1 reconstruction errors.

    CycleGAN's generator loss takes ``lambda * (l1 A + l1 B)``, twice this.
    """
    return 0.5 * (l1_reconstruction(x, x_reconstructed) + l1_reconstruction(y, y_reconstructed))


def squared_reconstruction(x: Tensor, reconstructed: Tensor) -> Tensor:
    """``mean (x - x')^2``: DiscoGAN's reconstruction loss (its paper's choice)."""
    return (x.float() - reconstructed.float()).pow(2).mean()


def cosine_reconstruction(x: Tensor, reconstructed: Tensor) -> Tensor:
    """``mean (1 - cos(x, x'))`` per sample: DiscoGAN's cosine alternative."""
    return (1 - F.cosine_similarity(x.float().flatten(1), reconstructed.float().flatten(1), dim=1)).mean()


def hinge_reconstruction(x: Tensor, reconstructed: Tensor, margin: float = 0.0) -> Tensor:
    """``mean max(0, |x - x'| - margin)``: DiscoGAN's hinge alternative (0 margin: plain L1)."""
    return F.relu((x.float() - reconstructed.float()).abs() - margin).mean()


#: Adversarial terms on raw scores, as the CycleGAN reference computes them: (real labelled true, fake labelled
#: false, fake labelled true). A critic minimises 0.5 (real + fake); a generator minimises the third.
ADVERSARIAL_TERMS = {
    # The reference's default: least squares against targets 1 and 0 (MSE, no 1/2 on the generator's term).
    "lsgan": (lambda s: (s - 1).pow(2).mean(), lambda s: s.pow(2).mean(), lambda s: (s - 1).pow(2).mean()),
    # 'vanilla': binary cross-entropy on logits, the non-saturating generator.
    "gan": (lambda s: F.softplus(-s).mean(), lambda s: F.softplus(s).mean(), lambda s: F.softplus(-s).mean()),
    "wgan": (lambda s: -s.mean(), lambda s: s.mean(), lambda s: -s.mean()),
}


# ------------------------------------------------------------------ f-GAN (Nowozin et al., 2016)

# Table 2 of the paper, for each divergence: the output activation g_f (the critic's raw score v to the
# variational function T = g_f(v), inside the domain of f*), and the conjugate composed with it,
# f*(g_f(v)), written directly in v so that nothing takes the exp of a large number or the log of 0:
# e.g. Jensen-Shannon's f*(t) = -log(2 - e^t) at t = log 2 - softplus(-v) is softplus(v) - log 2.
LOG2 = math.log(2.0)
F_DIVERGENCES: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "kl": (lambda v: v, lambda v: torch.exp(v - 1)),
    "reverse-kl": (lambda v: -torch.exp(-v), lambda v: v - 1),
    "pearson": (lambda v: v, lambda v: 0.25 * v * v + v),
    "neyman": (lambda v: 1 - torch.exp(-v), lambda v: 2 - 2 * torch.exp(-0.5 * v)),
    "squared-hellinger": (lambda v: 1 - torch.exp(-v), lambda v: torch.expm1(v)),
    "jensen-shannon": (lambda v: LOG2 - F.softplus(-v), lambda v: F.softplus(v) - LOG2),
    "gan": (lambda v: -F.softplus(-v), lambda v: F.softplus(v)),
    "total-variation": (lambda v: 0.5 * torch.tanh(v), lambda v: 0.5 * torch.tanh(v)),
}
# The conjugates f*(t) themselves, on their domains (for tests against a numeric Legendre transform).
F_CONJUGATES: dict[str, Callable[[Tensor], Tensor]] = {
    "kl": lambda t: torch.exp(t - 1),
    "reverse-kl": lambda t: -1 - torch.log(-t),
    "pearson": lambda t: 0.25 * t * t + t,
    "neyman": lambda t: 2 - 2 * torch.sqrt(1 - t),
    "squared-hellinger": lambda t: t / (1 - t),
    "jensen-shannon": lambda t: -torch.log(2 - torch.exp(t)),
    "gan": lambda t: -torch.log(1 - torch.exp(t)),
    "total-variation": lambda t: t,
}
# The generators f(u) of the divergences, D_f(P || Q) = E_Q f(p/q), and f'(1) (the critic's value at P = Q).
F_GENERATORS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {
    "kl": (lambda u: u * torch.log(u), 1.0),
    "reverse-kl": (lambda u: -torch.log(u), -1.0),
    "pearson": (lambda u: (u - 1) ** 2, 0.0),
    "neyman": (lambda u: (1 - u) ** 2 / u, 0.0),
    "squared-hellinger": (lambda u: (torch.sqrt(u) - 1) ** 2, 0.0),
    "jensen-shannon": (lambda u: -(u + 1) * torch.log((1 + u) / 2) + u * torch.log(u), 0.0),
    "gan": (lambda u: u * torch.log(u) - (u + 1) * torch.log(u + 1), -LOG2),
    "total-variation": (lambda u: 0.5 * (u - 1).abs(), 0.0),
}


def f_divergence_critic_loss(real_scores: Tensor, fake_scores: Tensor, divergence: str) -> Tensor:
    """Minus the variational lower bound ``E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))]`` the critic maximises."""
    activation, conjugate = F_DIVERGENCES[divergence]
    return -(activation(real_scores).mean() - conjugate(fake_scores).mean())


def f_divergence_generator_loss(fake_scores: Tensor, divergence: str, practical: bool = True) -> Tensor:
    """The generator's loss: the paper's practical ``-E_Q[g_f(V(G(z)))]`` (the analogue of the -log D trick),
    or with ``practical=False`` the saddle point's ``-E_Q[f*(g_f(V(G(z))))]``."""
    activation, conjugate = F_DIVERGENCES[divergence]
    if practical:
        return -activation(fake_scores).mean()
    return -conjugate(fake_scores).mean()


__all__ = [
    "ADVERSARIAL_TERMS",
    "F_CONJUGATES",
    "F_DIVERGENCES",
    "F_GENERATORS",
    "IRGAN_REWARDS",
    "began_convergence",
    "began_critic_loss",
    "began_k_update",
    "bpr_loss",
    "cosine_reconstruction",
    "cycle_consistency_loss",
    "debiased_moving_average",
    "ebgan_critic_loss",
    "f_divergence_critic_loss",
    "f_divergence_generator_loss",
    "gradient_norm_penalty",
    "hinge_critic_loss",
    "hinge_generator_loss",
    "hinge_reconstruction",
    "information_loss",
    "input_gradient_norms",
    "irgan_reward",
    "l1_margins",
    "l1_reconstruction",
    "least_squares_critic_loss",
    "least_squares_generator_loss",
    "lecam_regularization",
    "loss_sensitive_critic_loss",
    "minimax_critic_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "pulling_away_term",
    "reinforce_loss",
    "squared_reconstruction",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]


# -- item recommendation (BPR, IRGAN) ---------------------------------------------------


def bpr_loss(positive_scores: Tensor, negative_scores: Tensor) -> Tensor:
    """Rendle et al.'s BPR: ``-mean log sigmoid(s(u, i) - s(u, j))``, i observed, j not."""
    return -F.logsigmoid(positive_scores - negative_scores).mean()


def irgan_reward(scores: Tensor, kind: str) -> Tensor:
    """The reward the discriminator's score f gives a generated item.

    ``paper``: ``log(1 + exp(f))`` (Wang et al. 2017, Eq. 5's reward: -log(1 - D), since D = sigmoid(f));
    ``code``: ``2 (sigmoid(f) - 0.5)``, what geek-ai/irgan's dis_model computes (its issue #12).
    """
    if kind == "paper":
        return F.softplus(scores)
    if kind == "code":
        return 2 * (torch.sigmoid(scores) - 0.5)
    raise ValueError(f"unknown IRGAN reward {kind!r}: use paper or code")


IRGAN_REWARDS = ("paper", "code")


def reinforce_loss(log_probs: Tensor, rewards: Tensor, weights: Tensor) -> Tensor:
    """The loss whose gradient is minus the REINFORCE estimate of grad E_{d~p}[r(d)].

    ``log_probs`` are log p_theta(d_k) of samples d_k drawn from a proposal pn,
    ``weights`` p_theta(d_k) / pn(d_k), ``rewards`` r(d_k), both constants. The
    mean of ``w r grad log p`` is unbiased for ``sum_d p(d) r(d) grad log p(d) = grad J``,
    so minimising the negated mean climbs J (the generator maximises its reward).
    """
    return -(log_probs * rewards.detach() * weights.detach()).mean()
