"""Shared helpers: tiny, fast configs for real training runs on the CPU."""

import pytest

from gankit.config import build_config

TINY_TOY = [
    "data.toy_size=512",
    "model.generator_widths=[32,32]",
    "model.critic_widths=[32,32]",
    "train.batch_size=32",
    "train.log_every=2",
    "train.sample_every=1000",
    "train.checkpoint_every=1000",
    "train.tensorboard=false",
    "train.device=cpu",
    "eval.every=0",  # the toy presets evaluate every 250 steps; tests that want it turn it on
    "train.figure_every=0",  # 2-D critic figures cost a matplotlib frame each; their own tests turn them on
]


@pytest.fixture
def tiny_toy_config():
    """A config factory: a preset on 8gaussians shrunk to run in well under a second."""

    def make(preset="wgan-gp-8gaussians", *extra):
        return build_config(preset, overrides=TINY_TOY + list(extra))

    return make


@pytest.fixture(scope="session")
def classified_digits():
    """Embedded MNIST digits that the shipped classifier reads as their label, by class ([-1, 1] images)."""
    import torch

    from gankit.data import load_dataset
    from gankit.evaluation.features import classifier_extractor

    mnist = load_dataset("mnist")
    images, labels = mnist.batch(torch.arange(0, len(mnist), 8))  # the sample is sorted by class: every 8th
    _, probabilities = classifier_extractor().extract(images)
    right = probabilities.argmax(1) == labels.numpy()
    return {k: images[torch.from_numpy(right & (labels.numpy() == k))] for k in range(10)}
