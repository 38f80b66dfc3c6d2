"""Top-k ranking quality of a recommender on the test split: precision@k and NDCG@k (IRGAN's table).

For every user with at least one test positive, all items that are not the
user's *training* positives are ranked by the run's ``generator`` scores (for
IRGAN its policy, as the paper reports; for BPR its MF), as the reference's
``simple_test_one_user_test`` does. With binary gains (a hit is a test positive):

* ``precision@k`` = hits in the top k / k;
* ``NDCG@k`` = DCG@k / IDCG@k, ``DCG@k = sum_{r=1..k} hit_r / log2(r + 1)``, and
  IDCG@k the DCG of an ideal ranking, whose first ``min(k, test positives)``
  places are hits (the reference's ``ndcg_at_k`` sorts the whole hit list, which
  is the same thing);

each averaged over those users. Ties in score are broken by ``torch.topk``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.evaluation.evaluator import EvalResult
from gankit.evaluation.provenance import provenance, real_set
from gankit.evaluation.registry import metric, parse_metric_names, select_metrics

CUTOFFS = (3, 5, 10)
USERS_PER_FORWARD = 256


def ranking_hits(scores: Tensor, train_positives: Tensor, test_positives: Tensor, depth: int) -> tuple[Tensor, Tensor]:
    """(hits (U, depth) bool, test positives per user (U,)) for the users (rows) with any test positive.

    ``scores``, ``train_positives`` and ``test_positives`` are (U, I); training positives are never ranked.
    """
    keep = test_positives.any(-1)
    scores = scores[keep].float().masked_fill(train_positives[keep], float("-inf"))
    top = scores.topk(min(depth, scores.shape[-1]), dim=-1).indices
    return test_positives[keep].gather(1, top), test_positives[keep].sum(-1)


def precision_at_k(hits: Tensor, k: int) -> float:
    """Mean over users of the share of the top k that are test positives (k counts even past the list's end)."""
    return float(hits[:, :k].float().sum(-1).div(k).mean())


def ndcg_at_k(hits: Tensor, relevant: Tensor, k: int) -> float:
    """Mean over users of DCG@k / IDCG@k with binary gains; IDCG over min(k, the user's test positives) hits."""
    discounts = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    dcg = (hits[:, :k].double() * discounts[: hits[:, :k].shape[1]]).sum(-1)
    ideal_hits = torch.arange(k)[None, :] < relevant.cpu()[:, None]
    idcg = (ideal_hits.double() * discounts).sum(-1)
    return float((dcg.cpu() / idcg).mean())


@dataclass
class RankingContext:
    """What a ranking metric reads: the hit lists of the test users (``registry.Metric`` asks kind and name)."""

    kind: str
    data_name: str
    hits: Tensor
    relevant: Tensor


@metric("precision", kinds=("interactions",), description="precision@3/5/10 of the generator's ranking on the test split")
def precision(ctx: RankingContext) -> dict[str, float]:
    return {f"precision@{k}": precision_at_k(ctx.hits, k) for k in CUTOFFS}


@metric("ndcg", kinds=("interactions",), description="NDCG@3/5/10 (binary gains) of the generator's ranking on the test split")
def ndcg(ctx: RankingContext) -> dict[str, float]:
    return {f"ndcg@{k}": ndcg_at_k(ctx.hits, ctx.relevant, k) for k in CUTOFFS}


class RankingEvaluator:
    """The registered ranking metrics on a run's ``generator`` scores; deterministic, so ``seed`` is unused."""

    def __init__(self, dataset, metrics: list[str] | str | None = None, device="cpu"):
        self.dataset = dataset.to(device)
        self.train_positives = self.dataset.train_mask()
        self.test_positives = self.dataset.test_mask()
        self.users = self.test_positives.any(-1).nonzero().squeeze(1)
        empty = RankingContext(dataset.kind, dataset.name, torch.zeros(0, max(CUTOFFS), dtype=torch.bool),
                               torch.zeros(0, dtype=torch.long))
        self.metrics = select_metrics(empty, parse_metric_names(metrics))

    @torch.no_grad()
    def evaluate(self, nets: Mapping[str, nn.Module], step: int = 0) -> EvalResult:
        generator = nets["generator"]
        was = generator.training
        generator.eval()
        start = time.perf_counter()
        try:
            hits, relevant = [], []
            for users in self.users.split(USERS_PER_FORWARD):
                users = users.to(next(generator.parameters()).device)
                part = ranking_hits(generator(users).cpu(), self.train_positives[users].cpu(),
                                    self.test_positives[users].cpu(), max(CUTOFFS))
                hits.append(part[0])
                relevant.append(part[1])
        finally:
            generator.train(was)
        ctx = RankingContext(self.dataset.kind, self.dataset.name, torch.cat(hits), torch.cat(relevant))
        seconds = {"ranking": time.perf_counter() - start}
        values: dict[str, float] = {}
        for m in self.metrics:
            begin = time.perf_counter()
            values.update(m.compute(ctx))
            seconds[m.name] = time.perf_counter() - begin
        return EvalResult(step, len(ctx.hits), None, values, seconds, self.provenance(len(ctx.hits)))

    def provenance(self, users: int) -> dict:
        """What the numbers rank against: the test split's pairs of the data set, for ``users`` test users.

        No feature network: the items are ranked by the generator's own scores. The split is fixed by the
        data set (``SPLIT_SEED``), so two runs on one data set are scored on the same test pairs.
        """
        data = self.dataset
        total = len(data.data) + len(data.test)
        split = f"held-out test ({len(data.test)} of {total} positive pairs; {data.num_users} users, {data.num_items} items)"
        return provenance(feature_space=None, weights=None, feature_dim=None,
                          real=real_set(data.name, len(data.test), total, (2,), split=split),
                          generated=users, resize=None, seed=0)
