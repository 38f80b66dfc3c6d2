"""A run's objective and networks, shaped by its model config, its data and the objective's declaration.

The one place that joins the three, so that training, resuming and loading a
checkpoint for sampling all build exactly the same modules.
"""

from __future__ import annotations

from typing import Any

from gankit.config import RunConfig
from gankit.models import NetworkBuilder, conditioning_classes
from gankit.objectives import Networks, Objective, objective_class


def build_objective(config: RunConfig) -> Objective:
    return objective_class(config.objective.name)(config.objective.params)


def build_networks(
    config: RunConfig, data: dict[str, Any], objective: Objective
) -> Networks:
    """The networks ``objective`` declares for ``config`` and the data ``describe_data`` describes.

    Weights come from the global torch RNG: seed it first.
    """
    num_classes = data["num_classes"]
    conditioning_classes(config.model, num_classes, f"dataset '{data['name']}'")  # refuses unlabelled data by name
    domains = data.get("domains") or {"data": data}
    shapes = {name: tuple(d["sample_shape"]) for name, d in domains.items()}
    return objective.build_networks(
        NetworkBuilder(config.model, tuple(data["sample_shape"]), num_classes, shapes, data=data)
    )
