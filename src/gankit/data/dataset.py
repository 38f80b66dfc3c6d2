"""The in-memory dataset every loader returns, and the inverse of its image scaling."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

KINDS = ("points", "images", "interactions")  # interactions: (user, item) rows, see data/interactions.py
# How many real samples an evaluation compares against by default. The VEEGAN / PacGAN protocol draws 2,500
# samples on toy data; 5,000 images match the embedded MNIST sample's size and keep FD's bias small for 128-d features.
DEFAULT_EVALUATION_SAMPLES = {"points": 2500, "images": 5000}
# The share of the evaluation's real samples held out from the encoding metrics' classifiers (the last fifth).
HELD_OUT_SHARE = 0.2


@dataclass
class Dataset:
    """A whole dataset held as one tensor, ready to be moved to the training device.

    Images are kept as uint8 (N, C, H, W) rather than float: a large image set
    then takes a quarter of the device memory, and ``batch`` converts only the
    rows it is asked for.
    """

    name: str  # canonical short name: "8gaussians", "mnist", "mnist-sample", "folder", ...
    description: str  # one line for the training log
    kind: str  # "points", "images" or "interactions"
    data: Tensor  # points: float32 (N, D); images: uint8 (N, C, H, W); interactions: int64 (N, 2) user, item
    labels: Tensor | None = None  # int64 (N,) where the dataset has labels
    num_classes: int | None = None

    def __post_init__(self) -> None:
        # These are programming errors in a loader, not user mistakes.
        if self.kind not in KINDS:
            raise ValueError(f"Dataset.kind must be one of {KINDS}, got {self.kind!r}")
        expected = {"points": (torch.float32, 2), "images": (torch.uint8, 4), "interactions": (torch.int64, 2)}[self.kind]
        if (self.data.dtype, self.data.dim()) != expected:
            raise ValueError(
                f"{self.kind} data must be {expected[0]} with {expected[1]} dims, "
                f"got {self.data.dtype} with shape {tuple(self.data.shape)}"
            )
        if self.labels is not None and self.labels.shape != (len(self.data),):
            raise ValueError(f"labels must have shape ({len(self.data)},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (D,) for points, (C, H, W) for images."""
        return tuple(self.data.shape[1:])

    def extra_description(self) -> dict:
        """Kind-specific facts ``describe_data`` saves beside the shape (an interaction set's user and item counts)."""
        return {}

    def to(self, device: torch.device | str) -> Dataset:
        """A copy whose data and labels live on ``device``."""
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, data=self.data.to(device), labels=labels)

    # True for a dataset kept on the host whose batches are copied over (``data.streaming``): the trainer then
    # tells it the next batch's indices ahead of time.
    streams = False

    def prefetch(self, indices: Tensor) -> None:
        """A hint that ``batch(indices)`` comes next; data already on the device has nothing to prepare."""

    def batch(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        """Rows ``indices`` as training inputs: float32 points, or images scaled to [-1, 1]."""
        rows = self.data[indices]
        if self.kind == "images":
            rows = rows.float() / 127.5 - 1.0
        labels = None if self.labels is None else self.labels[indices]
        return rows, labels


def evaluation_order(size: int, count: int, seed: int) -> Tensor:
    """The indices of the ``count`` real samples an evaluation with ``seed`` compares against: a seeded permutation."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:min(count, size)]


def held_out_part(count: int) -> tuple[slice, slice]:
    """(fit, held-out) parts of ``count`` samples in evaluation order: the last ``HELD_OUT_SHARE`` is held out."""
    held = max(1, int(round(count * HELD_OUT_SHARE)))
    if count - held < 1:
        raise ValueError(f"a held-out split needs at least 2 samples, got {count}")
    return slice(0, count - held), slice(count - held, count)


def held_out_indices(size: int, kind: str, seed: int = 0) -> Tensor:
    """The held-out part of a default evaluation's real samples (``seed`` 0 is the evaluation's default)."""
    order = evaluation_order(size, DEFAULT_EVALUATION_SAMPLES[kind], seed)
    return order[held_out_part(len(order))[1]]


def to_uint8_images(x: Tensor) -> Tensor:
    """Images in [-1, 1] back to uint8 in [0, 255]: the inverse of ``Dataset.batch``'s scaling.

    The one converter gankit has: sample files, grids and the Inception
    features all go through it, so they see the same bytes. Values outside
    [-1, 1] (a generator's output need not stay inside) are clamped first; the
    arithmetic is in float32 whatever the input's dtype, on the input's device,
    and halves round to even (``torch.round``).
    """
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
