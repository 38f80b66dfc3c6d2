"""``gankit diagnose RUN``: the WGAN-GP paper's diagnostic figures for the user's own run.

* the critic loss's gradient norm per critic layer over training (Figure 1b:
  under clipping they vanish or explode layer by layer), from diagnostics.jsonl;
* histograms of the critic's weights per layer (Figure 1c: clipping piles them
  up at -c and +c);
* the distribution of ||grad_x D(x)|| at real samples, generated samples and
  their random interpolates (WGAN-GP's r(x)): a 1-Lipschitz critic keeps them
  at or below 1.

A translation run has two critics, each with its own histograms and norms:
d_a at domain A's samples and g_ba's translations into A, d_b likewise for B.

The page (diagnose.html) and the figures (diagnostics/*.png) go in the run folder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import torch

from gankit.errors import ConfigError, RunDirectoryError
from gankit.objectives.penalties import input_gradient_norms, real_fake_interpolates
from gankit.report.html import Page
from gankit.report.plots import new_figure, save_figure
from gankit.training.diagnostics import layer_parameters
from gankit.training.logging import read_metrics
from gankit.training.run_dir import DIAGNOSTICS

PAGE = "diagnose.html"
FIGURES = "diagnostics"
CLIP_TOLERANCE = 0.01  # a weight within 1% of c counts as "at the clip"
DEFAULT_POINTS = 1000


@dataclass
class Diagnosis:
    """The numbers behind the page, for the command line and for tests."""

    page: Path
    figures: list[Path]
    clip_value: float | None
    # Keyed by layer and by r(x) kind ("real", ...); a translation run's keys name the critic ("d_a real").
    share_at_clip: dict[str, float] = field(default_factory=dict)  # per layer, when the run clips
    gradient_norms: dict[str, dict[str, float]] = field(default_factory=dict)  # r(x) kind -> mean, share > 1...
    logged_steps: int = 0


def _gradient_norms_at(critic: torch.nn.Module, points: torch.Tensor, labels: torch.Tensor | None) -> np.ndarray:
    """||grad_x D(x)|| at each point, measured exactly as the gradient penalties measure it."""
    points = points.detach().clone().requires_grad_(True)
    return input_gradient_norms(critic(points, labels), points).detach().cpu().numpy()


def _interpolates(real: torch.Tensor, fake: torch.Tensor, seed: int) -> torch.Tensor:
    """WGAN-GP's random real-fake interpolates, drawn as the penalty draws them but from ``seed``.

    The penalty's function draws its weights from the global RNG; a forked,
    seeded RNG makes the page reproducible and leaves the caller's RNG alone.
    """
    device = real.device
    if device.type == "cpu":
        forked = torch.random.fork_rng(devices=[])
    else:
        forked = torch.random.fork_rng(devices=[device.index or 0], device_type=device.type)
    with forked:
        torch.manual_seed(seed)
        return real_fake_interpolates(real, fake)


def _layer_norm_figure(records: list[dict], path: Path, title: str) -> bool:
    rows = [r for r in records if isinstance(r.get("critic_layer_grad_norms"), dict)]
    if not rows:
        return False
    layers = list(rows[-1]["critic_layer_grad_norms"])
    fig = new_figure((7.5, 4.2))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"]
    for index, layer in enumerate(layers):
        steps = [r["step"] for r in rows if layer in r["critic_layer_grad_norms"]]
        values = [max(r["critic_layer_grad_norms"][layer], 1e-30) for r in rows if layer in r["critic_layer_grad_norms"]]
        ax.plot(steps, values, label=layer, color=cmap(index / max(len(layers) - 1, 1)), lw=1.3)
    ax.set_yscale("log")
    ax.set_xlabel("generator step")
    ax.set_ylabel("||d critic loss / d W||")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best", title="critic layer (input first)", title_fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def _weight_histograms(critic: torch.nn.Module, clip: float | None, path: Path) -> dict[str, float]:
    named = layer_parameters(critic)
    columns = min(3, len(named))
    rows = math.ceil(len(named) / columns)
    fig = new_figure((4 * columns, 2.8 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    shares: dict[str, float] = {}
    for ax, (name, weights) in zip(axes.flat, named):
        values = weights.detach().float().flatten().cpu().numpy()
        ax.hist(values, bins=60, color="tab:blue", alpha=0.8)
        if clip is not None:
            for edge in (-clip, clip):
                ax.axvline(edge, color="tab:red", ls="--", lw=1)
            shares[name] = float((np.abs(np.abs(values) - clip) <= CLIP_TOLERANCE * clip).mean())
            ax.set_title(f"{name}\n{shares[name]:.0%} at +-c", fontsize=8)
        else:
            ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(named):]:
        ax.axis("off")
    fig.suptitle("critic weights" + (f" (clipped to +-{clip:g})" if clip is not None else ""))
    fig.tight_layout()
    save_figure(fig, path)
    return shares


def _gradient_norm_figure(norms: dict[str, np.ndarray], path: Path) -> None:
    fig = new_figure((7.5, 4.2))
    ax = fig.subplots()
    upper = max(float(np.percentile(v, 99.5)) for v in norms.values())
    bins = np.linspace(0, max(upper, 1.5), 60)
    for (kind, values), color in zip(norms.items(), ("tab:orange", "tab:blue", "tab:green")):
        ax.hist(values, bins=bins, alpha=0.5, label=f"{kind} (mean {values.mean():.3g})", color=color)
    ax.axvline(1.0, color="tab:red", ls="--", lw=1, label="1 (the Lipschitz bound)")
    ax.set_xlabel("||grad_x D(x)||")
    ax.set_ylabel("samples")
    ax.set_title("critic gradient norm at r(x)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


@dataclass
class _Judged:
    """One critic and what it judges: real samples of its domain and generated ones (with their labels)."""

    name: str  # "critic"; "d_a" or "d_b" in a translation run
    critic: torch.nn.Module
    real: torch.Tensor
    fake: torch.Tensor
    labels: torch.Tensor | None

    @property
    def suffix(self) -> str:
        """Figure names: the one-critic run's keep their first names; a translation run's say which critic."""
        return "" if self.name == "critic" else f"_{self.name}"

    def key(self, part: str) -> str:
        return part if self.name == "critic" else f"{self.name} {part}"


TRANSLATION_ROLES = {"g_ab", "g_ba", "d_a", "d_b"}
# A translation run's critics: each judges its own domain's samples against the translations into it.
TRANSLATION_CRITICS = (("d_a", "A", "g_ba", "B"), ("d_b", "B", "g_ab", "A"))


def _check_diagnosable(run) -> None:
    if (run.critic is None or run.generator is None) and not TRANSLATION_ROLES <= set(run.networks):
        raise ConfigError(
            f"gankit diagnose reads a run's critics and the generators they judge, and this "
            f"{run.config.objective.name} run has {', '.join(run.networks)}: diagnose a one-generator run "
            "(a critic and a generator) or a translation run (g_ab, g_ba, d_a, d_b)"
        )


def _judged(run, dataset, points: int, seed: int, device: str) -> list[_Judged]:
    """The critics to diagnose, each with ``points`` real samples and as many generated ones, seeded."""
    from gankit.data.domains import domains_of

    generator = torch.Generator().manual_seed(seed)
    if run.critic is not None and run.generator is not None:
        rows = torch.randperm(len(dataset), generator=generator)[:points]
        real, labels = dataset.batch(rows)
        real = real.float().to(device)
        labels = None if labels is None or not getattr(run.generator, "conditional", False) else labels.to(device)
        fake = run.sample(len(rows), seed=seed, labels=labels).to(device)
        return [_Judged("critic", run.critic, real, fake, labels)]
    domains = domains_of(dataset)
    samples = {}
    for name, domain in domains.items():
        rows = torch.randperm(len(domain), generator=generator)[:points]
        samples[name] = domain.batch(rows)[0].float().to(device)
    judged = []
    for critic, own, translator, other in TRANSLATION_CRITICS:
        with torch.no_grad():
            fake = run.networks[translator](samples[other]).float()
        count = min(len(samples[own]), len(fake))  # the domains may differ in size
        judged.append(_Judged(critic, run.networks[critic], samples[own][:count], fake[:count], None))
    return judged


def diagnose(run_dir: str | Path, points: int = DEFAULT_POINTS, seed: int = 0, device: str = "cpu") -> Diagnosis:
    """Write ``run_dir/diagnose.html`` and ``run_dir/diagnostics/*.png``; return the numbers behind them.

    A one-generator run has one critic; a translation run (CycleGAN, DiscoGAN)
    has two, ``d_a`` and ``d_b``, each judging its domain against the
    translations into it, and each gets its own weight and gradient-norm figures.
    """
    from gankit.api import load_data, load_run

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(f"'{run_dir}' is not a folder: pass a run folder that gankit train created")
    run = load_run(run_dir, device=device)
    _check_diagnosable(run)
    config = run.config
    clip = getattr(config.objective.params, "clip_value", None)
    out = run_dir / FIGURES
    out.mkdir(exist_ok=True)
    title = f"{run_dir.resolve().name} ({config.objective.name}) at step {run.step}"
    figures: list[Path] = []

    records = read_metrics(run_dir / DIAGNOSTICS)
    if _layer_norm_figure(records, out / "layer_grad_norms.png", f"critic layer gradient norms: {title}"):
        figures.append(out / "layer_grad_norms.png")
    judged = _judged(run, load_data(config), points, seed, device)
    shares: dict[str, float] = {}
    summary: dict[str, dict[str, float]] = {}
    for case in judged:
        weights = out / f"critic_weights{case.suffix}.png"
        shares.update({case.key(layer): share for layer, share in _weight_histograms(case.critic, clip, weights).items()})
        # r(x): real samples, generated samples and WGAN-GP's random interpolates between them.
        case.critic.eval()
        norms = {
            "real": _gradient_norms_at(case.critic, case.real, case.labels),
            "generated": _gradient_norms_at(case.critic, case.fake, case.labels),
            "interpolates": _gradient_norms_at(case.critic, _interpolates(case.real, case.fake, seed), case.labels),
        }
        _gradient_norm_figure(norms, out / f"gradient_norms{case.suffix}.png")
        figures += [weights, out / f"gradient_norms{case.suffix}.png"]
        summary.update({
            case.key(kind): {"mean": float(v.mean()), "median": float(np.median(v)), "share_above_1": float((v > 1).mean())}
            for kind, v in norms.items()
        })

    page = Page(f"gankit diagnose: {title}", subtitle=str(run_dir))
    section = page.section("Critic layer gradient norms over training")
    section.add_text(
        "The norm of the critic loss's gradient with respect to each layer's weights, at each logged step "
        "(the WGAN-GP paper's Figure 1b). Under weight clipping they shrink or grow from layer to layer; a "
        "gradient penalty keeps them level."
    )
    if records:
        section.add_figure(out / "layer_grad_norms.png", "diagnostics/layer_grad_norms.png")
    else:
        section.add_text("This run logged no layer norms (train.layer_diagnostics was off, or it predates them).")
    for case in judged:
        which = "" if case.name == "critic" else f" of {case.name}"
        section = page.section(f"Critic weights{which}")
        section.add_text(
            f"Weights clipped to +-{clip:g} pile up at the edges (the paper's Figure 1c); the share within "
            f"{CLIP_TOLERANCE:.0%} of c is in each panel's title." if clip is not None
            else "This objective does not clip; the histograms show how far the weights spread."
        )
        section.add_figure(out / f"critic_weights{case.suffix}.png", f"diagnostics/critic_weights{case.suffix}.png")
        section = page.section(f"Gradient norm at r(x){which}")
        judged_what = ("generated samples" if case.name == "critic"
                       else "translations into its domain")
        section.add_text(
            f"||grad_x D(x)|| at {len(case.real)} real samples, {judged_what} and random interpolates between "
            "them. A 1-Lipschitz critic keeps every norm at or below 1."
        )
        section.add_figure(out / f"gradient_norms{case.suffix}.png", f"diagnostics/gradient_norms{case.suffix}.png")
        section.add_table(
            ["r(x)", "mean", "median", "share above 1"],
            [[kind, summary[case.key(kind)]["mean"], summary[case.key(kind)]["median"],
              f"{summary[case.key(kind)]['share_above_1']:.1%}"] for kind in ("real", "generated", "interpolates")],
        )
    path = page.write(run_dir / PAGE)
    return Diagnosis(path, figures, clip, shares, summary, len(records))
