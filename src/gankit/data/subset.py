"""Limited data: a seeded, class-stratified subset of a training set (``data.subset``).

Data-efficient GAN papers train on 10% or 1% of a set (DiffAugment: CIFAR-10 at
10% and 20%, 100-shot sets) and compare methods on the *same* images. So the
subset is drawn from its own seed (``data.subset_seed``), never from
``train.seed``: runs with different training seeds, with and without
augmentation, see the same samples. Each class keeps its share of the set
(largest-remainder rounding, so the counts add up to exactly N), so 500 of
the 5,000-digit MNIST sample are about 50 of each digit.

Only the training data shrinks: evaluation keeps comparing against the full
real data, since a Frechet distance against 50 images would be meaningless.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from gankit.data.dataset import Dataset
from gankit.errors import ConfigError, DataError


def class_quotas(counts: Tensor, n: int) -> Tensor:
    """How many of each class a subset of ``n`` keeps: proportional, rounded by largest remainder to sum to ``n``."""
    total = int(counts.sum())
    exact = counts.double() * n / total
    quotas = exact.floor().long()
    short = n - int(quotas.sum())
    if short:
        # Ties go to the lower class index (a stable sort), so the quotas are a pure function of the counts.
        order = torch.sort(exact - quotas, descending=True, stable=True).indices
        quotas[order[:short]] += 1
    return quotas


def stratified_indices(labels: Tensor | None, size: int, n: int, seed: int) -> Tensor:
    """Sorted row indices of a seeded subset of ``n`` of ``size`` rows, stratified by ``labels`` where there are any."""
    generator = torch.Generator().manual_seed(seed)
    if labels is None:
        return torch.randperm(size, generator=generator)[:n].sort().values
    labels = labels.cpu()
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    picked = []
    for k, quota in enumerate(class_quotas(counts, n).tolist()):
        members = (inverse == k).nonzero().squeeze(1)
        picked.append(members[torch.randperm(len(members), generator=generator)[:quota]])
    return torch.cat(picked).sort().values


def limit_data(dataset, n: int | None, seed: int = 0):
    """``dataset`` cut to a class-stratified subset of ``n`` samples (``data.subset``); itself when ``n`` is None."""
    if n is None:
        return dataset
    if not isinstance(dataset, Dataset):
        raise ConfigError(
            f"data.subset keeps part of one data set, but '{dataset.name}' has several domains: "
            "set data.subset to null for translation pairs"
        )
    if n > len(dataset):
        raise DataError(
            f"data.subset {n} is larger than the data ({len(dataset):,} samples of {dataset.name}): "
            f"use at most {len(dataset)}, or null to train on all of it"
        )
    rows = stratified_indices(dataset.labels, len(dataset), n, seed).to(dataset.data.device)
    how = "class-stratified" if dataset.labels is not None else "random"
    return dataclasses.replace(
        dataset,
        description=f"{dataset.description}; training on a {how} subset of {n:,} (data.subset_seed {seed})",
        data=dataset.data[rows],
        labels=None if dataset.labels is None else dataset.labels[rows],
    )
