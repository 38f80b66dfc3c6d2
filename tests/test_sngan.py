"""Issue 18's model-side stabilisers: spectral norm, SNGAN's ResNets, the projection critic."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from gankit.cli import main
from gankit.errors import ConfigError
from gankit.models import AutoEncoderHead, ModelConfig, build_critic, build_generator
from gankit.models.fast_layers import FAST_LAYERS, use_fast_layers
from gankit.models.projection import ProjectionCritic
from gankit.models.sngan import DownBlock, UpBlock
from gankit.models.spectral_norm import spectrally_normalised_layers
from gankit.training.ema import GeneratorEMA


def tiny(**changes) -> ModelConfig:
    base = ModelConfig(latent_dim=8, generator_widths=[16, 16], critic_widths=[16, 16], base_channels=4)
    return dataclasses.replace(base, **changes)


def largest_singular_value(layer: nn.Module) -> float:
    """sigma_max of the matrix spectral norm normalises: the weight with its output dimension first, as [out, -1].

    This is the matrix's norm, not the convolution operator's (see models/spectral_norm.py): a conv layer's
    Lipschitz constant can be larger; SN bounds only the reshaped kernel.
    """
    weight = layer.weight.detach()
    dim = layer.parametrizations.weight[0].dim  # 1 for ConvTranspose ([in, out, k, k]), 0 otherwise
    matrix = weight.movedim(dim, 0).reshape(weight.shape[dim], -1)
    return torch.linalg.matrix_norm(matrix, 2).item()


# --------------------------------------------------------------------------- spectral norm


@pytest.mark.parametrize("arch, side, shape, changes", [
    ("mlp", "critic", (2,), {}),
    ("dcgan", "critic", (1, 28, 28), {"conditional": True, "critic_conditioning": "projection"}),
    ("dcgan", "generator", (1, 28, 28), {"generator_norm": "batch"}),  # ConvTranspose weights: output dim 1
    ("sngan-resnet", "critic", (3, 32, 32), {}),
    ("sngan-resnet", "generator", (1, 28, 28), {"generator_norm": "batch"}),
])
def test_after_100_power_iterations_every_normalised_layer_has_unit_spectral_norm(arch, side, shape, changes):
    torch.manual_seed(0)
    cfg = tiny(arch=arch, critic_spectral_norm=True, generator_spectral_norm=True, **changes)
    labels = torch.tensor([0, 3, 7, 9]) if cfg.conditional else None
    network = build_critic(cfg, shape, 10) if side == "critic" else build_generator(cfg, shape, 10)
    layers = spectrally_normalised_layers(network)
    expected = [m for m in network.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    assert layers and all(layer in layers for layer in expected)
    # New raw weights, as after many optimiser steps: the u, v estimates of the old ones no longer fit, so the
    # normalised weights are off 1 (checked: the test can fail) until the power iterations catch up.
    with torch.no_grad():
        for layer in layers:
            original = layer.parametrizations.weight.original
            original.copy_(3 * torch.randn_like(original))
    network.eval()
    assert max(abs(largest_singular_value(layer) - 1) for layer in layers) > 0.05
    network.train()  # each training forward is one power iteration
    with torch.no_grad():
        for _ in range(100):
            inputs = torch.randn(4, *shape) if side == "critic" else torch.randn(4, 8)
            network(inputs, labels)
    network.eval()  # eval: the weight is read with the current u, v, without another iteration
    sigmas = [largest_singular_value(layer) for layer in layers]
    assert sigmas == pytest.approx([1.0] * len(sigmas), rel=0.01)


@pytest.mark.parametrize("arch, changes", [("mlp", {}), ("dcgan", {"generator_norm": "batch"})])
def test_the_generators_ema_divides_by_its_own_spectral_norm_not_the_training_networks(arch, changes):
    # The EMA copies the training network's u, v (its buffers); they were estimated for the training weights.
    # Averaging two unrelated sets of weights A and B gives (A + B) / 2, whose singular vectors are neither's:
    # only a re-estimate on the average brings every normalised layer of the EMA back to sigma 1 (checked: the
    # copied estimates of B's are off).
    torch.manual_seed(0)
    cfg = tiny(arch=arch, generator_spectral_norm=True, **changes)
    shape = (2,) if arch == "mlp" else (1, 28, 28)
    generator = build_generator(cfg, shape)

    def new_weights_and_their_estimates():
        with torch.no_grad():
            for layer in spectrally_normalised_layers(generator):
                original = layer.parametrizations.weight.original
                original.copy_(3 * torch.randn_like(original))
            generator.train()
            for _ in range(100):
                generator(torch.randn(4, 8))

    new_weights_and_their_estimates()
    ema = GeneratorEMA(generator, decay=0.5, calibration_inputs=lambda i, n: (torch.randn(n, 8), None))
    new_weights_and_their_estimates()
    ema.update(generator)
    copied = [largest_singular_value(layer) for layer in spectrally_normalised_layers(ema.model)]
    assert max(abs(sigma - 1) for sigma in copied) > 0.05
    averaged = ema.averaged()
    assert not averaged.training
    sigmas = [largest_singular_value(layer) for layer in spectrally_normalised_layers(averaged)]
    assert sigmas == pytest.approx([1.0] * len(sigmas), rel=0.01)
    # Reading the averaged network again runs no more iterations: its output is fixed until the next update.
    z = torch.randn(5, 8)
    assert torch.equal(ema.averaged()(z), averaged(z))


def test_unnormalised_weights_are_far_from_unit_norm_so_the_test_above_can_fail():
    torch.manual_seed(0)
    critic = build_critic(tiny(arch="sngan-resnet"), (3, 32, 32))
    assert not spectrally_normalised_layers(critic)
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert max(torch.linalg.matrix_norm(c.weight.detach().flatten(1), 2).item() for c in convs) > 1.5


def test_the_concat_input_embedding_is_left_alone_and_the_projection_embedding_normalised():
    # The input embedding only adds a constant per class: it cannot change the critic's slope in x.
    concat = build_critic(tiny(conditional=True, critic_spectral_norm=True), (1, 28, 28), 10)
    assert concat.label_embedding not in spectrally_normalised_layers(concat)
    projection = build_critic(tiny(conditional=True, critic_conditioning="projection", critic_spectral_norm=True),
                              (1, 28, 28), 10)
    assert projection.projection in spectrally_normalised_layers(projection)


def test_spectral_norm_keeps_u_and_v_in_the_state_dict_and_off_by_default():
    plain = build_critic(tiny(), (1, 28, 28))
    assert not any(key.endswith(("_u", "_v")) for key in plain.state_dict())
    normalised = build_critic(tiny(critic_spectral_norm=True), (1, 28, 28))
    keys = normalised.state_dict().keys()
    assert sum(key.endswith("._u") for key in keys) == sum(key.endswith("._v") for key in keys) == 4
    # A restored copy reads the same weights: the u, v estimates travel with the checkpoint.
    torch.manual_seed(1)
    copy = build_critic(tiny(critic_spectral_norm=True), (1, 28, 28))
    copy.load_state_dict(normalised.state_dict())
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(copy.eval()(x), normalised.eval()(x))


def test_fast_layers_leave_spectrally_normalised_layers_to_pytorch():
    torch.manual_seed(0)
    cfg = tiny(critic_spectral_norm=True)
    critic = build_critic(cfg, (1, 28, 28)).eval()
    generator = build_generator(cfg, (1, 28, 28))  # no spectral norm: its layer on the latent is switched
    x = torch.randn(3, 1, 28, 28)
    before = critic(x)
    # The one-channel input conv and the dense head would be switched without SN (test_fast_paths): not these.
    assert use_fast_layers(critic) == 0 and use_fast_layers(generator) == 1
    assert not any(type(m) in FAST_LAYERS for m in critic.modules())
    assert len(spectrally_normalised_layers(critic)) == 4
    assert torch.equal(critic(x), before)


# --------------------------------------------------------------------------- SNGAN's ResNets


@pytest.mark.parametrize("size, first_side, generator_blocks, critic_side", [(28, 7, 2, 7), (32, 4, 3, 8), (64, 4, 4, 2)])
@pytest.mark.parametrize("channels", [1, 3])
def test_sngan_resnet_shapes(size, first_side, generator_blocks, critic_side, channels):
    torch.manual_seed(0)
    cfg = tiny(arch="sngan-resnet", generator_norm="batch")
    shape = (channels, size, size)
    generator, critic = build_generator(cfg, shape), build_critic(cfg, shape)
    assert generator.first_side == first_side
    assert sum(isinstance(m, UpBlock) for m in generator.modules()) == generator_blocks
    fake = generator(3 * torch.randn(5, 8))
    assert fake.shape == (5, *shape) and fake.abs().max() <= 1
    assert critic.blocks(fake).shape[-2:] == (critic_side, critic_side)
    assert critic.features(fake).shape == (5, critic.feature_width)
    assert critic(fake).shape == (5,)


def test_sngan_resnet_cifar_widths_are_the_papers_at_base_channels_64():
    cfg = ModelConfig(arch="sngan-resnet", latent_dim=128, base_channels=64, generator_norm="batch")
    generator, critic = build_generator(cfg, (3, 32, 32)), build_critic(cfg, (3, 32, 32))
    assert generator.input.out_features == 4 * 4 * 256
    assert {m.out_channels for m in generator.blocks.modules() if isinstance(m, nn.Conv2d)} == {256}
    assert {m.out_channels for m in critic.blocks.modules() if isinstance(m, nn.Conv2d)} == {128}
    blocks = [m for m in critic.modules() if isinstance(m, DownBlock)]
    assert [b.first for b in blocks] == [True, False, False, False]
    assert [b.downsample for b in blocks] == [True, True, False, False]
    assert blocks[-1].shortcut is None  # same shape in and out: an identity shortcut
    assert critic.head.in_features == 128


def test_sngan_resnet_critic_scores_samples_independently_and_takes_a_double_backward():
    torch.manual_seed(0)
    critic = build_critic(tiny(arch="sngan-resnet", critic_spectral_norm=True), (1, 28, 28))
    x = torch.randn(4, 1, 28, 28, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    grad.square().sum().backward()
    weights = [p for p in critic.parameters() if p.ndim >= 2]  # the head's bias has no say in the input gradient
    assert weights and all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
                           for p in weights)
    critic.eval()  # in training mode each forward is a power iteration, which moves the weights a little
    with torch.no_grad():
        other = x.detach().clone()
        other[1:] = torch.randn(3, 1, 28, 28)
        assert critic(x.detach())[0].item() == pytest.approx(critic(other)[0].item(), abs=1e-6)


# --------------------------------------------------------------------------- the projection critic


def test_projection_score_is_the_linear_score_plus_the_embedding_inner_product():
    cfg = tiny(arch="mlp", critic_widths=[2], conditional=True, critic_conditioning="projection")
    critic = build_critic(cfg, (2,), num_classes=2)
    assert isinstance(critic, ProjectionCritic)
    with torch.no_grad():
        hidden = critic.critic.hidden[0]
        hidden.weight.copy_(torch.eye(2))
        hidden.bias.zero_()
        critic.critic.output.weight.copy_(torch.tensor([[1.0, -1.0]]))
        critic.critic.output.bias.fill_(0.5)
        critic.projection.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    x = torch.tensor([[1.0, 2.0], [1.0, 2.0], [-1.0, 4.0]])
    # h = relu(x): [1, 2], [1, 2], [0, 4]; linear(h) = h1 - h2 + 0.5; <e_y, h> with e_0 = [2, 0], e_1 = [0, 3].
    scores = critic(x, torch.tensor([0, 1, 1]))
    assert scores.tolist() == pytest.approx([-0.5 + 2.0, -0.5 + 6.0, -3.5 + 12.0])


@pytest.mark.parametrize("arch", ["dcgan", "sngan-resnet"])
def test_projection_critic_reads_the_label_outside_its_body(arch):
    torch.manual_seed(0)
    concat = build_critic(tiny(arch=arch, conditional=True), (1, 28, 28), 10)
    projection = build_critic(tiny(arch=arch, conditional=True, critic_conditioning="projection"), (1, 28, 28), 10)
    first = [m for m in projection.modules() if isinstance(m, nn.Conv2d)][0]
    assert first.in_channels == 1  # the concat critic's first layer reads 1 + label_dim channels
    assert [m for m in concat.modules() if isinstance(m, nn.Conv2d)][0].in_channels == 11
    assert projection.conditional and projection.num_classes == 10
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(projection(x, torch.tensor([0, 0])), projection(x, torch.tensor([5, 5])))


def test_projection_is_refused_where_the_critic_has_no_single_score():
    cfg = tiny(conditional=True, critic_conditioning="projection")
    with pytest.raises(ConfigError, match="model.critic_conditioning 'projection'.*auto-encoder.*concat"):
        build_critic(cfg, (1, 28, 28), 10, head=AutoEncoderHead("l2"))


# --------------------------------------------------------------------------- bad values: one line, exit 2


@pytest.mark.parametrize("overrides, words", [
    (["model.critic_conditioning=proj"], ["model.critic_conditioning 'proj'", "concat, projection"]),
    (["model.arch=sngan-resnet", "data.image_size=48"], ["model.arch 'sngan-resnet'", "48x48", "data.image_size"]),
    (["model.conditional=false", "model.critic_conditioning=projection"], ["model.conditional=true"]),
    (["model.arch=sngan-resnet", "model.critic_norm=layer"], ["model.critic_norm 'layer'", "none"]),
])
def test_bad_values_exit_2_with_one_line(tmp_path, capsys, overrides, words):
    code = main(["train", "--preset", "cwgan-gp-mnist", "--out", str(tmp_path), "--name", "bad", "--no-progress",
                 "data.name=digits", "data.image_size=28", "train.steps=1", "eval.every=0", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "bad" / "checkpoints").exists()
