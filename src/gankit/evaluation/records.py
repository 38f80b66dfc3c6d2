"""What an evaluation record's keys mean, and how records written by an older gankit map onto today's keys.

The Frechet distance is one formula, but its value depends entirely on the
feature space: an FD in the shipped 128-d MNIST classifier's space is not an
FID (Inception-v3's 2048-d pool features) and is not on its scale. So the
``fd`` metric (the name ``--metrics`` and ``eval.metrics`` select) writes its
value under a key that names the space: ``fid`` in Inception space,
``fd_classifier`` in a shipped classifier's space (the per-channel Stacked
MNIST space included; the record's provenance says which).

gankit 0.2.0 wrote ``eval/fd`` whatever the space, with the space in
``eval_features``. ``upgrade_record`` renames it on read, in this one place,
so report pages, ``compare``, the zoo and the benchmarks read old and new
runs alike; metrics.jsonl itself is never rewritten.
"""

from __future__ import annotations

from typing import Any

EVAL_PREFIX = "eval/"
LEGACY_FD = "fd"  # the key gankit 0.2.0 wrote for FD in any space
FID = "fid"
FD_CLASSIFIER = "fd_classifier"
INCEPTION_NAMES = ("inception", "inception-v3")  # the space as the context and as the record name it

# Column and row titles for readers (report tables, compare): a classifier FD must never pass for an FID.
METRIC_TITLES = {
    FID: "FID (Inception-v3)",
    FD_CLASSIFIER: "FD (MNIST classifier; not FID)",
}


def fd_key(feature_space: str | None) -> str:
    """The key FD is recorded under in ``feature_space`` (a context's "inception"/"classifier" or a record's name)."""
    return FID if feature_space in INCEPTION_NAMES else FD_CLASSIFIER


def upgrade_record(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with gankit 0.2.0's ``eval/fd`` under its space's key (the same dict when nothing changes)."""
    old = EVAL_PREFIX + LEGACY_FD
    if old not in record:
        return record
    upgraded = {}
    new = EVAL_PREFIX + fd_key(record.get("eval_features"))
    for key, value in record.items():
        upgraded[new if key == old else key] = value
    return upgraded  # eval_seconds/fd keeps the metric's selectable name, old and new alike


def metric_title(key: str) -> str:
    """A reader's title for a record key: 'eval/fd_classifier' -> 'FD (MNIST classifier; not FID)'; others unchanged."""
    bare = key.removeprefix(EVAL_PREFIX)
    return METRIC_TITLES.get(bare, key)
