"""The training loop. It knows no GAN variant by name.

A generator step is the objective's list of phases (by default n critic
phases, then one generator phase). For each phase the objective computes the
loss from the networks, a real batch and a ``StepContext``; the loop does
zero_grad, backward, gradient averaging over ranks, the optimiser step of that
side and the objective's ``finish_phase``. Everything variant-specific lives in
the Objective; everything about the run's lifetime (logging, previews,
checkpoints, interruption, maintenance time) lives here.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import RunConfig
from gankit.data.domains import describe_data, domains_of
from gankit.data.streaming import place_dataset, streaming_note
from gankit.data.subset import limit_data
from gankit.errors import CheckpointError, ConfigError, TrainingDiverged
from gankit.evaluation.runs import run_evaluator
from gankit.models import has_batch_statistics, has_convolutions
from gankit.models.fast_layers import use_fast_layers
from gankit.networks import build_networks, build_objective
from gankit.objectives import (
    CRITIC,
    GENERATOR,
    GRID_ROW,
    POINTS_PER_PLOT,
    SIDES,
    DomainBatch,
    Phase,
    RealBatch,
    StepContext,
)
from gankit.training.alarms import Alarm, AlarmSettings, TrainingAlarms
from gankit.training.artefacts import ArtefactWriter
from gankit.training.augment import build_augmentation
from gankit.training.checkpoint import restore_modules, save_checkpoint
from gankit.training.diagnostics import LayerGradientNorms
from gankit.training.distributed import SINGLE, DistributedContext, convert_batch_norm_for
from gankit.training.ema import CALIBRATION_SEED, CalibrationInputs, GeneratorEMA
from gankit.training.logging import MetricsLog, ProgressBar, TensorBoardLog
from gankit.training.lr_schedule import PlateauSchedule, lr_factor
from gankit.training.optimizers import build_optimizer, load_optimizer_state
from gankit.training.precision import precision_note, resolve_precision
from gankit.training.rng import capture_rng_state, restore_rng_state, seed_everything
from gankit.training.run_dir import CHECKPOINTS, CONTOURS, DIAGNOSTICS, SAMPLES
from gankit.training.sampler import DomainSamplers
from gankit.training.schedule import SCHEDULES

__all__ = ["Trainer", "describe_data", "resolve_device"]


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


def describe_network(role: str, side: str, module: nn.Module) -> str:
    """One log line: the network, its size, and its receptive field where it has one (PatchGAN)."""
    parameters = sum(p.numel() for p in module.parameters())
    field = getattr(module, "receptive_field", None)
    extra = f", receptive field {field} px" if field is not None else ""
    return f"{role} ({side} side): {type(module).__name__}, {parameters:,} parameters{extra}"


class _StopRequest:
    """Turns the first Ctrl-C (or SIGTERM) into a request to stop at the next step boundary.

    Stopping mid-step would save a state that no uninterrupted run ever had
    (some critic steps done, the generator step not), so resuming would not
    reproduce the run. A second Ctrl-C interrupts at once.
    """

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[_StopRequest]:
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
    """One run's networks, optimisers and loop state; ``fit`` trains it to a step."""

    def __init__(
        self,
        config: RunConfig,
        dataset,
        run_dir: Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
        dist: DistributedContext = SINGLE,
        device: str | None = None,
        artefacts: ArtefactWriter | None = None,
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
        # data.subset trains on part of the data; evaluations keep the full real data as their reference, since
        # an FD against the 50 training images of a 1% run would measure nothing.
        # data.stream: on the device as one tensor, or (too large, or asked for) streamed from the host.
        self.reference_data = place_dataset(dataset, self.device, config.data.stream)
        if streaming_note(self.reference_data) and dist.is_main:
            log(streaming_note(self.reference_data))
        self.dataset = limit_data(self.reference_data, config.data.subset, config.data.subset_seed)
        if self.dataset is not self.reference_data and dist.is_main:
            log(f"data: {self.dataset.description}")
        self.domains = domains_of(self.dataset)
        self.streams = any(d.streams for d in self.domains.values())
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.artefacts = artefacts
        self.progress = progress
        self.log = log

        seed_everything(train.seed)
        self.objective = build_objective(config)
        networks = build_networks(config, describe_data(dataset), self.objective)
        self.objective.to(self.device)  # its state buffers, some shaped by the networks (image pools)
        self.objective.attach_data(self.dataset)
        for role, module in networks.items():
            networks[role] = convert_batch_norm_for(dist, module, self.device).to(self.device)
        self.networks = networks
        if dist.is_main:
            for role, module in networks.items():
                log(describe_network(role, networks.side_of(role), module))
        critics = [module for _, module in networks.side(CRITIC)]
        # Only convolutions gain from NHWC; an MLP critic would just pay a copy per batch.
        self.channels_last = train.channels_last and dataset.kind == "images" and any(map(has_convolutions, critics))
        for module in networks.values():
            if self.channels_last and has_convolutions(module):
                # Measured on 2 CPU cores: the DCGAN main job 3.17 -> 3.51 generator steps/s (median of 8 windows).
                module.to(memory_format=torch.channels_last)
            if train.fast_layers and self.device.type == "cpu":  # measured on CPUs only; cuDNN has its own kernels
                use_fast_layers(module)
            dist.broadcast_parameters(module)
        dist.broadcast_parameters(self.objective)  # its state buffers start equal on every rank
        critic_couples_batch = any(map(has_batch_statistics, critics))
        if self.objective.uses_penalty and critic_couples_batch:
            raise ConfigError(
                f"model.critic_norm '{config.model.critic_norm}' couples the samples of a batch, which makes "
                f"the gradient penalty of {config.objective.name} wrong: set model.critic_norm to layer "
                "(as in the WGAN-GP paper), instance or none"
            )
        # train.augment: DiffAugment as a pre-hook on the critic-side networks (training mode only), so every
        # image they score is augmented whatever the objective; None when off. Its generator rides in checkpoints.
        self.augment = build_augmentation(
            train.augment, self.objective, [module for _, module in networks.side(CRITIC)], dataset.kind,
            dataset.name, seed=train.seed, device=self.device, local_batch=train.batch_size // dist.world_size,
            shard=(dist.rank, dist.world_size),
        )
        # A side without parameters (BPR has no critic) has no optimiser, and the objective never steps it.
        self.optimizers = {
            side: build_optimizer(networks.side_parameters(side), getattr(config.optim, side)) for side in SIDES
            if any(True for _ in networks.side_parameters(side))
        }
        self.critic_steps_for = SCHEDULES[train.critic_schedule](train.n_critic)
        # train.lr_schedule plateau follows one of the objective's statistics (state saved in checkpoints).
        self.lr_plateau = (
            PlateauSchedule(train.lr_plateau_stat, train.lr_plateau_every, train.lr_plateau_patience,
                            train.lr_step_factor, train.lr_min_factor, train.lr_plateau_threshold, self.device)
            if train.lr_schedule == "plateau" else None
        )
        self.context = StepContext(
            latent=self.objective.generator_input(config.model.latent_dim),
            device=self.device,
            shard=(dist.rank, dist.world_size),
            precision=self.precision,
            join_critic_forwards=not critic_couples_batch,
            average=dist.average,
            gather=dist.gather,
        )
        self.sampler = DomainSamplers(
            {name: len(d) for name, d in self.domains.items()}, train.batch_size, self.device,
            seed=train.seed + 1, rank=dist.rank, world_size=dist.world_size,
        )
        self.ema = (
            {role: GeneratorEMA(module, train.ema_decay, self._calibration_inputs(role, module))
             for role, module in networks.side(GENERATOR)}
            if train.ema_decay > 0 else {}
        )
        self.layer_norms = LayerGradientNorms(dict(networks.side(CRITIC))) if train.layer_diagnostics else None
        self.alarms = TrainingAlarms(
            AlarmSettings.from_train_config(train), {side: list(networks.side_parameters(side)) for side in SIDES},
            self.objective.critic_loss_stat, self.objective.w_estimate_stat,
        ) if train.alarms else None
        # 2-D runs draw the critic's value surface (the WGAN-GP paper's toy figure) as they train.
        draws_figures = (dataset.kind == "points" and tuple(dataset.sample_shape) == (2,) and "critic" in networks
                         and self.objective.critic_scores_samples)
        every = train.log_every if train.figure_every is None else train.figure_every
        self.figure_every = every if draws_figures else 0

        self.preview_inputs = self.objective.preview_inputs(
            networks, self.dataset, self.context, seed=train.seed + 2, grid_size=train.sample_grid_size
        )
        self.evaluator = self._build_evaluator()
        self.step = 0
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.maintenance = 0.0  # seconds of evaluations and figures over all sessions, kept off the training clock
        self._pending: dict[str, list[Tensor]] = {}
        self.interrupted = False
        self._interval_start = (0, time.perf_counter())

    def _build_evaluator(self):
        """Built up front so that a bad metric name or missing weights fail before any training."""
        e = self.config.eval
        if e.every == 0 or not self.dist.is_main:  # rank 0 evaluates for everyone
            return None
        return run_evaluator(
            self.objective.evaluates, self.reference_data, self.networks, self.context.latent, metrics=e.metrics,
            samples=e.samples, features=e.features, inception_weights=e.inception_weights,
            seed=self.config.train.seed, device=self.device, critic_scores_samples=self.objective.critic_scores_samples,
            progress=self.progress,  # the evaluation's stages, below the training bar
        )

    # ------------------------------------------------------------------ one step
    def _draw_real(self) -> RealBatch:
        indices = self.sampler.next_indices()
        parts = {}
        for name, dataset in self.domains.items():
            samples, labels = dataset.batch(indices[name])
            if self.channels_last:
                samples = samples.contiguous(memory_format=torch.channels_last)
            parts[name] = DomainBatch(samples, labels)
        if self.streams:  # the next batch is gathered on the host while this one trains
            upcoming = self.sampler.peek_indices()
            for name, dataset in self.domains.items():
                dataset.prefetch(upcoming[name])
        return RealBatch(parts)

    def run_phase(self, phase: Phase, batch: RealBatch) -> dict[str, Tensor]:
        """One optimiser step of ``phase.side`` on the objective's loss; the other side stays frozen."""
        side = phase.side
        # The other side's weights need no gradients: skipping them saves a third of the generator's backward.
        frozen = [module for other in SIDES if other != side for _, module in self.networks.side(other)]
        for module in frozen:
            module.requires_grad_(False)
        try:
            with self.context.autocast():
                loss, stats = self.objective.loss(side, self.networks, batch, self.context)
            optimizer = self.optimizers[side]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for _, module in self.networks.side(side):
                self.dist.average_gradients(module)
            if self.alarms is not None:
                self.alarms.gradients.capture(side)  # after averaging: the same peak on every rank
            if side == CRITIC and self.layer_norms is not None and (self.step + 1) % self.config.train.log_every == 0:
                self.layer_norms.capture()  # the last critic step of a generator step that will be logged
            optimizer.step()
        finally:
            for module in frozen:
                module.requires_grad_(True)
        self.objective.finish_phase(side, self.networks, stats, self.context)
        if side == GENERATOR:
            for role, ema in self.ema.items():
                ema.update(self.networks[role])
        return stats

    def _set_learning_rates(self) -> None:
        """Each side's rate for this step under ``train.lr_schedule`` (a pure function of the step)."""
        train = self.config.train
        if self.lr_plateau is not None:
            factor = self.lr_plateau.factor
        else:
            factor = lr_factor(train.lr_schedule, self.step, train.steps, train.lr_decay_start, train.lr_step_every,
                               train.lr_step_factor)
        for side, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = getattr(self.config.optim, side).lr * factor

    def train_step(self) -> None:
        """One generator step: the objective's phases in order; statistics stay on the device."""
        if self.config.train.lr_schedule != "constant":
            self._set_learning_rates()
        batch = None
        self.context.step = self.step
        for phase in self.objective.phases(self.step, self.critic_steps_for(self.step)):
            if phase.fresh_batch or batch is None:
                batch = self._draw_real()
            stats = self.run_phase(phase, batch)
            self._remember(stats)
            if self.lr_plateau is not None:
                self.lr_plateau.observe(stats)
        self.step += 1
        if self.lr_plateau is not None:
            self.lr_plateau.end_step(self.step, self.dist.average)
            self._remember({"lr_factor": torch.tensor(self.lr_plateau.factor, device=self.device)})

    def _remember(self, stats: dict[str, Tensor]) -> None:
        for key, value in stats.items():
            self._pending.setdefault(key, []).append(value)

    # ------------------------------------------------------------------ the loop
    def fit(self, total_steps: int) -> None:
        """Train until generator step ``total_steps``, writing logs, samples and checkpoints."""
        train = self.config.train
        writing = self.run_dir is not None
        drawing = writing and self.artefacts is not None
        logs = RunLogs()
        if writing:
            logs.metrics = MetricsLog(self.run_dir, resume_step=self.step)
            logs.board = TensorBoardLog(self.run_dir, resume_step=self.step) if train.tensorboard else None
            if self.layer_norms is not None:
                logs.diagnostics = MetricsLog(self.run_dir, resume_step=self.step, filename=DIAGNOSTICS)
        bar = ProgressBar(total_steps, self.step, enabled=self.progress, max_seconds=train.max_seconds, log=self.log)
        session_start = time.perf_counter()
        elapsed_before, maintenance_before = self.elapsed, self.maintenance
        session_maintenance = 0.0
        self._interval_start = (self.step, session_start)
        stop = _StopRequest()
        stopping = False
        try:
            with stop.installed():
                while self.step < total_steps and not stopping:
                    self.train_step()
                    bar.advance()
                    self.elapsed = elapsed_before + time.perf_counter() - session_start - session_maintenance
                    out_of_time = train.max_seconds is not None and self.elapsed >= train.max_seconds
                    stopping = stop.requested
                    if self.dist.enabled:
                        # Ranks must stop at the same step, or the others wait forever in a collective.
                        flags = self.dist.any(torch.tensor([float(out_of_time), float(stopping)]))
                        out_of_time, stopping = bool(flags[0]), bool(flags[1])
                    last = self.step == total_steps or out_of_time
                    checkpoint_step = self.step % train.checkpoint_every == 0 or last
                    # The same schedule on every rank: statistics are averaged over ranks at each flush.
                    if self.step % train.log_every == 0 or last or checkpoint_step:
                        self._flush_stats(logs, bar)
                    # Previews, figures and evaluations are maintenance, not training: the time budget and
                    # it/s leave them out.
                    if drawing and (self.step % train.sample_every == 0 or last):
                        session_maintenance += self._timed(
                            lambda: self.save_samples(self.run_dir / SAMPLES / f"step_{self.step:08d}.png")
                        )
                    if drawing and self.figure_every and (self.step % self.figure_every == 0 or last):
                        session_maintenance += self._timed(self.save_critic_figure)
                    if self.evaluator is not None and (self.step % self.config.eval.every == 0 or last):
                        session_maintenance += self._timed(lambda: self._evaluate(logs, bar))
                    self.maintenance = maintenance_before + session_maintenance
                    if writing and checkpoint_step:
                        self.save_checkpoint()
                    if out_of_time:
                        bar.write(f"time budget of {train.max_seconds:g} s reached at step {self.step}")
                        break
                if stopping:
                    self._flush_stats(logs, bar)
                if stopping and writing:
                    path = self.save_checkpoint()
                    bar.write(f"interrupted: saved {path}; continue with: gankit train --resume {self.run_dir}")
            if drawing:
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
        # The alarms' gradient peaks ride in the same host sync, but stay out of the logged record.
        peaks = self.alarms.gradients.take() if self.alarms is not None else {}
        stacked = [torch.stack(self._pending[k]).float().mean() for k in keys] + list(peaks.values())
        means = self.dist.average(torch.stack(stacked)).tolist()
        self._pending = {}
        values = dict(zip(keys, means))
        peaks = dict(zip(peaks, means[len(keys):]))
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
        bar.show({k: values[k] for k in self.objective.headline if k in values})
        if self.alarms is not None:
            self._sound(self.alarms.monitor.observe_training(self.step, {**values, **peaks}), logs, bar)

    def _sound(self, alarms: list[Alarm], logs: RunLogs, bar: ProgressBar) -> None:
        """Each alarm as a line on the bar's stream and a metrics.jsonl record, from rank 0 only."""
        if not self.dist.is_main:
            return
        for alarm in alarms:
            bar.write(alarm.line())
            if logs.metrics is not None:
                logs.metrics.write(alarm.record())

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
        result = self.evaluator.evaluate(self.sampling_networks, self.step)
        if logs.metrics is not None:
            logs.metrics.write(result.record())
        if logs.board is not None:
            logs.board.write(self.step, result.scalars())
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result.scalars().items() if isinstance(v, float))
        bar.write(f"eval at step {self.step}: {shown}")
        if self.alarms is not None:
            self._sound(self.alarms.monitor.observe_evaluation(self.step, result.values), logs, bar)

    def _calibration_inputs(self, role: str, module: nn.Module) -> CalibrationInputs | None:
        """Seeded noise (and uniform labels, if it takes them) for the EMA of the network that reads the latent."""
        latent = self.context.latent
        if role != GENERATOR or latent is None:
            return None
        classes = getattr(module, "num_classes", None) if getattr(module, "conditional", False) else None

        def inputs(index: int, n: int) -> tuple[Tensor, Tensor | None]:
            seed = CALIBRATION_SEED + index
            labels = None if classes is None else torch.randint(
                classes, (n,), generator=torch.Generator().manual_seed(seed)).to(self.device)
            return latent.draw(n, self.device, seed=seed), labels

        return inputs

    # ------------------------------------------------------------------ artefacts
    @property
    def sampling_networks(self) -> dict[str, nn.Module]:
        """The networks by role, with each generator-side network's EMA where the run keeps one."""
        return {role: self.ema[role].averaged() if role in self.ema else module
                for role, module in self.networks.items()}

    @property
    def sampling_generator(self) -> nn.Module:
        return self.sampling_networks["generator"]

    def _real_points(self) -> Tensor:
        dataset = next(iter(self.domains.values()))
        real, _ = dataset.batch(torch.arange(min(len(dataset), POINTS_PER_PLOT), device=self.device))
        return real

    def save_samples(self, path: Path) -> None:
        preview = self.objective.preview(self.sampling_networks, self.preview_inputs)
        path.parent.mkdir(parents=True, exist_ok=True)  # a user may have cleared samples/ before resuming
        real = None
        if self.dataset.kind == "points":
            real = preview.reference if preview.reference is not None else self._real_points()
        self.artefacts.samples(path, preview.samples, self.dataset.kind, preview.rows, real, title=f"step {self.step}")

    def save_critic_figure(self) -> None:
        """contours/step_N.png: the critic's value surface with real and generated points (2-D runs)."""
        fake = self.objective.preview(self.sampling_networks, self.preview_inputs).samples
        conditional = getattr(self.networks["generator"], "conditional", False)
        self.artefacts.critic_figure(
            self.run_dir / CONTOURS / f"step_{self.step:08d}.png", self.networks["critic"], self._real_points(), fake,
            title=f"{self.config.objective.name}, step {self.step}",
            labels=self.preview_inputs.get("labels") if conditional else None,
        )

    def save_final_artifacts(self) -> None:
        self.save_samples(self.run_dir / SAMPLES / "final.png")
        if self.dataset.kind != "points":
            for name, samples in self.objective.sample_grids(self.sampling_networks, self.preview_inputs).items():
                self.artefacts.objective_grid(self.run_dir / SAMPLES / f"{name}.png", samples, rows=GRID_ROW)
        title = f"{self.config.preset or self.config.objective.name} on {self.dataset.name}"
        self.artefacts.finish(self.run_dir, title, animate=bool(self.figure_every))

    # ------------------------------------------------------------------ checkpoints
    def _check_parameters_finite(self) -> None:
        for role, model in self.networks.items():
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
            "maintenance": self.maintenance,
            "data": describe_data(self.dataset),
            "networks": {role: module.state_dict() for role, module in self.networks.items()},
            "ema": {role: ema.state_dict() for role, ema in self.ema.items()} or None,
            "optimizers": {side: optimizer.state_dict() for side, optimizer in self.optimizers.items()},
            "objective": self.objective.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": capture_rng_state(),
            "preview": {k: None if v is None else v.cpu() for k, v in self.preview_inputs.items()},
            "lr_schedule": self.lr_plateau.state_dict() if self.lr_plateau is not None else None,
            "augment": self.augment.state_dict() if self.augment is not None else None,
            "alarms": self.alarms.state_dict() if self.alarms is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint (in the current layout: ``checkpoint.migrate`` reads older ones) of the same config."""
        restore_modules(dict(self.networks.items()), state["networks"])
        if self.ema:
            # A run that gains an EMA on resume starts it from the generators' current weights.
            saved = state["ema"] or {}
            restore_modules(
                {role: ema.model for role, ema in self.ema.items()},
                {role: saved.get(role, state["networks"][role]) for role in self.ema}, what="EMA network",
            )
            for ema in self.ema.values():
                ema.mark_stale()
        try:
            for side, optimizer in self.optimizers.items():
                load_optimizer_state(optimizer, state["optimizers"][side])
            self.objective.load_state_dict(state["objective"])
            self.sampler.load_state_dict(state["sampler"])
        except (KeyError, RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            raise CheckpointError(
                f"the checkpoint does not fit this run's optimisers, objective or data ({first}): "
                "resume with the config the checkpoint was written with"
            ) from None
        if self.lr_plateau is not None and state.get("lr_schedule") is not None:
            self.lr_plateau.load_state_dict(state["lr_schedule"])  # a run that gains the schedule starts it afresh
        if self.augment is not None and state.get("augment") is not None:
            self.augment.load_state_dict(state["augment"])  # older checkpoints have none: it starts from its seed
        if self.alarms is not None and state.get("alarms") is not None:
            self.alarms.load_state_dict(state["alarms"])  # older checkpoints have none: the monitor starts afresh
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.maintenance = float(state.get("maintenance", 0.0))
        self.preview_inputs = {k: None if v is None else v.to(self.device) for k, v in state["preview"].items()}
        restore_rng_state(state["rng"])
