"""Issue 17's EBGAN and BEGAN repairs: energies in the papers' units, BEGAN's network (model.arch began),
k_t's direction with values by hand, MAGAN's pre-training, and the plateau learning-rate schedule.

Every number in an assertion is worked out by hand in the comment beside it.
"""

import pytest
import torch
from torch import nn

import gankit
from gankit.config import build_config, resolve
from gankit.errors import ConfigError
from gankit.losses import began_k_update, ebgan_critic_loss
from gankit.models import ModelConfig, build_critic, build_generator
from gankit.models.began import BEGANCritic, BEGANGenerator
from gankit.models.builders import _CRITICS
from gankit.models.heads import AutoEncoderCritic, AutoEncoderHead
from gankit.objectives import CRITIC_PHASE, GENERATOR_PHASE, RealBatch, StepContext, objective_class
from gankit.training.logging import read_metrics
from gankit.training.lr_schedule import PlateauSchedule

TOY = ModelConfig(arch="mlp", latent_dim=4, generator_widths=[16], critic_widths=[16], autoencoder_code_dim=3)


def make(name, **params):
    cls = objective_class(name)
    return cls(cls.Params(**params))


class ZeroDecoder(nn.Module):
    """A decoder that reconstructs every sample as zeros, so a sample's errors are its own values."""

    def forward(self, code, labels=None):
        return torch.zeros(code.shape[0], 2)


def critic_step(objective, real_energy, fake_energy, step=0):
    stats = objective.score_stats(torch.tensor([real_energy]), torch.tensor([fake_energy]))
    objective.after_step("critic", {"critic": nn.Linear(1, 1)}, stats, StepContext(step=step))


# ------------------------------------------------------------------ energy units


@pytest.mark.parametrize("distance, reduction, expected", [
    # x = (0.5, -1.0) against a reconstruction of zeros: |e| = (0.5, 1.0), e^2 = (0.25, 1.0).
    ("l1", "mean", 0.75), ("l1", "sum", 1.5), ("l2", "mean", 0.625), ("l2", "sum", 1.25),
])
def test_autoencoder_energy_is_the_per_value_mean_or_the_per_image_sum(distance, reduction, expected):
    critic = build_critic(TOY, (2,), head=AutoEncoderHead(distance, reduction))
    critic.decoder = ZeroDecoder()
    assert critic(torch.tensor([[0.5, -1.0]])).item() == pytest.approx(expected)


def test_the_objectives_ask_for_the_energy_their_params_name():
    assert make("began", energy="sum").critic_head() == AutoEncoderHead("l1", "sum")
    assert make("ebgan", energy="sum").critic_head() == AutoEncoderHead("l2", "sum")
    # The defaults keep the first units, so a config written before the parameter keeps its meaning.
    assert make("began").critic_head() == AutoEncoderHead("l1", "mean")
    assert make("ebgan").critic_head() == AutoEncoderHead("l2", "mean")


def test_a_bad_energy_unit_is_one_line_naming_the_key():
    with pytest.raises(ConfigError, match=r"objective\.energy must be mean .* or sum .*got 'norm'"):
        build_config("began-mnist", overrides=["objective.energy=norm"])
    with pytest.raises(ConfigError, match=r"objective\.pretrain_steps must be >= 0"):
        build_config("ebgan-mnist", overrides=["objective.pretrain_steps=-1"])


# ------------------------------------------------------------------ BEGAN's k_t in per-image units


def test_k_rises_when_fakes_are_reconstructed_better_than_gamma_times_real():
    # L(x) = 100, L(G(z)) = 60 (per-image sums): gamma L(x) = 75 > 60, k = 0 + 0.001 * 15 = 0.015.
    objective = make("began", gamma=0.75, lambda_k=0.001, energy="sum")
    critic_step(objective, 100.0, 60.0)
    assert objective.k.item() == pytest.approx(0.015)
    # The same images in per-value means (784 values each) would have moved k by 0.015 / 784 only.
    assert began_k_update(torch.tensor(0.0), torch.tensor(100 / 784), torch.tensor(60 / 784), 0.75, 0.001).item() == \
        pytest.approx(0.015 / 784)


def test_k_falls_when_fakes_are_reconstructed_worse_and_stays_in_the_unit_interval():
    objective = make("began", gamma=0.75, lambda_k=0.001, k_initial=0.5, energy="sum")
    # gamma L(x) = 75 < L(G(z)) = 90: k = 0.5 - 0.001 * 15 = 0.485.
    critic_step(objective, 100.0, 90.0)
    assert objective.k.item() == pytest.approx(0.485)
    # 0.485 - 0.001 * (200 - 75) = 0.36; then 0.36 - 0.001 * (1000 - 75) < 0: clipped to 0.
    critic_step(objective, 100.0, 200.0)
    assert objective.k.item() == pytest.approx(0.36)
    critic_step(objective, 100.0, 1000.0)
    assert objective.k.item() == 0.0
    # From 0.995: + 0.001 * (75 - 0) = 1.07, clipped to 1.
    objective.k.fill_(0.995)
    critic_step(objective, 100.0, 0.0)
    assert objective.k.item() == 1.0


# ------------------------------------------------------------------ EBGAN: units, margin, MAGAN's pre-training


def test_ebgan_hinge_in_per_image_units_by_hand():
    # Energies 150, 250 (mean 200); fakes 300, 500 against m = 400: max(0, 100) and 0, mean 50. 200 + 50.
    loss = ebgan_critic_loss(torch.tensor([150.0, 250.0]), torch.tensor([300.0, 500.0]), 400.0)
    assert loss.item() == pytest.approx(250.0)


class FailingGenerator(nn.Module):
    def forward(self, z, labels=None):
        raise AssertionError("pre-training must not run the generator")


class Energies(nn.Module):
    """A stand-in auto-encoder critic whose energy is a sample's first value."""

    def forward(self, x, labels=None):
        return x[:, 0]


def test_ebgan_pretraining_is_auto_encoder_steps_on_real_data_then_the_margin_starts_at_the_real_energy():
    objective = make("ebgan", margin=1.0, energy="sum", pretrain_steps=2, margin_adaptation=True,
                     adaptation_momentum=0.5)
    assert objective.phases(0, 3) == [CRITIC_PHASE] and objective.phases(1, 3) == [CRITIC_PHASE]
    assert objective.phases(2, 3) == [CRITIC_PHASE] * 3 + [GENERATOR_PHASE]
    nets = {"generator": FailingGenerator(), "critic": Energies()}
    batch = RealBatch.single(torch.tensor([[100.0, 0.0], [140.0, 0.0]]))
    loss, stats = objective.loss("critic", nets, batch, StepContext(step=0))
    assert loss.item() == pytest.approx(120.0)  # the mean real energy alone: no fake term, no hinge
    objective.after_step("critic", nets, stats, StepContext(step=0))
    assert objective.margin.item() == 1.0  # unchanged until the last pre-training step
    stats["energy_real"] = torch.tensor(80.0)
    objective.after_step("critic", nets, stats, StepContext(step=1))
    # Smoothed real energy: 120, then 0.5 * 120 + 0.5 * 80 = 100: the margin starts there.
    assert objective.margin.item() == pytest.approx(100.0)
    # After pre-training, MAGAN's rule: smoothed real (100 -> 0.5*100 + 0.5*60 = 80) below m, fake 300 above.
    stats = objective.score_stats(torch.tensor([60.0]), torch.tensor([300.0]))
    objective.after_step("critic", nets, stats, StepContext(step=2))
    assert objective.margin.item() == pytest.approx(80.0)


def test_ebgan_pretraining_in_a_tiny_run_logs_no_generator_step_and_resumes_exactly(tiny_toy_config, tmp_path):
    overrides = ["objective.energy=sum", "objective.pretrain_steps=3", "objective.margin=5.0",
                 "train.log_every=1", "train.checkpoint_every=2"]
    config = tiny_toy_config("ebgan-8gaussians", *overrides, "train.steps=6")
    gankit.train(config, out=tmp_path, name="straight", progress=False, log=lambda m: None)
    records = [r for r in read_metrics(tmp_path / "straight" / "metrics.jsonl") if "critic_loss" in r]
    assert [("generator_loss" in r) for r in records] == [False] * 3 + [True] * 3
    assert records[0]["margin"] == 5.0 and records[3]["margin"] != 5.0  # set from the real energy at step 3
    gankit.train(tiny_toy_config("ebgan-8gaussians", *overrides, "train.steps=2"), out=tmp_path, name="split",
                 progress=False, log=lambda m: None)
    gankit.resume(tmp_path / "split", steps=6, progress=False, log=lambda m: None)
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)
    for key in a["objective"]:  # the fake energy's running mean stays NaN: no adaptation in this preset
        assert torch.allclose(a["objective"][key], b["objective"][key], rtol=0, atol=0, equal_nan=True)
    assert a["objective"]["margin"].item() != 5.0


# ------------------------------------------------------------------ model.arch began


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("dcgan", (1, 28, 28)), ("began", (1, 28, 28))])
def test_a_one_wide_code_stays_a_column_and_reaches_the_decoder(arch, shape):
    # A critic's score is squeezed to [B]; an encoder's code of width 1 must stay [B, 1], or the decoder's
    # first linear layer reads a [B] vector (it crashed so for model.autoencoder_code_dim 1).
    cfg = ModelConfig(arch=arch, latent_dim=2, generator_widths=[8], critic_widths=[8], base_channels=4,
                      autoencoder_code_dim=1)
    critic = build_critic(cfg, shape, head=AutoEncoderHead("l1", "sum"))
    energy, code = critic.energy_and_code(torch.randn(3, *shape))
    assert energy.shape == (3,) and code.shape == (3, 1)
    assert build_critic(cfg, shape)(torch.randn(3, *shape)).shape == (3,)  # a plain critic still scores [B]


@pytest.mark.parametrize("arch", sorted(_CRITICS))
def test_every_critic_arch_scores_a_vector_and_encodes_a_one_wide_matrix(arch):
    # The registry of critic architectures, so that a new one cannot miss the score/code distinction.
    cfg = ModelConfig(arch=arch, latent_dim=2, generator_widths=[8], critic_widths=[8], base_channels=4)
    shape = (2,) if arch == "mlp" else (1, 28, 28)
    x = torch.randn(3, *shape)
    assert _CRITICS[arch](cfg, shape)(x).shape == (3,)
    assert _CRITICS[arch](cfg, shape, outputs=1)(x).shape == (3, 1)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("skip", [False, True])
def test_began_networks_build_at_each_size_with_a_linear_output_and_a_linear_bottleneck(shape, skip):
    cfg = ModelConfig(arch="began", latent_dim=5, base_channels=4, autoencoder_code_dim=6, began_skip=skip)
    generator = build_generator(cfg, shape)
    assert isinstance(generator, BEGANGenerator)
    x = generator(torch.randn(3, 5))
    assert x.shape == (3, *shape)
    critic = build_critic(cfg, shape, head=AutoEncoderHead("l1", "sum"))
    assert isinstance(critic, AutoEncoderCritic) and isinstance(critic.encoder, BEGANCritic)
    assert isinstance(critic.decoder, BEGANGenerator) and critic.decoder.latent_dim == 6
    energy, code = critic.energy_and_code(x)
    assert energy.shape == (3,) and code.shape == (3, 6)
    for module in (generator, critic):
        kinds = {type(m) for m in module.modules()}
        assert not kinds & {nn.BatchNorm2d, nn.Tanh, nn.GroupNorm}
    # The code is the encoder's last linear layer, with no activation after it; the output is a plain conv.
    assert isinstance(critic.encoder.head, nn.Linear) and isinstance(generator.out, nn.Conv2d)
    # Encoder blocks grow by n: the last block of a 3-block encoder has 3n channels on the s0 x s0 map.
    first_side = 7 if shape[1] == 28 else 8
    assert critic.encoder.feature_width == 3 * 4 * first_side**2


def test_began_generator_norm_batch_normalises_the_generator_blocks_but_not_the_critic_decoder():
    cfg = ModelConfig(arch="began", latent_dim=5, base_channels=4, autoencoder_code_dim=6, generator_norm="batch")
    generator = build_generator(cfg, (1, 28, 28))
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 2 * len(generator.blocks)  # after each of a block's two convs, none on the output
    generator.train()
    maps = generator.blocks[0][:2](generator.fc(torch.randn(8, 5)).reshape(8, 4, 7, 7))
    assert maps.mean(dim=(0, 2, 3)).abs().max() < 1e-5  # conv then batch norm: zero-mean channels in training
    critic = build_critic(cfg, (1, 28, 28), head=AutoEncoderHead("l1", "sum"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())  # critic_norm none: the decoder too


def test_began_critic_norm_reaches_the_encoder_after_its_first_conv_and_the_decoder_blocks():
    cfg = ModelConfig(arch="began", latent_dim=5, base_channels=4, autoencoder_code_dim=6, critic_norm="batch")
    critic = build_critic(cfg, (1, 28, 28), head=AutoEncoderHead("l1", "sum"))
    encoder_norms = [m for m in critic.encoder.modules() if isinstance(m, nn.BatchNorm2d)]
    # 28 px: the first conv, 3 blocks of two convs and 2 stride-2 convs = 9 convs; all but the first normalised.
    assert sum(isinstance(m, nn.Conv2d) for m in critic.encoder.modules()) == 9 and len(encoder_norms) == 8
    assert isinstance(critic.encoder.body[1], nn.ELU)  # the first conv goes straight to its ELU
    assert sum(isinstance(m, nn.BatchNorm2d) for m in critic.decoder.modules()) == 2 * len(critic.decoder.blocks)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in build_generator(cfg, (1, 28, 28)).modules())


def test_began_skip_connections_widen_the_blocks_after_an_upsampling():
    plain = BEGANGenerator(ModelConfig(arch="began", latent_dim=5, base_channels=4), (1, 28, 28))
    skip = BEGANGenerator(ModelConfig(arch="began", latent_dim=5, base_channels=4, began_skip=True), (1, 28, 28))
    # Two blocks after an upsampling read 2n = 8 channels instead of 4: 2 x (4 x 4 x 3 x 3) more weights.
    assert sum(p.numel() for p in skip.parameters()) - sum(p.numel() for p in plain.parameters()) == 2 * 4 * 4 * 9


def test_began_arch_refuses_points_in_one_line():
    with pytest.raises(ConfigError, match=r"model\.arch 'began' builds for square 28, 32 or 64 pixel images"):
        build_generator(ModelConfig(arch="began"), (2,))


# ------------------------------------------------------------------ train.lr_schedule plateau


def test_plateau_schedule_halves_after_patience_stalled_windows_down_to_its_floor():
    schedule = PlateauSchedule("convergence", every=2, patience=2, factor=0.5, floor=0.25, threshold=0.1)

    def window(step, *values):
        for value in values:
            schedule.observe({"convergence": torch.tensor(value), "k": torch.tensor(0.0)})
            schedule.observe({"generator_loss": torch.tensor(1.0)})  # phases without the statistic are skipped
        schedule.end_step(step - 1)  # not a window's end: nothing happens
        return schedule.end_step(step)

    assert not window(2, 10.0, 12.0)  # mean 11: the first window is the best so far
    assert not window(4, 9.0, 9.0)  # 9 < 11 - 1.1: progress, best 9
    assert not window(6, 8.5, 8.5)  # 8.5 > 9 - 0.9: stalled once
    assert window(8, 9.0, 9.0) and schedule.factor == 0.5  # stalled twice: halved
    # Mid-window state survives a round trip: the resumed schedule finishes the window alike.
    schedule.observe({"convergence": torch.tensor(9.0)})
    twin = PlateauSchedule("convergence", every=2, patience=2, factor=0.5, floor=0.25, threshold=0.1)
    twin.load_state_dict(schedule.state_dict())
    for s in (schedule, twin):
        s.observe({"convergence": torch.tensor(9.0)})
        s.end_step(10)
    assert (twin.factor, twin.stalled, twin.best) == (schedule.factor, schedule.stalled, schedule.best)
    assert schedule.stalled == 1
    assert window(12, 9.0, 9.0) and schedule.factor == 0.25
    assert not window(14, 9.0, 9.0) and not window(16, 9.0, 9.0) and schedule.factor == 0.25  # the floor


def test_plateau_schedule_names_an_unknown_statistic_in_one_line():
    schedule = PlateauSchedule("convergance", every=1, patience=1, factor=0.5, floor=0.25, threshold=0.0)
    schedule.observe({"convergence": torch.tensor(1.0)})
    with pytest.raises(ConfigError, match=r"train\.lr_plateau_stat 'convergance' is not a statistic .*convergence"):
        schedule.end_step(1)
    with pytest.raises(ConfigError, match=r"train\.lr_schedule plateau needs train\.lr_plateau_stat"):
        build_config("began-8gaussians", overrides=["train.lr_schedule=plateau"])


def test_plateau_schedule_lowers_the_rate_in_a_run_and_resumes_exactly(tiny_toy_config, tmp_path):
    # Threshold 0.99: a window must fall below 1% of the best to count, so every window after the first
    # stalls and, with patience 1, the factor halves at steps 4 and 6 (floor 0.25), read back as lr_factor.
    overrides = ["train.lr_schedule=plateau", "train.lr_plateau_stat=convergence", "train.lr_plateau_every=2",
                 "train.lr_plateau_patience=1", "train.lr_plateau_threshold=0.99", "train.lr_min_factor=0.25",
                 "objective.energy=sum", "train.log_every=1", "train.checkpoint_every=3"]
    gankit.train(tiny_toy_config("began-8gaussians", *overrides, "train.steps=7"), out=tmp_path, name="straight",
                 progress=False, log=lambda m: None)
    factors = [r["lr_factor"] for r in read_metrics(tmp_path / "straight" / "metrics.jsonl") if "lr_factor" in r]
    assert factors == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    gankit.train(tiny_toy_config("began-8gaussians", *overrides, "train.steps=3"), out=tmp_path, name="split",
                 progress=False, log=lambda m: None)
    gankit.resume(tmp_path / "split", steps=7, progress=False, log=lambda m: None)
    split = [r["lr_factor"] for r in read_metrics(tmp_path / "split" / "metrics.jsonl") if "lr_factor" in r]
    assert split == factors
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)
    assert a["lr_schedule"]["factor"] == b["lr_schedule"]["factor"] == 0.25
    assert torch.equal(a["lr_schedule"]["total"], b["lr_schedule"]["total"])
    assert torch.equal(a["objective"]["k"], b["objective"]["k"])
    base = resolve(tiny_toy_config("began-8gaussians", *overrides)).optim.critic.lr
    assert b["optimizers"]["critic"]["param_groups"][0]["lr"] == pytest.approx(0.25 * base)
