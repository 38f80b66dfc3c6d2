"""Sample-quality statistics computed in a feature space: FD, KID, an Inception-style score, PRDC.

These are pure functions of feature (or probability) arrays, so they work with
any extractor: the shipped MNIST classifier, Inception-v3, or raw pixels. All
arithmetic is float64 NumPy: the matrix square root of FD loses digits in float32.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg


def _float64(features) -> np.ndarray:
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected features of shape (N, D), got {array.shape}")
    return array


def mean_and_covariance(features) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian that FD fits to a feature set (unbiased covariance)."""
    array = _float64(features)
    if len(array) < 2:
        raise ValueError("need at least 2 samples to estimate a covariance")
    return array.mean(0), np.cov(array, rowvar=False)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S1 S2)^(1/2)) for symmetric PSD S1, S2, exact even when they are singular.

    S1 S2 is not symmetric, and scipy's sqrtm on it is inaccurate when the
    covariances are singular (dead ReLU features, fewer samples than
    dimensions). Its eigenvalues equal those of the symmetric PSD matrix
    S1^(1/2) S2 S1^(1/2), whose square roots eigh gives stably.
    """
    values, vectors = linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    eigenvalues = linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the 2-Wasserstein distance squared between Gaussians."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * _trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))  # rounding can leave -1e-12 for identical sets


def frechet_distance_of_features(real, fake) -> float:
    """FD between the Gaussians fitted to two feature sets."""
    return frechet_distance(*mean_and_covariance(real), *mean_and_covariance(fake))


def kernel_inception_distance(real, fake, subsets: int = 10, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al.): unbiased MMD^2 with the cubic kernel (x.y/d + 1)^3, mean and std over subsets."""
    real, fake = _float64(real), _float64(fake)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 samples on each side")
    dim = real.shape[1]
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = fake[rng.choice(len(fake), size, replace=False)]
        k_xx = (x @ x.T / dim + 1.0) ** 3
        k_yy = (y @ y.T / dim + 1.0) ** 3
        k_xy = (x @ y.T / dim + 1.0) ** 3
        off_diagonal = size * (size - 1)
        mmd = (k_xx.sum() - np.trace(k_xx)) / off_diagonal + (k_yy.sum() - np.trace(k_yy)) / off_diagonal
        mmd -= 2.0 * k_xy.mean()
        estimates.append(mmd)
    return float(np.mean(estimates)), float(np.std(estimates))


def inception_score(probabilities, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over splits, from class probabilities (Salimans et al.)."""
    probs = _float64(probabilities)
    splits = max(1, min(splits, len(probs)))
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(marginal + 1e-12))).sum(1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def precision_recall_density_coverage(real, fake, k: int = 5) -> dict[str, float]:
    """k-NN manifold metrics: precision/recall (Kynkaanniemi et al.), density/coverage (Naeem et al.).

    Each real (fake) point's ball has the radius of its k-th nearest real (fake)
    neighbour. Precision: share of fakes inside some real ball. Recall: share
    of reals inside some fake ball. Density: real balls containing each fake,
    over k, averaged (can exceed 1). Coverage: share of real balls holding at
    least one fake.
    """
    real, fake = torch.from_numpy(_float64(real)), torch.from_numpy(_float64(fake))
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"PRDC with k={k} needs more than {k} samples on each side")
    # The k+1-th smallest distance in a point's own set: the smallest is the point itself.
    real_radii = torch.cdist(real, real).kthvalue(k + 1, dim=1).values
    fake_radii = torch.cdist(fake, fake).kthvalue(k + 1, dim=1).values
    real_fake = torch.cdist(real, fake)  # (n_real, n_fake)
    inside_real_balls = real_fake <= real_radii[:, None]
    inside_fake_balls = real_fake <= fake_radii[None, :]
    return {
        "precision": float(inside_real_balls.any(0).double().mean()),
        "recall": float(inside_fake_balls.any(1).double().mean()),
        "density": float(inside_real_balls.sum(0).double().mean() / k),
        "coverage": float((real_fake.min(1).values <= real_radii).double().mean()),
    }
