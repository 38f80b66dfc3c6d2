"""How many critic steps precede each generator step."""

from __future__ import annotations

from collections.abc import Callable

CriticSchedule = Callable[[int], int]


def constant_schedule(n_critic: int) -> CriticSchedule:
    return lambda generator_step: n_critic


def wgan_schedule(n_critic: int) -> CriticSchedule:
    """The original WGAN schedule (Arjovsky et al., reference code).

    100 critic steps for each of the first 25 generator steps and at every
    500th, so the critic is near optimal when its estimate matters most.
    """

    def steps(generator_step: int) -> int:
        return 100 if generator_step < 25 or generator_step % 500 == 0 else n_critic

    return steps


SCHEDULES: dict[str, Callable[[int], CriticSchedule]] = {
    "constant": constant_schedule,
    "wgan": wgan_schedule,
}
