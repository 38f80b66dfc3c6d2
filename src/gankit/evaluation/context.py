"""What a metric function sees: generated and real samples, their features, and the critic."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from gankit.evaluation.features import FeatureExtractor, build_extractor
from gankit.evaluation.progress import EvalProgress

if TYPE_CHECKING:  # type only: evaluation/ does not import models/ (docs/ARCHITECTURE.md)
    from gankit.models import LatentCodes


@dataclass
class EvalContext:
    fake: Tensor  # generated samples on the CPU: points (N, D) or images in [-1, 1] (N, C, H, W)
    real: Tensor  # real samples drawn from the training data, same layout
    kind: str  # "points" or "images"
    data_name: str
    feature_space: str = "classifier"  # resolved: "classifier", "stacked-classifier" or "inception"
    inception_weights: str | None = None
    critic: nn.Module | None = None  # the run's critic, where the metric needs its own estimate
    # An inference GAN's encoder; the generator and the prior draws z that made ``fake`` (fake = G(z)).
    encoder: nn.Module | None = None
    generator: nn.Module | None = None
    latent_codes: Tensor | None = None
    codes: LatentCodes | None = None  # InfoGAN's structured codes at the end of latent_codes, where the run has them
    real_labels: Tensor | None = None  # class labels, for conditional critics
    fake_labels: Tensor | None = None
    conditional: bool = False  # the generator drew fake[i] of class fake_labels[i]
    device: torch.device | str = "cpu"
    # Built on first use; an Evaluator passes its own so that it is loaded once per run.
    extractor: FeatureExtractor | None = None
    # Features by sample set ("real", "fake"); an Evaluator shares "real" across evaluations.
    feature_cache: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Seconds spent in shared work (feature extraction), reported apart from each metric's own time.
    timings: dict[str, float] = field(default_factory=dict)
    # Where feature extraction shows its batches (within the stage of the metric that first needs them).
    progress: EvalProgress | None = None

    def _features(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        if which not in self.feature_cache:
            if self.extractor is None:
                self.extractor = build_extractor(self.feature_space, self.inception_weights, self.device)
            start = time.perf_counter()
            report = None if self.progress is None else self.progress.batches(f"{which} features")
            self.feature_cache[which] = self.extractor.extract(self.real if which == "real" else self.fake, report)
            self.timings["features"] = self.timings.get("features", 0.0) + time.perf_counter() - start
        return self.feature_cache[which]

    @property
    def _real_features(self) -> tuple[np.ndarray, np.ndarray]:
        return self._features("real")

    @property
    def _fake_features(self) -> tuple[np.ndarray, np.ndarray]:
        return self._features("fake")

    @property
    def real_features(self) -> np.ndarray:
        return self._real_features[0]

    @property
    def fake_features(self) -> np.ndarray:
        return self._fake_features[0]

    @property
    def fake_probabilities(self) -> np.ndarray:
        return self._fake_features[1]

    @torch.no_grad()
    def critic_scores(self, samples: Tensor, labels: Tensor | None = None, batch_size: int = 500) -> Tensor:
        """The critic's raw outputs, in eval mode, restoring its mode afterwards."""
        assert self.critic is not None
        was_training = self.critic.training
        self.critic.eval()
        try:
            scores = [
                self.critic(
                    samples[i:i + batch_size].to(self.device),
                    None if labels is None else labels[i:i + batch_size].to(self.device),
                ).float().reshape(-1).cpu()
                for i in range(0, len(samples), batch_size)
            ]
        finally:
            self.critic.train(was_training)
        return torch.cat(scores)
