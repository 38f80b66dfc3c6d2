"""A reference-style WGAN-GP loop: how the one-script-per-paper GAN code trains (PyTorch-GAN's wgan_gp.py and kin).

Written from scratch to that recipe so gankit's speed can be stated as a
ratio at identical settings. What makes it "reference-style", point by point:

- data: a ``torch.utils.data.DataLoader`` (shuffle, drop_last, no workers)
  over a map-style Dataset that builds one sample per ``__getitem__``: for
  images a PIL image from the uint8 array, then ``ToTensor`` and
  ``Normalize(0.5, 0.5)``, as torchvision's MNIST does; the batch is copied
  to the device afterwards;
- every batch is one critic step, and the generator steps after the first
  critic step of each group of n_critic, reusing that step's noise;
- the critic step draws ``fake = G(z)`` without detaching it, so its backward
  also runs through the generator (whose gradients are then thrown away);
- three separate critic forwards: real, fake, interpolates; the penalty's
  input gradient comes from ``torch.autograd.grad`` with ``create_graph``;
- the generator step recomputes ``G(z)`` and backpropagates through an
  unfrozen critic;
- fp32, PyTorch's default Adam, and a host sync (``.item()``) every batch to
  log the losses.

The networks are gankit's own (``build_generator`` / ``build_critic`` from
the same resolved config, seeded as the Trainer seeds them, so the initial
weights are identical too), and so are the optimiser settings, batch size and
n_critic: only the loop differs. One deliberate departure from the scripts:
the batch counter runs across epochs, so there are exactly n_critic critic
steps per generator step, as in gankit (the scripts restart it each epoch,
which gives slightly more generator steps per batch and would flatter the
reference's generator steps/s).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from benchmarks.settings import synchronise
from gankit.config import RunConfig
from gankit.data import Dataset as GankitDataset
from gankit.models import build_critic, build_generator
from gankit.training.rng import seed_everything


class PILImages(Dataset):
    """uint8 (N, C, H, W) images served one PIL image at a time through per-sample transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None):
        self.images = images
        self.labels = labels
        channels = images.shape[1]
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize([0.5] * channels, [0.5] * channels)]
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        pixels = self.images[index]
        # PIL wants (H, W) for grey images and (H, W, C) for colour ones.
        picture = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
        label = 0 if self.labels is None else int(self.labels[index])
        return self.transform(picture), label


class PointRows(Dataset):
    """float32 (N, D) points served one row at a time, as a hand-written toy Dataset does."""

    def __init__(self, points: np.ndarray):
        self.points = points

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return torch.from_numpy(self.points[index]), 0


def per_sample_dataset(dataset: GankitDataset) -> Dataset:
    """The reference-style Dataset over the same samples gankit trains on."""
    data = dataset.data.cpu().numpy()
    if dataset.kind == "images":
        labels = None if dataset.labels is None else dataset.labels.cpu().numpy()
        return PILImages(data, labels)
    return PointRows(data)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP's penalty as the scripts write it: E[(||grad D(x_hat)||_2 - 1)^2] at random interpolates."""
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolates)
    (gradients,) = torch.autograd.grad(
        outputs=scores, inputs=interpolates, grad_outputs=torch.ones_like(scores),
        create_graph=True, retain_graph=True,
    )
    return ((gradients.reshape(gradients.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def _check_supported(config: RunConfig) -> None:
    """The loop hard-codes WGAN-GP with Adam, as the scripts do; anything else would not be the same run."""
    p = config.objective.params
    problems = []
    if config.objective.name != "wgan-gp":
        problems.append(f"objective {config.objective.name} (only wgan-gp)")
    if (p.penalty_points, p.penalty_target, p.penalty_power) != ("real-fake", 1.0, 2.0):
        problems.append("a penalty other than (||grad|| - 1)^2 at real-fake interpolates")
    if config.optim.generator.name != "adam" or config.optim.critic.name != "adam":
        problems.append("an optimiser other than Adam")
    if config.train.critic_schedule != "constant" or config.train.ema_decay > 0:
        problems.append("a varying critic schedule or a generator EMA")
    if config.train.precision != "fp32":
        problems.append(f"precision {config.train.precision} (the scripts train in fp32)")
    if problems:
        raise ValueError("the reference loop cannot reproduce " + "; ".join(problems))


class ReferenceLoop:
    """The loop described above, over a resolved gankit config and gankit's dataset."""

    name = "reference"

    def __init__(self, config: RunConfig, dataset: GankitDataset, device: str | torch.device = "cpu"):
        _check_supported(config)
        self.config = config
        self.device = torch.device(device)
        # Same seed, same build order as gankit's Trainer: the same initial weights.
        seed_everything(config.train.seed)
        shape, classes = dataset.sample_shape, dataset.num_classes
        self.generator = build_generator(config.model, shape, classes).to(self.device)
        self.critic = build_critic(config.model, shape, classes).to(self.device)
        g, c = config.optim.generator, config.optim.critic
        self.generator_optimizer = torch.optim.Adam(self.generator.parameters(), lr=g.lr, betas=tuple(g.betas))
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.lr, betas=tuple(c.betas))
        self.dataset = per_sample_dataset(dataset)
        self.loader = DataLoader(self.dataset, batch_size=config.train.batch_size, shuffle=True, drop_last=True)
        self._batches = iter(())
        self.latent_dim = config.model.latent_dim
        self.penalty_weight = config.objective.params.penalty_weight
        self.n_critic = config.train.n_critic
        self.critic_steps = 0
        self.generator_steps = 0
        self.last_losses = {"critic_loss": float("nan"), "generator_loss": float("nan")}

    def _next_batch(self) -> Tensor:
        """The next real batch on the device; a new epoch (a new shuffled iterator) when one runs out."""
        try:
            real, _ = next(self._batches)
        except StopIteration:
            self._batches = iter(self.loader)
            real, _ = next(self._batches)
        return real.to(self.device)

    def critic_step(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """One critic update on ``real``; returns the loss and the noise the generator step reuses."""
        z = torch.randn(real.shape[0], self.latent_dim, device=self.device)
        fake = self.generator(z)
        self.critic_optimizer.zero_grad()
        real_scores = self.critic(real)
        fake_scores = self.critic(fake)
        penalty = gradient_penalty(self.critic, real.detach(), fake.detach())
        loss = -real_scores.mean() + fake_scores.mean() + self.penalty_weight * penalty
        loss.backward()
        self.critic_optimizer.step()
        return loss, z

    def generator_step(self, z: Tensor) -> Tensor:
        fake = self.generator(z)
        loss = -self.critic(fake).mean()
        loss.backward()
        self.generator_optimizer.step()
        return loss

    def train_batch(self) -> None:
        """One batch: a critic step, and a generator step on every n_critic-th batch."""
        critic_loss, z = self.critic_step(self._next_batch())
        self.generator_optimizer.zero_grad()  # the critic's backward reached the generator; drop that
        if self.critic_steps % self.n_critic == 0:
            generator_loss = self.generator_step(z)
            self.generator_steps += 1
            self.last_losses["generator_loss"] = generator_loss.item()
        self.last_losses["critic_loss"] = critic_loss.item()  # the per-batch log line's host sync
        self.critic_steps += 1

    def step(self) -> None:
        """n_critic batches: exactly one generator step."""
        for _ in range(self.n_critic):
            self.train_batch()

    def finish(self) -> None:
        """End of a timed window (the per-batch ``.item()`` already waits for the device)."""
        synchronise(self.device)
