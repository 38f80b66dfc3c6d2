"""Feature extractors for the image metrics: the shipped MNIST classifier (per channel for Stacked MNIST), or Inception-v3.

An extractor maps images in [-1, 1] to (features, class probabilities). The
MNIST classifier suits grey digits and needs nothing downloaded; on Stacked
MNIST it reads each channel as one digit, so the features are the three
channels' features side by side and the probabilities are over the 1,000
digit triples (the product of the three channels'). Inception-v3
(through torch-fidelity, the implementation that matches the reference
TensorFlow FID) suits natural RGB images but needs weights that cannot be
fetched here, so they come from ``--inception-weights`` or the torch hub cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.data.dataset import to_uint8_images
from gankit.data.stacked import STACKED_NAME
from gankit.errors import CheckpointError, EvaluationError
from gankit.evaluation.classifier import (
    FEATURE_DIM,
    INPUT_SIZE,
    WEIGHTS_PATH,
    as_classifier_input,
    load_mnist_classifier,
)

FEATURE_SPACES = ("auto", "classifier", "stacked-classifier", "inception")
STACKED_SPACE = "stacked-classifier"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
INCEPTION_DIM = 2048
INCEPTION_SIZE = 299

# Called with (images done, images in all) as an extractor works through its batches: evaluation progress.
BatchReport = Callable[[int, int], None]


@dataclass
class FeatureExtractor:
    """A feature network and what an evaluation record says about it (its provenance)."""

    name: str  # "mnist-classifier" or "inception-v3": recorded beside the numbers, which differ by space
    # images in [-1, 1] (and an optional BatchReport) -> (features, probabilities)
    extract: Callable[..., tuple[np.ndarray, np.ndarray]]
    dim: int  # the feature dimension: FD's covariance is D x D, so it needs more than D samples
    weights: Path  # the weight file, whose SHA-256 goes into every record
    # How an image of a given (C, H, W) reaches the network, e.g. "none" or "tf1-bilinear 32x32->299x299".
    resize: Callable[[tuple[int, ...]], str]


def classifier_resize(shape: tuple[int, ...]) -> str:
    """What ``as_classifier_input`` does to an image of this shape before the classifier reads it."""
    height, width = shape[-2:]
    if (height, width) == (INPUT_SIZE, INPUT_SIZE):
        return "none"
    return f"bilinear-antialias {height}x{width}->{INPUT_SIZE}x{INPUT_SIZE}"


def _inception_resize(shape: tuple[int, ...]) -> str:
    """torch-fidelity's resize: uint8 pixels, TensorFlow-1-compatible bilinear (no antialiasing) to 299 px."""
    height, width = shape[-2:]
    return f"uint8 then tf1-bilinear {height}x{width}->{INCEPTION_SIZE}x{INCEPTION_SIZE}"


def choose_feature_space(requested: str, channels: int, data_name: str | None = None) -> str:
    """``auto`` is the classifier for grey images, the per-channel one for Stacked MNIST, Inception-v3 for colour."""
    if requested not in FEATURE_SPACES:
        raise EvaluationError(f"unknown feature space '{requested}': use one of {', '.join(FEATURE_SPACES)}")
    if requested == STACKED_SPACE and channels != 3:
        raise EvaluationError(f"--features {STACKED_SPACE} reads one digit per colour channel, so it needs 3-channel "
                              f"images, not {channels}: use --features classifier")
    if requested != "auto":
        return requested
    if data_name == STACKED_NAME:
        return STACKED_SPACE
    return "classifier" if channels == 1 else "inception"


def _batched(model_call: Callable[[Tensor], tuple[Tensor, Tensor]], images: Tensor, batch_size: int,
             report: BatchReport | None = None):
    features, probabilities = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            feats, probs = model_call(images[start:start + batch_size])
            features.append(feats.double().cpu())
            probabilities.append(probs.double().cpu())
            if report is not None:
                report(min(start + batch_size, len(images)), len(images))
    return torch.cat(features).numpy(), torch.cat(probabilities).numpy()


def classifier_extractor(device: torch.device | str = "cpu", weights: str | Path | None = None, name: str = "mnist-classifier") -> FeatureExtractor:
    """The shipped MNIST classifier's features and probabilities (or another shipped digit classifier's, by ``weights``)."""
    model = load_mnist_classifier(device=device) if weights is None else load_mnist_classifier(weights, device=device)

    def call(images: Tensor) -> tuple[Tensor, Tensor]:
        feats, logits = model(as_classifier_input(images.to(device).float()))
        return feats, logits.softmax(1)

    return FeatureExtractor(name, lambda images, report=None: _batched(call, images, 500, report), FEATURE_DIM,
                            Path(weights) if weights is not None else WEIGHTS_PATH, classifier_resize)


def stacked_classifier_extractor(device: torch.device | str = "cpu") -> FeatureExtractor:
    """Each colour channel through the MNIST classifier as a grey digit: concatenated features, triple probabilities.

    The probability of triple (r, g, b) is p_R(r) p_G(g) p_B(b), laid out as
    ``stacked_label`` numbers them (100 r + 10 g + b), so its argmax is the
    triple of the three channels' argmaxes.
    """
    model = load_mnist_classifier(device=device)

    def call(images: Tensor) -> tuple[Tensor, Tensor]:
        images = images.to(device).float()
        outputs = [model(as_classifier_input(images[:, c:c + 1])) for c in range(3)]
        red, green, blue = (logits.softmax(1) for _, logits in outputs)
        triples = red[:, :, None, None] * green[:, None, :, None] * blue[:, None, None, :]
        return torch.cat([feats for feats, _ in outputs], 1), triples.flatten(1)

    return FeatureExtractor("mnist-classifier-per-channel", lambda images, report=None: _batched(call, images, 500, report),
                            3 * FEATURE_DIM, WEIGHTS_PATH, classifier_resize)


def find_inception_weights(path: str | None) -> Path:
    """The weights file given, else torch-fidelity's file in the torch hub cache; a clear error if neither exists."""
    if path is not None:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise EvaluationError(f"--inception-weights '{path}' is not a file: pass the path of {INCEPTION_FILE}")
        return candidate
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    cached = hub / INCEPTION_FILE
    if cached.is_file():
        return cached
    raise EvaluationError(
        f"Inception-v3 weights not found (nothing is downloaded at run time): fetch {INCEPTION_URL} on a "
        f"machine with internet and pass --inception-weights PATH (or put it in {hub}/); "
        "for grey MNIST-like images use --features classifier"
    )


def inception_extractor(weights: str | None, device: torch.device | str = "cpu") -> FeatureExtractor:
    path = find_inception_weights(weights)
    try:
        # torch-fidelity unpickles the file with weights_only=False. Loading it
        # first with weights_only=True proves the file holds only tensors, so
        # that second load can run no code.
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"Inception weights '{path}' are not a plain tensor file ({type(error).__name__}): "
            f"use the original {INCEPTION_FILE}"
        ) from None
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    model = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path)
    ).to(device)

    def call(images: Tensor) -> tuple[Tensor, Tensor]:
        images = images.to(device).float()
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        # torch-fidelity expects uint8 pixels, as the reference implementation saw PNG files.
        pixels = to_uint8_images(images)
        feats, logits = model(pixels)
        return feats, logits.softmax(1)

    return FeatureExtractor("inception-v3", lambda images, report=None: _batched(call, images, 100, report),
                            INCEPTION_DIM, path, _inception_resize)


def build_extractor(space: str, inception_weights: str | None, device: torch.device | str = "cpu") -> FeatureExtractor:
    # Building a network draws its initial weights from the global RNG; during
    # training that would shift every later random draw, so the run with
    # evaluation would differ from the run without it.
    with torch.random.fork_rng(devices=[]):
        if space == "classifier":
            return classifier_extractor(device)
        if space == STACKED_SPACE:
            return stacked_classifier_extractor(device)
        return inception_extractor(inception_weights, device)
