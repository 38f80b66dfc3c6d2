"""Datasets for training: 2-D toy sets, digits, Stacked MNIST, CIFAR-10, CelebA, or any folder of images.

``load_dataset`` returns a ``Dataset`` held in memory (images as uint8), or for
a cached folder mapped from its decode cache file, so the trainer can move it
to the device once and draw batches there (or stream them: ``data.streaming``).
Nothing is ever downloaded: absent data is a ``DataError`` saying where to put it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gankit.data.dataset import (
    DEFAULT_EVALUATION_SAMPLES,
    HELD_OUT_SHARE,
    Dataset,
    evaluation_order,
    held_out_indices,
    held_out_part,
    to_uint8_images,
)
from gankit.data.domains import MultiDomainDataset
from gankit.data.folder import load_folder
from gankit.data.interactions import INTERACTION_NAMES, InteractionDataset, load_interactions
from gankit.data.mnist import load_digits, load_mnist
from gankit.data.pairs import EMBEDDED_PAIRS, is_pair_name, load_pair
from gankit.data.stacked import STACKED_MODES, STACKED_NAME, load_stacked_mnist, stacked_label
from gankit.data.torchvision_sets import load_celeba, load_cifar10
from gankit.data.toy import MIXTURE_NAMES, TOY_NAMES, load_toy, toy_mixture
from gankit.errors import DataError, did_you_mean

__all__ = [
    "DATASET_NAMES",
    "DEFAULT_EVALUATION_SAMPLES",
    "EMBEDDED_PAIRS",
    "HELD_OUT_SHARE",
    "MIXTURE_NAMES",
    "STACKED_MODES",
    "STACKED_NAME",
    "Dataset",
    "InteractionDataset",
    "MultiDomainDataset",
    "evaluation_order",
    "held_out_indices",
    "held_out_part",
    "load_dataset",
    "stacked_label",
    "to_uint8_images",
    "toy_mixture",
]

# name -> loader(root, image_size, channels); the toy sets are handled apart
# because they take a size and a seed instead.
_IMAGE_LOADERS: dict[str, Callable[[str, int | None, int | None], Dataset]] = {
    "mnist": load_mnist,
    "mnist-sample": lambda root, size, channels: load_mnist(root, size, channels, force_sample=True),
    "digits": lambda root, size, channels: load_digits(size, channels),
    STACKED_NAME: load_stacked_mnist,
    "cifar10": load_cifar10,
    "celeba": load_celeba,
}

DATASET_NAMES: tuple[str, ...] = TOY_NAMES + tuple(_IMAGE_LOADERS) + INTERACTION_NAMES


def _looks_like_path(name: str) -> bool:
    return os.path.isdir(name) or "/" in name or os.sep in name


def _unknown_name(name: str) -> DataError:
    return DataError(
        f"unknown dataset '{name}'{did_you_mean(name.lower(), DATASET_NAMES)}: use one of {', '.join(DATASET_NAMES)},"
        f" or a path to a folder of images (e.g. ./my_images/)"
    )


def load_dataset(
    name: str,
    root: str = "data",
    image_size: int | None = None,
    channels: int | None = None,
    toy_size: int = 100_000,
    seed: int = 0,
    cache_dir: str | None = None,
) -> Dataset | MultiDomainDataset:
    """Load a built-in dataset by name, every image under a folder path, or two domains ``A:B``.

    Built-in names win over a folder of the same name; write ``./mnist`` to
    mean the folder. ``root`` is where torchvision-layout data lives;
    ``image_size`` and ``channels`` default to each dataset's native values
    (folders: 64 and 3); ``toy_size`` and ``seed`` apply to the 2-D sets. With ``cache_dir`` (the API passes
    ``<data.root>/.gankit-cache``), a large folder or CelebA is decoded once into a cache file there.
    """
    if image_size is not None and image_size < 1:
        raise DataError(f"image size must be a positive number of pixels, got {image_size}: fix data.image_size")
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels}: fix data.channels")
    builtin = name.strip().lower()
    if is_pair_name(name.strip()):
        return load_pair(name.strip(), root, image_size, channels, toy_size, seed)
    if builtin in TOY_NAMES:
        return load_toy(builtin, toy_size, seed)
    if builtin in INTERACTION_NAMES:  # (user, item) positives for recommenders; the split seed is fixed
        return load_interactions(builtin, root)
    if builtin == "celeba":
        return load_celeba(root, image_size, channels, cache_dir=cache_dir)
    if builtin in _IMAGE_LOADERS:
        return _IMAGE_LOADERS[builtin](root, image_size, channels)
    if _looks_like_path(name):
        return load_folder(name, image_size=image_size, channels=channels, cache_dir=cache_dir)
    raise _unknown_name(name)
