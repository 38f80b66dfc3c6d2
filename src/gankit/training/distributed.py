"""Data-parallel training over torch.distributed, as launched by torchrun.

Why not DistributedDataParallel: DDP synchronises gradients from hooks that
fire during ``backward()``, and its documentation states that it does not
support ``torch.autograd.grad`` (the gradient penalty's inner gradient, taken
with ``create_graph=True``) nor a double backward through the wrapped model.
A penalty under DDP would run its inner gradient through the DDP reducer and
either fail or average the wrong thing. So gankit does what StyleGAN2-ADA
does: every rank computes its local loss and a plain ``backward()``, then one
all-reduce per model per step averages the flattened gradients. That is one
collective per optimiser step, like DDP's bucketed reducer, with none of its
restrictions.

Every rank draws the *global* batch's random numbers (batch rows, latent
noise, penalty interpolation weights) from identically seeded generators and
keeps its own slice. So a 2-process run with global batch B computes the same
gradients as a 1-process run with batch B (up to the order of float sums), and
the random state in a checkpoint is the same on every rank: a checkpoint
written by N processes resumes in M.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import ConfigError

# A rank that dies leaves the others blocked in a collective; torchrun tears the
# group down when a worker exits, and this timeout bounds the wait otherwise.
DEFAULT_TIMEOUT_S = 300


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only this rank writes logs, samples, reports and checkpoints."""
        return self.rank == 0

    def long_barrier(self, timeout_s: float) -> Callable[[], None]:
        """A barrier for a long wait: set up now, while every rank is here; calling it blocks until all have.

        It runs on a gloo group of its own: the default group's timeout is
        short on purpose (it bounds how long a dead rank blocks the others),
        and what the ranks wait for here (one of them decoding a large folder)
        may take far longer. Creating the group is itself a rendezvous, so it
        happens before the long work, not after it.
        """
        if not self.enabled:
            return lambda: None
        group = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s))

        def wait() -> None:
            dist.barrier(group=group)
            dist.destroy_process_group(group)

        return wait

    def shard(self, tensor: Tensor) -> Tensor:
        """This rank's slice of a tensor that holds the whole global batch along dim 0."""
        if not self.enabled:
            return tensor
        size = tensor.shape[0] // self.world_size
        return tensor[self.rank * size:(self.rank + 1) * size]

    def average_gradients(self, module: nn.Module) -> None:
        """Average the gradients of ``module`` over ranks: one flattened all-reduce."""
        if not self.enabled:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def average(self, values: Tensor) -> Tensor:
        """The mean over ranks of a tensor of statistics (for logging)."""
        if not self.enabled:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.world_size

    def gather(self, tensor: Tensor) -> Tensor:
        """Every rank's ``tensor`` joined along dim 0 in rank order (the global batch from the local slices)."""
        if not self.enabled:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def any(self, flags: Tensor) -> Tensor:
        """Element-wise OR over ranks of a 0/1 tensor: decisions every rank must take together."""
        if not self.enabled:
            return flags
        flags = flags.clone()
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        return flags

    def broadcast_parameters(self, module: nn.Module) -> None:
        """Start every rank from rank 0's weights (they match by seeding; this makes sure)."""
        if not self.enabled:
            return
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


SINGLE = DistributedContext()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device_name: str) -> tuple[DistributedContext, str]:
    """Join the process group torchrun set up; returns the context and this rank's device name.

    gloo on the CPU, NCCL on CUDA (each rank on its LOCAL_RANK GPU).
    """
    if not launched_by_torchrun():
        return SINGLE, device_name
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if wants_cuda:
        if not torch.cuda.is_available():
            raise ConfigError("train.device asks for CUDA, which this machine lacks: use --device cpu")
        torch.cuda.set_device(local_rank)
        device_name, backend = f"cuda:{local_rank}", "nccl"
    else:
        device_name, backend = "cpu", "gloo"
    timeout = timedelta(seconds=float(os.environ.get("GANKIT_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size, timeout=timeout)
    return DistributedContext(rank, world_size, local_rank), device_name


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def convert_batch_norm_for(context: DistributedContext, module: nn.Module, device: torch.device) -> nn.Module:
    """Batch statistics over the global batch (SyncBatchNorm) where the backend supports it.

    SyncBatchNorm runs on GPUs only; on the CPU each rank normalises over its
    own slice, so batch-norm models are not exactly equivalent to one process there.
    """
    if context.enabled and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module
