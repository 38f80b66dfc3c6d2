"""Measures of an unpaired translation: does the output keep its input's content, and can it go back?

FD alone misses whether a translation matches its input (the CycleGAN
maintainers' reason to leave it out), so these compare each translation
with its own source:

* **label preservation**: the share of translations that a shipped
  classifier puts in the source image's class (the MNIST classifier for the
  MNIST-like domains, read in the target domain's view: an inverted digit is
  classified after inverting it back; the digits classifier for scikit-learn's
  8x8 digits domain); also
  after the best one-to-one relabelling of the classes (Hungarian), since a
  cycle loss allows a consistent permutation, and the gap between the two;
* **cycle ratio**: ``mean ||x - G_BA(G_AB(x))|| / mean ||x - x'||`` over
  held-out images against random pairs of them (BiGAN's EGr / EGr_b form:
  near 0 is a faithful cycle, near 1 no better than a random image);
* **error to the true transform** where one exists (inverting, thickening): L1 and PSNR.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

# How a domain's images are shown to the MNIST classifier (white digits on black in [-1, 1]).
DOMAIN_VIEWS: dict[str, Callable[[Tensor], Tensor]] = {
    "mnist-inverted": lambda x: -x,
}


def classifier_view(domain: str, images: Tensor) -> Tensor:
    return DOMAIN_VIEWS.get(domain, lambda x: x)(images)


def label_preservation(predicted: np.ndarray, source_labels: np.ndarray, classes: int = 10) -> dict[str, float]:
    """Plain and best-permutation agreement of predicted classes with the sources' classes."""
    from scipy.optimize import linear_sum_assignment

    plain = float((predicted == source_labels).mean())
    counts = np.zeros((classes, classes))
    np.add.at(counts, (source_labels, predicted), 1)
    rows, cols = linear_sum_assignment(-counts)
    matched = float(counts[rows, cols].sum() / len(predicted))
    return {"label_preservation": plain, "label_preservation_hungarian": matched, "permutation_gap": matched - plain}


def cycle_ratio(x: Tensor, reconstructed: Tensor, seed: int = 0) -> float:
    """Mean per-sample distance to the reconstruction over the mean distance between random pairs."""
    flat, rec = x.flatten(1).float(), reconstructed.flatten(1).float()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    # Pair each sample with another one (a derangement by rolling the permutation).
    partner = flat[order.roll(1)][order.argsort()]
    baseline = (flat - partner).norm(dim=1).mean().item()
    return (flat - rec).norm(dim=1).mean().item() / max(baseline, 1e-12)


def transform_error(translated: Tensor, truth: Tensor) -> dict[str, float]:
    """L1 (in [-1, 1] units) and PSNR (dB, peak-to-peak 2) of translations against the true transform."""
    error = (translated.float() - truth.float())
    mse = error.pow(2).mean().item()
    return {"transform_l1": error.abs().mean().item(), "transform_psnr": 10 * math.log10(4.0 / max(mse, 1e-12))}


# ------------------------------------------------------------------ the evaluator of a translation run

#: name -> what it measures (``eval.metrics`` picks among them; default: all that fit the data).
TRANSLATION_METRICS = {
    "labels": "label preservation of translations (MNIST-like domains), plain and after the best relabelling",
    "cycle": "cycle error on held-out samples over the error between random pairs (0 is a perfect cycle)",
    "transform": "L1 and PSNR against the true transform (mnist-inverted, mnist-thick)",
    "fd": "FD in the MNIST classifier's feature space between translations and the target domain",
    "stego": "cycle error again after small noise on / 8-bit rounding of the translation, over the clean error",
    "modes": "2-D: target modes hit, high-quality share, and how source modes map onto target modes",
}
# The true transform from MNIST to each derived domain (images in [-1, 1]).
TRUE_TRANSFORMS: dict[tuple[str, str], Callable[[Tensor], Tensor]] = {
    ("mnist", "mnist-inverted"): lambda x: -x,
    ("mnist", "mnist-thick"): lambda x: torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1),
}
_MNIST_LIKE = ("mnist", "mnist-sample", "mnist-inverted", "mnist-thick", "mnist-color")
_CLASSIFIED = _MNIST_LIKE + ("digits",)
STEGO_NOISE_STD = 0.02  # about 2.5 grey levels: invisible, but enough to wipe a hidden code


class TranslationEvaluator:
    """Fixed held-out samples of both domains; each evaluation translates them both ways and measures."""

    def __init__(self, dataset, metrics: list[str] | None = None, samples: int | None = None, seed: int = 0,
                 device: torch.device | str = "cpu", progress: bool = False):
        from gankit.errors import EvaluationError

        self.device = device
        self.seed = seed
        self.progress = progress
        test = dataset.test_domains or dataset.domains
        self.kind = dataset.kind
        self.domains = {}
        for name in ("A", "B"):
            domain = test[name]
            n = min(len(domain), samples or 1000)
            x, labels = domain.batch(torch.arange(n, device=domain.data.device))
            self.domains[name] = (domain.name, x.cpu(), None if labels is None else labels.cpu())
        # 8-bit rounding and invisible noise are image notions: the steganography check is for images only.
        fits = ["cycle", "modes"] if self.kind == "points" else ["labels", "cycle", "transform", "fd", "stego"]
        unknown = [m for m in metrics or [] if m not in TRANSLATION_METRICS]
        if unknown:
            raise EvaluationError(
                f"unknown translation metric '{unknown[0]}': use some of {', '.join(TRANSLATION_METRICS)}"
            )
        self.metrics = [m for m in (metrics or fits) if m in fits]
        self._extractors: dict[str, object] = {}
        self._real_features: dict[str, np.ndarray] = {}  # each domain's held-out features, computed once
        self.provenance = self._provenance(test, "held-out test" if dataset.test_domains else "train")

    def _provenance(self, domains, split: str) -> dict:
        """Which classifiers read which domains, the real sets of both domains, and the FD sample check."""
        from gankit.evaluation.classifier import DIGITS_WEIGHTS_PATH, FEATURE_DIM, WEIGHTS_PATH
        from gankit.evaluation.evaluator import check_fd_samples
        from gankit.evaluation.features import classifier_resize
        from gankit.evaluation.provenance import provenance

        names = [self.domains[side][0] for side in ("A", "B")]
        counts = [len(self.domains[side][1]) for side in ("A", "B")]
        read = self.kind == "images" and any(m in self.metrics for m in ("labels", "fd"))
        classified = sorted({n for n in names if n in _CLASSIFIED}) if read else []
        spaces = sorted({"digits-classifier" if n == "digits" else "mnist-classifier" for n in classified})
        if "fd" in self.metrics and self.kind == "images":
            # FD of the translations into each classified domain against that domain's held-out images.
            for (source, target), (made, real) in zip((names, names[::-1]), (counts, counts[::-1])):
                if target in _CLASSIFIED:
                    space = "digits-classifier" if target == "digits" else "mnist-classifier"
                    check_fd_samples(space, FEATURE_DIM, made, real, target)
        shape = tuple(self.domains["A"][1].shape[1:])
        return provenance(
            feature_space="+".join(spaces) or None,
            weights=[DIGITS_WEIGHTS_PATH if s == "digits-classifier" else WEIGHTS_PATH for s in spaces] or None,
            feature_dim=FEATURE_DIM if spaces else None,
            real={"name": ":".join(names), "split": split, "count": counts,
                  "of": [len(domains[side]) for side in ("A", "B")], "shape": list(shape)},
            generated=counts,  # translations a2b of every held-out A, b2a of every held-out B
            resize=classifier_resize(shape) if spaces else None,
            seed=self.seed,
        )

    def _features(self, domain: str, images: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Features and class probabilities of ``images`` of ``domain``, by that domain's shipped classifier."""
        from gankit.evaluation.classifier import DIGITS_WEIGHTS_PATH
        from gankit.evaluation.features import classifier_extractor

        which = "digits" if domain == "digits" else "mnist"
        if which not in self._extractors:
            self._extractors[which] = (
                classifier_extractor(self.device, DIGITS_WEIGHTS_PATH, "digits-classifier") if which == "digits"
                else classifier_extractor(self.device)
            )
        return self._extractors[which].extract(classifier_view(domain, images))

    @torch.no_grad()
    def evaluate(self, nets, step: int = 0):
        from gankit.evaluation.progress import EvalProgress

        with EvalProgress(self.progress, 2, f"eval at step {step}") as shown:
            return self._evaluate(nets, step, shown)

    def _evaluate(self, nets, step: int, shown):
        from gankit.evaluation.evaluator import EvalResult

        values: dict[str, float] = {}
        seconds: dict[str, float] = {}
        for direction, source, target, there, back in (("a2b", "A", "B", "g_ab", "g_ba"), ("b2a", "B", "A", "g_ba", "g_ab")):
            shown.stage(f"{direction}: {', '.join(self.metrics)}")
            start = time.perf_counter()
            source_name, x, labels = self.domains[source]
            target_name, target_x, _ = self.domains[target]
            forward, backward = nets[there], nets[back]
            was = (forward.training, backward.training)
            forward.eval(), backward.eval()
            try:
                device = next(forward.parameters()).device
                translated = torch.cat([forward(c.to(device)).float().cpu() for c in x.split(256)])
                rec = torch.cat([backward(c.to(device)).float().cpu() for c in translated.split(256)])
                if "stego" in self.metrics:
                    generator = torch.Generator().manual_seed(self.seed)
                    noisy = translated + STEGO_NOISE_STD * torch.randn(translated.shape, generator=generator)
                    rec_noisy = torch.cat([backward(c.to(device)).float().cpu() for c in noisy.split(256)])
                    quantised = ((translated.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
                    rec_quantised = torch.cat([backward(c.to(device)).float().cpu() for c in quantised.split(256)])
            finally:
                forward.train(was[0]), backward.train(was[1])
            values.update(self._measure(direction, source_name, target_name, x, labels, target_x, translated, rec))
            if "stego" in self.metrics:
                clean = (x - rec).flatten(1).norm(dim=1).mean().item()
                for label, r in (("noise", rec_noisy), ("quantised", rec_quantised)):
                    values[f"stego_{label}_{direction}"] = (x - r).flatten(1).norm(dim=1).mean().item() / max(clean, 1e-12)
            seconds[direction] = time.perf_counter() - start
        space = "+".join(sorted(extractor.name for extractor in self._extractors.values())) or None
        return EvalResult(step, len(self.domains["A"][1]), space, values, seconds, dict(self.provenance))

    def _measure(self, direction, source_name, target_name, x, labels, target_x, translated, rec) -> dict[str, float]:
        values: dict[str, float] = {}
        if "cycle" in self.metrics:
            values[f"cycle_ratio_{direction}"] = cycle_ratio(x, rec, self.seed)
        if self.kind == "points":
            if "modes" in self.metrics:
                values.update(self._modes(direction, source_name, target_name, x, translated))
            return values
        classifiable = target_name in _CLASSIFIED and labels is not None
        if "labels" in self.metrics and classifiable:
            _, probabilities = self._features(target_name, translated)
            scores = label_preservation(probabilities.argmax(1), labels.numpy())
            values.update({f"{k}_{direction}": v for k, v in scores.items()})
        if "transform" in self.metrics:
            for (a, b), transform in TRUE_TRANSFORMS.items():
                truth = None
                if (source_name, target_name) == (a, b):
                    truth = transform(x)
                elif (source_name, target_name) == (b, a) and b == "mnist-inverted":
                    truth = -x  # inversion is its own inverse
                if truth is not None:
                    values.update({f"{k}_{direction}": v for k, v in transform_error(translated, truth).items()})
        if "fd" in self.metrics and target_name in _CLASSIFIED and len(x) > 1:
            from gankit.evaluation.feature_metrics import frechet_distance_of_features

            # In the target domain's classifier space (the digits classifier's for the digits domain).
            fake, _ = self._features(target_name, translated)
            if target_name not in self._real_features:
                self._real_features[target_name] = self._features(target_name, target_x)[0]
            real = self._real_features[target_name]
            values[f"fd_classifier_{direction}"] = frechet_distance_of_features(real, fake)
        return values

    def _modes(self, direction, source_name, target_name, x, translated) -> dict[str, float]:
        from gankit.data.toy import MIXTURE_NAMES, toy_mixture
        from gankit.evaluation.toy_metrics import mode_statistics

        if target_name not in MIXTURE_NAMES or source_name not in MIXTURE_NAMES:
            return {}
        centres, std = toy_mixture(target_name)
        stats = mode_statistics(translated, centres, std)
        values = {f"{k}_{direction}": float(v) for k, v in stats.items()}
        # DiscoGAN's figure as numbers: where does each source mode go, and how many collapse together?
        source_centres, _ = toy_mixture(source_name)
        source_mode = torch.cdist(x.double(), source_centres.double()).argmin(1)
        target_mode = torch.cdist(translated.double(), centres.double()).argmin(1)
        reached = [set(target_mode[source_mode == m].tolist()) for m in range(len(source_centres))]
        main_target = [
            int(torch.bincount(target_mode[source_mode == m], minlength=len(centres)).argmax())
            for m in range(len(source_centres)) if (source_mode == m).any()
        ]
        values[f"targets_per_source_mode_{direction}"] = float(np.mean([len(r) for r in reached if r]))
        values[f"source_modes_collapsed_{direction}"] = float(len(main_target) - len(set(main_target)))
        return values
