"""CycleGAN (issue 15): its losses by hand, the image pool, learning-rate decay, resume, two processes, bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import gankit
from gankit import losses
from gankit.cli import main
from gankit.config import build_config, resolve
from gankit.data import load_dataset
from gankit.objectives import CRITIC, GENERATOR, DomainBatch, RealBatch, StepContext
from gankit.objectives.translation import ImagePool
from gankit.training.lr_schedule import lr_factor
from gankit.training.trainer import Trainer

TOY = [
    "data.name=8gaussians:25gaussians", "data.toy_size=400", "model.arch=mlp", "model.generator_widths=[16,16]",
    "model.critic_widths=[16,16]", "model.generator_norm=none", "model.critic_norm=none", "train.batch_size=16",
    "train.log_every=1", "train.sample_every=1000", "train.checkpoint_every=3", "train.tensorboard=false",
    "train.device=cpu", "train.figure_every=0", "eval.every=0", "objective.pool_size=8",
]


def toy_config(*extra):
    return build_config("cyclegan-mnist-inverted", overrides=TOY + list(extra))


def test_cycle_consistency_loss_on_tf_gan_constants():
    x, x_rec = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), torch.tensor([[7.0, 8.0, 9.0], [10.0, 11.0, 12.0]])
    y, y_rec = torch.tensor([1.0, 9.0]), torch.tensor([-2.0, 3.0])
    assert losses.cycle_consistency_loss(x, x_rec, y, y_rec).item() == pytest.approx(5.25)
    assert losses.l1_reconstruction(y, y_rec).item() == pytest.approx(4.5)


def test_adversarial_terms_follow_the_reference():
    real, fake = torch.tensor([0.5, 1.5]), torch.tensor([0.2, -0.2])
    real_term, fake_term, generator_term = losses.ADVERSARIAL_TERMS["lsgan"]
    # MSE against 1 and 0; the critic takes half of their sum, the generator the full MSE against 1.
    assert real_term(real).item() == pytest.approx(0.25)
    assert fake_term(fake).item() == pytest.approx(0.04)
    assert generator_term(fake).item() == pytest.approx((0.64 + 1.44) / 2)


def test_the_pool_fills_then_swaps_half_the_time_and_survives_a_state_dict():
    torch.manual_seed(0)
    pool = ImagePool(4, (1,))
    first = torch.arange(4.0).unsqueeze(1)
    assert torch.equal(pool.query(first), first)  # filling: every image stored and returned
    assert int(pool.count) == 4 and torch.equal(pool.images, first)
    swapped = 0
    for i in range(200):
        image = torch.tensor([[100.0 + i]])
        returned = pool.query(image)
        swapped += int(returned.item() != image.item())
        assert int(pool.count) == 4
    assert 70 < swapped < 130  # about half, as the reference's p > 0.5
    twin = ImagePool(4, (1,))
    twin.load_state_dict(pool.state_dict())
    assert torch.equal(twin.images, pool.images) and int(twin.count) == 4


def test_the_pools_take_each_translation_once_whatever_n_critic():
    # Three steps of two critic phases each: the pools hold three batches, not six (each phase re-querying
    # them would push the same translations into the history twice).
    config = resolve(toy_config("train.n_critic=2", "objective.pool_size=500", "train.steps=3"))
    trainer = Trainer(config, load_dataset(config.data.name, toy_size=400), progress=False, log=lambda _: None)
    trainer.fit(3)
    batch = config.train.batch_size
    for pool in (trainer.objective.pool_a, trainer.objective.pool_b):
        assert int(pool.count) == 3 * batch
        # Every stored image is a distinct translation.
        assert len(torch.unique(pool.images[: 3 * batch].flatten(1), dim=0)) == 3 * batch


def test_a_pool_of_size_zero_passes_images_through():
    images = torch.randn(3, 2)
    assert torch.equal(ImagePool(0, (2,)).query(images), images)


def test_linear_decay_is_constant_then_reaches_zero_at_the_last_step():
    factors = [lr_factor("linear-decay", s, 10, 4, 1000, 0.5) for s in range(10)]
    assert factors[:5] == [1.0] * 5
    assert factors[-1] == 0.0
    assert all(a > b for a, b in zip(factors[4:], factors[5:]))
    assert lr_factor("step", 2500, 10_000, None, 1000, 0.5) == 0.25
    assert lr_factor("constant", 9, 10, None, 1000, 0.5) == 1.0


def test_cyclegan_resumes_bit_identically_mid_decay(tmp_path):
    from gankit.training.checkpoint import load_latest_checkpoint

    # The decay runs over train.steps = 6 from step 2; the split run stops at step 4, mid-decay.
    config = resolve(toy_config("train.lr_schedule=linear-decay", "train.lr_decay_start=2", "train.steps=6"))
    data = load_dataset(config.data.name, toy_size=400)
    quiet = dict(progress=False, log=lambda _: None)
    straight = Trainer(config, data, **quiet)
    straight.fit(6)
    first = Trainer(config, data, run_dir=tmp_path, **quiet)
    first.fit(4)
    assert first.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(2e-4 * 2 / 3)  # step 3 of 2..5
    resumed = Trainer(config, data, run_dir=tmp_path, **quiet)
    resumed.load_state_dict(load_latest_checkpoint(tmp_path / "checkpoints", warn=print))
    resumed.fit(6)
    a, b = straight.state_dict(), resumed.state_dict()
    for role in ("g_ab", "g_ba", "d_a", "d_b"):
        for key, value in a["networks"][role].items():
            assert torch.equal(value, b["networks"][role][key]), (role, key)
    for key, value in a["objective"].items():  # the two image pools
        assert torch.equal(value, b["objective"][key]), key
    assert straight.optimizers["generator"].param_groups[0]["lr"] == 0.0  # the last step trained at rate 0


def test_cyclegan_trains_all_four_networks_with_finite_losses(tmp_path):
    config = toy_config("train.steps=4")
    start = Trainer(resolve(config), load_dataset(config.data.name, toy_size=400), progress=False, log=lambda _: None)
    before = {role: {k: v.clone() for k, v in net.state_dict().items()} for role, net in start.networks.items()}
    run = gankit.train(config, out=tmp_path, name="r", progress=False, log=lambda _: None)
    assert set(run.networks) == {"g_ab", "g_ba", "d_a", "d_b"}
    for role, net in run.networks.items():  # the same seed built the same initial weights
        assert any(not torch.equal(before[role][k], v) for k, v in net.state_dict().items()), role
    records = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    for key in ("critic_loss", "generator_loss", "cycle_loss", "identity_loss", "critic_loss_a", "critic_loss_b"):
        assert all(np.isfinite(r[key]) for r in records if key in r), key
    assert (run.path / "samples" / "final.png").is_file() and (run.path / "report.html").is_file()


def _critic_gradients(penalty_weight):
    config = resolve(toy_config(f"objective.penalty_weight={penalty_weight}"))
    trainer = Trainer(config, load_dataset(config.data.name, toy_size=400), progress=False, log=lambda _: None)
    batch = trainer._draw_real()
    torch.manual_seed(3)
    trainer.objective.loss(GENERATOR, trainer.networks, batch, trainer.context)
    loss, stats = trainer.objective.loss(CRITIC, trainer.networks, batch, trainer.context)
    grads = {role: torch.autograd.grad(loss, list(trainer.networks[role].parameters())) for role in ("d_a", "d_b")}
    return grads, stats


def test_a_gradient_penalty_really_changes_both_critics_gradients():
    plain, plain_stats = _critic_gradients(0)
    penalised, stats = _critic_gradients(10)
    assert "penalty_a" not in plain_stats
    assert stats["penalty_a"] > 0 and stats["penalty_b"] > 0
    for role in ("d_a", "d_b"):
        assert any(not torch.allclose(a, b) for a, b in zip(plain[role], penalised[role])), role


def test_the_critic_phase_needs_the_generator_phase_of_its_batch():
    config = resolve(toy_config())
    trainer = Trainer(config, load_dataset(config.data.name, toy_size=400), progress=False, log=lambda _: None)
    fresh = RealBatch({k: DomainBatch(v.samples) for k, v in trainer._draw_real().domains.items()})
    with pytest.raises(ValueError, match="generator phase"):
        trainer.objective.loss(CRITIC, trainer.networks, fresh, StepContext())


def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "GANKIT_DIST_TIMEOUT": "60"}
    args = ["train", "--preset", "cyclegan-mnist-inverted", "--steps", "3", "--no-progress", "--out", str(tmp_path), *TOY]
    for name, launch in (("one", []), ("two", ["--nproc", "2"])):
        done = subprocess.run([sys.executable, "-m", "gankit", *args, "--name", name, *launch], env=env,
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
    one = torch.load(tmp_path / "one/checkpoints/last.pt", weights_only=True)
    two = torch.load(tmp_path / "two/checkpoints/last.pt", weights_only=True)
    worst = max((one["networks"][r][k] - two["networks"][r][k]).abs().max().item()
                for r in one["networks"] for k in one["networks"][r])
    assert worst < 1e-5
    # The pools hold the global batch's translations on every rank, as one process's pool does.
    for key, value in one["objective"].items():
        assert (value.float() - two["objective"][key].float()).abs().max().item() < 1e-5, key


@pytest.mark.parametrize("name, args, expected", [
    ("identity loss across channel counts", ["data.name=mnist:mnist-color"], ["identity_weight=0"]),
    ("one domain unknown", ["data.name=mnist:nothing"], ["'nothing'", "A:B"]),
    ("a folder domain that is empty", ["data.name={root}/empty:{root}/empty"], ["no image"]),
    ("horse2zebra not on this machine", ["data.name=horse2zebra", "--data-root", "{root}"],
     ["trainA/ trainB/ testA/ testB/", "nothing is downloaded"]),
    ("a latent objective on two domains", ["objective.name=wgan-gp", "model.arch=dcgan"], ["domains A, B", "cyclegan"]),
    ("translation networks for a latent GAN", ["data.name=mnist", "objective.name=wgan-gp"], ["maps one image domain"]),
])
def test_bad_translation_settings_are_one_line_exit_2(tmp_path, capsys, name, args, expected):
    (tmp_path / "empty").mkdir()
    args = [a.replace("{root}", str(tmp_path)) for a in args]
    code = main(["train", "--preset", "cyclegan-mnist-inverted", "--out", str(tmp_path / "runs"), "--steps", "1",
                 "--no-progress", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("gankit: error:")
    for text in expected:
        assert text in err
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_translate_refuses_wrong_shapes_and_runs_that_do_not_translate(tmp_path, capsys):
    run = gankit.train(resolve(build_config("cyclegan-mnist-inverted", overrides=[
        "model.base_channels=4", "model.resnet_blocks=1", "train.steps=1", "train.batch_size=4",
        "train.tensorboard=false", "train.device=cpu"])), out=tmp_path, name="c", progress=False, log=lambda _: None)
    images = np.zeros((3, 1, 28, 28), np.uint8)
    np.savez(tmp_path / "ok.npz", images=images)
    np.savez(tmp_path / "big.npz", images=np.zeros((3, 1, 32, 32), np.uint8))
    assert main(["translate", str(run.path), str(tmp_path / "ok.npz"), "-o", str(tmp_path / "out.npz"), "--no-progress"]) == 0
    with np.load(tmp_path / "out.npz") as out:
        assert out["images"].shape == (3, 1, 28, 28) and out["images"].dtype == np.uint8
    capsys.readouterr()
    assert main(["translate", str(run.path), str(tmp_path / "big.npz"), "-o", str(tmp_path / "x.npz")]) == 2
    assert "(1, 28, 28)" in capsys.readouterr().err
    toy = gankit.train(build_config("wgan-gp-8gaussians", overrides=["train.steps=1", "train.tensorboard=false",
                       "data.toy_size=256", "train.device=cpu", "eval.every=0", "train.figure_every=0"]),
                       out=tmp_path, name="toy", progress=False, log=lambda _: None)
    assert main(["translate", str(toy.path), str(tmp_path / "ok.npz"), "-o", str(tmp_path / "y.npz")]) == 2
    assert "not a translation run" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()
    # The other commands on a translation run: sample shows its held-out rows.
    assert main(["sample", str(run.path), "-o", str(tmp_path / "rows.png")]) == 0
    assert (tmp_path / "rows.png").is_file()
    capsys.readouterr()
    assert main(["sample", str(run.path), "--label", "3", "-o", str(tmp_path / "z.png")]) == 2
    capsys.readouterr()
    # diagnose reads both critics, each judging its own domain against the translations into it.
    assert main(["diagnose", str(run.path), "--points", "40"]) == 0
    out = capsys.readouterr().out
    assert "||grad D|| at d_a real" in out and "||grad D|| at d_b interpolates" in out
    figures = {p.name for p in (run.path / "diagnostics").iterdir()}
    assert {"critic_weights_d_a.png", "critic_weights_d_b.png", "gradient_norms_d_a.png", "gradient_norms_d_b.png"} <= figures
    from gankit.api import load_data, load_run
    from gankit.data.domains import domains_of
    from gankit.report.diagnose import _gradient_norms_at, diagnose

    result = diagnose(run.path, points=40)
    # d_a's generated samples are g_ba's translations of domain B (the seeded rows the page drew), not g_ab's.
    loaded = load_run(run.path)
    domains = domains_of(load_data(loaded.config))
    draw = torch.Generator().manual_seed(0)
    rows = {name: torch.randperm(len(domain), generator=draw)[:40] for name, domain in domains.items()}
    with torch.no_grad():
        into_a = loaded.networks["g_ba"](domains["B"].batch(rows["B"])[0].float()).float()
    expected = _gradient_norms_at(loaded.networks["d_a"].eval(), into_a, None).mean()
    assert result.gradient_norms["d_a generated"]["mean"] == pytest.approx(float(expected), rel=1e-5)
    assert result.gradient_norms["d_a real"] != result.gradient_norms["d_b real"]


def test_label_preservation_sees_through_a_consistent_permutation():
    from gankit.evaluation.translation_metrics import label_preservation

    source = np.array([0, 1, 2, 0, 1, 2])
    shifted = (source + 1) % 3  # every class mapped to the next: a consistent relabelling
    scores = label_preservation(shifted, source, classes=3)
    assert scores["label_preservation"] == 0.0
    assert scores["label_preservation_hungarian"] == 1.0 and scores["permutation_gap"] == 1.0
    half = label_preservation(np.array([0, 1, 2, 1, 1, 1]), source, classes=3)
    assert half["label_preservation"] == pytest.approx(4 / 6)


def test_cycle_ratio_and_transform_error_by_hand():
    from gankit.evaluation.translation_metrics import cycle_ratio, transform_error

    x = torch.randn(50, 1, 4, 4)
    assert cycle_ratio(x, x) == 0.0
    assert 0.5 < cycle_ratio(x, x[torch.randperm(50)]) < 1.5  # a random "reconstruction" is no better than a random pair
    error = transform_error(torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.2))
    assert error["transform_l1"] == pytest.approx(0.2)
    assert error["transform_psnr"] == pytest.approx(10 * np.log10(4 / 0.04))


def test_a_short_run_on_inverted_mnist_preserves_labels_far_above_chance(tmp_path):
    run = gankit.train(resolve(build_config("cyclegan-mnist-inverted", overrides=[
        "model.base_channels=8", "model.resnet_blocks=1", "train.steps=120", "train.batch_size=8",
        "train.tensorboard=false", "train.device=cpu", "train.sample_every=1000", "eval.every=120",
        "eval.metrics=[labels,cycle]", "eval.samples=200"])), out=tmp_path, name="c", progress=False,
        log=lambda _: None)
    record = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()][-1]
    assert record["eval/label_preservation_a2b"] > 0.3  # chance is 0.1; measured 0.53 at 120 steps
    assert record["eval/label_preservation_b2a"] > 0.3  # measured 0.50
    assert record["eval/cycle_ratio_a2b"] < 0.8


def _discogan_trainer(*extra):
    config = resolve(build_config("discogan-arc", overrides=[
        "data.toy_size=400", "model.generator_widths=[16]", "model.critic_widths=[16]", "train.batch_size=16",
        "train.tensorboard=false", "train.device=cpu", "eval.every=0", *extra]))
    return Trainer(config, load_dataset(config.data.name, toy_size=400), progress=False, log=lambda _: None)


def _generator_gradients(trainer):
    batch = trainer._draw_real()
    loss, stats = trainer.objective.loss(GENERATOR, trainer.networks, batch, trainer.context)
    roles = ("g_ab", "g_ba")
    grads = torch.autograd.grad(loss, [p for r in roles for p in trainer.networks[r].parameters()], allow_unused=True)
    return batch, stats, grads


@pytest.mark.parametrize("model, reconstructs, trains_g_ba, judges_a", [
    ("gan", False, False, False), ("recongan", True, True, False), ("discogan", True, True, True),
])
def test_discogans_trio_is_a_setting(model, reconstructs, trains_g_ba, judges_a):
    trainer = _discogan_trainer(f"objective.model={model}")
    batch, stats, grads = _generator_gradients(trainer)
    g_ba_grads = grads[len(list(trainer.networks["g_ab"].parameters())):]
    assert (stats["reconstruction_loss"].item() > 0) == reconstructs
    assert any(g is not None and g.abs().sum() > 0 for g in g_ba_grads) == trains_g_ba
    _, critic_stats = trainer.objective.loss(CRITIC, trainer.networks, batch, trainer.context)
    assert ("critic_loss_a" in critic_stats) == judges_a


def test_discogans_reconstruction_is_the_papers_mse_by_default():
    trainer = _discogan_trainer("objective.model=recongan")
    batch = trainer._draw_real()
    a = batch["A"].samples
    torch.manual_seed(0)
    _, stats = trainer.objective.loss(GENERATOR, trainer.networks, batch, trainer.context)
    nets = trainer.networks
    expected = (nets["g_ba"](nets["g_ab"](a)) - a).pow(2).mean()
    assert stats["reconstruction_loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_discogans_official_extras_change_the_step_as_documented():
    every_third = _discogan_trainer("objective.critic_every=3").objective
    assert [len(every_third.phases(step, 1)) for step in range(4)] == [2, 1, 1, 2]  # generator (+ critic)
    trainer = _discogan_trainer("objective.curriculum_steps=5")
    batch = trainer._draw_real()
    loss_early, stats = trainer.objective.loss(GENERATOR, trainer.networks, batch, trainer.context)
    expected = 0.99 * stats["adversarial_loss"] + 0.01 * stats["reconstruction_loss"]
    assert loss_early.item() == pytest.approx(expected.item(), rel=1e-5)
    plain = _discogan_trainer()
    matched = _discogan_trainer("objective.feature_matching=true")
    batch = plain._draw_real()
    loss_plain, _ = plain.objective.loss(GENERATOR, plain.networks, batch, plain.context)
    loss_matched, _ = matched.objective.loss(GENERATOR, matched.networks, batch, matched.context)
    assert loss_plain.item() != pytest.approx(loss_matched.item())


@pytest.mark.parametrize("side", [28, 64])
def test_translation_networks_keep_the_shape_at_28_and_64_pixels(side):
    from gankit.models import ModelConfig
    from gankit.models.translation import EncoderDecoderTranslator, PatchCritic, ResNetTranslator

    cfg = ModelConfig(arch="resnet", base_channels=4, resnet_blocks=1, critic_layers=2 if side == 28 else 3)
    x = torch.randn(2, 3, side, side)
    assert ResNetTranslator(cfg, (3, side, side), (1, side, side))(x).shape == (2, 1, side, side)
    assert EncoderDecoderTranslator(cfg, (3, side, side), (3, side, side))(x).shape == (2, 3, side, side)
    critic = PatchCritic(cfg, (3, side, side))
    scores = critic(x)
    assert scores.dim() == 2 and scores.shape[0] == 2 and scores.shape[1] > 1  # one score per patch
    assert critic.receptive_field == (34 if side == 28 else 70)


def test_the_reference_sized_networks_have_the_references_parameter_counts():
    from gankit.models import ModelConfig
    from gankit.models.translation import PatchCritic, ResNetTranslator

    cfg = ModelConfig(arch="resnet", base_channels=64, resnet_blocks=9, critic_layers=3)
    # pytorch-CycleGAN-and-pix2pix prints 11.378 M for resnet_9blocks and 2.765 M for the basic PatchGAN.
    assert sum(p.numel() for p in ResNetTranslator(cfg, (3, 256, 256), (3, 256, 256)).parameters()) == 11_378_179
    assert sum(p.numel() for p in PatchCritic(cfg, (3, 256, 256)).parameters()) == 2_764_737


def test_an_ablation_is_one_zoo_with_vary(tmp_path):
    from gankit.zoo import run_zoo

    settings = [s for s in TOY if not s.startswith(("train.log_every", "train.checkpoint_every"))]
    page = run_zoo(["cyclegan-8gaussians-25gaussians"], steps=2, out=tmp_path, overrides=settings,
                   progress=False, vary="objective.cycle=none,both")
    assert page.is_file()
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert names == ["cyclegan-8gaussians-25gaussians-cycle-both", "cyclegan-8gaussians-25gaussians-cycle-none"]
    for name, cycle in (("cycle-none", "none"), ("cycle-both", "both")):
        config = (tmp_path / f"cyclegan-8gaussians-25gaussians-{name}" / "config.yaml").read_text()
        assert f"cycle: {cycle}" in config
    with pytest.raises(gankit.GankitError, match="KEY=V1,V2"):
        run_zoo(["cyclegan-8gaussians-25gaussians"], steps=2, out=tmp_path / "x", vary="objective.cycle")


def test_the_shipped_digits_classifier_reads_the_digits_domain():
    from gankit.evaluation.classifier import DIGITS_WEIGHTS_PATH, load_mnist_classifier

    info = torch.load(DIGITS_WEIGHTS_PATH, weights_only=True)["info"]
    assert info["data"] == "digits" and info["holdout_accuracy"] > 0.95  # measured 0.977 on 300 held-out digits
    model = load_mnist_classifier(DIGITS_WEIGHTS_PATH)
    digits = load_dataset("digits", image_size=28)
    with torch.no_grad():
        _, logits = model(digits.data[:200].float() / 127.5 - 1)
    assert (logits.argmax(1) == digits.labels[:200]).float().mean() > 0.9
