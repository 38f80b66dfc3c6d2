"""How well an inference GAN's encoder inverts its generator (BiGAN, Donahue et al. 2017; ALI, Dumoulin et al. 2017).

Everything is measured on the evaluator's fixed real samples (a seeded
permutation of the training data), split once into a fit part and a held-out
part (``gankit.data.HELD_OUT_SHARE``, the last fifth):

* ``encoding_nn_accuracy`` (BiGAN's NNC): a 1-nearest-neighbour classifier on
  E(x) of the fit part, scored on the held-out part;
* ``encoding_linear_accuracy`` (BiGAN's CLS): logistic regression on the
  standardised E(x), fitted and scored the same way;
* ``reconstruction_error`` (EGr): mean ||x - G(E(x))|| over held-out x, beside
  ``reconstruction_baseline`` (EGr_b): mean ||x - x'|| over random held-out
  pairs, and their ratio ``reconstruction_ratio`` (below 1: the reconstruction
  is closer to x than another real sample is);
* ``latent_regression``: mean ||z - E(G(z))|| over prior draws, with
  ``latent_regression_ratio`` against random prior pairs ||z - z'||.

The classifiers see labels only here: the encoder was trained on the images
alone (unsupervised), so the held-out part measures how linearly and locally
its features separate classes it never saw named. Unlabelled data (2-D
mixtures have labels: the mode) skips the two accuracies.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from gankit.data import held_out_part
from gankit.evaluation.context import EvalContext
from gankit.evaluation.registry import metric
from gankit.sampling import generate

BATCH = 500
# Logistic regression on 50-d codes of a few thousand images converges well within this many L-BFGS steps.
LOGISTIC_MAX_ITER = 2000


@torch.no_grad()
def _batched(network: nn.Module, inputs: Tensor, device) -> Tensor:
    """``network(x)`` in eval mode over ``inputs``, batched, on the CPU in float32; its mode is restored.

    For the encoder, which takes samples; the generator goes through ``sampling.generate`` like everywhere else.
    """
    was_training = network.training
    network.eval()
    try:
        return torch.cat([network(x.to(device)).float().cpu() for x in inputs.split(BATCH)])
    finally:
        network.train(was_training)


def mean_pair_distance(x: Tensor, y: Tensor) -> float:
    """Mean Euclidean distance between matching rows of ``x`` and ``y`` (any shape after the first)."""
    return float((x.flatten(1).double() - y.flatten(1).double()).norm(dim=1).mean())


def random_pair_distance(x: Tensor, seed: int) -> float:
    """Mean ||x_i - x_pi(i)|| for a seeded random derangement pi (no sample is paired with itself)."""
    n = len(x)
    if n < 2:
        return float("nan")
    shift = int(torch.randint(1, n, (1,), generator=torch.Generator().manual_seed(seed)))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    return mean_pair_distance(x[order], x[order.roll(shift)])


def classifier_accuracies(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> dict[str, float]:
    """1-NN and logistic-regression accuracy of features (BiGAN's NNC and CLS)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    nearest = KNeighborsClassifier(n_neighbors=1).fit(train, train_labels)
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=LOGISTIC_MAX_ITER)).fit(train, train_labels)
    return {
        "encoding_nn_accuracy": float((nearest.predict(test) == test_labels).mean()),
        "encoding_linear_accuracy": float((linear.predict(test) == test_labels).mean()),
    }


def _needs_encoder(ctx: EvalContext) -> str | None:
    if ctx.encoder is None or ctx.generator is None or ctx.latent_codes is None:
        return "metric 'encoding' needs an encoder: it measures bigan and ali runs"
    return None


@metric("encoding", kinds=("points", "images"), applies=_needs_encoder,
        description="BiGAN/ALI: 1-NN and logistic accuracy of E(x), reconstruction ratio, latent regression")
def encoding(ctx: EvalContext) -> dict[str, float]:
    fit, held = held_out_part(len(ctx.real))
    codes = _batched(ctx.encoder, ctx.real, ctx.device)
    values: dict[str, float] = {}
    if ctx.real_labels is not None:
        labels = ctx.real_labels.numpy()
        values.update(classifier_accuracies(codes[fit].numpy(), labels[fit], codes[held].numpy(), labels[held]))
    real_held = ctx.real[held]
    rebuilt = generate(ctx.generator, codes[held].to(ctx.device)).cpu()
    error, baseline = mean_pair_distance(real_held, rebuilt), random_pair_distance(real_held, seed=0)
    values.update(reconstruction_error=error, reconstruction_baseline=baseline, reconstruction_ratio=error / baseline)
    # The evaluator's generated samples are G(z) of its fixed prior draws z: E(G(z)) is compared with those draws.
    z = ctx.latent_codes
    recovered = _batched(ctx.encoder, ctx.fake, ctx.device)
    latent_error, latent_baseline = mean_pair_distance(z, recovered), random_pair_distance(z, seed=0)
    values.update(latent_regression=latent_error, latent_regression_ratio=latent_error / latent_baseline)
    return values
