"""GAN objectives, registered by name. Adding one is a file here and a line below."""

from __future__ import annotations

from gankit.errors import ConfigError, did_you_mean
from gankit.objectives.base import (
    CRITIC,
    CRITIC_PHASE,
    GENERATOR,
    GENERATOR_PHASE,
    GRID_ROW,
    POINTS_PER_PLOT,
    SIDES,
    CriticBatch,
    DomainBatch,
    Networks,
    Objective,
    ObjectiveParams,
    Penalty,
    Phase,
    Preview,
    RealBatch,
    Recommendation,
    StepContext,
)
from gankit.objectives.energy import BEGAN, EBGAN
from gankit.objectives.fgan import FGAN
from gankit.objectives.hinge import HingeGAN
from gankit.objectives.inference import ALI, BiGAN
from gankit.objectives.infogan import InfoGAN
from gankit.objectives.least_squares import LeastSquaresGAN
from gankit.objectives.loss_sensitive import LossSensitiveGAN
from gankit.objectives.minimax import MinimaxGAN, NonSaturatingGAN
from gankit.objectives.recommendation import BPR, IRGAN
from gankit.objectives.translation import CycleGAN, DiscoGAN
from gankit.objectives.wasserstein import WGAN, WGANGP, WGANDiv

OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls
    for cls in (
        MinimaxGAN, NonSaturatingGAN, LeastSquaresGAN, WGAN, WGANGP, WGANDiv, HingeGAN,
        EBGAN, BEGAN, LossSensitiveGAN, InfoGAN, FGAN, BiGAN, ALI, CycleGAN, DiscoGAN, IRGAN, BPR,
    )
}


def objective_class(name: str) -> type[Objective]:
    """The registered objective called ``name``, or a ConfigError that lists them."""
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    hint = did_you_mean(name, OBJECTIVES)
    raise ConfigError(
        f"unknown objective '{name}'{hint}: set objective.name to one of {', '.join(OBJECTIVES)}"
    )


__all__ = [
    "CRITIC",
    "CRITIC_PHASE",
    "GENERATOR",
    "GENERATOR_PHASE",
    "GRID_ROW",
    "OBJECTIVES",
    "POINTS_PER_PLOT",
    "SIDES",
    "CriticBatch",
    "DomainBatch",
    "Networks",
    "Objective",
    "ObjectiveParams",
    "Penalty",
    "Phase",
    "Preview",
    "RealBatch",
    "Recommendation",
    "StepContext",
    "objective_class",
]
