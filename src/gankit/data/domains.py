"""Data with more than one domain: unpaired sets (CycleGAN's A and B), each with its own size and labels.

Each domain is an ordinary ``Dataset``; the trainer draws a batch of each on
the device at every fresh batch, from one seeded sampler per domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from gankit.data.dataset import Dataset

SINGLE_DOMAIN = "data"


@dataclass
class MultiDomainDataset:
    name: str  # e.g. "mnist:digits"
    description: str
    domains: dict[str, Dataset]  # by domain name, in order: "A", "B"
    # Held-out images of each domain (previews, evaluation, never training); empty when the source has none.
    test_domains: dict[str, Dataset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.domains) < 2:
            raise ValueError("a multi-domain dataset needs at least two domains")
        kinds = {d.kind for d in self.domains.values()}
        if len(kinds) != 1:
            raise ValueError(f"domains must all be points or all images, got {sorted(kinds)}")

    @property
    def kind(self) -> str:
        return next(iter(self.domains.values())).kind

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The first domain's sample shape (others may differ in channels)."""
        return next(iter(self.domains.values())).sample_shape

    @property
    def num_classes(self) -> int | None:
        return next(iter(self.domains.values())).num_classes

    def __len__(self) -> int:
        return min(len(d) for d in self.domains.values())

    def to(self, device: torch.device | str) -> MultiDomainDataset:
        return MultiDomainDataset(
            self.name, self.description, {k: d.to(device) for k, d in self.domains.items()},
            {k: d.to(device) for k, d in self.test_domains.items()},
        )

    def describe(self) -> dict:
        return {name: describe_domain(d) for name, d in self.domains.items()}


def domains_of(dataset: Dataset | MultiDomainDataset) -> dict[str, Dataset]:
    """The dataset's domains by name: one, ``"data"``, for an ordinary dataset."""
    return dataset.domains if isinstance(dataset, MultiDomainDataset) else {SINGLE_DOMAIN: dataset}


def describe_domain(dataset: Dataset) -> dict:
    return {
        "name": dataset.name,
        "kind": dataset.kind,
        "sample_shape": list(dataset.sample_shape),
        "num_classes": dataset.num_classes,
        "description": dataset.description,
        **dataset.extra_description(),
    }


def describe_data(dataset: Dataset | MultiDomainDataset) -> dict:
    """What sampling needs to know about the data, without the data itself (saved in checkpoints)."""
    if isinstance(dataset, MultiDomainDataset):
        first = describe_domain(next(iter(dataset.domains.values())))
        return {**first, "name": dataset.name, "description": dataset.description, "domains": dataset.describe()}
    return describe_domain(dataset)
