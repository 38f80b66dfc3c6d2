"""A reference-style WGAN-GP loop: how typical per-paper scripts (PyTorch-GAN's wgan_gp.py and kin) train.

Written in our own words to the same recipe, so that gankit's speed can be
stated as a ratio at identical settings. What makes it "reference-style":
- a torchvision DataLoader over a Dataset that turns each uint8 digit into a
  PIL image and back through per-sample transforms (ToTensor, Normalize);
- every batch is one critic step; the generator steps every n_critic batches;
- separate critic forwards for real, fake and interpolates;
- the fake batch is not detached in the critic step (the critic loss's
  backward also runs through the generator, as in those scripts);
- fp32, and a host sync (``.item()``) every step to print the losses.
The networks are gankit's own, built from the same config, so only the loop differs.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from gankit.config import RunConfig
from gankit.models import build_critic, build_generator


class PILDigits(Dataset):
    """uint8 (N, 1, H, W) images served one PIL image at a time, as torchvision's MNIST does."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.transform(Image.fromarray(self.images[index, 0], mode="L")), 0


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """The scripts' compute_gradient_penalty: interpolates, autograd.grad, (||g|| - 1)^2."""
    alpha = torch.rand(real.shape[0], 1, 1, 1)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolates)
    (gradients,) = torch.autograd.grad(scores, interpolates, grad_outputs=torch.ones_like(scores),
                                       create_graph=True, retain_graph=True)
    return ((gradients.view(gradients.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


class ReferenceLoop:
    """The loop above, over gankit's networks and a resolved gankit config (WGAN-GP family)."""

    def __init__(self, config: RunConfig, images: np.ndarray, seed: int = 0):
        torch.manual_seed(seed)
        shape = tuple(images.shape[1:])
        self.config = config
        self.generator = build_generator(config.model, shape, None)
        self.critic = build_critic(config.model, shape, None)
        g, c = config.optim.generator, config.optim.critic
        self.generator_optimizer = torch.optim.Adam(self.generator.parameters(), lr=g.lr, betas=tuple(g.betas))
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.lr, betas=tuple(c.betas))
        self.loader = DataLoader(PILDigits(images), batch_size=config.train.batch_size, shuffle=True, drop_last=True)
        self.penalty_weight = config.objective.params.penalty_weight
        self.n_critic = config.train.n_critic
        self.batches = 0
        self.generator_steps = 0
        self.last_losses: tuple[float, float] = (float("nan"), float("nan"))

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        real_scores = self.critic(real)
        fake_scores = self.critic(fake)
        penalty = gradient_penalty(self.critic, real.data, fake.data)
        return -real_scores.mean() + fake_scores.mean() + self.penalty_weight * penalty

    def train_batches(self, count: int, on_generator_step: Callable[[], None] | None = None) -> None:
        """Run ``count`` critic steps (batches), with a generator step every n_critic."""
        done = 0
        while done < count:
            for real, _ in self.loader:
                z = torch.randn(real.shape[0], self.config.model.latent_dim)
                fake = self.generator(z)
                self.critic_optimizer.zero_grad()
                d_loss = self.critic_loss(real, fake)
                d_loss.backward()
                self.critic_optimizer.step()
                self.generator_optimizer.zero_grad()
                g_value = self.last_losses[1]
                if self.batches % self.n_critic == 0:
                    fake = self.generator(z)
                    g_loss = -self.critic(fake).mean()
                    g_loss.backward()
                    self.generator_optimizer.step()
                    self.generator_steps += 1
                    g_value = g_loss.item()
                    if on_generator_step is not None:
                        on_generator_step()
                self.last_losses = (d_loss.item(), g_value)  # the per-step print's host sync
                self.batches += 1
                done += 1
                if done >= count:
                    return

    def generator_steps_per_second(self, generator_steps: int) -> float:
        start = time.perf_counter()
        self.train_batches(generator_steps * self.n_critic)
        return generator_steps / (time.perf_counter() - start)
