"""BiGAN and ALI (issue 16): an encoder beside the generator, a critic of (x, z) pairs, swapped labels."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.cli import main
from gankit.config import build_config, resolve
from gankit.data import load_dataset
from gankit.objectives import CRITIC, GENERATOR
from gankit.training.trainer import Trainer

TOY = [
    "data.toy_size=512", "model.generator_widths=[16,16]", "model.critic_widths=[16,16]", "train.batch_size=32",
    "train.log_every=1", "train.sample_every=1000", "train.checkpoint_every=3", "train.tensorboard=false",
    "train.device=cpu", "eval.every=0", "train.figure_every=0",
]


def _trainer(preset="bigan-8gaussians", *extra):
    config = resolve(build_config(preset, overrides=TOY + list(extra)))
    return Trainer(config, load_dataset(config.data.name, toy_size=512), progress=False, log=lambda _: None)


@pytest.mark.parametrize("preset, distribution", [("bigan-8gaussians", "uniform"), ("ali-8gaussians", "normal")])
def test_the_encoder_is_on_the_generator_side_and_the_latent_follows_the_paper(preset, distribution):
    trainer = _trainer(preset)
    assert trainer.networks.sides == {GENERATOR: ("generator", "encoder"), CRITIC: ("critic",)}
    assert trainer.context.latent.distribution == distribution
    z = trainer.context.noise(1000)
    if distribution == "uniform":
        assert z.min() >= -1 and z.max() <= 1 and z.abs().mean() > 0.4
    encoder = trainer.networks["encoder"]
    x = trainer._draw_real().samples
    assert encoder(x).shape == (32, 2)


def test_alis_encoder_samples_in_training_and_returns_its_mean_in_eval():
    encoder = _trainer("ali-8gaussians").networks["encoder"]
    x = torch.randn(8, 2)
    assert not torch.equal(encoder(x), encoder(x))  # reparametrised draws
    encoder.eval()
    assert torch.equal(encoder(x), encoder(x)) and torch.equal(encoder(x), encoder.body(x).chunk(2, dim=1)[0])


def test_the_critic_tells_real_pairs_from_generated_ones_and_the_generator_side_swaps_the_labels():
    trainer = _trainer()
    nets, ctx = trainer.networks, trainer.context
    batch = trainer._draw_real()
    torch.manual_seed(5)
    loss, _ = trainer.objective.loss(CRITIC, nets, batch, ctx)
    torch.manual_seed(5)
    z = ctx.noise(len(batch))
    x = batch.samples
    real, fake = nets["critic"](x, nets["encoder"](x)), nets["critic"](nets["generator"](z), z)
    assert loss.item() == pytest.approx((F.softplus(-real).mean() + F.softplus(fake).mean()).item(), rel=1e-5)
    torch.manual_seed(5)
    swapped, _ = trainer.objective.loss(GENERATOR, nets, batch, ctx)
    assert swapped.item() == pytest.approx((F.softplus(-fake).mean() + F.softplus(real).mean()).item(), rel=1e-5)


def test_a_penalty_on_pairs_changes_the_critics_gradients():
    grads = {}
    for weight in (0, 10):
        trainer = _trainer("bigan-8gaussians", f"objective.penalty_weight={weight}")
        batch = trainer._draw_real()
        torch.manual_seed(1)
        loss, stats = trainer.objective.loss(CRITIC, trainer.networks, batch, trainer.context)
        grads[weight] = torch.autograd.grad(loss, list(trainer.networks["critic"].parameters()))
        assert ("penalty" in stats) == (weight > 0)
    assert any(not torch.allclose(a, b) for a, b in zip(grads[0], grads[10]))


@pytest.mark.parametrize("preset", ["bigan-8gaussians", "ali-8gaussians"])
def test_training_moves_generator_encoder_and_critic_and_resumes_bit_identically(preset, tmp_path):
    quiet = dict(progress=False, log=lambda _: None)
    start = _trainer(preset)
    before = {role: {k: v.clone() for k, v in net.state_dict().items()} for role, net in start.networks.items()}
    # A constant rate: the presets' linear decay follows train.steps, which differs (6, then 3 resumed to 6).
    toy = TOY + ["train.lr_schedule=constant"]
    straight = gankit.train(build_config(preset, overrides=toy + ["train.steps=6"]), out=tmp_path, name="a", **quiet)
    for role, net in straight.networks.items():
        assert any(not torch.equal(before[role][k], v) for k, v in net.state_dict().items()), role
    gankit.train(build_config(preset, overrides=toy + ["train.steps=3"]), out=tmp_path, name="b", **quiet)
    gankit.resume(tmp_path / "b", steps=6, **quiet)
    a = torch.load(tmp_path / "a/checkpoints/last.pt", weights_only=True)["networks"]
    b = torch.load(tmp_path / "b/checkpoints/last.pt", weights_only=True)["networks"]
    for role in a:
        for key, value in a[role].items():
            assert torch.equal(value, b[role][key]), (role, key)


def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "GANKIT_DIST_TIMEOUT": "60"}
    args = ["train", "--preset", "bigan-8gaussians", "--steps", "3", "--no-progress", "--out", str(tmp_path), *TOY]
    for name, launch in (("one", []), ("two", ["--nproc", "2"])):
        done = subprocess.run([sys.executable, "-m", "gankit", *args, "--name", name, *launch], env=env,
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
    one = torch.load(tmp_path / "one/checkpoints/last.pt", weights_only=True)["networks"]
    two = torch.load(tmp_path / "two/checkpoints/last.pt", weights_only=True)["networks"]
    assert max((one[r][k] - two[r][k]).abs().max().item() for r in one for k in one[r]) < 1e-5


@pytest.mark.parametrize("args, expected", [
    (["model.conditional=true"], ["no conditional form", "model.conditional=false"]),
    (["data.name=8gaussians:25gaussians"], ["one data set"]),
    (["objective.penalty_points=mixed"], ["real-fake for pairs"]),
])
def test_bad_bigan_settings_are_one_line_exit_2(tmp_path, capsys, args, expected):
    code = main(["train", "--preset", "bigan-8gaussians", "--out", str(tmp_path / "runs"), "--steps", "1",
                 "--no-progress", *TOY, *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err
    assert not (tmp_path / "runs").exists()


def test_encode_and_reconstruct_from_the_command_line(tmp_path, capsys):
    import numpy as np

    run = gankit.train(build_config("bigan-8gaussians", overrides=TOY + ["train.steps=2"]), out=tmp_path, name="b",
                       progress=False, log=lambda _: None)
    points = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    np.savez(tmp_path / "x.npz", points=points)
    assert main(["encode", str(run.path), str(tmp_path / "x.npz"), "-o", str(tmp_path / "z.npz")]) == 0
    with np.load(tmp_path / "z.npz") as out:
        codes = out["z"]
    assert codes.shape == (10, 2)
    encoder = gankit.load_run(run.path).networks["encoder"]
    assert np.allclose(codes, encoder(torch.from_numpy(points)).detach().numpy(), atol=1e-6)
    assert main(["reconstruct", str(run.path), str(tmp_path / "x.npz"), "-o", str(tmp_path / "r.npz")]) == 0
    with np.load(tmp_path / "r.npz") as out:
        assert out["points"].shape == (10, 2)
    capsys.readouterr()
    # encode on a run with no encoder, and encoder inputs of the wrong shape: one line, exit 2, nothing written.
    toy = gankit.train(build_config("wgan-gp-8gaussians", overrides=TOY + ["train.steps=1"]), out=tmp_path, name="w",
                       progress=False, log=lambda _: None)
    assert main(["encode", str(toy.path), str(tmp_path / "x.npz"), "-o", str(tmp_path / "no.npz")]) == 2
    assert "no encoder" in capsys.readouterr().err
    np.savez(tmp_path / "wide.npz", points=np.zeros((3, 5), np.float32))
    assert main(["encode", str(run.path), str(tmp_path / "wide.npz"), "-o", str(tmp_path / "no.npz")]) == 2
    assert "(2,)" in capsys.readouterr().err
    assert not (tmp_path / "no.npz").exists()


# ------------------------------------------------------------------ the encoding metric on constructed cases
class _Affine(torch.nn.Module):
    """x = A z + b, with its exact inverse as a second instance: a perfect encoder for a known generator."""

    def __init__(self, matrix, shift, inverse=False):
        super().__init__()
        self.matrix, self.shift, self.inverse = matrix, shift, inverse
        self.weight = torch.nn.Parameter(torch.zeros(1))  # parameters() must not be empty (the device is read off it)
        self.conditional = False

    def forward(self, x, labels=None):
        if self.inverse:
            return (x - self.shift) @ torch.linalg.inv(self.matrix).T
        return x @ self.matrix.T + self.shift


def _labelled_points(n=600):
    from gankit.data import Dataset

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 6.0]])
    return Dataset("clusters", "three far-apart clusters", "points", centres[labels] + 0.3 * torch.randn(n, 2, generator=g),
                   labels, 3)


def _encoding_values(encoder, generator, dataset):
    from gankit.evaluation.evaluator import Evaluator
    from gankit.sampling import LatentInput

    evaluator = Evaluator(dataset, metrics="encoding", samples=len(dataset), has_critic=False, has_encoder=True)
    return evaluator.evaluate(generator, LatentInput(2), None, encoder=encoder).values


def test_a_perfect_inverse_reconstructs_exactly_and_its_codes_classify_separable_clusters():
    matrix, shift = torch.tensor([[2.0, 0.5], [-0.3, 1.5]]), torch.tensor([0.2, -0.1])
    values = _encoding_values(_Affine(matrix, shift, inverse=True), _Affine(matrix, shift), _labelled_points())
    assert values["reconstruction_error"] < 1e-5 and values["latent_regression"] < 1e-5
    assert values["reconstruction_ratio"] < 1e-5 and values["latent_regression_ratio"] < 1e-5
    assert values["encoding_nn_accuracy"] == 1.0 and values["encoding_linear_accuracy"] == 1.0
    # EGr_b: mean distance of random held-out pairs; three clusters 8, 8 and 7.2 apart, two thirds of pairs cross.
    assert 4.0 < values["reconstruction_baseline"] < 7.0


def test_an_encoder_that_ignores_its_input_has_chance_accuracy_and_no_better_reconstruction_than_a_random_pair():
    matrix, shift = torch.eye(2), torch.zeros(2)

    class Constant(_Affine):
        def forward(self, x, labels=None):
            return torch.zeros(len(x), 2)

    dataset = _labelled_points()
    values = _encoding_values(Constant(matrix, shift), _Affine(matrix, shift), dataset)
    assert values["encoding_nn_accuracy"] < 0.5 and values["encoding_linear_accuracy"] < 0.5  # 3 classes: chance 1/3
    # G(E(x)) is one point for every x: on average as far from x as... the data's spread, no closer than a real pair.
    assert values["reconstruction_ratio"] > 0.5
    assert values["latent_regression"] == pytest.approx(
        float(torch.randn(100_000, 2, generator=torch.Generator().manual_seed(1)).norm(dim=1).mean()), rel=0.05)


def test_the_encoding_metric_is_refused_by_name_on_a_run_without_an_encoder():
    from gankit.errors import EvaluationError
    from gankit.evaluation.evaluator import Evaluator

    with pytest.raises(EvaluationError, match="needs an encoder"):
        Evaluator(_labelled_points(), metrics="encoding", has_critic=False)
    default = Evaluator(_labelled_points(), has_critic=False)
    assert "encoding" not in [m.name for m in default.metrics]


def test_an_image_bigan_draws_reconstructions_of_held_out_images_and_reports_the_encoding(tmp_path):
    from gankit.data import held_out_indices
    from gankit.objectives.base import GRID_ROW
    from gankit.objectives.inference import RECONSTRUCTION_ROWS

    small = ["model.generator_widths=[32]", "model.critic_widths=[32]", "model.latent_dim=8", "train.batch_size=16",
             "train.steps=2", "train.log_every=1", "train.sample_every=1000", "train.checkpoint_every=1000",
             "train.tensorboard=false", "train.figure_every=0", "eval.every=2", "eval.samples=200",
             "eval.metrics=[encoding]"]
    run = gankit.train(build_config("bigan-mnist", overrides=small), out=tmp_path, name="b", progress=False,
                       log=lambda _: None)
    trainer_inputs = torch.load(run.path / "checkpoints/last.pt", weights_only=True)["preview"]
    dataset = load_dataset("mnist")
    expected, _ = dataset.batch(held_out_indices(len(dataset), "images")[:RECONSTRUCTION_ROWS * GRID_ROW])
    assert torch.equal(trainer_inputs["held_out"], expected)
    grid = (run.path / "samples/reconstructions.png")
    assert grid.exists()
    from gankit.training.logging import read_metrics

    evals = [r for r in read_metrics(run.path / "metrics.jsonl") if "eval/reconstruction_ratio" in r]
    assert evals and 0 < evals[-1]["eval/reconstruction_ratio"] and 0 <= evals[-1]["eval/encoding_nn_accuracy"] <= 1
    assert "reconstructions.png" in (run.path / "report.html").read_text()


def test_zoo_compares_bigan_and_fgan_runs_with_their_own_metrics(tmp_path):
    from gankit.zoo import run_zoo

    page = run_zoo(["bigan-8gaussians", "fgan-reverse-kl-8gaussians"], steps=2, out=tmp_path / "zoo",
                   overrides=[*TOY, "eval.every=2", "eval.samples=300"], progress=False)
    text = page.read_text(encoding="utf-8")
    # Each objective's own numbers reach the table: BiGAN's encoding metric and f-GAN's bound.
    for expected in ("bigan-8gaussians", "fgan-reverse-kl-8gaussians", "encoding_nn_accuracy", "divergence_estimate"):
        assert expected in text, expected
