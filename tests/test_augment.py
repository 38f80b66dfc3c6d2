"""DiffAugment (train.augment): the policies' effects, seeding, gradients, eval mode, resume, refusals."""

import io

import pytest
import torch
from torch import nn

import gankit
import gankit.api
from gankit.config import build_config, resolve
from gankit.errors import ConfigError
from gankit.networks import build_objective
from gankit.training.augment import (
    DiffAugment,
    adjust_color,
    augmentation_problem,
    cutout,
    parse_policy,
    translate,
)
from gankit.training.trainer import Trainer

ALL = ("color", "translation", "cutout")
# The main job shrunk: 28-pixel sklearn digits, a 4-channel DCGAN, batches of 16.
TINY_IMAGES = ["data.name=digits", "data.image_size=28", "model.base_channels=4", "train.batch_size=16",
               "train.device=cpu", "train.tensorboard=false", "eval.every=0", "train.log_every=1",
               "train.sample_every=1000", "train.checkpoint_every=1000"]


def images(n=8, channels=3, size=32, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def tiny_trainer(*extra):
    config = resolve(build_config("wgan-gp-mnist", overrides=TINY_IMAGES + list(extra)))
    return Trainer(config, gankit.api.load_data(config), progress=False, log=lambda m: None)


# ---------------------------------------------------------------- policies, on constructed images


def test_policy_names_are_checked_and_applied_in_the_papers_order():
    assert parse_policy("") == ()
    assert parse_policy("cutout, translation") == ("translation", "cutout")
    assert parse_policy("translation,cutout,color") == ALL
    with pytest.raises(ConfigError, match=r"train.augment has unknown policy 'cutot' \(did you mean 'cutout'\?\)"):
        parse_policy("translation,cutot")
    with pytest.raises(ConfigError, match="train.augment"):
        build_config("wgan-gp-mnist", overrides=["train.augment=flip"])


def test_translation_moves_content_by_at_most_an_eighth_with_zero_padding():
    x = torch.ones(1, 1, 16, 16)
    moved = translate(x, torch.tensor([2]), torch.tensor([-1]))  # 2 rows down, 1 column left
    assert moved[0, 0, :2].abs().sum() == 0 and moved[0, 0, :, -1:].abs().sum() == 0
    assert moved[0, 0, 2:, :-1].eq(1).all()
    dot = torch.zeros(1, 1, 16, 16)
    dot[0, 0, 5, 7] = 1
    assert translate(dot, torch.tensor([-2]), torch.tensor([1]))[0, 0, 3, 8] == 1
    # Random shifts: a dot in the middle lands within 32 // 8 = 4 pixels, and every shift in range occurs.
    augment = DiffAugment(["translation"], seed=0, local_batch=512)
    dots = torch.zeros(512, 1, 32, 32)
    dots[:, 0, 16, 16] = 1
    where = augment(dots).flatten(1).argmax(1)
    rows, cols = where // 32 - 16, where % 32 - 16
    assert rows.abs().max() == 4 and cols.abs().max() == 4
    assert set(rows.tolist()) == set(range(-4, 5))


def test_cutout_zeroes_a_square_of_half_the_size():
    x = torch.ones(1, 1, 16, 16)
    cut = cutout(x, torch.tensor([8]), torch.tensor([8]))
    assert cut[0, 0, 4:12, 4:12].eq(0).all() and cut.eq(0).sum() == 64
    # At the border the square is clipped, never moved inside.
    assert cutout(x, torch.tensor([0]), torch.tensor([0])).eq(0).sum() == 16
    augment = DiffAugment(["cutout"], seed=1, local_batch=256)
    zeros = augment(torch.ones(256, 1, 32, 32)).eq(0)
    rows_hit, cols_hit = zeros.any(3).sum(2).squeeze(1), zeros.any(2).sum(2).squeeze(1)
    assert zeros.sum((1, 2, 3)).eq(rows_hit * cols_hit).all()  # a rectangle
    assert rows_hit.max() == 16 and cols_hit.max() == 16 and rows_hit.min() < 16  # half the size, clipped at edges


def test_color_changes_brightness_saturation_and_contrast_in_the_papers_ranges():
    pixel = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1).expand(1, 3, 2, 2).clone()
    one, zero = torch.ones(1), torch.zeros(1)
    assert torch.allclose(adjust_color(pixel, one * 0.1, one, one), pixel + 0.1)
    # Saturation scales each pixel's spread about its channel mean (0.4), contrast the image's spread.
    assert torch.allclose(adjust_color(pixel, zero, one * 2, one)[0, :, 0, 0], torch.tensor([0.0, 0.4, 0.8]))
    grey = torch.linspace(-1, 1, 4).view(1, 1, 2, 2)
    assert torch.allclose(adjust_color(grey, zero, one * 2, one), grey)  # no saturation on grey images
    assert torch.allclose(adjust_color(grey, zero, one, one * 0.5), grey * 0.5)  # the mean is 0
    brightness, saturation, contrast = DiffAugment(ALL, seed=0).color_parameters(2000)
    for values, low, high in ((brightness, -0.5, 0.5), (saturation, 0.0, 2.0), (contrast, 0.5, 1.5)):
        assert values.min() >= low and values.max() < high
        assert values.min() < low + 0.01 and values.max() > high - 0.01


# ---------------------------------------------------------------- randomness, gradients, memory order


def test_the_same_seed_augments_alike_and_another_seed_differently():
    x = images()
    assert torch.equal(DiffAugment(ALL, seed=3)(x), DiffAugment(ALL, seed=3)(x))
    assert not torch.equal(DiffAugment(ALL, seed=3)(x), DiffAugment(ALL, seed=4)(x))
    augment = DiffAugment(ALL, seed=3)
    assert not torch.equal(augment(x), augment(x))  # each call draws afresh


def test_a_global_batch_drawn_by_two_ranks_equals_one_process():
    # Rank r holds rows [4r, 4r + 4) of each part; a joined forward holds its real and generated slices.
    real, fake = images(n=8, seed=1), images(n=8, seed=2)
    joined_one = DiffAugment(ALL, seed=5, local_batch=8)(torch.cat([real, fake]))
    for rank in (0, 1):
        local = torch.cat([real[4 * rank:4 * rank + 4], fake[4 * rank:4 * rank + 4]])
        joined_rank = DiffAugment(ALL, seed=5, local_batch=4, shard=(rank, 2))(local)
        assert torch.equal(joined_rank[:4], joined_one[4 * rank:4 * rank + 4])
        assert torch.equal(joined_rank[4:], joined_one[8 + 4 * rank:8 + 4 * rank + 4])


def test_channels_last_batches_give_the_same_images_and_stay_channels_last():
    x = images(channels=1, size=28)
    nhwc = x.contiguous(memory_format=torch.channels_last)
    out = DiffAugment(ALL, seed=0)(nhwc)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, DiffAugment(ALL, seed=0)(x.contiguous()))
    assert DiffAugment(ALL, seed=0)(images(size=28)).is_contiguous()


def test_gradients_reach_the_generator_through_an_augmented_critic():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(8, 3 * 16 * 16), nn.Tanh(), nn.Unflatten(1, (3, 16, 16)))
    critic = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 256, 1))
    augment = DiffAugment(("translation", "cutout"), seed=0)  # color's means spread gradient to every pixel
    augment.install([critic])
    fake = generator(torch.randn(4, 8))
    fake.retain_grad()
    critic(fake).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())
    # Pixels the cutout or the shift removed get no gradient; the rest do.
    assert (fake.grad == 0).any() and (fake.grad != 0).any()


def test_the_hook_works_only_in_training_mode_and_adds_nothing_to_state_dicts():
    critic = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(1))
    x = images(n=4, size=16)
    critic(x)
    keys = list(critic.state_dict())
    plain = critic(x)
    DiffAugment(ALL, seed=0).install([critic])
    assert list(critic.state_dict()) == keys
    assert not torch.equal(critic(x), plain)
    critic.eval()
    assert torch.equal(critic(x), plain)


# ---------------------------------------------------------------- in the trainer


def test_evaluation_and_previews_never_see_augmented_images(monkeypatch):
    trainer = tiny_trainer("train.augment=translation,cutout,color", "eval.every=2", "eval.samples=64",
                           "eval.metrics=[critic_w]")
    calls = []
    original = DiffAugment.__call__
    monkeypatch.setattr(DiffAugment, "__call__", lambda self, x: calls.append(len(x)) or original(self, x))
    trainer.fit(1)
    assert calls  # the critic and generator phases augmented what the critic scored
    calls.clear()
    trainer.evaluator.evaluate(trainer.sampling_networks, trainer.step)
    trainer.objective.preview(trainer.sampling_networks, trainer.preview_inputs)
    assert calls == []
    assert trainer.networks["critic"].training  # the evaluation put the critic back in training mode


def test_resume_is_bit_identical_with_augmentation_on():
    # Trainer-level (the api's resume is tested in test_training.py): fit 4 steps, or 2, a checkpoint's
    # round trip through torch.save / weights_only load, and 2 more in a new trainer.
    extra = ("train.augment=translation,cutout,color",)
    straight = tiny_trainer(*extra)
    straight.fit(4)
    first = tiny_trainer(*extra)
    first.fit(2)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed = tiny_trainer(*extra)
    resumed.load_state_dict(state)
    resumed.fit(4)
    assert torch.equal(straight.augment.generator.get_state(), resumed.augment.generator.get_state())
    for role, module in straight.networks.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, resumed.networks[role].state_dict()[key]), f"{role}.{key} differs after resume"
    # A checkpoint from before train.augment existed has no augment state: it loads, augmentation from its seed.
    older = tiny_trainer(*extra)
    older.load_state_dict({k: v for k, v in state.items() if k != "augment"})
    assert older.step == 2


@pytest.mark.parametrize("preset", ["ebgan-mnist", "began-mnist", "infogan-mnist", "bigan-mnist",
                                    "cyclegan-mnist-inverted"])
def test_objectives_whose_critic_augmentation_would_be_wrong_are_refused(preset):
    objective = build_objective(build_config(preset))
    assert "train.augment" in augmentation_problem(objective, "images", "mnist")


def test_images_only_and_score_critics_are_accepted(tiny_toy_config):
    for preset in ("wgan-gp-mnist", "lsgan-mnist", "cgan-mnist", "fgan-kl-mnist", "loss-sensitive-mnist"):
        assert augmentation_problem(build_objective(build_config(preset)), "images", "mnist") is None, preset
    config = resolve(tiny_toy_config("wgan-gp-8gaussians", "train.augment=translation"))
    with pytest.raises(ConfigError, match="train.augment augments images.*is points"):
        Trainer(config, gankit.api.load_data(config), progress=False, log=lambda m: None)
