"""The speed levers of issue 4 change how the work is done, never what is computed.

Each fast path is checked against the plain path to a stated tolerance:
fused optimiser updates against foreach ones, the joined real/fake critic
forward against separate forwards (and its call pattern, since the point
is to do fewer, larger forwards), and the precision choice.
"""

import copy

import pytest
import torch
from torch import nn

from gankit.api import load_data
from gankit.config import OptimizerConfig, resolve
from gankit.objectives import CriticBatch, StepContext, objective_class
from gankit.objectives.base import critic_scores
from gankit.training import precision as precision_module
from gankit.training.optimizers import build_optimizer, load_optimizer_state, update_kernel
from gankit.training.trainer import Trainer

# Fused and foreach Adam do the same arithmetic in a different order; after a
# few steps parameters agree to float32 rounding.
OPTIMIZER_TOLERANCE = 1e-6


def _model_with_gradients(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, seed: int = 3) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(32, 6, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        model(x).pow(2).mean().backward()
        optimizer.step()


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop"])
def test_fused_kernels_are_chosen_where_pytorch_has_them(name):
    params = list(_model_with_gradients(0).parameters())
    expected = {"foreach": True} if name == "rmsprop" else {"fused": True}
    assert update_kernel(name, params) == expected
    optimizer = build_optimizer(params, OptimizerConfig(name=name, lr=1e-3, betas=(0.5, 0.9)))
    group = optimizer.param_groups[0]
    assert bool(group.get("fused")) == ("fused" in expected)


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_fused_updates_match_foreach_updates(name):
    settings = OptimizerConfig(name=name, lr=1e-2, betas=(0.0, 0.9), weight_decay=1e-3)
    fused_model, foreach_model = _model_with_gradients(0), _model_with_gradients(0)
    fused = build_optimizer(fused_model.parameters(), settings)
    kind = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[name]
    extra = {"betas": (0.0, 0.9)} if name != "sgd" else {}
    foreach = kind(foreach_model.parameters(), lr=1e-2, weight_decay=1e-3, foreach=True, **extra)
    initial = [p.detach().clone() for p in fused_model.parameters()]
    _train(fused_model, fused, steps=20)
    _train(foreach_model, foreach, steps=20)
    for a, b, start in zip(fused_model.parameters(), foreach_model.parameters(), initial):
        assert (a - start).abs().max() > 100 * OPTIMIZER_TOLERANCE  # it trained
        torch.testing.assert_close(a, b, rtol=0, atol=OPTIMIZER_TOLERANCE)


def test_a_state_saved_by_a_foreach_optimizer_loads_into_a_fused_one_and_keeps_the_fused_kernel():
    settings = OptimizerConfig(name="adam", lr=1e-2, betas=(0.5, 0.9))
    old_model = _model_with_gradients(0)
    old = torch.optim.Adam(old_model.parameters(), lr=1e-2, betas=(0.5, 0.9), foreach=True)
    _train(old_model, old, steps=5)
    # Copies, as a checkpoint holds them: state_dict() returns the live tensors.
    saved_weights, saved_state = copy.deepcopy(old_model.state_dict()), copy.deepcopy(old.state_dict())
    _train(old_model, old, steps=5, seed=4)  # the run that never stopped, continued with foreach

    new_model = _model_with_gradients(1)
    new_model.load_state_dict(saved_weights)
    new = build_optimizer(new_model.parameters(), settings)
    load_optimizer_state(new, saved_state)
    assert new.param_groups[0]["fused"] is True and not new.param_groups[0].get("foreach")
    _train(new_model, new, steps=5, seed=4)
    for a, b in zip(new_model.parameters(), old_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=OPTIMIZER_TOLERANCE)


class _RecordingCritic(nn.Module):
    """A per-sample critic that records the batch size of every forward."""

    def __init__(self, conditional: bool = False):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
        self.conditional = conditional
        self.calls: list[tuple[int, bool]] = []

    def forward(self, x, labels=None):
        self.calls.append((x.shape[0], labels is not None))
        shift = 0 if labels is None else labels.float().unsqueeze(1) * 0.1
        return self.body(x + shift).squeeze(1)


@pytest.mark.parametrize("conditional", [False, True])
def test_real_and_fake_share_one_forward_and_the_penalty_points_keep_their_own(conditional):
    torch.manual_seed(0)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    labels = torch.randint(0, 4, (16,)) if conditional else None
    losses = {}
    for fused in (True, False):
        torch.manual_seed(1)  # the same initial weights
        critic = _RecordingCritic(conditional)
        torch.manual_seed(2)  # the same interpolation weights
        objective = objective_class("wgan-gp")()
        loss, _ = objective.score_critic(critic, CriticBatch(real, fake, labels, labels), StepContext(join_critic_forwards=fused))
        grads = torch.autograd.grad(loss, list(critic.parameters()))
        losses[fused] = (loss.detach(), grads)
        expected = [(32, conditional), (16, conditional)] if fused else [(16, conditional)] * 3
        assert critic.calls == expected
    torch.testing.assert_close(losses[True][0], losses[False][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(losses[True][1], losses[False][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_parts_with_and_without_labels_are_not_joined():
    critic = _RecordingCritic()
    critic_scores(critic, [torch.randn(4, 2), torch.randn(4, 2)], [torch.zeros(4, dtype=torch.long), None], fused=True)
    assert critic.calls == [(4, True), (4, False)]


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_picks_bf16_only_where_it_is_native(monkeypatch, native):
    monkeypatch.setattr(precision_module, "native_bf16", lambda device: native)
    cpu = torch.device("cpu")
    assert precision_module.resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert precision_module.resolve_precision("fp32", cpu) == "fp32"
    assert precision_module.resolve_precision("bf16", cpu) == "bf16"  # an explicit choice is honoured
    note = precision_module.precision_note("auto", cpu)
    assert f"auto chose {'bf16' if native else 'fp32'}" in note


def test_emulated_bf16_is_honoured_with_a_warning_in_the_run_log(monkeypatch, tiny_toy_config):
    monkeypatch.setattr(precision_module, "native_bf16", lambda device: False)
    config = resolve(tiny_toy_config("wgan-gp-8gaussians", "train.precision=bf16"))
    lines: list[str] = []
    trainer = Trainer(config, load_data(config), progress=False, log=lines.append)
    assert trainer.precision == "bf16"
    assert any(line.startswith("warning: train.precision=bf16") and "fp32" in line for line in lines), lines


def test_auto_precision_on_hardware_without_bf16_trains_exactly_as_fp32(monkeypatch, tiny_toy_config):
    monkeypatch.setattr(precision_module, "native_bf16", lambda device: False)
    weights = {}
    for precision in ("fp32", "auto"):
        config = resolve(tiny_toy_config("wgan-gp-8gaussians", f"train.precision={precision}"))
        trainer = Trainer(config, load_data(config), progress=False, log=lambda _: None)
        for _ in range(3):
            trainer.train_step()
        weights[precision] = [p.detach().clone() for p in trainer.networks["generator"].parameters()]
    for a, b in zip(weights["fp32"], weights["auto"]):
        assert torch.equal(a, b)


def _digits_trainer(*extra: str) -> Trainer:
    from gankit.config import build_config

    config = resolve(build_config("wgan-gp-mnist", overrides=[
        "data.name=digits", "data.image_size=28", "model.base_channels=4", "train.batch_size=16",
        "train.tensorboard=false", "train.device=cpu", "eval.every=0", *extra,
    ]))
    return Trainer(config, load_data(config), progress=False, log=lambda _: None)


def test_channels_last_puts_convolution_weights_and_image_batches_in_nhwc_order():
    def second_conv_weight(trainer: Trainer) -> torch.Tensor:  # the first has one input channel: both layouts at once
        return [m for m in trainer.networks["critic"].modules() if isinstance(m, nn.Conv2d)][1].weight

    fast, plain = _digits_trainer(), _digits_trainer("train.channels_last=false")
    assert second_conv_weight(fast).is_contiguous(memory_format=torch.channels_last)
    assert not second_conv_weight(plain).is_contiguous(memory_format=torch.channels_last)
    assert fast._draw_real().samples.is_contiguous(memory_format=torch.channels_last)


def test_channels_last_leaves_mlp_networks_alone():
    trainer = _digits_trainer("model.arch=mlp")
    assert not trainer.channels_last  # image data, but no convolution to gain from NHWC
    assert all(p.is_contiguous() for p in trainer.networks["critic"].parameters())


# ------------------------------------------------------------------ matmul forms of convolutions

def _penalty_style_gradients(layer: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Output, input gradient (with its graph) and the double backward's parameter gradients: what a critic
    layer goes through in a gradient-penalty step."""
    x = x.detach().clone().requires_grad_(True)
    out = layer(x)
    (input_grad,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
    loss = out.sum() + input_grad.square().sum()
    return [out.detach(), input_grad.detach(), *torch.autograd.grad(loss, list(layer.parameters()))]


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv2d(8, 3, 4), (5, 8, 4, 4)),  # a DCGAN critic's head: kernel covers the input
    (lambda: nn.Conv2d(1, 6, 4, 2, 1), (5, 1, 12, 12)),  # a grey-image input layer
    (lambda: nn.Conv2d(1, 6, 3, 1, 1, bias=False), (5, 1, 7, 9)),
    (lambda: nn.ConvTranspose2d(8, 6, 4, 1, 0), (5, 8, 1, 1)),  # a generator's first layer on the latent
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_matmul_forms_compute_what_the_convolutions_compute(make, shape, channels_last):
    from gankit.models.fast_layers import FAST_LAYERS, use_fast_layers

    torch.manual_seed(0)
    plain = make()
    fast = copy.deepcopy(plain)
    x = torch.randn(shape)
    if channels_last:
        plain, fast = plain.to(memory_format=torch.channels_last), fast.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    holder = nn.Sequential(fast)
    assert use_fast_layers(holder) == 1 and type(holder[0]) in FAST_LAYERS
    assert holder.state_dict().keys() == nn.Sequential(plain).state_dict().keys()
    for ours, theirs in zip(_penalty_style_gradients(fast, x), _penalty_style_gradients(plain, x)):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_matmul_forms_fall_back_to_the_convolution_outside_their_shape():
    from gankit.models.fast_layers import DenseConv2d, DenseConvTranspose2d, use_fast_layers

    torch.manual_seed(0)
    conv, deconv = nn.Conv2d(4, 2, 3), nn.ConvTranspose2d(4, 2, 3)
    plain_conv, plain_deconv = copy.deepcopy(conv), copy.deepcopy(deconv)
    use_fast_layers(nn.Sequential(conv, deconv))
    assert (type(conv), type(deconv)) == (DenseConv2d, DenseConvTranspose2d)
    x = torch.randn(2, 4, 6, 6)  # bigger than the kernel / than 1 x 1: the convolution itself
    torch.testing.assert_close(conv(x), plain_conv(x))
    torch.testing.assert_close(deconv(x), plain_deconv(x))


def test_fast_layers_switch_the_dcgan_layers_that_are_matrix_products_and_back():
    from gankit.models import ModelConfig, build_critic, build_generator
    from gankit.models.fast_layers import FAST_LAYERS, use_fast_layers, use_plain_layers

    config = ModelConfig(arch="dcgan", latent_dim=16, base_channels=4, critic_norm="layer")
    critic, generator = build_critic(config, (1, 28, 28), 10), build_generator(config, (1, 28, 28), 10)
    # critic: the one-channel input layer and the head; generator: the layer on the 1 x 1 latent
    assert use_fast_layers(critic) == 2 and use_fast_layers(generator) == 1
    use_plain_layers(critic)
    assert not any(type(layer) in FAST_LAYERS for layer in critic.modules())
    colour = build_critic(config, (3, 32, 32), 10)
    assert use_fast_layers(colour) == 1  # only the head: three input channels are not unfolded


@pytest.mark.parametrize("lever", ["train.channels_last", "train.fast_layers"])
def test_switching_a_layout_lever_off_trains_to_the_same_numbers(lever):
    # Two generator steps (four critic steps) from the same weights and draws (the trainers draw from the
    # global RNG, so each is built and trained in turn). Other kernels sum in another order: the numbers
    # agree to float32 rounding, amplified a little by training.
    trained = {}
    for on in (True, False):
        trainer = _digits_trainer(f"{lever}={str(on).lower()}")
        for _ in range(2):
            trainer.train_step()
        trained[on] = trainer
    fast, plain = trained[True], trained[False]
    for key in ("critic_loss", "penalty", "generator_loss"):
        ours, theirs = torch.stack(fast._pending[key]), torch.stack(plain._pending[key])
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    for a, b in zip(fast.networks["generator"].parameters(), plain.networks["generator"].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
