"""The training loop on real (tiny) runs: every objective learns, resume is exact."""

import json

import pytest
import torch
from conftest import TINY_TOY

import gankit
import gankit.api  # used as gankit.api.load_data: import it here, not by luck of test order
from gankit.config import build_config, preset_names, resolve
from gankit.errors import ConfigError, DataError, TrainingDiverged
from gankit.objectives import OBJECTIVES
from gankit.training.ema import GeneratorEMA
from gankit.training.sampler import DeviceBatchSampler
from gankit.training.schedule import wgan_schedule
from gankit.training.trainer import Trainer


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# The one-data-set objectives; the translation ones have their own tests (test_translation.py).
@pytest.mark.parametrize("objective", sorted(o for o, cls in OBJECTIVES.items() if cls.evaluates == "samples"))
def test_each_objective_trains_with_finite_losses_and_changing_parameters(objective, tiny_toy_config):
    preset = next(n for n in preset_names() if n.startswith(f"{objective}-") and n.endswith("-8gaussians")
                  and (objective != "gan" or n == "gan-8gaussians"))
    config = resolve(tiny_toy_config(preset, "train.steps=4"))
    dataset = gankit.api.load_data(config)
    trainer = Trainer(config, dataset, progress=False)
    before_g, before_c = snapshot(trainer.networks["generator"]), snapshot(trainer.networks["critic"])
    trainer.fit(4)
    assert trainer.step == 4
    for before, model in ((before_g, trainer.networks["generator"]), (before_c, trainer.networks["critic"])):
        after = model.state_dict()
        assert all(torch.isfinite(v).all() for v in after.values())
        assert any(not torch.equal(before[k], after[k]) for k in before)


def test_wgan_clipping_keeps_every_critic_weight_in_bounds(tiny_toy_config):
    config = resolve(tiny_toy_config("wgan-8gaussians", "train.steps=3", "objective.clip_value=0.02"))
    trainer = Trainer(config, gankit.api.load_data(config), progress=False)
    trainer.fit(3)
    values = torch.cat([p.flatten() for p in trainer.networks["critic"].parameters()])
    assert values.abs().max().item() <= 0.02 + 1e-7
    assert (values.abs() > 0.0199).any()  # some weights sit at the bound: clipping is active


def test_batch_norm_critic_is_refused_under_a_gradient_penalty(tiny_toy_config):
    config = resolve(tiny_toy_config("wgan-gp-8gaussians", "model.critic_norm=batch"))
    with pytest.raises(ConfigError, match="set model.critic_norm to layer"):
        Trainer(config, gankit.api.load_data(config), progress=False)


def test_a_batch_bigger_than_the_dataset_is_refused(tiny_toy_config):
    config = resolve(tiny_toy_config("wgan-gp-8gaussians", "data.toy_size=10", "train.batch_size=32"))
    with pytest.raises(DataError, match="larger than the dataset"):
        Trainer(config, gankit.api.load_data(config), progress=False)


def metrics_without_timing(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "steps_per_s")} for r in records]


def flat_tensors(tree, prefix=""):
    """Every tensor of a nested checkpoint part, by its dotted path."""
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in flat_tensors(value, f"{prefix}.{key}").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, value in enumerate(tree) for k, v in flat_tensors(value, f"{prefix}.{i}").items()}
    return {}


@pytest.mark.parametrize("preset, extra", [
    # These presets decay their rate linearly to train.steps, which this test changes on resume (3, then 7):
    # a schedule tied to the total is meant to follow it, so the resumed runs are compared at a constant rate.
    ("wgan-gp-8gaussians", ["train.ema_decay=0.9", "train.lr_schedule=constant"]),
    # An EMA of a batch-norm generator, whose statistics are re-estimated whenever it is used or saved.
    ("nsgan-8gaussians", ["train.ema_decay=0.9", "model.generator_norm=batch", "train.lr_schedule=constant"]),
    ("wgan-8gaussians", ["train.critic_schedule=wgan", "train.lr_schedule=constant"]),
    ("nsgan-8gaussians", ["train.lr_schedule=constant"]),
    # Issue 5's objectives, with the state they keep (EBGAN's adapted margin, BEGAN's k_t):
    ("ebgan-8gaussians", ["objective.margin_adaptation=true", "objective.adaptation_momentum=0.5"]),
    ("began-8gaussians", ["objective.lambda_k=0.1"]),
    ("loss-sensitive-8gaussians", ["train.lr_schedule=constant"]),
    ("infogan-8gaussians", ["train.lr_schedule=constant"]),
    ("cwgan-gp-8gaussians", ["train.lr_schedule=constant"]),
    # Issue 16's f-GAN: the reverse-KL activation, its gradient penalty on, the saddle-point generator loss.
    ("fgan-reverse-kl-8gaussians", ["objective.generator_loss=saddle", "train.lr_schedule=constant"]),
    # Issue 18's spectral norm on both sides (its u, v estimates are checkpointed), with an EMA of the SN generator.
    ("nsgan-8gaussians", ["model.critic_spectral_norm=true", "model.generator_spectral_norm=true",
                          "train.ema_decay=0.9", "train.lr_schedule=constant"]),
])
def test_resume_gives_the_same_numbers_as_a_run_that_never_stopped(tmp_path, preset, extra):
    overrides = TINY_TOY + ["train.checkpoint_every=3", "train.log_every=1", *extra]
    straight = gankit.train(build_config(preset, overrides=overrides + ["train.steps=7"]), out=tmp_path, name="straight", progress=False, log=lambda m: None)
    gankit.train(build_config(preset, overrides=overrides + ["train.steps=3"]), out=tmp_path, name="split", progress=False, log=lambda m: None)
    resumed = gankit.resume(tmp_path / "split", steps=7, progress=False, log=lambda m: None)
    assert resumed.step == straight.step == 7
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)
    for part in ("networks", "ema", "objective", "optimizers"):
        flat_a, flat_b = flat_tensors(a[part]), flat_tensors(b[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            assert torch.equal(flat_a[key], flat_b[key]), f"{part}.{key} differs after resume"
    assert metrics_without_timing(tmp_path / "straight") == metrics_without_timing(tmp_path / "split")


def test_divergence_stops_training_with_the_step_and_keeps_the_last_checkpoint(tmp_path):
    overrides = TINY_TOY + ["train.checkpoint_every=2", "train.log_every=1", "train.steps=2"]
    run = gankit.train(build_config("wgan-gp-8gaussians", overrides=overrides), out=tmp_path, name="r", progress=False, log=lambda m: None)
    good = (tmp_path / "r/checkpoints/last.pt").read_bytes()
    config = resolve(build_config("wgan-gp-8gaussians", overrides=overrides + ["train.steps=4"]))
    trainer = Trainer(config, gankit.api.load_data(config), run_dir=run.path, progress=False)
    trainer.load_state_dict(torch.load(tmp_path / "r/checkpoints/last.pt", weights_only=True))
    with torch.no_grad():
        next(trainer.networks["critic"].parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="generator step 3"):
        trainer.fit(4)
    assert (tmp_path / "r/checkpoints/last.pt").read_bytes() == good


def test_sampler_draws_each_row_once_per_epoch_and_resumes_identically():
    sampler = DeviceBatchSampler(10, 5, torch.device("cpu"), seed=3)
    epoch = torch.cat([sampler.next_indices(), sampler.next_indices()])
    assert sorted(epoch.tolist()) == list(range(10))
    state = sampler.state_dict()
    expected = [sampler.next_indices() for _ in range(3)]
    twin = DeviceBatchSampler(10, 5, torch.device("cpu"), seed=99)
    twin.load_state_dict(state)
    assert all(torch.equal(a, twin.next_indices()) for a in expected)


def test_ranks_take_disjoint_slices_of_the_same_global_batch():
    ranks = [DeviceBatchSampler(12, 6, torch.device("cpu"), seed=0, rank=r, world_size=2) for r in range(2)]
    single = DeviceBatchSampler(12, 6, torch.device("cpu"), seed=0)
    joined = torch.cat([s.next_indices() for s in ranks])
    assert torch.equal(joined, single.next_indices())


def test_original_wgan_schedule():
    steps = wgan_schedule(5)
    assert [steps(i) for i in (0, 24, 25, 499, 500, 501, 1000)] == [100, 100, 5, 5, 100, 5, 100]


def test_ema_is_the_exponential_average_of_the_weights():
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = GeneratorEMA(net, decay=0.9)
    for value in (1.0, 2.0):
        with torch.no_grad():
            net.weight.fill_(value)
        ema.update(net)
    # 0 -> 0.9*0 + 0.1*1 = 0.1 -> 0.9*0.1 + 0.1*2 = 0.29
    assert ema.model.weight.item() == pytest.approx(0.29)


def test_ema_batch_norm_statistics_are_those_of_the_averaged_weights():
    from gankit.training.ema import CALIBRATION_BATCH_SIZE, CALIBRATION_BATCHES

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    codes = [torch.randn(CALIBRATION_BATCH_SIZE, 2, generator=torch.Generator().manual_seed(i))
             for i in range(CALIBRATION_BATCHES)]
    ema = GeneratorEMA(net, decay=0.5, calibration_inputs=lambda i, n: (codes[i][:n], None))
    net.train()
    with torch.no_grad():
        net(torch.randn(64, 2) * 5 + 3)  # the training network's statistics: of other weights and inputs
        net[0].weight.mul_(3.0)
    ema.update(net)
    copied = ema.model[1].running_mean.clone()
    averaged = ema.averaged()
    # By hand: the exact mean over the calibration batches of the averaged linear layer's outputs, and the
    # mean of the batches' unbiased variances (batch norm's cumulative average).
    with torch.no_grad():
        outputs = [averaged[0](c) for c in codes]
    expected_mean = torch.stack([o.mean(0) for o in outputs]).mean(0)
    expected_var = torch.stack([o.var(0, unbiased=True) for o in outputs]).mean(0)
    assert torch.allclose(averaged[1].running_mean, expected_mean, atol=1e-6)
    assert torch.allclose(averaged[1].running_var, expected_var, atol=1e-6)
    assert not torch.allclose(copied, expected_mean, atol=1e-3)
    assert not averaged.training and averaged[1].momentum == 0.1
    # What a checkpoint saves is the calibrated network; a second use re-estimates nothing new.
    assert torch.allclose(ema.state_dict()["1.running_mean"], expected_mean, atol=1e-6)
    assert torch.equal(ema.averaged()[1].running_var, averaged[1].running_var)


def test_without_a_bar_the_loops_messages_go_to_the_runs_log_not_to_every_stream(tmp_path, capsys):
    # tqdm.write printed them bar or not: on every torchrun rank, and for callers that asked for quiet.
    config = build_config("wgan-gp-8gaussians", overrides=TINY_TOY + [
        "train.steps=4", "eval.every=4", "eval.samples=200", "eval.metrics=[modes]", "train.max_seconds=1e-9"])
    messages = []
    gankit.train(config, out=tmp_path, progress=False, log=messages.append)
    streams = capsys.readouterr()
    assert "eval at step" not in streams.out + streams.err
    assert any(m.startswith("eval at step 1:") for m in messages)  # the budget stopped it after one step
    assert "time budget of 1e-09 s reached at step 1" in messages


def test_train_threads_sets_pytorchs_cpu_threads_and_rejects_zero(tmp_path):
    before = torch.get_num_threads()
    try:
        config = build_config("wgan-gp-8gaussians", overrides=TINY_TOY + ["train.steps=1", "train.threads=1"])
        gankit.train(config, out=tmp_path, progress=False, log=lambda _: None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="train.threads must be >= 1"):
        resolve(build_config("wgan-gp-8gaussians", overrides=["train.threads=0"]))
