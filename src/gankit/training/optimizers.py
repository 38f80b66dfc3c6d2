"""Optimisers from the config's resolved settings."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from gankit.config import OptimizerConfig


def build_optimizer(params: Iterable[nn.Parameter], settings: OptimizerConfig) -> torch.optim.Optimizer:
    """``settings`` must be resolved (no None left): see ``gankit.config.resolve``."""
    params = list(params)
    lr, wd = settings.lr, settings.weight_decay
    # foreach=True: one multi-tensor kernel per update instead of one per parameter.
    if settings.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=_betas(settings), weight_decay=wd, foreach=True)
    if settings.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=_betas(settings), weight_decay=wd, foreach=True)
    if settings.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd, foreach=True)
    if settings.name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, foreach=True)
    raise ValueError(f"unknown optimizer {settings.name!r}")  # config validation prevents this


def _betas(settings: OptimizerConfig) -> tuple[float, float]:
    # torch.optim.Adam rejects a mix of int and float betas, e.g. (0, 0.9).
    first, second = settings.betas
    return float(first), float(second)
