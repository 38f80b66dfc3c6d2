"""The evaluator of a run, chosen by what its objective's networks make (the objective's ``evaluates``).

* ``samples``: a latent generator's samples against the real data (``Evaluator``: modes, W1, FD, KID, IS,
  PRDC, classes), with the run's critic for the metrics that ask it, and an inference GAN's ``encoder``
  for the encoding metric (NNC, CLS, reconstruction ratio, latent regression);
* ``translations``: two generators between domains A and B (``TranslationEvaluator``: label preservation,
  cycle ratio, error to the true transform, FD, the steganography check, 2-D mode assignment);
* ``rankings``: a recommender's ``generator`` scoring items for users (``RankingEvaluator``: precision@k, NDCG@k).

Both answer ``evaluate(networks, step) -> EvalResult``, so the trainer and ``gankit eval`` call one thing.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from gankit.evaluation.evaluator import EvalResult, Evaluator
from gankit.evaluation.ranking_metrics import RankingEvaluator
from gankit.evaluation.translation_metrics import TranslationEvaluator
from gankit.sampling import LatentInput

EVALUATES = ("samples", "translations", "rankings")


class SampleRunEvaluator:
    """``Evaluator`` on the run's ``generator`` role (its ``critic`` and ``encoder`` where metrics ask for them)."""

    def __init__(self, evaluator: Evaluator, latent: LatentInput, with_critic: bool):
        self.evaluator = evaluator
        self.latent = latent
        self.with_critic = with_critic

    def evaluate(self, nets: Mapping[str, nn.Module], step: int = 0) -> EvalResult:
        critic = nets.get("critic") if self.with_critic else None
        return self.evaluator.evaluate(nets["generator"], self.latent, critic, step, encoder=nets.get("encoder"))


def run_evaluator(
    evaluates: str, dataset, nets: Mapping[str, nn.Module], latent: LatentInput | None, *, metrics=None,
    samples: int | None = None, features: str = "auto", inception_weights: str | None = None, seed: int = 0,
    device="cpu", critic_scores_samples: bool = True, progress: bool = False,
):
    """The evaluator for a run whose objective ``evaluates`` samples or translations.

    ``critic_scores_samples`` False (a critic of (x, z) pairs) keeps the critic out of the sample metrics;
    ``progress`` shows each evaluation's stages on stderr.
    """
    if evaluates == "translations":
        names = [metrics] if isinstance(metrics, str) else metrics
        names = [n for part in names for n in part.split(",")] if names else None
        return TranslationEvaluator(dataset, metrics=names, samples=samples, seed=seed, device=device,
                                    progress=progress)
    if evaluates == "rankings":  # a recommender's generator ranks items for the test users
        return RankingEvaluator(dataset, metrics=metrics, device=device)
    generator = nets["generator"]
    with_critic = "critic" in nets and critic_scores_samples
    evaluator = Evaluator(
        dataset, metrics=metrics, samples=samples, features=features, inception_weights=inception_weights,
        seed=seed, device=device, has_critic=with_critic, conditional=getattr(generator, "conditional", False),
        has_encoder="encoder" in nets, codes=getattr(generator, "codes", None), progress=progress,
    )
    return SampleRunEvaluator(evaluator, latent, with_critic)
