"""Generators and critics: shapes, the classic architectures layer by layer, and
the properties objectives rely on (per-sample independence, double backward)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.models import (
    ModelConfig,
    build_critic,
    build_generator,
    has_batch_statistics,
)

TINY = 4  # base_channels in tests: the shapes are what matter, not capacity
IMAGE_SIZES = (28, 32, 64)
DCGAN_NORMS = ("batch", "layer", "instance", "none")
MLP_NORMS = ("batch", "layer", "none")


def tiny(**changes) -> ModelConfig:
    base = ModelConfig(latent_dim=8, generator_widths=[16, 16], critic_widths=[16, 16], base_channels=TINY)
    return dataclasses.replace(base, **changes)


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("norm", MLP_NORMS)
@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_mlp_shapes(shape, norm):
    cfg = tiny(arch="mlp", generator_norm="batch" if norm == "batch" else "none", critic_norm=norm)
    generator, critic = build_generator(cfg, shape), build_critic(cfg, shape)
    assert generator.latent_dim == 8
    fake = generator(torch.randn(5, 8))
    assert fake.shape == (5, *shape)
    assert critic(fake).shape == (5,)


def test_mlp_points_output_is_linear_and_images_are_tanh():
    torch.manual_seed(0)
    points = build_generator(tiny(arch="mlp"), (2,))
    images = build_generator(tiny(arch="mlp"), (1, 28, 28))
    # Large latents push a linear output well past 1; a tanh output never leaves [-1, 1].
    z = 100 * torch.randn(64, 8)
    assert points(z).abs().max() > 1
    out = images(z)
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_dcgan_shapes_and_range(size, channels):
    shape = (channels, size, size)
    generator = build_generator(tiny(generator_norm="batch"), shape)
    fake = generator(3 * torch.randn(4, 8))
    assert fake.shape == (4, *shape)
    assert fake.min() >= -1 and fake.max() <= 1
    for norm in DCGAN_NORMS:
        assert build_critic(tiny(critic_norm=norm), shape)(fake).shape == (4,)


@pytest.mark.parametrize("size,first_side,hidden", [(28, 7, [16, 8]), (32, 4, [16, 8, 4]), (64, 4, [32, 16, 8, 4])])
def test_dcgan_generator_ladder(size, first_side, hidden):
    convs = [m for m in build_generator(tiny(), (3, size, size)).modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [*hidden, 3]
    assert convs[0].kernel_size == (first_side, first_side)
    assert convs[0].in_channels == 8  # latent_dim


@pytest.mark.parametrize("size,widths", [(28, [4, 8, 16]), (32, [4, 8, 16]), (64, [4, 8, 16, 32])])
def test_dcgan_critic_ladder_and_first_block_unnormalised(size, widths):
    critic = build_critic(tiny(critic_norm="layer"), (1, size, size))
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [*widths, 1]
    layers = list(critic.body)
    assert isinstance(layers[1], nn.LeakyReLU)  # first conv goes straight to the activation
    assert sum(isinstance(m, nn.GroupNorm) for m in critic.modules()) == len(widths) - 1


def test_dcgan_init_is_dcgan_style():
    torch.manual_seed(0)
    critic = build_critic(dataclasses.replace(tiny(critic_norm="batch"), base_channels=32), (3, 64, 64))
    conv = critic.body[2]
    assert abs(conv.weight.std().item() - 0.02) < 0.002
    norm = critic.body[3]
    assert abs(norm.weight.mean().item() - 1.0) < 0.01
    assert all(m.bias is None or torch.all(m.bias == 0) for m in critic.modules() if isinstance(m, nn.Conv2d))


def test_labels_are_accepted_and_ignored_for_now():
    torch.manual_seed(0)
    generator = build_generator(tiny(), (1, 28, 28), num_classes=10).eval()
    critic = build_critic(tiny(arch="mlp"), (1, 28, 28)).eval()  # built without classes: labels ignored
    z, labels = torch.randn(3, 8), torch.tensor([0, 5, 9])
    assert torch.equal(generator(z, labels), generator(z))
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(critic(x, labels), critic(x))


def test_channels_last_inputs_and_models():
    torch.manual_seed(0)
    shape = (3, 32, 32)
    generator = build_generator(tiny(generator_norm="batch"), shape).to(memory_format=torch.channels_last).eval()
    critic = build_critic(tiny(critic_norm="instance"), shape).eval()
    x = generator(torch.randn(4, 8))
    expected = critic(x.contiguous())
    critic = critic.to(memory_format=torch.channels_last)
    assert torch.allclose(critic(x.contiguous(memory_format=torch.channels_last)), expected, atol=1e-6)
    mlp = build_critic(tiny(arch="mlp"), shape).eval()
    assert torch.allclose(mlp(x.contiguous(memory_format=torch.channels_last)), mlp(x.contiguous()))


# --------------------------------------------------------------------------- classic architectures


def test_classic_pytorch_gan_mnist_mlp():
    cfg = ModelConfig(
        arch="mlp",
        latent_dim=100,
        generator_widths=[128, 256, 512, 1024],
        critic_widths=[512, 256],
        activation="leaky_relu",
        leaky_slope=0.2,
        generator_norm="batch",
        critic_norm="none",
        batchnorm_eps=0.8,
    )
    generator, critic = build_generator(cfg, (1, 28, 28)), build_critic(cfg, (1, 28, 28))

    assert [(m.in_features, m.out_features) for m in linears(generator)] == [
        (100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)
    ]
    assert [(m.in_features, m.out_features) for m in linears(critic)] == [(784, 512), (512, 256), (256, 1)]

    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [n.num_features for n in norms] == [256, 512, 1024]  # none on the first block
    assert all(n.eps == 0.8 for n in norms)
    assert not has_batch_statistics(critic)
    for model in (generator, critic):
        slopes = [m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)]
        assert slopes and all(s == 0.2 for s in slopes)
        assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert isinstance(list(generator.modules())[-1], nn.Tanh)

    def linear(i, o):
        return i * o + o

    g_params = (
        linear(100, 128)
        + linear(128, 256) + 2 * 256
        + linear(256, 512) + 2 * 512
        + linear(512, 1024) + 2 * 1024
        + linear(1024, 784)
    )
    c_params = linear(784, 512) + linear(512, 256) + linear(256, 1)
    assert count_params(generator) == g_params == 1_510_032
    assert count_params(critic) == c_params == 533_505


def test_wgan_gp_toy_networks():
    cfg = ModelConfig(arch="mlp", latent_dim=2, generator_widths=[512] * 3, critic_widths=[512] * 3, activation="relu")
    generator, critic = build_generator(cfg, (2,)), build_critic(cfg, (2,))
    assert [(m.in_features, m.out_features) for m in linears(generator)] == [(2, 512), (512, 512), (512, 512), (512, 2)]
    assert [(m.in_features, m.out_features) for m in linears(critic)] == [(2, 512), (512, 512), (512, 512), (512, 1)]
    for model in (generator, critic):
        assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 3
        assert not any(isinstance(m, (nn.LeakyReLU, nn.Tanh, nn.BatchNorm1d, nn.LayerNorm)) for m in model.modules())
    hidden = 2 * 512 + 512 + 2 * (512 * 512 + 512)
    assert count_params(generator) == hidden + 512 * 2 + 2
    assert count_params(critic) == hidden + 512 + 1


def test_critic_activation_overrides_activation_for_the_critic_only():
    cfg = tiny(arch="mlp", activation="relu", critic_activation="leaky_relu", leaky_slope=0.1)
    generator, critic = build_generator(cfg, (2,)), build_critic(cfg, (2,))
    assert not any(isinstance(m, nn.LeakyReLU) for m in generator.modules())
    assert [m.negative_slope for m in critic.modules() if isinstance(m, nn.LeakyReLU)] == [0.1, 0.1]


# --------------------------------------------------------------------------- batch coupling


@pytest.mark.parametrize("arch,norm", [("mlp", n) for n in MLP_NORMS] + [("dcgan", n) for n in DCGAN_NORMS])
def test_has_batch_statistics(arch, norm):
    critic = build_critic(tiny(arch=arch, critic_norm=norm), (1, 28, 28))
    assert has_batch_statistics(critic) == (norm == "batch")


def test_has_batch_statistics_sees_sync_batch_norm():
    assert has_batch_statistics(nn.Sequential(nn.Linear(2, 2), nn.SyncBatchNorm(2)))
    assert not has_batch_statistics(nn.Sequential(nn.Conv2d(1, 2, 3), nn.InstanceNorm2d(2)))


def _first_score_with_other_samples_changed(critic: nn.Module, shape: tuple[int, ...]) -> tuple[float, float]:
    x = torch.randn(6, *shape)
    other = x.clone()
    other[1:] = 3 * torch.randn(5, *shape) + 1
    with torch.no_grad():
        return critic(x)[0].item(), critic(other)[0].item()


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize(
    "arch,shape,norm",
    [("mlp", (2,), n) for n in MLP_NORMS] + [("dcgan", (3, 32, 32), n) for n in DCGAN_NORMS],
)
def test_critic_scores_samples_independently_unless_batch_norm_trains(arch, shape, norm, mode):
    torch.manual_seed(0)
    critic = build_critic(tiny(arch=arch, critic_norm=norm), shape)
    critic.train(mode == "train")
    alone, among_others = _first_score_with_other_samples_changed(critic, shape)
    if norm == "batch" and mode == "train":
        assert abs(alone - among_others) > 1e-4
    else:
        assert alone == pytest.approx(among_others, abs=1e-5)


# --------------------------------------------------------------------------- double backward


@pytest.mark.parametrize(
    "arch,shape,norm",
    [("mlp", (2,), n) for n in MLP_NORMS]
    + [("mlp", (1, 28, 28), "layer")]
    + [("dcgan", (1, 28, 28), n) for n in DCGAN_NORMS]
    + [("dcgan", (3, 64, 64), "layer")],
)
def test_gradient_penalty_double_backward(arch, shape, norm):
    torch.manual_seed(0)
    critic = build_critic(tiny(arch=arch, critic_norm=norm, activation="leaky_relu"), shape)
    x = torch.randn(4, *shape, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    weights = [(name, p) for name, p in critic.named_parameters() if p.ndim >= 2]
    assert weights
    for name, p in weights:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert all(torch.isfinite(p.grad).all() for p in critic.parameters() if p.grad is not None)


def test_models_compile_without_graph_breaks():
    # aot_eager traces forward and backward like inductor does, without the C++ build time.
    torch.manual_seed(0)
    for arch, shape in (("mlp", (2,)), ("dcgan", (1, 28, 28))):
        cfg = tiny(arch=arch, critic_norm="layer")
        generator = torch.compile(build_generator(cfg, shape), backend="aot_eager", fullgraph=True)
        critic = torch.compile(build_critic(cfg, shape), backend="aot_eager", fullgraph=True)
        scores = critic(generator(torch.randn(4, 8)))
        assert scores.shape == (4,)
        scores.sum().backward()


# --------------------------------------------------------------------------- errors


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_dcgan_refuses_unsupported_image_size():
    with pytest.raises(ConfigError) as error:
        build_generator(tiny(), (1, 48, 48))
    assert one_line(error) == (
        "model.arch 'dcgan' supports 28, 32 and 64 pixel images, got 48: "
        "set data.image_size to one of these or use model.arch: mlp"
    )
    with pytest.raises(ConfigError, match="model.arch 'dcgan'.*got 48"):
        build_critic(tiny(), (3, 48, 48))


def test_dcgan_refuses_points_and_suggests_mlp():
    with pytest.raises(ConfigError) as error:
        build_critic(tiny(), (2,))
    assert "model.arch" in one_line(error) and "mlp" in str(error.value)


def test_unknown_arch_suggests_the_closest():
    with pytest.raises(ConfigError) as error:
        build_generator(tiny(arch="dcgn"), (1, 28, 28))
    message = one_line(error)
    assert "model.arch" in message and "did you mean 'dcgan'?" in message and "mlp, dcgan" in message


def test_mlp_refuses_instance_norm():
    with pytest.raises(ConfigError) as error:
        build_critic(tiny(arch="mlp", critic_norm="instance"), (2,))
    message = one_line(error)
    assert "model.critic_norm" in message and "layer or none" in message


@pytest.mark.parametrize(
    "changes,key",
    [
        ({"critic_norm": "group"}, "model.critic_norm"),
        ({"generator_norm": "layer"}, "model.generator_norm"),
        ({"activation": "gelu"}, "model.activation"),
        ({"critic_activation": "lrelu"}, "model.critic_activation"),
        ({"generator_widths": []}, "model.generator_widths"),
        ({"critic_widths": [64, 0]}, "model.critic_widths"),
        ({"latent_dim": 0}, "model.latent_dim"),
        ({"base_channels": 0}, "model.base_channels"),
        ({"batchnorm_eps": 0.0}, "model.batchnorm_eps"),
    ],
)
def test_bad_values_name_their_key(changes, key):
    with pytest.raises(ConfigError) as error:
        build_critic(tiny(arch="mlp", **changes), (2,))
    assert one_line(error).startswith(key)
    assert tiny(**changes).validate()[0].startswith(key)


def test_default_config_is_valid():
    assert ModelConfig().validate() == []


# --------------------------------------------------------------------------- the InfoGAN paper's MNIST networks


def test_infogan_arch_has_the_papers_layers_and_parameter_counts():
    from gankit.models import LatentCodes, QHead

    cfg = ModelConfig(arch="infogan", latent_dim=74, generator_norm="batch", critic_norm="batch", leaky_slope=0.1)
    generator = build_generator(cfg, (1, 28, 28), codes=LatentCodes(10, 2))
    critic = build_critic(cfg, (1, 28, 28), head=QHead(outputs=12))
    z = torch.randn(3, 74)
    images = generator(z)
    assert images.shape == (3, 1, 28, 28) and images.abs().max() <= 1
    scores, codes = critic.score_and_codes(images)
    assert scores.shape == (3,) and codes.shape == (3, 12)
    assert critic.features(images).shape == (3, 1024)  # Q reads the FC-1024 activations
    # By hand from the paper's table (no bias where a batch norm follows; a norm has 2 parameters per unit):
    # G: FC 74->1024 + BN, FC 1024->7*7*128 + BN, deconv 128->64 4x4 + BN, deconv 64->1 4x4 with bias.
    g = 74 * 1024 + 2 * 1024 + 1024 * 6272 + 2 * 6272 + 128 * 64 * 16 + 2 * 64 + 64 * 16 + 1
    # D: conv 1->64 4x4 with bias, conv 64->128 4x4 + BN, FC 6272->1024 + BN, FC 1024->1 with bias.
    d = 16 * 64 + 64 + 64 * 128 * 16 + 2 * 128 + 6272 * 1024 + 2 * 1024 + 1024 + 1
    # Q: FC 1024->128 + BN, FC 128->12 with bias.
    q = 1024 * 128 + 2 * 128 + 128 * 12 + 12
    assert count_params(generator) == g == 6_645_121
    assert count_params(critic.critic) == d
    assert count_params(critic.q) == q
    assert [m.negative_slope for m in critic.modules() if isinstance(m, nn.LeakyReLU)] == [0.1] * 4
    assert sum(isinstance(m, nn.BatchNorm1d) for m in critic.q.modules()) == 1


def test_infogan_arch_scales_with_base_channels_and_refuses_other_shapes():
    cfg = ModelConfig(arch="infogan", latent_dim=8, base_channels=TINY, critic_norm="layer")
    critic = build_critic(cfg, (1, 28, 28))
    assert critic.feature_width == 16 * TINY and critic(torch.randn(2, 1, 28, 28)).shape == (2,)
    assert not has_batch_statistics(critic)
    assert build_generator(cfg, (1, 28, 28))(torch.randn(2, 8)).shape == (2, 1, 28, 28)
    for shape in [(3, 28, 28), (1, 32, 32), (2,)]:
        with pytest.raises(ConfigError, match="model.arch 'infogan' is the InfoGAN paper's MNIST network"):
            build_generator(cfg, shape)
        with pytest.raises(ConfigError, match="model.arch 'infogan'"):
            build_critic(cfg, shape)
    with pytest.raises(ConfigError, match="model.critic_norm 'instance'.*set it to batch"):
        build_critic(dataclasses.replace(cfg, critic_norm="instance"), (1, 28, 28))
