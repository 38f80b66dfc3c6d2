"""The settings every part shares: one resolved config per (preset, precision), the data, the device.

Both loops under comparison are built from what this module returns, so
"identical settings" is a property of the code rather than of care: the
reference loop reads its architecture, optimiser settings, batch size and
n_critic from the same resolved ``RunConfig`` as gankit's ``Trainer``.
"""

from __future__ import annotations

from functools import cache

import torch

from gankit.api import load_data
from gankit.config import RunConfig, build_config, resolve
from gankit.data import Dataset
from gankit.training.precision import native_bf16
from gankit.training.trainer import Trainer, resolve_device

# Benchmarks measure training alone: no periodic evaluation inside the
# trainer (time to quality runs its own, off the clock) and no TensorBoard.
QUIET = ("eval.every=0", "train.tensorboard=false")


def benchmark_device(name: str) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N``: the concrete device, checked once by gankit's own rules."""
    return str(resolve_device(name))


def timed_precisions(device: str, emulated_bf16: bool = False) -> tuple[str, ...]:
    """The precisions worth timing on ``device``: bf16 only where its matrix units run it natively.

    Emulated bf16 is an order of magnitude slower than fp32 (15x on an AVX2
    CPU), so timing it would only spend the benchmark's minutes on a path
    ``train.precision=auto`` never takes; ``emulated_bf16`` times it anyway.
    """
    return ("fp32", "bf16") if emulated_bf16 or native_bf16(torch.device(device)) else ("fp32",)


def benchmark_config(preset: str, device: str, precision: str = "fp32", overrides: tuple[str, ...] = ()) -> RunConfig:
    """The preset's resolved config (optimiser settings and n_critic filled in), on ``device``, at ``precision``."""
    settings = [f"train.device={device}", f"train.precision={precision}", *QUIET, *overrides]
    return resolve(build_config(preset, overrides=settings))


@cache
def _dataset(name: str, root: str, image_size: int | None, channels: int | None, toy_size: int, seed: int) -> Dataset:
    # Keyed by what load_data reads: the throughput part builds twenty trainers
    # over three datasets, and MNIST takes seconds to load.
    config = RunConfig()
    config.data.name, config.data.root, config.data.image_size = name, root, image_size
    config.data.channels, config.data.toy_size, config.train.seed = channels, toy_size, seed
    return load_data(config)


def dataset_for(config: RunConfig) -> Dataset:
    """The run's dataset on the CPU, loaded once per distinct data section and seed."""
    d = config.data
    return _dataset(d.name, d.root, d.image_size, d.channels, d.toy_size, config.train.seed)


def build_trainer(config: RunConfig, dataset: Dataset | None = None) -> Trainer:
    """gankit's Trainer as ``gankit train`` builds it, minus the run folder, progress bar and log lines."""
    data = dataset if dataset is not None else dataset_for(config)
    return Trainer(config, data, run_dir=None, progress=False, log=lambda _: None)


def synchronise(device: torch.device | str) -> None:
    """Wait for queued device work, so that a clock read afterwards covers it (CPU ops are synchronous)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
