"""Spectral normalisation (Miyato et al. 2018) of a built network's weights.

Each Linear, Conv and ConvTranspose weight ``W`` is replaced by
``W / sigma(W)``, with ``sigma`` the largest singular value estimated by one
power iteration per forward in training mode, through PyTorch's
parametrisation (``torch.nn.utils.parametrizations.spectral_norm``). Its
``u`` and ``v`` estimates are buffers of the parametrisation, so they are in
the state dict: checkpoints carry them, a resumed run continues from them,
and under torch.distributed they start equal on every rank (the trainer
broadcasts buffers) and stay equal, because they are updated from weights
that are identical on every rank, never from the data.

The conv caveat (also the paper's): a convolution's weight
``[out, in, kh, kw]`` is normalised as the matrix ``[out, in*kh*kw]``
(a ConvTranspose weight ``[in, out, kh, kw]`` with its output dimension moved
first), whose norm is not the operator norm of the convolution itself; the layer's
Lipschitz constant can exceed 1 by a factor up to about ``sqrt(kh*kw)``.

Embeddings: the projection critic's class embedding multiplies the critic's
features (its score is ``<embed(y), h>``), so it bounds the critic's slope
in ``x`` like a weight does and is normalised too (Miyato and Koyama's
code does the same). The embedding a model joins to its *input* (``concat``
conditioning, ``GANModule.label_embedding``) is left alone: it adds a
constant per class, which does not change the slope in ``x``.

The parametrised layers are subclasses PyTorch generates
(``ParametrizedConv2d``), so ``fast_layers.use_fast_layers``, which matches
exact types, leaves them as PyTorch's layers: the two never compose.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

# One power iteration per training forward, as in the paper (and PyTorch's default).
POWER_ITERATIONS = 1
_NORMALISED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
               nn.ConvTranspose3d, nn.Embedding)


def _input_embeddings(module: nn.Module) -> set[int]:
    """Ids of the embeddings joined to a model's input (``GANModule.label_embedding``): not normalised."""
    return {id(m.label_embedding) for m in module.modules() if getattr(m, "label_embedding", None) is not None}


def apply_spectral_norm(module: nn.Module) -> int:
    """Spectrally normalise every qualifying weight of ``module`` in place (after its init); returns how many."""
    skipped = _input_embeddings(module)
    layers = [m for m in module.modules()
              if isinstance(m, _NORMALISED) and id(m) not in skipped and not parametrize.is_parametrized(m, "weight")]
    for layer in layers:
        spectral_norm(layer, n_power_iterations=POWER_ITERATIONS)
    return len(layers)


@torch.no_grad()
def reestimate_spectral_norms(module: nn.Module, iterations: int) -> None:
    """Run ``iterations`` power iterations on every normalised weight of ``module`` as it is now.

    PyTorch only iterates in training mode, during a forward; a network that
    is never trained (a generator's EMA, whose weights are an average the
    training network's ``u`` and ``v`` were not estimated for) would
    otherwise divide its weights by another network's sigma. Each layer's
    parametrisation alone is put in training mode and its weight read: that
    runs its power method and nothing else of the network.
    """
    for layer in spectrally_normalised_layers(module):
        for parametrisation in layer.parametrizations.weight:
            was_training = parametrisation.training
            parametrisation.train()
            try:
                for _ in range(iterations):
                    layer.weight  # noqa: B018 - reading it runs one power iteration
            finally:
                parametrisation.train(was_training)


def spectrally_normalised_layers(module: nn.Module) -> list[nn.Module]:
    """The layers of ``module`` whose weight carries a spectral-norm parametrisation."""
    return [m for m in module.modules() if parametrize.is_parametrized(m, "weight")
            and any(type(p).__name__ == "_SpectralNorm" for p in m.parametrizations.weight)]
