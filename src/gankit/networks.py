"""A run's objective and networks, shaped by its model config, its data and the objective's declaration.

The one place that joins the three, so that training, resuming and loading a
checkpoint for sampling all build exactly the same modules.
"""

from __future__ import annotations

from gankit.config import RunConfig
from gankit.models import NetworkBuilder, conditioning_classes
from gankit.objectives import Networks, Objective, objective_class


def build_objective(config: RunConfig) -> Objective:
    return objective_class(config.objective.name)(config.objective.params)


def build_networks(
    config: RunConfig, sample_shape: tuple[int, ...], num_classes: int | None, objective: Objective, data_name: str
) -> Networks:
    """The networks ``objective`` declares for ``config`` (weights from the global torch RNG: seed it first)."""
    conditioning_classes(config.model, num_classes, f"dataset '{data_name}'")  # refuses unlabelled data by name
    return objective.build_networks(NetworkBuilder(config.model, sample_shape, num_classes))
