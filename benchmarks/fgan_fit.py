"""f-GAN's 1-D experiment (Nowozin et al., Section 4.1): one Gaussian fitted to a mixture under each divergence.

    python -m benchmarks.fgan_fit            # every divergence, 5 seeds (about a minute on 2 CPU cores)

The data is the mixture 0.5 N(-1.5, 0.5^2) + 0.5 N(1.5, 0.5^2); the generator
is a single Gaussian mu + sigma z; the critic a small MLP. The loop is a plain
user loop around ``gankit.losses`` (the pure functions, no trainer), which is
what they are for. Mass-covering divergences (KL, Pearson) should give a wide
Gaussian between the modes; mode-seeking ones (reverse KL, Neyman) a narrow
one on a mode. Writes ``benchmarks/results/fgan-fit.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize
from torch import nn

from gankit import losses

RESULTS = Path(__file__).resolve().parent / "results"
MODES, MODE_STD = (-1.5, 1.5), 0.5


def _mixture(n: int, generator: torch.Generator) -> torch.Tensor:
    centres = torch.tensor(MODES)[torch.randint(2, (n,), generator=generator)]
    return (centres + MODE_STD * torch.randn(n, generator=generator)).unsqueeze(1)


def fit(divergence: str, seed: int, steps: int = 3000, batch: int = 256) -> tuple[float, float]:
    """The fitted Gaussian's (mean, std) after ``steps`` alternating critic and generator steps."""
    torch.manual_seed(seed)
    data_rng = torch.Generator().manual_seed(seed + 100)
    critic = nn.Sequential(nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    mu = nn.Parameter(torch.rand(1) * 2 - 1)
    log_sigma = nn.Parameter(torch.zeros(1))
    critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.999))
    generator_opt = torch.optim.Adam([mu, log_sigma], lr=1e-3, betas=(0.5, 0.999))
    for _ in range(steps):
        real = _mixture(batch, data_rng)
        fake = (mu + log_sigma.exp() * torch.randn(batch, 1)).detach()
        loss = losses.f_divergence_critic_loss(critic(real).squeeze(1), critic(fake).squeeze(1), divergence)
        critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        critic_opt.step()
        fake = mu + log_sigma.exp() * torch.randn(batch, 1)
        g_loss = losses.f_divergence_generator_loss(critic(fake).squeeze(1), divergence)
        generator_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        generator_opt.step()
    return mu.item(), log_sigma.exp().item()


def _density(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def exact_divergence(divergence: str, mean: float, std: float) -> float:
    """D_f(P || Q) of the mixture P from the Gaussian Q = N(mean, std^2), by the trapezoid rule on [-10, 10]."""
    x = np.linspace(-10.0, 10.0, 8001)
    p = 0.5 * (_density(x, MODES[0], MODE_STD) + _density(x, MODES[1], MODE_STD))
    q = np.maximum(_density(x, mean, std), 1e-300)
    f, _ = losses.F_GENERATORS[divergence]
    ratio = torch.from_numpy(np.maximum(p, 1e-300) / q)
    return float(np.trapezoid(q * f(ratio).numpy(), x))


def exact_fit(divergence: str) -> tuple[float, float, float]:
    """The (|mu|, sigma, D_f) of the Gaussian minimising the true divergence, best of several starts."""
    best = None
    for start in ((0.0, 1.6), (1.5, 0.5), (0.7, 1.0)):
        result = minimize(lambda v: exact_divergence(divergence, v[0], float(np.exp(v[1]))),
                          np.array([start[0], np.log(start[1])]), method="Nelder-Mead",
                          options={"xatol": 1e-5, "fatol": 1e-9, "maxiter": 2000})
        if best is None or result.fun < best.fun:
            best = result
    return abs(float(best.x[0])), float(np.exp(best.x[1])), float(best.fun)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args(argv)
    rows = {}
    for divergence in losses.F_DIVERGENCES:
        fits = [fit(divergence, seed, args.steps) for seed in range(args.seeds)]
        means, stds = [m for m, _ in fits], [s for _, s in fits]
        exact_mu, exact_sigma, exact_value = exact_fit(divergence)
        rows[divergence] = {
            "exact_abs_mu": exact_mu, "exact_sigma": exact_sigma, "exact_divergence": exact_value,
            "divergence_at_fits": statistics.fmean(exact_divergence(divergence, m, s) for m, s in fits),
            "mean_of_mu": statistics.fmean(means), "std_of_mu": statistics.pstdev(means),
            "mean_abs_mu": statistics.fmean(abs(m) for m in means),
            "mean_of_sigma": statistics.fmean(stds), "std_of_sigma": statistics.pstdev(stds),
            "per_seed": fits,
        }
        print(divergence, {k: round(v, 3) for k, v in rows[divergence].items() if k != "per_seed"}, flush=True)
    lines = [f"== f-GAN 1-D fit: one Gaussian to 0.5 N(-1.5, 0.5^2) + 0.5 N(1.5, 0.5^2), {args.seeds} seeds, "
             f"{args.steps} steps (the mixture's own mean 0, std {(1.5 ** 2 + 0.25) ** 0.5:.3f})",
             "divergence          |mu| (mean)   mu mean +- std     sigma mean +- std   exact |mu|  exact sigma"
             "   D_f exact  D_f at fits"]
    for name, r in rows.items():
        lines.append(f"{name:<18}  {r['mean_abs_mu']:10.3f}   {r['mean_of_mu']:6.3f} +- {r['std_of_mu']:.3f}"
                     f"    {r['mean_of_sigma']:6.3f} +- {r['std_of_sigma']:.3f}"
                     f"   {r['exact_abs_mu']:10.3f}  {r['exact_sigma']:11.3f}   {r['exact_divergence']:9.4f}"
                     f"  {r['divergence_at_fits']:11.4f}")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fgan-fit.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / "fgan-fit.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
