"""The registered metrics. Adding one: a function of the EvalContext and its ``@metric`` line."""

from __future__ import annotations

import math

import numpy as np

from gankit.data import MIXTURE_NAMES, STACKED_MODES, STACKED_NAME, toy_mixture
from gankit.evaluation.context import EvalContext
from gankit.evaluation.feature_metrics import (
    frechet_distance_of_features,
    inception_score,
    kernel_inception_distance,
    precision_recall_density_coverage,
)
from gankit.evaluation.features import STACKED_SPACE
from gankit.evaluation.records import fd_key
from gankit.evaluation.registry import metric
from gankit.evaluation.toy_metrics import EMD_MAX_POINTS, exact_wasserstein1, mode_statistics

# A class counts as covered when it receives at least this share of what a
# uniform generator would give it (10% of 1/10 = 1% of samples on MNIST):
# a handful of misclassified samples should not count as a covered class.
CLASS_COVERAGE_SHARE_OF_UNIFORM = 0.1


def _needs_mixture(ctx: EvalContext) -> str | None:
    if ctx.data_name not in MIXTURE_NAMES:
        return f"metric 'modes' needs a Gaussian mixture ({', '.join(MIXTURE_NAMES)}), not '{ctx.data_name}'"
    return None


def _needs_critic(ctx: EvalContext) -> str | None:
    return None if ctx.critic is not None else "metric 'critic_w' needs the run's critic, which this checkpoint lacks"


def _needs_few_points(ctx: EvalContext) -> str | None:
    if max(len(ctx.fake), len(ctx.real)) > EMD_MAX_POINTS:
        return f"metric 'w1' is exact optimal transport, limited to {EMD_MAX_POINTS} samples: pass --samples {EMD_MAX_POINTS} or fewer"
    return None


def _needs_classifier_space(ctx: EvalContext) -> str | None:
    if ctx.feature_space != "classifier":
        return "metric 'classes' counts MNIST classes, so it needs --features classifier"
    return None


@metric("modes", kinds=("points",), applies=_needs_mixture,
        description="modes covered, share of high-quality samples (<= 3 std), KL(mode histogram || uniform)")
def modes(ctx: EvalContext) -> dict[str, float]:
    centres, std = toy_mixture(ctx.data_name)
    return mode_statistics(ctx.fake, centres, std)


@metric("w1", kinds=("points",), applies=_needs_few_points,
        description="exact Wasserstein-1 distance to as many real samples, by optimal transport (POT emd2)")
def w1(ctx: EvalContext) -> dict[str, float]:
    return {"w1": exact_wasserstein1(ctx.fake, ctx.real)}


@metric("critic_w", kinds=("points", "images"), applies=_needs_critic,
        description="the critic's own estimate E[D(real)] - E[D(fake)] on the same samples")
def critic_w(ctx: EvalContext) -> dict[str, float]:
    real = ctx.critic_scores(ctx.real, ctx.real_labels).double().mean()
    fake = ctx.critic_scores(ctx.fake, ctx.fake_labels).double().mean()
    return {"critic_w": float(real - fake)}


@metric("fd", kinds=("images",), description="Frechet distance between real and generated features: recorded as "
        "fd_classifier in the shipped classifier's space (not an FID), fid in Inception-v3's")
def fd(ctx: EvalContext) -> dict[str, float]:
    # The key names the space, so a classifier FD is never read as an FID (gankit.evaluation.records).
    return {fd_key(ctx.feature_space): frechet_distance_of_features(ctx.real_features, ctx.fake_features)}


@metric("kid", kinds=("images",), description="kernel distance (KID): unbiased MMD^2, cubic kernel, mean and std over subsets")
def kid(ctx: EvalContext) -> dict[str, float]:
    mean, std = kernel_inception_distance(ctx.real_features, ctx.fake_features)
    return {"kid": mean, "kid_std": std}


@metric("is", kinds=("images",), description="Inception-style score exp(E KL(p(y|x) || p(y))) of the generated samples")
def inception_style_score(ctx: EvalContext) -> dict[str, float]:
    mean, std = inception_score(ctx.fake_probabilities)
    return {"is": mean, "is_std": std}


@metric("prdc", kinds=("images",), description="k-NN precision, recall, density, coverage (k = 5) in feature space")
def prdc(ctx: EvalContext) -> dict[str, float]:
    return precision_recall_density_coverage(ctx.real_features, ctx.fake_features, k=5)


@metric("classes", kinds=("images",), applies=_needs_classifier_space,
        description="generated class histogram by the MNIST classifier, classes covered, KL(histogram || uniform)")
def classes(ctx: EvalContext) -> dict[str, float]:
    probabilities = ctx.fake_probabilities
    num_classes = probabilities.shape[1]
    histogram = np.bincount(probabilities.argmax(1), minlength=num_classes) / len(probabilities)
    covered = int((histogram >= CLASS_COVERAGE_SHARE_OF_UNIFORM / num_classes).sum())
    nonzero = histogram > 0
    kl = float((histogram[nonzero] * np.log(histogram[nonzero] * num_classes)).sum())
    result = {"classes_covered": covered, "class_kl": kl if math.isfinite(kl) else math.nan}
    result.update({f"class_{k}": float(share) for k, share in enumerate(histogram)})
    return result


def _needs_stacked_space(ctx: EvalContext) -> str | None:
    if ctx.feature_space != STACKED_SPACE:
        return (f"metric 'stacked_modes' reads one digit per colour channel: it measures {STACKED_NAME} runs, "
                f"with --features {STACKED_SPACE}")
    return None


@metric("stacked_modes", kinds=("images",), applies=_needs_stacked_space,
        description="Stacked MNIST: digit triples covered of 1,000 (one sample is enough, the VEEGAN/PacGAN "
                    "protocol) and KL(triple histogram || uniform)")
def stacked_modes(ctx: EvalContext) -> dict[str, float]:
    histogram = np.bincount(ctx.fake_probabilities.argmax(1), minlength=STACKED_MODES) / len(ctx.fake)
    nonzero = histogram > 0
    return {"stacked_modes": int(nonzero.sum()),
            "stacked_kl": float((histogram[nonzero] * np.log(histogram[nonzero] * STACKED_MODES)).sum())}


def _needs_categorical_code(ctx: EvalContext) -> str | None:
    if ctx.codes is None or ctx.codes.categories < 2:
        return "metric 'code_digits' reads InfoGAN's categorical code: it measures infogan runs with objective.categories >= 2"
    if ctx.feature_space != "classifier":
        return "metric 'code_digits' reads digits with the MNIST classifier, so it needs --features classifier"
    return None


def code_digit_matching(categories: np.ndarray, digits: np.ndarray, num_codes: int, num_digits: int) -> float:
    """Share of samples whose code maps to their digit under the best one-to-one code-digit matching.

    The matching maximises the matched count (the Hungarian algorithm on the code x digit confusion
    counts), so a code that splits one digit in two, or a digit no code owns, costs accuracy.
    """
    from scipy.optimize import linear_sum_assignment

    confusion = np.zeros((num_codes, num_digits))
    np.add.at(confusion, (categories, digits), 1)
    rows, columns = linear_sum_assignment(confusion, maximize=True)
    return float(confusion[rows, columns].sum() / len(categories))


@metric("code_digits", kinds=("images",), applies=_needs_categorical_code,
        description="InfoGAN: accuracy of the categorical code as a digit classifier (its samples read by the "
                    "MNIST classifier, best one-to-one code-digit matching)")
def code_digits(ctx: EvalContext) -> dict[str, float]:
    category, _ = ctx.codes.targets(ctx.latent_codes)
    digits = ctx.fake_probabilities.argmax(1)
    num_digits = ctx.fake_probabilities.shape[1]
    return {"code_digit_accuracy": code_digit_matching(category.numpy(), digits, ctx.codes.categories, num_digits)}


def _needs_conditional_classifier(ctx: EvalContext) -> str | None:
    if not ctx.conditional:
        return "metric 'label_match' checks the class a conditional generator was asked for: train with model.conditional=true"
    if ctx.feature_space not in ("classifier", STACKED_SPACE):
        return "metric 'label_match' reads classes with the MNIST classifier, so it needs --features classifier"
    return None


@metric("label_match", kinds=("images",), applies=_needs_conditional_classifier,
        description="conditional runs: share of samples the MNIST classifier assigns to the class they were drawn for")
def label_match(ctx: EvalContext) -> dict[str, float]:
    predicted = ctx.fake_probabilities.argmax(1)
    return {"label_match": float((predicted == ctx.fake_labels.numpy()).mean())}
