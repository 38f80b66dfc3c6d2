"""Building gankit trainers and reference loops at identical settings, and timing their steps."""

from __future__ import annotations

import time

import numpy as np
import torch

from gankit.api import load_data
from gankit.config import RunConfig, build_config, resolve
from gankit.training.trainer import Trainer

from benchmarks.reference_loop import ReferenceLoop

QUIET = ["eval.every=0", "train.tensorboard=false"]


def config_for(preset: str, device: str, extra: list[str] | None = None) -> RunConfig:
    return resolve(build_config(preset, overrides=[f"train.device={device}", *QUIET, *(extra or [])]))


def trainer_for(config: RunConfig) -> Trainer:
    return Trainer(config, load_data(config), run_dir=None, progress=False, log=lambda _: None)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gankit_throughput(config: RunConfig, steps: int, warmup: int = 5) -> dict[str, float]:
    """Generator steps/s, critic steps/s and images/s of gankit's train_step (statistics stay on the device)."""
    trainer = trainer_for(config)
    for _ in range(warmup):
        trainer.train_step()
    critic_steps = sum(trainer.critic_steps_for(trainer.step + i) for i in range(steps))
    _synchronise(trainer.device)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    trainer._pending.clear()  # what a log flush would do: keep the measured loop's memory flat
    _synchronise(trainer.device)
    seconds = time.perf_counter() - start
    batch = config.train.batch_size
    return {
        "generator_steps_per_s": steps / seconds,
        "critic_steps_per_s": critic_steps / seconds,
        "images_per_s": critic_steps * batch / seconds,
    }


def mnist_uint8(config: RunConfig) -> np.ndarray:
    return load_data(config).data.numpy()


def reference_throughput(config: RunConfig, steps: int, warmup: int = 2) -> dict[str, float]:
    loop = ReferenceLoop(config, mnist_uint8(config))
    loop.train_batches(warmup * config.train.n_critic)
    rate = loop.generator_steps_per_second(steps)
    return {
        "generator_steps_per_s": rate,
        "critic_steps_per_s": rate * config.train.n_critic,
        "images_per_s": rate * config.train.n_critic * config.train.batch_size,
    }
