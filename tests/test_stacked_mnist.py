"""Stacked MNIST (issue 17): three digits as R, G, B, 1,000 modes, counted channel by channel."""

import math

import numpy as np
import pytest
import torch

import gankit
from gankit.config import build_config
from gankit.data import STACKED_MODES, load_dataset, stacked_label
from gankit.errors import DataError, EvaluationError
from gankit.evaluation.context import EvalContext
from gankit.evaluation.features import STACKED_SPACE, choose_feature_space, classifier_extractor
from gankit.evaluation.metrics import stacked_modes
from gankit.evaluation.registry import select_metrics


@pytest.fixture(scope="module")
def stacked():
    return load_dataset("stacked-mnist")


def test_each_image_stacks_three_digits_whose_labels_make_its_mode(stacked):
    mnist = load_dataset("mnist")
    assert stacked.data.shape[1:] == (3, 28, 28) and stacked.data.dtype == torch.uint8
    assert stacked.num_classes == STACKED_MODES and len(stacked.labels.unique()) == STACKED_MODES
    flat = mnist.data[:, 0].flatten(1)
    for i in range(0, 50, 7):
        for channel, place in enumerate((100, 10, 1)):
            matches = (flat == stacked.data[i, channel].flatten()).all(1).nonzero().flatten()
            assert len(matches) >= 1  # the channel is one source digit, unchanged
            assert (stacked.labels[i] // place) % 10 in mnist.labels[matches]
    again = load_dataset("stacked-mnist")
    assert torch.equal(again.data[:100], stacked.data[:100])  # fixed data, not a draw per run


def test_stacked_mnist_refuses_one_channel():
    with pytest.raises(DataError, match="3 channels, not 1: drop data.channels"):
        load_dataset("stacked-mnist", channels=1)


def _stacked_images(classified_digits, triples):
    return torch.stack([torch.cat([classified_digits[d][i % len(classified_digits[d])] for d in triple])
                        for i, triple in enumerate(triples)])


def test_modes_and_kl_are_counted_channel_by_channel(classified_digits):
    # Half the samples on 123, 30% on 999, 20% on 047: 3 modes; KL to uniform worked out by hand.
    triples = [(1, 2, 3)] * 10 + [(9, 9, 9)] * 6 + [(0, 4, 7)] * 4
    fake = _stacked_images(classified_digits, triples)
    ctx = EvalContext(fake=fake, real=fake, kind="images", data_name="stacked-mnist", feature_space=STACKED_SPACE)
    result = stacked_modes(ctx)
    assert result["stacked_modes"] == 3
    expected_kl = sum(h * math.log(h * 1000) for h in (0.5, 0.3, 0.2))
    assert result["stacked_kl"] == pytest.approx(expected_kl, rel=1e-9)
    # The triple probabilities are a distribution whose argmax is the triple's number.
    probabilities = ctx.fake_probabilities
    assert probabilities.shape == (20, STACKED_MODES)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
    wanted = stacked_label(*(torch.tensor([t[c] for t in triples]) for c in range(3))).numpy()
    assert (probabilities.argmax(1) == wanted).all()
    assert ctx.fake_features.shape[1] == 3 * classifier_extractor().extract(fake[:1, :1])[0].shape[1]


def test_the_stacked_space_is_chosen_for_stacked_mnist_and_its_metric_refused_elsewhere():
    assert choose_feature_space("auto", 3, "stacked-mnist") == STACKED_SPACE
    assert choose_feature_space("auto", 1, "mnist") == "classifier"
    with pytest.raises(EvaluationError, match="needs 3-channel images"):
        choose_feature_space(STACKED_SPACE, 1, "mnist")
    grey = EvalContext(fake=torch.zeros(4, 1, 28, 28), real=torch.zeros(4, 1, 28, 28), kind="images",
                       data_name="mnist", feature_space="classifier")
    with pytest.raises(EvaluationError, match="it measures stacked-mnist runs"):
        select_metrics(grey, ["stacked_modes"])


def test_a_stacked_mnist_preset_trains_and_evaluates_its_modes(tmp_path):
    config = build_config("wgan-gp-stacked-mnist", overrides=[
        "model.base_channels=4", "train.batch_size=16", "train.steps=2", "train.log_every=1", "eval.every=2",
        "eval.samples=400", "train.sample_every=1000", "train.checkpoint_every=2", "train.tensorboard=false",
        "train.figure_every=0", "train.device=cpu",
    ])
    run = gankit.train(config, out=tmp_path, name="r", progress=False, log=lambda _: None)
    # 400: FD in the 384-d per-channel space needs 385 samples for a full-rank covariance.
    result = gankit.evaluate(run, metrics="stacked_modes,fd", samples=400, append=False)
    assert 1 <= result.values["stacked_modes"] <= 400
    assert result.values["stacked_kl"] >= math.log(1000 / 400) - 1e-9  # at most 400 modes hit by 400 samples
    assert math.isfinite(result.values["fd_classifier"])
