"""Where an evaluation's numbers come from: one dict per evaluation, recorded beside the numbers.

A feature-space number means nothing without its protocol: the same
generator's FD moves with the feature network, its weights, the real set it is
measured against, the sample counts (FD is biased upwards at small N) and how
images are resized for the network. Every evaluation record carries

    "eval_provenance": {
        "feature_space": "mnist-classifier",              # None for 2-D points
        "feature_weights_sha256": "9f1c...",              # of the weight file; None for points
        "feature_dim": 128,
        "real": {"name": "mnist-sample", "split": "embedded sample", "count": 5000, "of": 5000,
                 "shape": [1, 28, 28]},
        "generated": 5000,
        "resize": "none",                                 # or "bilinear-antialias 32x32->28x28", ...
        "seed": 0,
        "gankit_version": "0.2.0",
    }

``differences`` says which fields two records differ in among ``COMPARED_FIELDS``, the ones that change a
number: ``compare`` refuses such runs side by side. The seed is not one of them: it draws the latent codes
and the real subset, which is the sampling noise of the estimate, not a change of what is estimated (runs of
``zoo --seeds`` evaluate with their own training seed, and are compared on purpose). Nor is the gankit
version: what a version changes about a number shows in the other fields.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

PROVENANCE_KEY = "eval_provenance"
COMPARED_FIELDS = ("feature_space", "feature_weights_sha256", "real", "generated", "resize")

# What part of its source each loader's data is (the loaders read these splits: see gankit.data).
REAL_SPLITS = {
    "mnist": "train",
    "mnist-sample": "embedded sample",
    "cifar10": "train",
    "celeba": "all",
    "digits": "all (scikit-learn)",
    "8gaussians": "generated",
    "25gaussians": "generated",
    "swissroll": "generated",
}
STACKED_SPLIT = "stacked from the MNIST loaded"


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, modified_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(path: str | Path) -> str:
    """SHA-256 of a weight file, hashed once per process (again only if the file changes)."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def real_split(name: str) -> str:
    """The part of its source a dataset is: 'train', 'embedded sample', 'generated', 'all' (a folder: every image)."""
    if name == "stacked-mnist":
        return STACKED_SPLIT
    return REAL_SPLITS.get(name, "all")


def provenance(*, feature_space: str | None, weights: str | Path | list | None, feature_dim: int | None,
               real: dict[str, Any], generated: int | list[int], resize: str | None, seed: int) -> dict[str, Any]:
    """One evaluation's provenance record (see the module docstring for the fields).

    A translation run reads two domains, perhaps with two classifiers: ``weights`` is then their list
    (hashes joined by '+', in the order of the '+'-joined ``feature_space``) and the counts are [A, B].
    """
    from gankit import __version__

    paths = weights if isinstance(weights, list) else None if weights is None else [weights]
    return {
        "feature_space": feature_space,
        "feature_weights_sha256": None if paths is None else "+".join(weights_sha256(path) for path in paths),
        "feature_dim": feature_dim,
        "real": real,
        "generated": generated,
        "resize": resize,
        "seed": seed,
        "gankit_version": __version__,
    }


def real_set(name: str, count: int, size: int, shape: tuple[int, ...], split: str | None = None) -> dict[str, Any]:
    """The real samples an evaluation measured against: data name, split, how many of how many, one sample's shape."""
    return {"name": name, "split": split or real_split(name), "count": count, "of": size, "shape": list(shape)}


def differences(first: dict[str, Any] | None, second: dict[str, Any] | None) -> list[str]:
    """The ``COMPARED_FIELDS`` two provenance records disagree on; [] when either is unknown (None)."""
    if first is None or second is None:
        return []
    return [name for name in COMPARED_FIELDS if first.get(name) != second.get(name)]


def describe(record: dict[str, Any] | None, fields: tuple[str, ...] = COMPARED_FIELDS) -> str:
    """A short text of some fields, for error lines and footnotes: 'generated=500, resize=none'."""
    if record is None:
        return "unknown (recorded before gankit kept provenance)"

    def text(value: Any) -> str:
        if isinstance(value, str) and len(value) == 64:  # a SHA-256: its first 12 hex digits identify it
            return value[:12]
        if isinstance(value, dict):
            return "/".join(str(v) for k, v in value.items() if k != "shape")
        return str(value)

    return ", ".join(f"{name}={text(record.get(name))}" for name in fields)
