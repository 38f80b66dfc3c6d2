"""CIFAR-10 and CelebA from files already on disk, in the layout torchvision expects (never downloaded)."""

from __future__ import annotations

import os

import numpy as np
import torch

from gankit.data.dataset import Dataset
from gankit.data.folder import decode_with_cache, load_folder
from gankit.data.image_tensors import match_channels, resize_images, shape_text
from gankit.data.streaming import MappedDataset
from gankit.errors import DataError

CIFAR_SIZE = 32
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CELEBA_SIZE = 64
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def load_cifar10(root: str, image_size: int | None, channels: int | None) -> Dataset:
    """CIFAR-10's 50,000 training images, uint8 3x32x32, with their 10 class labels."""
    from torchvision.datasets import CIFAR10  # imported here: torchvision takes seconds to import

    folder = os.path.join(root, CIFAR10.base_folder)
    try:
        cifar = CIFAR10(root, train=True, download=False)
    except RuntimeError:
        # torchvision checks every batch file's MD5, so a present folder means damaged or partial files.
        if os.path.isdir(folder):
            raise DataError(
                f"CIFAR-10 under '{folder}' is incomplete or corrupt (checksums do not match):"
                f" extract cifar-10-python.tar.gz from {CIFAR_URL} into '{root}' again"
            ) from None
        raise DataError(
            f"CIFAR-10 not found under '{folder}': download cifar-10-python.tar.gz from {CIFAR_URL}"
            f" and extract it into '{root}'"
        ) from None
    images = torch.from_numpy(np.ascontiguousarray(cifar.data.transpose(0, 3, 1, 2)))  # NHWC -> NCHW
    images = match_channels(resize_images(images, image_size or CIFAR_SIZE), channels or 3)
    return Dataset(
        name="cifar10",
        description=f"CIFAR-10 training set from '{folder}': {len(images):,} images, {shape_text(images)}, 10 classes",
        kind="images",
        data=images,
        labels=torch.tensor(cifar.targets, dtype=torch.int64),
        num_classes=10,
    )


def _celeba_listed_files(root: str, images_folder: str) -> list[str] | None:
    """The image paths torchvision's CelebA list files name, or None when those files are absent or do not match."""
    from torchvision.datasets import CelebA  # imported here: torchvision takes seconds to import

    try:
        celeba = CelebA(root, split="all", target_type=[], download=False)
    except RuntimeError:
        return None  # list files missing or failing their checksums: the plain folder may still do
    paths = [os.path.join(images_folder, name) for name in celeba.filename]
    # A zip extracted one level too deep leaves the listed names missing; the recursive folder search copes.
    if not paths or not os.path.isfile(paths[0]):
        return None
    return paths


def load_celeba(root: str, image_size: int | None, channels: int | None, cache_dir: str | None = None) -> Dataset:
    """CelebA's aligned faces, centre-cropped to 178x178 and resized (default 64x64); no labels.

    With ``cache_dir`` the faces are decoded once into the decode cache there (``decode_cache``).
    """
    images_folder = os.path.join(root, "celeba", "img_align_celeba")
    size = image_size or CELEBA_SIZE
    if not os.path.isdir(images_folder):
        raise DataError(
            f"CelebA not found: extract img_align_celeba.zip from {CELEBA_URL} so that the images are in"
            f" '{images_folder}' (or pass any folder of face images as --data PATH)"
        )
    crop_note = "centre-cropped to squares (178x178 for the aligned 178x218 faces)"
    paths = _celeba_listed_files(root, images_folder)
    if paths is None:
        return load_folder(
            images_folder,
            image_size=size,
            channels=channels,
            name="celeba",
            title=f"CelebA images from '{images_folder}' (no torchvision list files, loaded as a folder)",
            with_labels=False,
            cache_dir=cache_dir,
        )
    images, upscaled, mapped, cache_note = decode_with_cache(images_folder, paths, size, channels or 3, cache_dir)
    notes = [crop_note] + ([cache_note] if cache_note else []) + ([f"{upscaled} upscaled"] if upscaled else [])
    return MappedDataset(
        name="celeba",
        description=(
            f"CelebA from '{images_folder}' (all splits, per torchvision's list files): {len(paths):,} faces,"
            f" {shape_text(images)} ({'; '.join(notes)})"
        ),
        kind="images",
        data=images,
        mapped=mapped,
    )
