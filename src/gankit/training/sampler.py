"""Random batches drawn on the training device, without a DataLoader.

The dataset lives on the device as one tensor, so a batch is one index
operation: no worker processes, no host-to-device copies, no per-sample
Python. Batches are drawn epoch by epoch without replacement from a
permutation made by the sampler's own generator, whose state is saved in
checkpoints so that a resumed run draws the same batches.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.errors import DataError


class DeviceBatchSampler:
    """Row indices of random batches; each rank takes its slice of a global batch."""

    def __init__(
        self,
        dataset_size: int,
        global_batch_size: int,
        device: torch.device,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        if global_batch_size > dataset_size:
            raise DataError(
                f"train.batch_size {global_batch_size} is larger than the dataset ({dataset_size} samples): "
                f"lower train.batch_size to at most {dataset_size}"
            )
        if global_batch_size % world_size:
            raise DataError(
                f"train.batch_size {global_batch_size} does not split evenly over {world_size} processes: "
                f"use a multiple of {world_size}"
            )
        self.dataset_size = dataset_size
        self.global_batch_size = global_batch_size
        self.local_batch_size = global_batch_size // world_size
        self.rank = rank
        self.device = device
        # Every rank holds the same generator, hence the same permutation; the
        # ranks differ only in the slice they take.
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.order: Tensor | None = None
        self.position = 0
        self.epoch = 0

    def _epoch_ends(self) -> bool:
        return self.order is None or self.position + self.global_batch_size > self.dataset_size

    def next_indices(self) -> Tensor:
        if self._epoch_ends():
            self.order = torch.randperm(self.dataset_size, generator=self.generator, device=self.device)
            self.position = 0
            self.epoch += 1
        start = self.position + self.rank * self.local_batch_size
        self.position += self.global_batch_size
        return self.order[start : start + self.local_batch_size]

    def peek_indices(self) -> Tensor:
        """What ``next_indices`` will return, without moving the sampler (a streamed dataset's prefetch).

        At an epoch's end the next permutation is drawn from a copy of the generator, so the saved state
        stays that of the batches training has consumed, and a resume is exact whatever was prefetched.
        """
        order, position = self.order, self.position
        if self._epoch_ends():
            lookahead = torch.Generator(device=self.device)
            lookahead.set_state(self.generator.get_state())
            order = torch.randperm(self.dataset_size, generator=lookahead, device=self.device)
            position = 0
        start = position + self.rank * self.local_batch_size
        return order[start : start + self.local_batch_size]

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "order": None if self.order is None else self.order.cpu(),
            "position": self.position,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order = None if state["order"] is None else state["order"].to(self.device)
        self.position = int(state["position"])
        self.epoch = int(state["epoch"])


class DomainSamplers:
    """One ``DeviceBatchSampler`` per data domain, each with its own seeded generator.

    Unpaired domains have their own sizes and epochs; drawing each from its
    own generator keeps a domain's order independent of the others'. With one
    domain the state is that sampler's own (the checkpoint layout of gankit 0.1.0).
    """

    def __init__(
        self, sizes: dict[str, int], global_batch_size: int, device: torch.device, seed: int,
        rank: int = 0, world_size: int = 1,
    ):
        self.samplers = {
            domain: DeviceBatchSampler(size, global_batch_size, device, seed + i, rank, world_size)
            for i, (domain, size) in enumerate(sizes.items())
        }

    @property
    def local_batch_size(self) -> int:
        return next(iter(self.samplers.values())).local_batch_size

    def next_indices(self) -> dict[str, Tensor]:
        return {domain: sampler.next_indices() for domain, sampler in self.samplers.items()}

    def peek_indices(self) -> dict[str, Tensor]:
        return {domain: sampler.peek_indices() for domain, sampler in self.samplers.items()}

    def state_dict(self) -> dict[str, Any]:
        if len(self.samplers) == 1:
            return next(iter(self.samplers.values())).state_dict()
        return {"domains": {domain: sampler.state_dict() for domain, sampler in self.samplers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(self.samplers) == 1:
            next(iter(self.samplers.values())).load_state_dict(state)
            return
        for domain, sampler in self.samplers.items():
            sampler.load_state_dict(state["domains"][domain])
