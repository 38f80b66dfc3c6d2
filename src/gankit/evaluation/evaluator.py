"""Running a set of metrics on a generator: from ``gankit eval`` and periodically during training."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from gankit.data import DEFAULT_EVALUATION_SAMPLES, Dataset, evaluation_order
from gankit.errors import EvaluationError
from gankit.evaluation import encoding_metrics as _encoding  # noqa: F401  (importing registers the metric)
from gankit.evaluation import metrics as _registered  # noqa: F401  (importing registers the metrics)
from gankit.evaluation.context import EvalContext
from gankit.evaluation.features import FeatureExtractor, build_extractor, choose_feature_space, find_inception_weights
from gankit.evaluation.progress import EvalProgress
from gankit.evaluation.provenance import PROVENANCE_KEY, provenance, real_set
from gankit.evaluation.registry import Metric, parse_metric_names, select_metrics
from gankit.sampling import LatentInput, generate

if TYPE_CHECKING:  # type only: evaluation/ does not import models/ (docs/ARCHITECTURE.md)
    from gankit.models import LatentCodes

DEFAULT_SAMPLES = DEFAULT_EVALUATION_SAMPLES  # by data kind; the reasons are beside its definition
EVAL_PREFIX = "eval/"


@dataclass
class EvalResult:
    step: int
    samples: int
    feature_space: str | None  # "mnist-classifier", "inception-v3", or None for points
    values: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)  # per metric, plus "sampling" and "features"
    # Where the numbers come from (feature network and its weights' hash, real set, counts, resize, seed,
    # version): see gankit.evaluation.provenance. None only for results built by hand.
    provenance: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """One metrics.jsonl record, keys prefixed so they never collide with training statistics."""
        record: dict[str, Any] = {"step": self.step, "eval_samples": self.samples}
        if self.feature_space is not None:
            record["eval_features"] = self.feature_space
        if self.provenance is not None:
            record[PROVENANCE_KEY] = self.provenance
        record.update({EVAL_PREFIX + k: v for k, v in self.values.items()})
        record.update({f"eval_seconds/{k}": round(v, 3) for k, v in self.seconds.items()})
        return record

    def scalars(self) -> dict[str, float]:
        """What TensorBoard gets: the metric values (the class histogram is left to the report)."""
        return {EVAL_PREFIX + k: v for k, v in self.values.items() if not k.startswith("class_")}


class Evaluator:
    """Fixed real samples and a fixed latent seed, so successive evaluations of one run compare like with like."""

    def __init__(
        self,
        dataset: Dataset,
        metrics: str | list[str] | None = None,
        samples: int | None = None,
        features: str = "auto",
        inception_weights: str | None = None,
        seed: int = 0,
        device: torch.device | str = "cpu",
        has_critic: bool = True,
        conditional: bool = False,
        has_encoder: bool = False,
        codes: LatentCodes | None = None,
        progress: bool = False,
    ):
        self.kind = dataset.kind
        self.progress = progress  # show each evaluation's stages on stderr
        self.data_name = dataset.name
        self.samples = samples if samples is not None else DEFAULT_SAMPLES[dataset.kind]
        if self.samples < 2:
            raise EvaluationError(f"evaluation needs at least 2 samples, got {self.samples}: raise --samples")
        self.seed = seed
        self.device = device
        self.feature_space = choose_feature_space(features, dataset.sample_shape[0], dataset.name) if dataset.kind == "images" else "none"
        if inception_weights is not None:
            find_inception_weights(inception_weights)  # a wrong path is a mistake even where no metric needs it
        self.inception_weights = inception_weights
        # Real samples: a seeded subset (all of them when there are fewer), drawn once.
        order = evaluation_order(len(dataset), self.samples, seed)
        count = len(order)
        order = order.to(dataset.data.device)
        real, labels = dataset.batch(order)
        self.real = real.cpu()
        self.real_labels = None if labels is None else labels.cpu()
        self.fake_labels = None if labels is None else self.real_labels[torch.arange(self.samples) % count]
        self._real_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._extractor: FeatureExtractor | None = None
        # Check the choice now, with a stand-in critic, so a bad metric name fails before training starts.
        names = parse_metric_names(metrics)
        self.has_critic = has_critic
        self.has_encoder = has_encoder
        self.codes = codes  # InfoGAN's: the code metrics read which category made each sample
        # A conditional generator draws the class it is given (fake_labels), which metrics can check.
        self.conditional = conditional and self.fake_labels is not None
        stand_in = self._context(
            self.real.new_zeros((self.samples, *self.real.shape[1:])), nn.Identity() if has_critic else None,
            *((nn.Identity(), nn.Identity(), self.real.new_zeros(self.samples, 1)) if has_encoder else ()),
        )
        self.metrics: list[Metric] = select_metrics(stand_in, names)
        if any(m.kinds == ("images",) for m in self.metrics):
            self._extractor = build_extractor(self.feature_space, inception_weights, device)
        if any(m.name == "fd" for m in self.metrics):
            check_fd_samples(self._extractor.name, self._extractor.dim, self.samples, len(dataset), self.data_name)
        extractor = self._extractor
        self.provenance = provenance(
            feature_space=None if extractor is None else extractor.name,
            weights=None if extractor is None else extractor.weights,
            feature_dim=None if extractor is None else extractor.dim,
            real=real_set(dataset.name, count, len(dataset), dataset.sample_shape),
            generated=self.samples,
            resize=None if extractor is None else extractor.resize(dataset.sample_shape),
            seed=seed,
        )

    def _context(
        self, fake: torch.Tensor, critic: nn.Module | None, encoder: nn.Module | None = None,
        generator: nn.Module | None = None, latent_codes: torch.Tensor | None = None,
        progress: EvalProgress | None = None,
    ) -> EvalContext:
        return EvalContext(
            fake=fake, real=self.real, kind=self.kind, data_name=self.data_name,
            feature_space=self.feature_space, inception_weights=self.inception_weights, critic=critic,
            encoder=encoder, generator=generator, latent_codes=latent_codes, codes=self.codes,
            real_labels=self.real_labels, fake_labels=self.fake_labels, conditional=self.conditional,
            device=self.device, extractor=self._extractor,
            # Real features are computed once per Evaluator; generated ones once per evaluation.
            feature_cache=dict(self._real_cache),
            progress=progress,
        )

    def evaluate(
        self, generator: nn.Module, latent: LatentInput | int, critic: nn.Module | None = None, step: int = 0,
        encoder: nn.Module | None = None,
    ) -> EvalResult:
        """Generate ``samples`` from a fixed latent seed and run every selected metric.

        ``latent`` is the generator's declared input (an int: standard normal codes of that size);
        ``encoder`` an inference GAN's E(x), for the encoding metric.
        """
        if self.has_critic and critic is None:
            raise ValueError("this Evaluator was built with has_critic=True: pass the run's critic")
        if self.has_encoder and encoder is None:
            raise ValueError("this Evaluator was built with has_encoder=True: pass the run's encoder")
        with EvalProgress(self.progress, 1 + len(self.metrics), f"eval at step {step}") as shown:
            return self._evaluate(generator, latent, critic, step, encoder, shown)

    def _evaluate(self, generator, latent, critic, step, encoder, shown: EvalProgress) -> EvalResult:
        device = next(generator.parameters()).device
        start = time.perf_counter()
        shown.stage(f"sampling {self.samples}")
        latent = LatentInput(latent) if isinstance(latent, int) else latent
        noise = latent.draw(self.samples, device, seed=self.seed + 1)
        labels = None if self.fake_labels is None else self.fake_labels.to(device)
        fake = generate(generator, noise, labels).cpu()
        seconds = {"sampling": time.perf_counter() - start}
        ctx = self._context(fake, critic, encoder, generator, noise.cpu(), shown)
        values: dict[str, float] = {}
        for m in self.metrics:
            shown.stage(m.name)
            features_before = ctx.timings.get("features", 0.0)
            start = time.perf_counter()
            values.update(m.compute(ctx))
            # Feature extraction is shared work: charge it once, under "features", not to the first metric that needs it.
            seconds[m.name] = time.perf_counter() - start - (ctx.timings.get("features", 0.0) - features_before)
        if "real" in ctx.feature_cache:
            self._real_cache["real"] = ctx.feature_cache["real"]
        if "features" in ctx.timings:
            seconds["features"] = ctx.timings["features"]
        space = None if ctx.extractor is None else ctx.extractor.name
        return EvalResult(step, self.samples, space, values, seconds, dict(self.provenance))


def check_fd_samples(space: str, dim: int, generated: int, real: int, data_name: str) -> None:
    """Refuse an FD of ``generated`` samples against at most ``real`` real ones where either is too few.

    FD fits a D x D covariance to each sample set; n samples give one of rank at most n - 1.

    So each set needs at least D + 1 samples for a full-rank covariance (129 for the 128-d classifier,
    385 per-channel on Stacked MNIST, 2,049 for Inception-v3). With fewer, other FID codes return a complex
    matrix square root (the "imaginary component" error) or a number dominated by the rank deficit; here
    the evaluation is refused before it starts (before step 0 of a training run).
    """
    needed = dim + 1
    if generated >= needed and real >= needed:
        return
    if real < needed:
        raise EvaluationError(
            f"FD in the {dim}-d {space} space needs at least {needed} samples per side for a full-rank covariance, "
            f"but the real data '{data_name}' has only {real}: use more data, or leave fd out with --metrics"
        )
    raise EvaluationError(
        f"FD in the {dim}-d {space} space needs at least {needed} samples per side for a full-rank covariance, "
        f"got {generated}: pass --samples {needed} or more (eval.samples in a config), or leave fd out with --metrics"
    )
