"""Implicit feedback for item recommendation (IRGAN, BPR): positive (user, item) pairs with a held-out test split.

An ``InteractionDataset`` is a ``Dataset`` of kind ``"interactions"`` whose
``data`` is int64 (N, 2) rows of (user, item) *training* positives: the
trainer's batches are rows of it, so nothing from the test split can enter
training. The test positives, the user and item counts and the id offset of
the source file (MovieLens counts from 1) are kept beside it.

Two sources, both split 80/20 per interaction by a fixed seed (``SPLIT_SEED``),
so every run on a data set (IRGAN, BPR, any ``train.seed``) is scored on the
same test pairs, as the reference's fixed train/test files are:

* ``synthetic-feedback``: 500 users and 1,000 items with rank-8 preferences
  plus an item popularity term and noise; the top 5% of all noisy scores are
  the positives (so users differ in how many they have). Generated, embedded:
  nothing to download.
* ``movielens-100k``: ``<data.root>/ml-100k/u.data`` (user, item, rating,
  timestamp; 1-based ids), ratings >= 4 positive, as in the IRGAN paper.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from gankit.data.dataset import Dataset
from gankit.errors import DataError

SYNTHETIC_NAME = "synthetic-feedback"
MOVIELENS_NAME = "movielens-100k"
INTERACTION_NAMES = (SYNTHETIC_NAME, MOVIELENS_NAME)
SPLIT_SEED = 0
TEST_SHARE = 0.2  # the reference's 80/20 split
POSITIVE_RATING = 4  # MovieLens: ratings >= 4 are positives (the IRGAN paper)
# The synthetic set's shape: users, items, preference rank, share of all (user, item) scores that are positives.
SYNTHETIC_USERS, SYNTHETIC_ITEMS, SYNTHETIC_RANK, SYNTHETIC_DENSITY = 500, 1000, 8, 0.05
MOVIELENS_URL = "https://grouplens.org/datasets/movielens/100k/"


@dataclass
class InteractionDataset(Dataset):
    """Training positives as rows of ``data`` (int64 (N, 2) of user, item), the test split in ``test``."""

    num_users: int = 0
    num_items: int = 0
    test: Tensor | None = None  # int64 (M, 2): held-out positives, never a training row
    id_base: int = 0  # what the source file calls user and item 0 (MovieLens: 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.test is None:
            raise ValueError("an InteractionDataset needs its test split")
        for name, pairs in (("training", self.data), ("test", self.test)):
            if len(pairs) and (pairs[:, 0].min() < 0 or pairs[:, 0].max() >= self.num_users
                               or pairs[:, 1].min() < 0 or pairs[:, 1].max() >= self.num_items):
                raise ValueError(f"{name} pairs hold ids outside {self.num_users} users and {self.num_items} items")
        # The promise the whole recommender rests on: a test positive is never a training row.
        overlap = torch.isin(pair_codes(self.test, self.num_items), pair_codes(self.data, self.num_items))
        assert not bool(overlap.any()), "a test pair is also a training pair"

    def to(self, device: torch.device | str) -> InteractionDataset:
        return dataclasses.replace(self, data=self.data.to(device), test=self.test.to(device))

    def extra_description(self) -> dict:
        """What building a run's networks and checking its data need, saved in checkpoints (``describe_data``)."""
        return {
            "num_users": self.num_users, "num_items": self.num_items, "id_base": self.id_base,
            "train_pairs": len(self.data), "test_pairs": len(self.test),
            "fingerprint": pairs_fingerprint(self.data),
        }

    def mask(self, pairs: Tensor) -> Tensor:
        """A dense (users, items) bool matrix, True at ``pairs``, on their device."""
        out = torch.zeros(self.num_users, self.num_items, dtype=torch.bool, device=pairs.device)
        out[pairs[:, 0], pairs[:, 1]] = True
        return out

    def train_mask(self) -> Tensor:
        return self.mask(self.data)

    def test_mask(self) -> Tensor:
        return self.mask(self.test)


def pair_codes(pairs: Tensor, num_items: int) -> Tensor:
    """One int64 per (user, item) pair: ``user * num_items + item``."""
    return pairs[:, 0] * num_items + pairs[:, 1]


def pairs_fingerprint(pairs: Tensor) -> int:
    """A CRC of the sorted training pairs: two runs trained on the same split have the same one."""
    return zlib.crc32(pairs.cpu().contiguous().numpy().tobytes())


def split_pairs(pairs: Tensor, seed: int = SPLIT_SEED, test_share: float = TEST_SHARE) -> tuple[Tensor, Tensor]:
    """(train, test): a seeded per-interaction split of unique pairs, each part sorted by (user, item)."""
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(len(pairs) * test_share))
    test, train = pairs[order[:n_test]], pairs[order[n_test:]]
    return _sorted(train), _sorted(test)


def _sorted(pairs: Tensor) -> Tensor:
    codes = pairs[:, 0] * (int(pairs[:, 1].max()) + 1 if len(pairs) else 1) + pairs[:, 1]
    return pairs[codes.argsort()]


def synthetic_feedback(
    users: int = SYNTHETIC_USERS, items: int = SYNTHETIC_ITEMS, rank: int = SYNTHETIC_RANK,
    density: float = SYNTHETIC_DENSITY, seed: int = 0,
) -> InteractionDataset:
    """Low-rank preferences, a popularity term and noise; the top ``density`` of all scores are positives."""
    g = torch.Generator().manual_seed(seed)
    taste = torch.randn(users, rank, generator=g)
    traits = torch.randn(items, rank, generator=g)
    popularity = 0.5 * torch.randn(items, generator=g)
    scores = taste @ traits.T / math.sqrt(rank) + popularity + 0.5 * torch.randn(users, items, generator=g)
    threshold = torch.quantile(scores.flatten(), 1 - density)
    pairs = (scores > threshold).nonzero()
    train, test = split_pairs(pairs)
    return InteractionDataset(
        SYNTHETIC_NAME,
        f"synthetic implicit feedback: {users} users, {items} items, rank-{rank} preferences, {len(pairs):,} "
        f"positives ({len(pairs) / (users * items):.1%}), {len(train):,} training / {len(test):,} test (split seed {SPLIT_SEED})",
        "interactions", train, num_users=users, num_items=items, test=test,
    )


def read_movielens_ratings(path: Path) -> Tensor:
    """``u.data`` as int64 (N, 3) rows of (user, item, rating), ids as in the file; a malformed line is named."""
    rows = []
    with open(path, encoding="latin-1") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                if len(fields) != 4:
                    raise ValueError
                user, item, rating, _ = (int(f) for f in fields)
                if user < 1 or item < 1:
                    raise ValueError
            except ValueError:
                raise DataError(
                    f"{path} line {number} is malformed ({line.strip()[:60]!r}): each line must be four whole "
                    f"numbers 'user item rating timestamp' with ids from 1; fix the line or get the file again "
                    f"from {MOVIELENS_URL}"
                ) from None
            rows.append((user, item, rating))
    if not rows:
        raise DataError(f"{path} holds no ratings: get ml-100k again from {MOVIELENS_URL}")
    return torch.tensor(rows, dtype=torch.long)


def load_movielens(root: str) -> InteractionDataset:
    path = Path(root) / "ml-100k" / "u.data"
    if not path.is_file():
        raise DataError(
            f"MovieLens-100k is not at {path}: download ml-100k.zip from {MOVIELENS_URL} and unzip it into "
            f"{root}/ (or point --data-root at the folder that holds ml-100k/)"
        )
    ratings = read_movielens_ratings(path)
    num_users, num_items = int(ratings[:, 0].max()), int(ratings[:, 1].max())
    positive = ratings[ratings[:, 2] >= POSITIVE_RATING]
    pairs = torch.unique(positive[:, :2] - 1, dim=0)  # 0-based; a pair rated twice counts once
    train, test = split_pairs(pairs)
    return InteractionDataset(
        MOVIELENS_NAME,
        f"MovieLens-100k ({path}): {num_users} users, {num_items} items, {len(pairs):,} ratings >= "
        f"{POSITIVE_RATING} of {len(ratings):,}, {len(train):,} training / {len(test):,} test (split seed {SPLIT_SEED})",
        "interactions", train, num_users=num_users, num_items=num_items, test=test, id_base=1,
    )


def load_interactions(name: str, root: str) -> InteractionDataset:
    return synthetic_feedback() if name == SYNTHETIC_NAME else load_movielens(root)
