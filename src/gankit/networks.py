"""A run's generator and critic, shaped by its model config, its data and its objective.

The one place that joins the three, so that training, resuming and loading a
checkpoint for sampling all build exactly the same modules.
"""

from __future__ import annotations

from gankit.config import RunConfig
from gankit.models import Critic, Generator, build_critic, build_generator, conditioning_classes
from gankit.objectives import Objective, objective_class


def build_objective(config: RunConfig, fused_critic_forward: bool = True) -> Objective:
    return objective_class(config.objective.name)(config.objective.params, fused_critic_forward=fused_critic_forward)


def build_networks(
    config: RunConfig, sample_shape: tuple[int, ...], num_classes: int | None, objective: Objective, data_name: str
) -> tuple[Generator, Critic]:
    """The generator and critic for ``config`` (weights from the global torch RNG: seed it first)."""
    conditioning_classes(config.model, num_classes, f"dataset '{data_name}'")  # refuses unlabelled data by name
    generator = build_generator(config.model, sample_shape, num_classes, codes=objective.latent_codes())
    critic = build_critic(config.model, sample_shape, num_classes, head=objective.critic_head())
    return generator, critic
