"""The Python API: what a notebook user calls. The command line is a thin layer over it.

    import gankit
    run = gankit.train(gankit.build_config("wgan-gp-8gaussians", overrides=["train.steps=500"]))
    run = gankit.load_run("runs/wgan-gp-8gaussians")
    points = run.sample(1000, seed=0)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.artefacts import RunArtefacts
from gankit.config import RunConfig, build_config, config_from_dict, read_yaml_file, resolve
from gankit.data import Dataset, load_dataset
from gankit.data.decode_cache import CACHE_FOLDER
from gankit.errors import ConfigError
from gankit.evaluation import EvalResult
from gankit.evaluation.runs import run_evaluator
from gankit.networks import build_networks, build_objective
from gankit.sampling import LatentInput, generate, truncation_problem
from gankit.training.checkpoint import (
    has_checkpoint,
    load_checkpoint,
    load_latest_checkpoint,
    remove_partial_writes,
    restore_modules,
)
from gankit.training.distributed import SINGLE, DistributedContext, init_distributed
from gankit.training.logging import MetricsLog
from gankit.training.run_dir import CHECKPOINTS, CONFIG_FILE, existing_run_dir, new_run_dir, write_config
from gankit.training.trainer import Trainer, describe_data, resolve_device

# How long the other ranks of a machine wait for its first rank to fill the decode cache (CelebA: minutes).
CACHE_FILL_TIMEOUT_S = 4 * 3600


def load_data(config: RunConfig, dist: DistributedContext = SINGLE) -> Dataset:
    """The run's data set; under torchrun, a large folder is decoded once per machine, not once per rank."""
    d = config.data

    def load() -> Dataset:
        return load_dataset(
            d.name, root=d.root, image_size=d.image_size, channels=d.channels, toy_size=d.toy_size,
            seed=config.train.seed, cache_dir=os.path.join(d.root, CACHE_FOLDER) if d.cache else None,
        )

    if not (dist.enabled and d.cache):
        return load()
    # Each machine's first rank decodes into the cache while the others wait, then they map its file (a hit):
    # otherwise every rank decodes the whole folder at once, each into its own temporary copy.
    wait_for_all = dist.long_barrier(CACHE_FILL_TIMEOUT_S)
    dataset = load() if dist.local_rank == 0 else None
    wait_for_all()
    return dataset if dataset is not None else load()


@dataclass
class Run:
    """A trained (or partly trained) run: its folder, config, networks by role and data description."""

    path: Path | None
    config: RunConfig
    networks: dict[str, nn.Module]  # by role; generator-side networks are their EMA where the run kept one
    data: dict[str, Any]
    step: int
    latent: LatentInput | None = None  # what the generator consumes, as its objective declared
    interrupted: bool = False  # stopped early by Ctrl-C or SIGTERM, after saving a checkpoint
    objective: nn.Module | None = field(default=None, repr=False)
    preview_inputs: dict[str, Tensor | None] | None = field(default=None, repr=False)  # the training grids' inputs
    # Roles by optimiser side ({"generator": ("g_ab", "g_ba"), ...}): what gankit export writes is the generator side.
    sides: dict[str, tuple[str, ...]] | None = field(default=None, repr=False)

    def preview(self):
        """The run's preview grid (``Preview``: samples and samples per row) from its fixed inputs.

        For a translation run: rows of held-out inputs, translations and reconstructions of each domain.
        """
        if self.objective is None or self.preview_inputs is None:
            raise ConfigError("this run was built by hand, so it has no preview inputs: load it with load_run")
        return self.objective.preview(self.networks, self.preview_inputs)

    def __post_init__(self) -> None:
        if self.latent is None and self.generator is not None:
            self.latent = LatentInput(self.config.model.latent_dim)  # the default declaration

    @property
    def generator(self) -> nn.Module | None:
        """The ``generator`` role (the EMA generator where the run kept one)."""
        return self.networks.get("generator")

    @property
    def critic(self) -> nn.Module | None:
        """The ``critic`` role, for metrics and diagnostics that ask the critic."""
        return self.networks.get("critic")

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def num_classes(self) -> int | None:
        """The classes a conditional run's generator takes (None for an unconditional run)."""
        return self.generator.num_classes if getattr(self.generator, "conditional", False) else None

    def sample(
        self, n: int, seed: int | None = 0, labels: Tensor | int | None = None, truncation: float = 1.0
    ) -> Tensor:
        """``n`` samples: images in [-1, 1] (N, C, H, W) or points (N, D).

        ``labels`` (conditional runs): one class for all samples, or one per
        sample; by default the classes in turn. ``truncation`` psi in (0, 1]
        scales normal latents toward 0 (``gankit.sampling``; 1: untouched).
        """
        if self.generator is None or self.latent is None:
            raise ConfigError(
                f"this run ({self.config.objective.name}) has no latent generator to sample from: "
                "translate its inputs with gankit translate"
            )
        problem = truncation_problem(truncation, self.latent.distribution)
        if problem is not None:
            raise ConfigError(problem)
        device = next(self.generator.parameters()).device
        noise = self.latent.draw(n, device, seed=seed, truncation=truncation)
        if labels is not None:
            labels = self._checked_labels(labels, n).to(device)
        return generate(self.generator, noise, labels).cpu()

    def _checked_labels(self, labels: Tensor | int, n: int) -> Tensor:
        classes = self.num_classes
        if classes is None:
            raise ConfigError(
                "this run is not conditional, so it cannot sample a given class: train with model.conditional=true "
                "(e.g. --preset cgan-mnist) to choose labels"
            )
        labels = torch.full((n,), labels, dtype=torch.long) if isinstance(labels, int) else labels.long()
        if labels.shape != (n,):
            raise ConfigError(f"labels must be one class or {n} classes, got shape {tuple(labels.shape)}")
        bad = labels[(labels < 0) | (labels >= classes)]
        if len(bad):
            raise ConfigError(f"label {int(bad[0])} is not a class of this run: use 0 to {classes - 1}")
        return labels


def _run_from_trainer(trainer: Trainer) -> Run:
    return Run(
        trainer.run_dir,
        trainer.config,
        trainer.sampling_networks,
        describe_data(trainer.dataset),
        trainer.step,
        latent=trainer.context.latent,
        interrupted=trainer.interrupted,
        objective=trainer.objective,
        preview_inputs=trainer.preview_inputs,
        sides=dict(trainer.networks.sides),
    )


def use_threads(config: RunConfig) -> None:
    """``train.threads``: PyTorch's CPU threads for this process (left alone when null)."""
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)


def train(
    config: RunConfig | None = None,
    out: str | Path = "runs",
    name: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Run:
    """Train a new run in ``out/name`` (name defaults to the preset's) and return it.

    Under torchrun every rank trains its slice of each batch; rank 0 alone
    creates the folder and writes into it, and the other ranks' ``Run.path`` is None.
    """
    config = resolve(config if config is not None else build_config())
    use_threads(config)
    dist, device = init_distributed(config.train.device)
    log = log if dist.is_main else _silent
    dataset = load_data(config, dist)
    log(f"data: {dataset.description}")
    # Build everything before creating the folder, so that a bad setting
    # leaves nothing behind that would block the corrected command.
    trainer = Trainer(
        config, dataset, run_dir=None, progress=progress and dist.is_main, log=log, dist=dist, device=device,
        artefacts=RunArtefacts(),
    )
    if dist.is_main:
        run_dir = new_run_dir(Path(out), name or config.preset or config.objective.name)
        trainer.run_dir = run_dir
        write_config(run_dir, config.to_dict())
        processes = f", {dist.world_size} processes" if dist.enabled else ""
        arch = f", {config.model.arch}" if trainer.objective.uses_model_arch else ""  # IRGAN's MF nets ignore it
        log(f"run folder: {run_dir}  ({config.objective.name}{arch}, device {trainer.device}{processes})")
    trainer.fit(config.train.steps)
    return _run_from_trainer(trainer)


def _silent(message: str) -> None:
    """The log of ranks other than 0: one voice is enough."""


def resume(
    run_dir: str | Path,
    steps: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    device: str | None = None,
) -> Run:
    """Continue a run from its newest good checkpoint, to ``steps`` (default: its configured steps).

    Every rank of a torchrun job reads the same checkpoint; the number of
    processes may differ from the run that wrote it.
    """
    run_dir = existing_run_dir(Path(run_dir))
    if has_checkpoint(run_dir / CHECKPOINTS):
        state = load_latest_checkpoint(run_dir / CHECKPOINTS, warn=log)
        config = config_from_dict(state["config"])
    else:
        # Stopped before its first checkpoint: nothing was trained that a fresh
        # start from the same seed would not redo identically.
        state = None
        config = config_from_dict(read_yaml_file(run_dir / CONFIG_FILE))
        log(f"{run_dir} has no checkpoint yet: starting it again from step 0 with its saved config")
    if steps is not None:
        config.train.steps = steps
    if device is not None:
        config.train.device = device
    use_threads(config)
    dist, rank_device = init_distributed(config.train.device)
    log = log if dist.is_main else _silent
    if dist.is_main:
        remove_partial_writes(run_dir / CHECKPOINTS)
    dataset = load_data(config, dist)
    log(f"data: {dataset.description}")
    trainer = Trainer(
        config, dataset, run_dir=run_dir if dist.is_main else None, progress=progress and dist.is_main, log=log,
        dist=dist, device=rank_device if dist.enabled else None, artefacts=RunArtefacts(),
    )
    if state is not None:
        trainer.load_state_dict(state)
    if trainer.step >= config.train.steps:
        log(f"{run_dir} is already at step {trainer.step} of {config.train.steps}: pass --steps to train further")
    else:
        log(f"resuming {run_dir} at step {trainer.step} of {config.train.steps}")
        if dist.is_main:
            write_config(run_dir, config.to_dict())
        trainer.fit(config.train.steps)
    return _run_from_trainer(trainer)


def load_run(path: str | Path, device: str = "cpu", use_ema: bool = True) -> Run:
    """A run (folder), a checkpoint (.pt) or a ``gankit export`` .safetensors file to sample from; no dataset needed."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        from gankit.export import load_export  # user-facing like this module; imported here to keep startup light

        return load_export(path, device=device, use_ema=use_ema)
    if path.is_dir():
        state = load_latest_checkpoint(existing_run_dir(path) / CHECKPOINTS, warn=print)
        run_path: Path | None = path
    else:
        state = load_checkpoint(path)
        run_path = path.parent.parent if path.parent.name == CHECKPOINTS else None
    config = config_from_dict(state["config"])
    data = state["data"]
    objective = build_objective(config)
    networks = build_networks(config, data, objective)
    restore_modules(dict(networks.items()), state["networks"])
    if use_ema and state.get("ema"):
        restore_modules({role: networks[role] for role in state["ema"]}, state["ema"], what="EMA network")
    objective.load_state_dict(state["objective"])
    target = resolve_device(device)
    for module in networks.values():
        module.to(target).eval()
    latent = objective.generator_input(config.model.latent_dim)
    preview = {k: None if v is None else v.to(target) for k, v in state["preview"].items()}
    return Run(run_path, config, dict(networks.items()), data, int(state["step"]), latent=latent,
               objective=objective.to(target), preview_inputs=preview, sides=dict(networks.sides))


def evaluate(
    run: Run | str | Path,
    metrics: str | list[str] | None = None,
    samples: int | None = None,
    features: str = "auto",
    inception_weights: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    append: bool = True,
    progress: bool = False,
) -> EvalResult:
    """Run metrics on a run, a run folder or a checkpoint; append the result to the run's metrics.jsonl.

    ``progress`` shows the evaluation's stages (sampling, features, each metric) on stderr.

    The real samples come from the run's dataset (regenerated for toy sets,
    the shipped sample for MNIST), so it must be present for image data.
    """
    if not isinstance(run, Run):
        run = load_run(run, device=device)
    objective = run.objective
    evaluator = run_evaluator(
        objective.evaluates if objective is not None else "samples", load_data(run.config), run.networks, run.latent,
        metrics=metrics, samples=samples, features=features, inception_weights=inception_weights, seed=seed,
        device=device, critic_scores_samples=objective.critic_scores_samples if objective is not None else True,
        progress=progress,
    )
    result = evaluator.evaluate(run.networks, run.step)
    if append and run.path is not None:
        log = MetricsLog(run.path)
        try:
            log.write({**result.record(), "source": "gankit eval"})
        finally:
            log.close()
    return result


def sample(
    run: Run | str | Path, n: int, seed: int | None = 0, device: str = "cpu", labels: Tensor | int | None = None,
    truncation: float = 1.0,
) -> Tensor:
    """``n`` samples from a run, a run folder, a checkpoint or a .safetensors export (of class ``labels`` for a
    conditional run; ``truncation`` psi in (0, 1] for normal latents)."""
    if not isinstance(run, Run):
        run = load_run(run, device=device)
    return run.sample(n, seed=seed, labels=labels, truncation=truncation)


__all__ = ["Run", "build_config", "evaluate", "load_data", "load_run", "resume", "sample", "train"]
