"""The benchmark's reference loop must compute the same WGAN-GP losses as gankit, or the speed ratio means nothing."""

import numpy as np
import pytest
import torch

from gankit.config import build_config, resolve
from gankit.objectives import CriticBatch, objective_class

from benchmarks.reference_loop import PILDigits, ReferenceLoop


@pytest.fixture
def loop():
    config = resolve(build_config("wgan-gp-mnist-mlp", overrides=["train.device=cpu", "train.batch_size=8",
                                                                   "model.generator_widths=[16]", "model.critic_widths=[16]"]))
    images = np.random.default_rng(0).integers(0, 256, size=(32, 1, 28, 28), dtype=np.uint8)
    return ReferenceLoop(config, images), config


def test_reference_critic_loss_equals_gankits_loss_on_the_same_batch(loop):
    loop, config = loop
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    fake = torch.rand(8, 1, 28, 28) * 2 - 1
    objective = objective_class("wgan-gp")(config.objective.params, fused_critic_forward=False)
    torch.manual_seed(5)  # the same interpolation weights on both sides
    ours, _ = objective.critic_loss(loop.critic, CriticBatch(real, fake))
    torch.manual_seed(5)
    theirs = loop.critic_loss(real, fake)
    assert theirs.item() == pytest.approx(ours.item(), rel=1e-5)


def test_reference_loop_trains_with_finite_losses_and_steps_the_generator_every_n_critic(loop):
    loop, config = loop
    before = [p.detach().clone() for p in loop.generator.parameters()]
    loop.train_batches(2 * config.train.n_critic)
    assert loop.generator_steps == 2 and all(np.isfinite(loop.last_losses))
    assert any(not torch.equal(a, b) for a, b in zip(before, loop.generator.parameters()))


def test_reference_dataset_serves_normalised_pil_digits():
    images = np.array([[[[0, 255], [128, 64]]]], dtype=np.uint8)
    tensor, _ = PILDigits(images)[0]
    assert tensor.shape == (1, 2, 2)
    assert tensor[0, 0, 0].item() == pytest.approx(-1.0) and tensor[0, 0, 1].item() == pytest.approx(1.0)
