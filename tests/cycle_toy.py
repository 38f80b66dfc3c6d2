"""A toy two-generator, two-critic objective: the proof that the core's seam fits CycleGAN's shape.

Two 2-D mixtures, A (8gaussians) and B (25gaussians), are mapped to each
other by generators ``g_ab`` and ``g_ba``; critics ``d_a`` and ``d_b`` judge
each domain with the least-squares loss, and a cycle term pulls
``g_ba(g_ab(a))`` back to ``a`` (and the other way round). Its generators
consume points of the other domain, not noise; its step runs the generator
phase first, then the critics on the same batch; it keeps a running mean of
the cycle error as objective state, averaged over ranks. Nothing in
``training/`` knows it: it lives in the tests, registered only while they run.

Run as a script, it trains and writes the final state (used under torchrun by
tests/test_core_seam.py)::

    python tests/cycle_toy.py OUT_FILE STEPS
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit import losses
from gankit.config import build_config, resolve
from gankit.data.domains import MultiDomainDataset
from gankit.data.toy import load_toy
from gankit.objectives import (
    CRITIC,
    GENERATOR,
    OBJECTIVES,
    Networks,
    Objective,
    ObjectiveParams,
    Phase,
    Preview,
    RealBatch,
    Recommendation,
    StepContext,
)

NAME = "toy-cycle"


@dataclass
class ToyCycleParams(ObjectiveParams):
    cycle_weight: float = 10.0


class ToyCycle(Objective):
    name = NAME
    summary = "test only: two 2-D mixtures mapped to each other, least squares + an L1 cycle term"
    Params = ToyCycleParams
    recommended = Recommendation(optimizer="adam", lr=1e-3, betas=(0.5, 0.999))
    headline = ("critic_loss", "cycle_loss")

    def __init__(self, params: ToyCycleParams | None = None):
        super().__init__(params)
        self.register_buffer("mean_cycle_error", torch.tensor(0.0))

    def generator_input(self, latent_dim: int):
        return None  # the generators read the other domain's points

    def build_networks(self, build) -> Networks:
        # A generator of latent size 2 reading a 2-D point is a map from one plane to the other.
        return Networks(
            {"g_ab": build.generator(), "g_ba": build.generator()},
            {"d_a": build.critic(), "d_b": build.critic()},
        )

    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        # CycleGAN's order: the generators step first, then the critics see the same batch.
        return [Phase(GENERATOR, fresh_batch=True), Phase(CRITIC, fresh_batch=False)]

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext):
        a, b = batch["A"].samples, batch["B"].samples
        if side == GENERATOR:
            fake_b, fake_a = nets["g_ab"](a), nets["g_ba"](b)
            adversarial = losses.least_squares_generator_loss(nets["d_b"](fake_b)) + losses.least_squares_generator_loss(
                nets["d_a"](fake_a)
            )
            cycle = (nets["g_ba"](fake_b) - a).abs().mean() + (nets["g_ab"](fake_a) - b).abs().mean()
            loss = adversarial + self.params.cycle_weight * cycle
            return loss, {"generator_loss": loss.detach(), "cycle_loss": cycle.detach()}
        with torch.no_grad():
            fake_b, fake_a = nets["g_ab"](a), nets["g_ba"](b)
        loss = 0.5 * (
            losses.least_squares_critic_loss(nets["d_b"](b), nets["d_b"](fake_b))
            + losses.least_squares_critic_loss(nets["d_a"](a), nets["d_a"](fake_a))
        )
        return loss, {"critic_loss": loss.detach()}

    @torch.no_grad()
    def after_step(self, side: str, nets: Networks, stats, ctx: StepContext) -> None:
        if side == GENERATOR:
            error = ctx.average(stats["cycle_loss"].reshape(1))[0]
            self.mean_cycle_error.mul_(0.9).add_(0.1 * error)

    def preview_inputs(self, nets, dataset, ctx, seed, grid_size):
        a = dataset.domains["A"]
        points, _ = a.batch(torch.arange(64, device=ctx.device))
        return {"a": points}

    def preview(self, nets: Mapping[str, nn.Module], inputs) -> Preview:
        with torch.no_grad():
            return Preview(nets["g_ab"](inputs["a"]))


@contextmanager
def registered():
    """ToyCycle in the objective registry while the block runs."""
    OBJECTIVES[NAME] = ToyCycle
    try:
        yield
    finally:
        OBJECTIVES.pop(NAME, None)


def toy_config(*extra: str):
    # Built on wgan-gp-mnist, not on the main job's preset, so that moving the main job changes nothing here.
    return resolve(build_config("wgan-gp-mnist", overrides=[
        f"objective.name={NAME}", "data.name=8gaussians", "model.arch=mlp", "model.latent_dim=2",
        "model.generator_widths=[32,32]", "model.critic_widths=[32,32]",
        # No batch norm: on the CPU each rank would normalise its own slice, unlike one process.
        "model.generator_norm=none", "model.critic_norm=none", "train.batch_size=32",
        "train.log_every=2", "train.checkpoint_every=1000", "train.tensorboard=false", "train.device=cpu",
        "train.figure_every=0", "eval.every=0", *extra,
    ]))


def two_mixtures(size: int = 512) -> MultiDomainDataset:
    return MultiDomainDataset(
        "8gaussians:25gaussians", "two 2-D mixtures",
        {"A": load_toy("8gaussians", size, seed=0), "B": load_toy("25gaussians", size, seed=1)},
    )


def main(out: str, steps: int) -> None:
    from gankit.training.distributed import init_distributed, shutdown_distributed
    from gankit.training.trainer import Trainer

    dist, device = init_distributed("cpu")
    with registered():
        trainer = Trainer(toy_config(), two_mixtures(), progress=False, log=lambda _: None, dist=dist, device=device)
        trainer.fit(steps)
    if dist.is_main:
        torch.save(trainer.state_dict(), Path(out))
    if dist.enabled:
        # Leave together: a rank that tears its process group down while the other still writes has, once in
        # a full-suite run, aborted gloo (SIGABRT) on this machine.
        torch.distributed.barrier()
    shutdown_distributed()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
