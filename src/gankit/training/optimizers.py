"""Optimisers from the config's resolved settings, with the fastest update kernel the device offers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from gankit.config import OptimizerConfig

# Optimisers PyTorch ships a fused kernel for, and the devices it runs them on.
# A fused update reads each parameter, gradient and moment once; the foreach
# kernels make one pass per arithmetic step. Measured on a 2-core CPU, Adam over
# the classic MNIST MLP critic (0.5 M parameters): 0.50 ms fused, 1.82 ms foreach,
# 2.17 ms for the per-parameter loop PyTorch uses by default on CPU.
_FUSED = {"adam", "adamw", "sgd"}
_FUSED_DEVICES = {"cpu", "cuda"}


def update_kernel(name: str, params: list[nn.Parameter]) -> dict[str, Any]:
    """``fused=True`` where PyTorch has a fused kernel for this optimiser and device, else ``foreach=True``.

    RMSProp has no fused kernel; foreach is one multi-tensor kernel per step instead of one per parameter.
    """
    devices = {p.device.type for p in params}
    floating = all(p.dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16) for p in params)
    if name in _FUSED and params and floating and len(devices) == 1 and devices <= _FUSED_DEVICES:
        return {"fused": True}
    return {"foreach": True}


def build_optimizer(params: Iterable[nn.Parameter], settings: OptimizerConfig) -> torch.optim.Optimizer:
    """``settings`` must be resolved (no None left): see ``gankit.config.resolve``.

    Build it after the model is on its device: the update kernel is chosen from the parameters' device.
    """
    params = list(params)
    lr, wd = settings.lr, settings.weight_decay
    kernel = update_kernel(settings.name, params)
    if settings.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=_betas(settings), weight_decay=wd, **kernel)
    if settings.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=_betas(settings), weight_decay=wd, **kernel)
    if settings.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd, **kernel)
    if settings.name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, **kernel)
    raise ValueError(f"unknown optimizer {settings.name!r}")  # config validation prevents this


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load a saved optimiser state but keep this build's update kernel.

    ``Optimizer.load_state_dict`` copies every saved group setting, including
    ``fused`` and ``foreach``, so a checkpoint written with another kernel
    (an older gankit, another device) would silently switch the kernel.
    """
    kernels = [{k: group.get(k) for k in ("fused", "foreach")} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kernel in zip(optimizer.param_groups, kernels):
        group.update(kernel)
        if kernel["fused"]:
            # A fused kernel wants its step counts on the parameters' device; a
            # state saved by a foreach optimiser keeps them wherever it put them.
            for param in group["params"]:
                step = optimizer.state.get(param, {}).get("step")
                if isinstance(step, torch.Tensor):
                    optimizer.state[param]["step"] = step.to(param.device, torch.float32)


def _betas(settings: OptimizerConfig) -> tuple[float, float]:
    # torch.optim.Adam rejects a mix of int and float betas, e.g. (0, 0.9).
    first, second = settings.betas
    return float(first), float(second)
