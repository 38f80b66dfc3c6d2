"""An exponential moving average of a generator's weights (one per generator-side network).

Averaged weights usually give cleaner samples than the last iterate of an
adversarial game, at the cost of one extra copy of the generator.

Batch norm needs care: its running statistics belong to the weights that
produced them, and the training network's statistics do not describe the
averaged weights' activations. Copying them anyway made the main job's EMA
generator far worse than the raw one (classifier FD 85.6 against 23.9 at
decay 0.999, 19.4 at 0.99). So when the averaged network is about to be used
(samples, evaluation, a checkpoint) and it has batch norm, its statistics are
re-estimated under the averaged weights from fixed, seeded noise, as
``torch.optim.swa_utils.update_bn`` does for SWA (FD 40.1 at 0.999 and 17.9
at 0.99 on the same runs). The estimate depends on the weights alone, so
it is the same after a resume, and training never reads it.

Spectral norm (``model.generator_spectral_norm``) needs the same care: its
``u`` and ``v`` estimates are buffers, copied from the training network,
whose power iterations ran on the training network's weights, not the
average. The averaged network re-estimates them on its own weights before
use (from the copied ones, which are usually close), so that it divides
by its own largest singular value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from gankit.models.spectral_norm import reestimate_spectral_norms, spectrally_normalised_layers

# Fixed noise batches the statistics are re-estimated on: enough samples for a
# mean and variance per channel to settle (batch norm's own estimate uses one batch).
CALIBRATION_BATCHES = 16
CALIBRATION_BATCH_SIZE = 128
CALIBRATION_SEED = 0x5EED

# Power iterations the averaged network runs on its own weights, from the training network's u and v: cheap
# (two products with each weight matrix) and enough for a far-off start, as tests/test_sngan.py makes one.
SPECTRAL_NORM_ITERATIONS = 50

# The generator's inputs for calibration batch i: (codes, labels or None).
CalibrationInputs = Callable[[int, int], tuple[Tensor, Tensor | None]]


class GeneratorEMA:
    def __init__(self, generator: nn.Module, decay: float, calibration_inputs: CalibrationInputs | None = None):
        self.decay = decay
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        # None: the network does not take noise (an encoder, a translator), so its statistics stay copied.
        self.calibration_inputs = calibration_inputs if _batch_norms(self.model) else None
        self.spectral_norm = bool(spectrally_normalised_layers(self.model))
        self._calibrated = False

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        averaged = list(self.model.parameters())
        current = [p.detach() for p in generator.parameters()]
        # lerp(avg, new, 1 - decay) == decay * avg + (1 - decay) * new, in one fused call.
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay)
        # Batch-norm running statistics are not trained weights: copy them until ``averaged`` re-estimates them.
        for mine, theirs in zip(self.model.buffers(), generator.buffers()):
            mine.copy_(theirs)
        self.mark_stale()

    def mark_stale(self) -> None:
        """The weights changed (an update, a restore): re-estimate the statistics before the next use."""
        self._calibrated = False

    def averaged(self) -> nn.Module:
        """The averaged network, in eval mode, its batch-norm statistics and spectral norms those of its own weights."""
        if not self._calibrated and self.spectral_norm:
            # First, so that the batch-norm statistics below are those of the weights as normalised for use.
            reestimate_spectral_norms(self.model, SPECTRAL_NORM_ITERATIONS)
        if not self._calibrated and self.calibration_inputs is not None:
            recalibrate_batch_norm(self.model, self.calibration_inputs)
        self._calibrated = True
        return self.model

    def state_dict(self) -> dict[str, torch.Tensor]:
        # A checkpoint's EMA network is what `gankit sample` and `gankit eval` load: calibrated.
        return self.averaged().state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
        self.mark_stale()


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, inputs: CalibrationInputs) -> None:
    """Re-estimate every batch norm's running mean and variance as exact averages over the calibration batches."""
    norms = _batch_norms(model)
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # None: a cumulative average over the batches seen since the reset
    # Only the batch norms in training mode: anything else that acts differently there (spectral norm's power
    # iterations) must see the network as it is used.
    model.eval()
    for norm in norms:
        norm.train()
    try:
        for index in range(CALIBRATION_BATCHES):
            codes, labels = inputs(index, CALIBRATION_BATCH_SIZE)
            model(codes) if labels is None else model(codes, labels)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        model.eval()
