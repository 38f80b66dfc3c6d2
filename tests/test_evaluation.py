"""Evaluation: each statistic against closed forms and constructed cases, the shipped classifier, the CLI."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import TINY_TOY
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.data import load_dataset, toy_mixture
from gankit.data.dataset import KINDS
from gankit.errors import CheckpointError
from gankit.evaluation.classifier import HOLDOUT, SPLIT_SEED, load_mnist_classifier
from gankit.evaluation.feature_metrics import (
    frechet_distance,
    frechet_distance_of_features,
    inception_score,
    kernel_inception_distance,
    precision_recall_density_coverage,
)
from gankit.evaluation.features import classifier_extractor
from gankit.evaluation.registry import METRICS
from gankit.evaluation.toy_metrics import exact_wasserstein1, mode_statistics
from gankit.training.logging import read_metrics


def run_cli(*argv):
    return main([str(a) for a in argv])


# ------------------------------------------------------------------ Frechet distance


def test_frechet_distance_of_diagonal_gaussians_matches_the_closed_form():
    # For commuting covariances Tr((S1 S2)^1/2) = sum sqrt(a_i b_i), so
    # FD = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = 1.0 + 0.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_is_rotation_invariant_and_handles_singular_covariances():
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    a, b = np.array([1.0, 2.0, 0.0, 0.0]), np.array([3.0, 0.5, 0.0, 2.0])  # both singular
    s1, s2 = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T
    expected = float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    # sqrt of a zero eigenvalue that rounding left at ~1e-17 contributes ~1e-8
    assert frechet_distance(np.zeros(4), s1, np.zeros(4), s2) == pytest.approx(expected, abs=1e-7)


def test_frechet_distance_of_non_commuting_covariances_matches_the_matrix_square_root():
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = x @ x.T + np.eye(5), y @ y.T + np.eye(5)
    expected = np.trace(s1) + np.trace(s2) - 2 * np.real(np.trace(sqrtm(s1 @ s2)))
    assert frechet_distance(np.zeros(5), s1, np.zeros(5), s2) == pytest.approx(expected, rel=1e-8)


@pytest.fixture(scope="module")
def mnist_features():
    dataset = load_dataset("mnist-sample")
    images = dataset.batch(torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:2000])[0]
    return images, classifier_extractor()


def test_fd_of_real_against_real_is_about_zero_and_grows_with_noise(mnist_features):
    images, extractor = mnist_features
    half_a, half_b = images[:1000], images[1000:]
    reference, _ = extractor.extract(half_a)
    same, _ = extractor.extract(half_b)
    real_vs_real = frechet_distance_of_features(reference, same)
    generator = torch.Generator().manual_seed(0)
    noisy = [
        frechet_distance_of_features(
            reference, extractor.extract((half_b + sigma * torch.randn(half_b.shape, generator=generator)).clamp(-1, 1))[0]
        )
        for sigma in (0.2, 0.5, 1.0)
    ]
    # Two disjoint halves of the same digits: small against the features' total variance.
    assert real_vs_real < 0.02 * np.trace(np.cov(reference, rowvar=False))
    assert real_vs_real < noisy[0] < noisy[1] < noisy[2]


# ------------------------------------------------------------------ KID, IS, PRDC


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same, _ = kernel_inception_distance(x, y, subsets=5, subset_size=500)
    shifted, _ = kernel_inception_distance(x, y + 1.0, subsets=5, subset_size=500)
    assert abs(same) < 0.05 and shifted > 1.0


def test_inception_score_is_the_number_of_classes_for_confident_even_samples_and_one_for_a_single_class():
    even = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(even, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    single = np.eye(10)[np.zeros(1000, dtype=int)]
    assert inception_score(single, splits=1)[0] == pytest.approx(1.0, rel=1e-6)


def test_prdc_is_perfect_for_identical_sets_and_zero_for_far_apart_sets():
    points = np.random.default_rng(0).normal(size=(200, 4))
    same = precision_recall_density_coverage(points, points, k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = precision_recall_density_coverage(points, points + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_density_counts_real_balls_per_fake_point():
    # Reals on a line at 0..9: with k=1 each ball has radius 1. A fake at 4.5 lies in the balls of 4 and 5.
    real = np.arange(10, dtype=float)[:, None]
    fake = np.array([[4.5], [4.5]])
    result = precision_recall_density_coverage(real, fake, k=1)
    assert result["density"] == pytest.approx(2.0)
    assert result["coverage"] == pytest.approx(0.2)  # only the balls of 4 and 5 hold a fake
    assert result["precision"] == 1.0


# ------------------------------------------------------------------ toy metrics


def test_mode_metrics_count_all_modes_one_mode_and_no_mode_exactly():
    centres, std = toy_mixture("8gaussians")
    everywhere = centres.repeat(10, 1)  # 80 samples, 10 on each centre
    result = mode_statistics(everywhere, centres, std)
    assert result == {"modes_covered": 8, "high_quality": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}

    one_mode = centres[2].repeat(50, 1) + 2.9 * std  # 2.9 std along each axis: 4.1 std away, not high quality
    assert mode_statistics(one_mode, centres, std)["modes_covered"] == 0
    one_mode = centres[2].repeat(50, 1) + torch.tensor([2.9 * std, 0.0])
    result = mode_statistics(one_mode, centres, std)
    assert result["modes_covered"] == 1 and result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(8))

    far = torch.zeros(30, 2)  # the centre of the ring: far from every mode
    result = mode_statistics(far, centres, std)
    assert result["modes_covered"] == 0 and result["high_quality"] == 0.0 and math.isnan(result["reverse_kl"])


def test_mode_metrics_count_the_share_of_high_quality_samples():
    centres, std = toy_mixture("25gaussians")
    good = centres[:5]
    bad = torch.full((15, 2), 10.0)
    result = mode_statistics(torch.cat([good, bad]), centres, std)
    assert result["modes_covered"] == 5 and result["high_quality"] == pytest.approx(0.25)


@pytest.mark.parametrize("shift", [(0.3, 0.4), (-1.0, 0.0)])
def test_exact_w1_between_a_point_set_and_its_shift_is_the_shift_length(shift):
    points = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    shifted = points + torch.tensor(shift)
    assert exact_wasserstein1(points, shifted) == pytest.approx(math.hypot(*shift), rel=1e-6)


def test_exact_w1_handles_unequal_sizes():
    # All of x sits at 0, y is split between 1 and 3: the mean distance is 2.
    x = torch.zeros(4, 1)
    y = torch.tensor([[1.0], [3.0]])
    assert exact_wasserstein1(x, y) == pytest.approx(2.0)


# ------------------------------------------------------------------ the shipped classifier


def test_shipped_classifier_loads_safely_and_classifies_the_held_out_digits():
    model = load_mnist_classifier()
    dataset = load_dataset("mnist-sample")
    holdout = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SPLIT_SEED))[:HOLDOUT]
    images, labels = dataset.batch(holdout)
    with torch.no_grad():
        accuracy = (model(images)[1].argmax(1) == labels).float().mean().item()
    assert accuracy > 0.95


def test_corrupt_classifier_weights_are_a_clear_error(tmp_path):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="re-create them"):
        load_mnist_classifier(bad)


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    config = api.build_config("wgan-gp-8gaussians", overrides=TINY_TOY + ["train.steps=4"])
    return api.train(config, out=out, name="toy", progress=False, log=lambda _: None).path


def test_eval_cli_prints_json_and_appends_to_the_run_log(toy_run, capsys):
    before = len(read_metrics(toy_run / "metrics.jsonl"))
    assert run_cli("eval", toy_run, "--samples", 300, "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    for key in ("eval/modes_covered", "eval/high_quality", "eval/reverse_kl", "eval/w1", "eval/critic_w"):
        assert key in printed, key
    assert 0 <= printed["eval/modes_covered"] <= 8 and printed["eval/w1"] > 0
    records = read_metrics(toy_run / "metrics.jsonl")
    assert len(records) == before + 1 and records[-1]["eval/w1"] == printed["eval/w1"]


def test_eval_cli_table_names_each_metric(toy_run, capsys):
    assert run_cli("eval", toy_run / "checkpoints/last.pt", "--metrics", "w1", "--samples", 200, "--no-append") == 0
    out = capsys.readouterr().out
    assert "w1" in out and "modes_covered" not in out and "200 samples" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "fid"], "unknown metric 'fid' (did you mean 'fd'?)"),
        (["--metrics", "fd"], "needs images data"),
        (["--samples", "1"], "at least 2 samples"),
        (["--metrics", "w1", "--samples", "6000"], "limited to 5000"),
    ],
)
def test_eval_bad_input_is_one_line_and_exit_2(toy_run, capsys, args, message):
    before = (toy_run / "metrics.jsonl").read_bytes()
    assert run_cli("eval", toy_run, *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert (toy_run / "metrics.jsonl").read_bytes() == before


def test_missing_inception_weights_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))
    config = api.build_config("wgan-gp-digits", overrides=[
        "train.steps=1", "train.n_critic=1", "train.tensorboard=false", "train.device=cpu",
        "model.generator_widths=[16]", "model.critic_widths=[16]",
    ])
    run = api.train(config, out=tmp_path, name="digits", progress=False, log=lambda _: None).path
    assert run_cli("eval", run, "--features", "inception", "--metrics", "fd") == 2
    err = capsys.readouterr().err.strip()
    assert "Inception-v3 weights not found" in err and "--inception-weights" in err and err.count("\n") == 0
    assert run_cli("eval", run, "--inception-weights", tmp_path / "nope.pth", "--features", "inception") == 2


def test_image_eval_reports_class_coverage_with_the_classifier(tmp_path):
    config = api.build_config("wgan-gp-digits", overrides=[
        "train.steps=1", "train.n_critic=1", "train.tensorboard=false", "train.device=cpu",
        "model.generator_widths=[16]", "model.critic_widths=[16]",
    ])
    run = api.train(config, out=tmp_path, name="digits", progress=False, log=lambda _: None)
    result = api.evaluate(run, metrics=["classes", "fd"], samples=200, append=False)
    shares = [result.values[f"class_{k}"] for k in range(10)]
    assert sum(shares) == pytest.approx(1.0)
    assert result.values["classes_covered"] == sum(s >= 0.01 for s in shares)
    # The classifier FD has its own key, never "fd" or "fid" (issue 19).
    assert result.values["fd_classifier"] > 0 and result.feature_space == "mnist-classifier"
    assert "fd" not in result.values and "fid" not in result.values


def test_periodic_evaluation_logs_metrics_and_leaves_training_unchanged(tmp_path):
    def final_weights(name, *extra):
        config = api.build_config("wgan-gp-8gaussians", overrides=TINY_TOY + ["train.steps=6", *extra])
        run = api.train(config, out=tmp_path, name=name, progress=False, log=lambda _: None)
        return run.path, [p.detach().clone() for p in run.generator.parameters()]

    plain_path, plain = final_weights("plain", "eval.every=0")
    evaluated_path, evaluated = final_weights("evaluated", "eval.every=3", "eval.samples=200", "eval.metrics=[modes,w1,critic_w]")
    assert all(torch.equal(a, b) for a, b in zip(plain, evaluated))
    evals = [r for r in read_metrics(evaluated_path / "metrics.jsonl") if "eval/w1" in r]
    assert [r["step"] for r in evals] == [3, 6]
    assert not any("eval/w1" in r for r in read_metrics(plain_path / "metrics.jsonl"))
    figure = np.asarray(Image.open(evaluated_path / "critic_vs_exact_w1.png").convert("L"))
    assert figure.std() > 10  # drawn, not blank
    assert not (plain_path / "critic_vs_exact_w1.png").exists()


def test_every_registered_metric_has_a_description_and_a_data_kind():
    for metric in METRICS.values():
        assert metric.description and set(metric.kinds) <= set(KINDS)


def test_responsibility_modes_count_where_the_mass_goes_even_far_from_the_centres():
    from gankit.evaluation.toy_metrics import responsibility_modes

    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    near_two = torch.cat([torch.zeros(500, 2), torch.full((500, 2), 10.0)])
    assert responsibility_modes(near_two, centres, std=0.1) == 2
    # Samples 3 units off mode 0, far outside 3 std: no high-quality sample, but the mass still goes to mode 0.
    off = torch.tensor([[3.0, 0.0]]).repeat(1000, 1)
    assert responsibility_modes(off, centres, std=0.1) == 1
    assert mode_statistics(off, centres, 0.1)["modes_covered"] == 0
    # A mode given fewer than 1% of the samples does not count.
    few = torch.cat([torch.zeros(995, 2), torch.full((5, 2), 10.0)])
    assert responsibility_modes(few, centres, std=0.1) == 1
