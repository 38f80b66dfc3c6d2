"""Stacked MNIST: three digits as the R, G and B channels of one image, so 1,000 modes (000 to 999).

The mode-collapse benchmark of Metz et al. (unrolled GANs), VEEGAN and
PacGAN: a generator that covers MNIST's 10 classes can still miss most of the
1,000 digit triples. The digits come from the same source as ``mnist`` (full
MNIST when its files are present, else the embedded 5,000-digit sample);
each image stacks three digits drawn with a fixed seed, so every run and
every evaluation sees the same images. Its label is the triple as a number,
100 * red + 10 * green + blue.
"""

from __future__ import annotations

import torch

from gankit.data.dataset import Dataset
from gankit.data.image_tensors import resize_images, shape_text
from gankit.data.mnist import MNIST_SIZE, load_mnist
from gankit.errors import DataError

STACKED_NAME = "stacked-mnist"
STACKED_MODES = 1000
# How many stacked images the set holds: our choice (the papers do not agree on one), large enough that
# each of the 1,000 triples appears about 50 times, small enough to keep as uint8 (about 120 MB).
STACKED_SIZE = 50_000
STACKED_SEED = 0  # fixed: the set is data, not a random draw per run


def stacked_label(red: torch.Tensor, green: torch.Tensor, blue: torch.Tensor) -> torch.Tensor:
    """The mode of a digit triple: 100 * red + 10 * green + blue."""
    return 100 * red + 10 * green + blue


def load_stacked_mnist(root: str, image_size: int | None, channels: int | None) -> Dataset:
    """``STACKED_SIZE`` images of three digits each, from full MNIST under ``root`` or the embedded sample."""
    if channels not in (None, 3):
        raise DataError(
            f"{STACKED_NAME} stacks three digits as R, G and B, so it has 3 channels, not {channels}: "
            "drop data.channels (or set it to 3)"
        )
    digits = load_mnist(root, None, 1)
    generator = torch.Generator().manual_seed(STACKED_SEED)
    picks = torch.randint(len(digits), (STACKED_SIZE, 3), generator=generator)
    images = digits.data[:, 0][picks]  # (N, 3, 28, 28): channel c holds digit picks[:, c]
    labels = stacked_label(*(digits.labels[picks[:, c]] for c in range(3)))
    images = resize_images(images, image_size or MNIST_SIZE)
    source = "full MNIST" if digits.name == "mnist" else "the embedded 5,000-digit MNIST sample"
    return Dataset(
        name=STACKED_NAME,
        description=f"Stacked MNIST from {source}: {len(images):,} images of three digits as R, G, B "
                    f"({STACKED_MODES:,} modes), {shape_text(images)}",
        kind="images",
        data=images.contiguous(),
        labels=labels,
        num_classes=STACKED_MODES,
    )
