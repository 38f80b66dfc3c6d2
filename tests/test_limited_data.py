"""data.subset: a seeded, class-stratified subset of the training data; evaluation keeps the full set."""

import pytest
import torch

import gankit.api
from gankit.config import build_config, resolve
from gankit.data import load_dataset
from gankit.data.subset import class_quotas, limit_data
from gankit.errors import ConfigError, DataError
from gankit.training.trainer import Trainer


@pytest.fixture(scope="module")
def mnist_sample():
    return load_dataset("mnist-sample")


@pytest.mark.parametrize("n", [500, 50])
def test_the_subset_has_n_samples_in_each_class_share(mnist_sample, n):
    subset = limit_data(mnist_sample, n, seed=0)
    assert len(subset) == len(subset.labels) == n
    full_counts = torch.bincount(mnist_sample.labels, minlength=10).double()
    counts = torch.bincount(subset.labels, minlength=10).double()
    assert (counts - full_counts * n / len(mnist_sample)).abs().max() < 1  # each class its share, rounded
    assert counts.min() > 0
    # Real rows of the data, each once.
    rows = {bytes(image.flatten().tolist()) for image in mnist_sample.data}
    assert all(bytes(image.flatten().tolist()) in rows for image in subset.data)
    assert len({bytes(image.flatten().tolist()) for image in subset.data}) >= n - 2  # the sample has a few twins


def test_quotas_add_up_by_largest_remainder():
    assert class_quotas(torch.tensor([5, 3, 2]), 5).tolist() == [3, 1, 1]  # 2.5, 1.5, 1.0
    assert class_quotas(torch.tensor([1, 1, 1]), 2).sum() == 2
    assert class_quotas(torch.tensor([7, 0, 3]), 10).tolist() == [7, 0, 3]


def test_the_subset_follows_its_own_seed_not_the_training_seed():
    def trainer(*extra):
        config = resolve(build_config("wgan-gp-mnist", overrides=[
            "data.name=digits", "data.image_size=28", "model.arch=mlp", "model.generator_widths=[16]",
            "model.critic_widths=[16]", "train.batch_size=16", "train.device=cpu", "data.subset=100",
            "eval.every=10", "eval.metrics=[critic_w]", *extra]))
        return Trainer(config, gankit.api.load_data(config), progress=False, log=lambda m: None)

    a, b, other = trainer("train.seed=0"), trainer("train.seed=7"), trainer("data.subset_seed=1")
    assert len(a.dataset) == 100
    assert torch.equal(a.dataset.data, b.dataset.data) and torch.equal(a.dataset.labels, b.dataset.labels)
    assert not torch.equal(a.dataset.data, other.dataset.data)
    # The evaluation's real reference is the whole set, not the 100 training images.
    assert len(a.reference_data) == 1797
    assert len(a.evaluator.evaluator.real) == 1797


def test_bad_subsets_are_refused_with_the_key(mnist_sample):
    with pytest.raises(ConfigError, match="data.subset must be >= 1"):
        build_config("wgan-gp-mnist", overrides=["data.subset=0"])
    with pytest.raises(DataError, match="data.subset 6000 is larger than the data .5,000 samples"):
        limit_data(mnist_sample, 6000)
    assert limit_data(mnist_sample, None) is mnist_sample
    pair = load_dataset("8gaussians:25gaussians", toy_size=64)
    with pytest.raises(ConfigError, match="data.subset keeps part of one data set"):
        limit_data(pair, 10)
