"""The training loop. It knows no GAN variant by name.

Each generator step is ``n`` critic steps (the objective's critic loss, an
optimiser step, the objective's constraint) followed by one generator step
(the objective's generator loss). Everything variant-specific lives in the
Objective; everything about the run's lifetime (logging, samples,
checkpoints, interruption) lives here.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import Tensor

from gankit.config import RunConfig
from gankit.data import Dataset
from gankit.errors import CheckpointError, ConfigError, TrainingDiverged
from gankit.evaluation import Evaluator
from gankit.models import has_batch_statistics, has_convolutions
from gankit.models.fast_layers import use_fast_layers
from gankit.networks import build_networks, build_objective
from gankit.objectives import GRID_ROW, CriticBatch
from gankit.report.plots import save_curves, save_image_grid, save_points_plot, save_wasserstein_comparison
from gankit.report.run_report import write_run_report
from gankit.report.toy_figures import save_animation, save_critic_contours
from gankit.sampling import generate, latent_noise
from gankit.training.checkpoint import save_checkpoint
from gankit.training.distributed import SINGLE, DistributedContext, convert_batch_norm_for
from gankit.training.ema import GeneratorEMA
from gankit.training.logging import MetricsLog, ProgressBar, TensorBoardLog, read_metrics
from gankit.training.optimizers import build_optimizer, load_optimizer_state
from gankit.training.precision import precision_note, resolve_precision
from gankit.training.rng import capture_rng_state, restore_rng_state, seed_everything
from gankit.training.diagnostics import LayerGradientNorms
from gankit.training.run_dir import CHECKPOINTS, CONTOURS, CURVES, DIAGNOSTICS, SAMPLES, TRAINING_GIF, W_COMPARISON
from gankit.training.sampler import DeviceBatchSampler
from gankit.training.schedule import SCHEDULES

# 2-D runs are drawn as scatter plots, which need more points than an image grid.
POINTS_PER_PLOT = 1024


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device '{name}' is not a device: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device '{name}' asks for CUDA, which this machine lacks: use --device cpu or auto")
    return device


def describe_data(dataset: Dataset) -> dict[str, Any]:
    """What sampling needs to know about the data, without the data itself."""
    return {
        "name": dataset.name,
        "kind": dataset.kind,
        "sample_shape": list(dataset.sample_shape),
        "num_classes": dataset.num_classes,
        "description": dataset.description,
    }


class _StopRequest:
    """Turns the first Ctrl-C (or SIGTERM) into a request to stop at the next step boundary.

    Stopping mid-step would save a state that no uninterrupted run ever had
    (some critic steps done, the generator step not), so resuming would not
    reproduce the run. A second Ctrl-C interrupts at once.
    """

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator["_StopRequest"]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            if self.requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.requested = True

        for sig in previous:
            signal.signal(sig, handler)
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


@dataclass
class RunLogs:
    """Where one session of ``fit`` writes its numbers (all None when the trainer has no run folder)."""

    metrics: MetricsLog | None = None
    board: TensorBoardLog | None = None
    diagnostics: MetricsLog | None = None

    def close(self) -> None:
        for log in (self.metrics, self.board, self.diagnostics):
            if log is not None:
                log.close()


class Trainer:
    """One run's models, optimisers and loop state; ``fit`` trains it to a step."""

    def __init__(
        self,
        config: RunConfig,
        dataset: Dataset,
        run_dir: Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
        dist: DistributedContext = SINGLE,
        device: str | None = None,
    ):
        self.config = config
        train = config.train
        self.dist = dist
        # Under torchrun each rank has its own device (cuda:LOCAL_RANK), given by the caller.
        self.device = resolve_device(device or train.device)
        self.precision = resolve_precision(train.precision, self.device)
        note = precision_note(train.precision, self.device)
        if note is not None and dist.is_main:
            log(note)
        self.dataset = dataset.to(self.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.log = log

        seed_everything(train.seed)
        shape, classes = dataset.sample_shape, dataset.num_classes
        self.objective = build_objective(config)
        generator, critic = build_networks(config, shape, classes, self.objective, dataset.name)
        self.generator = convert_batch_norm_for(dist, generator, self.device)
        self.critic = convert_batch_norm_for(dist, critic, self.device)
        self.generator.to(self.device)
        self.critic.to(self.device)
        # Only convolutions gain from NHWC; an MLP critic would just pay a copy per batch.
        self.channels_last = train.channels_last and dataset.kind == "images" and has_convolutions(self.critic)
        if self.channels_last:
            # Measured on 2 CPU cores: the DCGAN main job 3.17 -> 3.51 generator steps/s (median of 8 windows).
            for model in (self.generator, self.critic):
                if has_convolutions(model):
                    model.to(memory_format=torch.channels_last)
        if train.fast_layers and self.device.type == "cpu":  # measured on CPUs only; cuDNN has its own kernels
            use_fast_layers(self.generator)
            use_fast_layers(self.critic)
        dist.broadcast_parameters(self.generator)
        dist.broadcast_parameters(self.critic)
        critic_couples_batch = has_batch_statistics(self.critic)
        self.objective.fused_critic_forward = not critic_couples_batch
        if self.objective.uses_penalty and critic_couples_batch:
            raise ConfigError(
                f"model.critic_norm '{config.model.critic_norm}' couples the samples of a batch, which makes "
                f"the gradient penalty of {config.objective.name} wrong: set model.critic_norm to layer "
                "(as in the WGAN-GP paper), instance or none"
            )
        self.generator_optimizer = build_optimizer(self.generator.parameters(), config.optim.generator)
        self.critic_optimizer = build_optimizer(self.critic.parameters(), config.optim.critic)
        self.critic_steps_for = SCHEDULES[train.critic_schedule](train.n_critic)
        self.objective.shard = (dist.rank, dist.world_size)
        self.objective.average = dist.average
        self.sampler = DeviceBatchSampler(
            len(dataset), train.batch_size, self.device, seed=train.seed + 1, rank=dist.rank, world_size=dist.world_size
        )
        self.ema = GeneratorEMA(self.generator, train.ema_decay) if train.ema_decay > 0 else None
        self.layer_norms = LayerGradientNorms(self.critic) if train.layer_diagnostics else None
        # 2-D runs draw the critic's value surface (the WGAN-GP paper's toy figure) as they train.
        draws_figures = dataset.kind == "points" and tuple(dataset.sample_shape) == (2,)
        every = train.log_every if train.figure_every is None else train.figure_every
        self.figure_every = every if draws_figures else 0

        self.fixed_noise, self.fixed_labels = self._preview_inputs(train.seed + 2)
        self.evaluator = self._build_evaluator()
        self.step = 0
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self._pending: dict[str, list[Tensor]] = {}
        self._last_labels: Tensor | None = None
        self.interrupted = False
        self._interval_start = (0, time.perf_counter())

    def _preview_inputs(self, seed: int) -> tuple[Tensor, Tensor | None]:
        """The fixed noise (and labels) of the sample grids drawn during training.

        A conditional image model's grid has one class per row, GRID_ROW samples each.
        """
        classes = self.dataset.num_classes
        if self.dataset.kind == "points":
            n = POINTS_PER_PLOT
        elif self.generator.conditional:
            n = classes * GRID_ROW
        else:
            n = self.config.train.sample_grid_size
        noise = latent_noise(n, self.config.model.latent_dim, self.device, seed=seed)
        if not classes:
            return noise, None
        if self.generator.conditional and self.dataset.kind != "points":
            return noise, torch.arange(classes, device=self.device).repeat_interleave(GRID_ROW)
        return noise, torch.arange(n, device=self.device) % classes

    def _build_evaluator(self) -> Evaluator | None:
        """Built up front so that a bad metric name or missing weights fail before any training."""
        e = self.config.eval
        if e.every == 0 or not self.dist.is_main:  # rank 0 evaluates for everyone
            return None
        return Evaluator(
            self.dataset, metrics=e.metrics, samples=e.samples, features=e.features,
            inception_weights=e.inception_weights, seed=self.config.train.seed, device=self.device,
            conditional=self.generator.conditional,
        )

    # ------------------------------------------------------------------ one step
    def _draw_real(self) -> tuple[Tensor, Tensor | None]:
        real, labels = self.dataset.batch(self.sampler.next_indices())
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, labels

    def _noise(self, n: int) -> Tensor:
        """``n`` latent codes: this rank's slice of the global batch's codes, so every rank's RNG stays in step."""
        noise = torch.randn(n * self.dist.world_size, self.config.model.latent_dim, device=self.device)
        return self.dist.shard(noise)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def critic_step(self) -> dict[str, Tensor]:
        real, labels = self._draw_real()
        latent = self._noise(real.shape[0])
        with torch.no_grad(), self._autocast():
            fake = self.generator(latent, labels)
        self._last_labels = labels
        with self._autocast():
            # Generated samples enter the critic in float32, like the real ones, so that the
            # penalty's interpolates mix two float32 tensors.
            batch = CriticBatch(real, fake.float(), labels, labels, latent)
            loss, stats = self.objective.critic_loss(self.critic, batch)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.dist.average_gradients(self.critic)
        if self.layer_norms is not None and (self.step + 1) % self.config.train.log_every == 0:
            self.layer_norms.capture()  # the last critic step of a generator step that will be logged
        self.critic_optimizer.step()
        self.objective.after_critic_step(self.critic)
        return stats

    def generator_step(self) -> dict[str, Tensor]:
        # Conditional generators get the class mix of the last real batch.
        labels = self._last_labels
        n = self.sampler.local_batch_size
        # The critic's weights need no gradients here; skipping them saves a third of the backward.
        self.critic.requires_grad_(False)
        try:
            with self._autocast():
                latent = self._noise(n)
                fake = self.generator(latent, labels)
                loss, stats = self.objective.generator_loss(self.critic, fake, labels, latent)
            self.generator_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.dist.average_gradients(self.generator)
            self.generator_optimizer.step()
        finally:
            self.critic.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.generator)
        return stats

    def train_step(self) -> None:
        """One generator step and the critic steps before it; statistics stay on the device."""
        for _ in range(self.critic_steps_for(self.step)):
            self._remember(self.critic_step())
        self._remember(self.generator_step())
        self.step += 1

    def _remember(self, stats: dict[str, Tensor]) -> None:
        for key, value in stats.items():
            self._pending.setdefault(key, []).append(value)

    # ------------------------------------------------------------------ the loop
    def fit(self, total_steps: int) -> None:
        """Train until generator step ``total_steps``, writing logs, samples and checkpoints."""
        train = self.config.train
        writing = self.run_dir is not None
        logs = RunLogs()
        if writing:
            logs.metrics = MetricsLog(self.run_dir, resume_step=self.step)
            logs.board = TensorBoardLog(self.run_dir, resume_step=self.step) if train.tensorboard else None
            if self.layer_norms is not None:
                logs.diagnostics = MetricsLog(self.run_dir, resume_step=self.step, filename=DIAGNOSTICS)
        bar = ProgressBar(total_steps, self.step, enabled=self.progress, max_seconds=train.max_seconds)
        session_start = time.perf_counter()
        elapsed_before = self.elapsed
        self._interval_start = (self.step, session_start)
        stop = _StopRequest()
        stopping = False
        try:
            with stop.installed():
                while self.step < total_steps and not stopping:
                    self.train_step()
                    bar.advance()
                    self.elapsed = elapsed_before + time.perf_counter() - session_start
                    out_of_time = train.max_seconds is not None and self.elapsed >= train.max_seconds
                    stopping = stop.requested
                    if self.dist.enabled:
                        # Ranks must stop at the same step, or the others wait forever in a collective.
                        flags = self.dist.any(torch.tensor([float(out_of_time), float(stopping)]))
                        out_of_time, stopping = bool(flags[0]), bool(flags[1])
                    last = self.step == total_steps or out_of_time
                    checkpoint_step = self.step % train.checkpoint_every == 0 or last
                    checkpoint_due = writing and checkpoint_step
                    # The same schedule on every rank: statistics are averaged over ranks at each flush.
                    if self.step % train.log_every == 0 or last or checkpoint_step:
                        self._flush_stats(logs, bar)
                    if writing and (self.step % train.sample_every == 0 or last):
                        self.save_samples(self.run_dir / SAMPLES / f"step_{self.step:08d}.png")
                    if writing and self.figure_every and (self.step % self.figure_every == 0 or last):
                        # Drawing is not training either: kept off the clock like evaluation.
                        session_start += self._timed(self.save_critic_figure)
                    if self.evaluator is not None and (self.step % self.config.eval.every == 0 or last):
                        # Evaluation time is not training time: the budget and it/s leave it out.
                        session_start += self._timed(lambda: self._evaluate(logs, bar))
                    if checkpoint_due:
                        self.save_checkpoint()
                    if out_of_time:
                        bar.write(f"time budget of {train.max_seconds:g} s reached at step {self.step}")
                        break
                if stopping:
                    self._flush_stats(logs, bar)
                if stopping and writing:
                    path = self.save_checkpoint()
                    bar.write(f"interrupted: saved {path}; continue with: gankit train --resume {self.run_dir}")
            if writing:
                self.save_final_artifacts()
        finally:
            bar.close()
            logs.close()
        self.interrupted = stopping

    def _flush_stats(self, logs: RunLogs, bar: ProgressBar) -> None:
        """Average the pending statistics with one host sync; stop if any is not finite."""
        if not self._pending:
            return
        keys = list(self._pending)
        means = self.dist.average(torch.stack([torch.stack(self._pending[k]).float().mean() for k in keys])).tolist()
        self._pending = {}
        values = dict(zip(keys, means))
        for key, value in values.items():
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"{key} became {value} by generator step {self.step}: likely causes are a learning rate "
                    "too high, clipping or the penalty turned off, or batch norm in the critic under a penalty; "
                    "the last good checkpoint is kept"
                )
        start_step, start_time = self._interval_start
        now = time.perf_counter()
        steps_per_s = (self.step - start_step) / max(now - start_time, 1e-9)
        self._interval_start = (self.step, now)
        record = {"step": self.step, "time": round(self.elapsed, 3), **values, "steps_per_s": steps_per_s}
        if logs.metrics is not None:
            logs.metrics.write(record)
        if logs.board is not None:
            logs.board.write(self.step, {k: v for k, v in record.items() if k not in ("step", "time")})
        layer_norms = self.layer_norms.take() if self.layer_norms is not None else None
        if logs.diagnostics is not None and layer_norms is not None:
            logs.diagnostics.write({"step": self.step, "critic_layer_grad_norms": layer_norms})
        headline = ("wasserstein",) if "wasserstein" in values else ("critic_loss", "generator_loss")
        bar.show({k: values[k] for k in headline if k in values})

    def _timed(self, work: Callable[[], Any]) -> float:
        """Run ``work`` off the training clock: its seconds, which it/s also leaves out."""
        start = time.perf_counter()
        work()
        seconds = time.perf_counter() - start
        step_before, interval_start = self._interval_start
        self._interval_start = (step_before, interval_start + seconds)
        return seconds

    def _evaluate(self, logs: RunLogs, bar: ProgressBar) -> None:
        """Run the periodic metrics (they draw from their own seeded generators, so training is unchanged)."""
        result = self.evaluator.evaluate(
            self.sampling_generator, self.config.model.latent_dim, self.critic, self.step
        )
        if logs.metrics is not None:
            logs.metrics.write(result.record())
        if logs.board is not None:
            logs.board.write(self.step, result.scalars())
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result.scalars().items() if isinstance(v, float))
        bar.write(f"eval at step {self.step}: {shown}")

    # ------------------------------------------------------------------ artefacts
    @property
    def sampling_generator(self) -> torch.nn.Module:
        return self.ema.model if self.ema is not None else self.generator

    def save_samples(self, path: Path) -> None:
        samples = generate(self.sampling_generator, self.fixed_noise, self.fixed_labels)
        path.parent.mkdir(parents=True, exist_ok=True)  # a user may have cleared samples/ before resuming
        if self.dataset.kind == "points":
            real, _ = self.dataset.batch(torch.arange(min(len(self.dataset), POINTS_PER_PLOT), device=self.device))
            save_points_plot(samples, path, real=real, title=f"step {self.step}")
        else:
            save_image_grid(samples, path, rows=GRID_ROW if self.generator.conditional else None)

    def save_critic_figure(self) -> None:
        """contours/step_N.png: the critic's value surface with real and generated points (2-D runs)."""
        real, _ = self.dataset.batch(torch.arange(min(len(self.dataset), POINTS_PER_PLOT), device=self.device))
        fake = generate(self.sampling_generator, self.fixed_noise, self.fixed_labels)
        (self.run_dir / CONTOURS).mkdir(exist_ok=True)
        title = f"{self.config.objective.name}, step {self.step}"
        save_critic_contours(
            self.critic, real, fake, self.run_dir / CONTOURS / f"step_{self.step:08d}.png", title=title,
            labels=self.fixed_labels if self.generator.conditional else None,
        )

    def save_objective_grids(self) -> None:
        """The objective's own grids (InfoGAN: one code varied at a time), as samples/<name>.png."""
        if self.dataset.kind == "points":
            return
        grids = self.objective.sample_grids(self.sampling_generator, self.fixed_noise, self.fixed_labels)
        for name, samples in grids.items():
            save_image_grid(samples, self.run_dir / SAMPLES / f"{name}.png", rows=GRID_ROW)

    def save_final_artifacts(self) -> None:
        self.save_samples(self.run_dir / SAMPLES / "final.png")
        self.save_objective_grids()
        title = f"{self.config.preset or self.config.objective.name} on {self.dataset.name}"
        records = read_metrics(self.run_dir / "metrics.jsonl")
        save_curves(records, self.run_dir / CURVES, title=title)
        save_wasserstein_comparison(records, self.run_dir / W_COMPARISON, title=title)
        if self.figure_every:
            save_animation(sorted((self.run_dir / CONTOURS).glob("step_*.png")), self.run_dir / TRAINING_GIF)
        write_run_report(self.run_dir)

    # ------------------------------------------------------------------ checkpoints
    def _check_parameters_finite(self) -> None:
        for role, model in (("generator", self.generator), ("critic", self.critic)):
            for name, param in model.named_parameters():
                if not torch.isfinite(param).all():
                    raise TrainingDiverged(
                        f"parameter {role}.{name} is not finite at generator step {self.step}: lower the learning "
                        "rate or check the penalty and clipping settings; the last good checkpoint is kept"
                    )

    def save_checkpoint(self) -> Path:
        self._check_parameters_finite()
        return save_checkpoint(
            self.run_dir / CHECKPOINTS, self.step, self.state_dict(), keep=self.config.train.keep_checkpoints
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "data": describe_data(self.dataset),
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "generator_optimizer": self.generator_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "objective": self.objective.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": capture_rng_state(),
            "fixed_noise": self.fixed_noise.cpu(),
            "fixed_labels": None if self.fixed_labels is None else self.fixed_labels.cpu(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint made by a trainer of the same config."""
        try:
            self.generator.load_state_dict(state["generator"])
            self.critic.load_state_dict(state["critic"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"] if state["ema"] is not None else state["generator"])
            load_optimizer_state(self.generator_optimizer, state["generator_optimizer"])
            load_optimizer_state(self.critic_optimizer, state["critic_optimizer"])
            self.objective.load_state_dict(state["objective"])
            self.sampler.load_state_dict(state["sampler"])
        except (KeyError, RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            raise CheckpointError(
                f"the checkpoint does not fit this run's models, objective or data ({first}): "
                "resume with the config the checkpoint was written with"
            ) from None
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.fixed_noise = state["fixed_noise"].to(self.device)
        labels = state["fixed_labels"]
        self.fixed_labels = None if labels is None else labels.to(self.device)
        restore_rng_state(state["rng"])
