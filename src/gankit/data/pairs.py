"""Two unpaired domains for image-to-image translation (CycleGAN, DiscoGAN), named ``A:B``.

Embedded pairs, nothing downloaded:

* ``mnist:mnist-inverted``, ``mnist:mnist-thick`` (strokes dilated by a 3x3
  maximum), ``mnist:mnist-color`` (the digits tinted with a random RGB colour):
  the 5,000-digit MNIST sample split in two halves by a seeded permutation, A
  from one half and B made from the other, so A and B never hold the same
  source image. The true transform is known (inverting, thickening), which
  makes an error against it measurable.
* ``mnist:digits``: the MNIST sample against scikit-learn's 8x8 digits
  resized to 28 pixels, a real gap of style and resolution, both labelled.
* ``8gaussians:25gaussians`` and DiscoGAN's toy ``5gaussians:arc`` (five modes
  on a circle to ten modes on an arc, as in the paper's figure), 2-D.

Any two image folders (``path/to/A:path/to/B``), and the reference's
``trainA/ trainB/ testA/ testB/`` layout (horse2zebra and friends) under
``--data-root``. Every pair holds out a fixed test split of each domain
(the reference's test folders where they exist, else a seeded tenth), used
for previews and evaluation and never for training.
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.nn.functional as F

from gankit.data.dataset import Dataset
from gankit.data.domains import MultiDomainDataset
from gankit.errors import DataError

#: The pairs that ship with gankit; any ``A:B`` of two folders works too.
EMBEDDED_PAIRS = (
    "mnist:mnist-inverted", "mnist:mnist-thick", "mnist:mnist-color", "mnist:digits",
    "8gaussians:25gaussians", "5gaussians:arc",
)
#: Datasets in the reference's layout: data_root/NAME/{trainA,trainB,testA,testB}.
REFERENCE_LAYOUT_NAMES = ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "maps", "facades")
TEST_SHARE = 0.1


def is_pair_name(name: str) -> bool:
    return ":" in name or name in REFERENCE_LAYOUT_NAMES


def _split(dataset: Dataset, order: torch.Tensor) -> Dataset:
    labels = None if dataset.labels is None else dataset.labels[order]
    return dataclasses.replace(dataset, data=dataset.data[order], labels=labels)


def _train_test(dataset: Dataset, seed: int) -> tuple[Dataset, Dataset]:
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    held = max(1, int(len(dataset) * TEST_SHARE))
    return _split(dataset, order[held:]), _split(dataset, order[:held])


def _renamed(dataset: Dataset, name: str, description: str, data: torch.Tensor | None = None) -> Dataset:
    return dataclasses.replace(dataset, name=name, description=description, data=dataset.data if data is None else data)


def _mnist_transform(name: str, images: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 MNIST images (N, 1, H, W) transformed into domain ``name``."""
    if name == "mnist-inverted":
        return 255 - images
    if name == "mnist-thick":
        return F.max_pool2d(images.float(), 3, stride=1, padding=1).round().to(torch.uint8)
    if name == "mnist-color":
        # One bright random colour per digit: the strokes take it, the background stays black.
        colours = 0.3 + 0.7 * torch.rand(len(images), 3, 1, 1, generator=torch.Generator().manual_seed(seed))
        return (images.float() * colours).round().to(torch.uint8)
    raise AssertionError(name)


def _mnist_pair(b_name: str, image_size: int | None, seed: int) -> tuple[dict, dict]:
    from gankit.data.mnist import load_mnist

    mnist = load_mnist("data", image_size, 1, force_sample=True)
    order = torch.randperm(len(mnist), generator=torch.Generator().manual_seed(seed))
    half = len(mnist) // 2
    a = _split(mnist, order[:half])
    source = _split(mnist, order[half:])
    b = _renamed(source, b_name, f"{b_name}: {len(source):,} MNIST-sample digits, transformed",
                 _mnist_transform(b_name, source.data, seed))
    a = _renamed(a, "mnist", f"mnist: {len(a):,} MNIST-sample digits")
    return _domains(a, b, seed)


def _domains(a: Dataset, b: Dataset, seed: int) -> tuple[dict, dict]:
    a_train, a_test = _train_test(a, seed + 1)
    b_train, b_test = _train_test(b, seed + 2)
    return {"A": a_train, "B": b_train}, {"A": a_test, "B": b_test}


def _toy_pair(a_name: str, b_name: str, toy_size: int, seed: int) -> tuple[dict, dict]:
    from gankit.data.toy import load_toy

    return _domains(load_toy(a_name, toy_size, seed), load_toy(b_name, toy_size, seed + 100), seed)


def _folder_pair(a_path: str, b_path: str, image_size: int | None, channels: int | None, seed: int):
    from gankit.data.folder import load_folder

    a = load_folder(a_path, image_size=image_size, channels=channels)
    b = load_folder(b_path, image_size=image_size, channels=channels)
    return _domains(a, b, seed)


def _reference_layout(name: str, root: str, image_size: int | None, channels: int | None):
    from gankit.data.folder import load_folder

    folder = os.path.join(root, name)
    wanted = ("trainA", "trainB", "testA", "testB")
    missing = [sub for sub in wanted if not os.path.isdir(os.path.join(folder, sub))]
    if missing:
        raise DataError(
            f"'{name}' is not under '{folder}' (missing {', '.join(missing)}): put the reference's "
            f"trainA/ trainB/ testA/ testB/ folders of {name} there (or pass --data-root), nothing is downloaded"
        )
    parts = {sub: load_folder(os.path.join(folder, sub), image_size=image_size, channels=channels) for sub in wanted}
    return {"A": parts["trainA"], "B": parts["trainB"]}, {"A": parts["testA"], "B": parts["testB"]}


def load_pair(
    name: str, root: str = "data", image_size: int | None = None, channels: int | None = None,
    toy_size: int = 100_000, seed: int = 0,
) -> MultiDomainDataset:
    """The two domains ``name`` describes, with their held-out test splits."""
    if name in REFERENCE_LAYOUT_NAMES:
        train, test = _reference_layout(name, root, image_size, channels)
    else:
        a_name, _, b_name = name.partition(":")
        if not a_name or not b_name or ":" in b_name:
            raise DataError(f"'{name}' is not a pair of domains: write A:B, e.g. mnist:mnist-inverted or ./A:./B")
        if name in ("mnist:mnist-inverted", "mnist:mnist-thick", "mnist:mnist-color"):
            train, test = _mnist_pair(b_name, image_size, seed)
        elif name == "mnist:digits":
            from gankit.data.mnist import load_digits, load_mnist

            size = image_size or 28  # the digits are resized to MNIST's 28 pixels by default
            mnist = load_mnist(root, size, 1, force_sample=True)
            train, test = _domains(mnist, load_digits(size, 1), seed)
        elif name in ("8gaussians:25gaussians", "5gaussians:arc"):
            train, test = _toy_pair(a_name, b_name, toy_size, seed)
        elif os.path.isdir(a_name) and os.path.isdir(b_name):
            train, test = _folder_pair(a_name, b_name, image_size, channels, seed)
        else:
            absent = ", ".join(f"'{p}'" for p in (a_name, b_name) if not os.path.isdir(p))
            raise DataError(
                f"unknown pair of domains '{name}' (no folder {absent}): use one of {', '.join(EMBEDDED_PAIRS)}, "
                f"two image folders A:B, or one of {', '.join(REFERENCE_LAYOUT_NAMES)} under --data-root"
            )
    for role, domain in {**{f"train {k}": v for k, v in train.items()}, **{f"test {k}": v for k, v in test.items()}}.items():
        if len(domain) == 0:
            raise DataError(f"domain {role} of '{name}' is empty: put images in it")
    kinds = {d.kind for d in train.values()}
    if len(kinds) != 1:
        raise DataError(f"the domains of '{name}' mix 2-D points and images: pair two image sets or two 2-D sets")
    description = (
        f"{name}: A = {train['A'].description} ({len(train['A']):,} train, {len(test['A']):,} test); "
        f"B = {train['B'].description} ({len(train['B']):,} train, {len(test['B']):,} test)"
    )
    return MultiDomainDataset(name, description, train, test_domains=test)
