"""Latent walks: the ends of each walk are the samples of its two latent points; slerp by hand."""

import math

import torch

import gankit
from gankit.config import build_config
from gankit.walks import latent_walk, slerp

from conftest import TINY_TOY


def quiet(*_):
    pass


def test_walk_ends_are_the_samples_of_its_two_points_and_slerp_keeps_the_norm_path(tmp_path):
    config = build_config("wgan-gp-8gaussians", overrides=TINY_TOY + ["train.steps=2"])
    run = gankit.load_run(gankit.train(config, out=tmp_path, progress=False, log=quiet).path)
    walk = latent_walk(run, steps=5, pairs=3, seed=7)
    points = run.sample(6, seed=7)  # the same seeded draw: point 2i starts row i, point 2i+1 ends it
    rows = walk.grid()
    assert rows.shape[:2] == (3, 5)
    torch.testing.assert_close(rows[:, 0], points[0::2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rows[:, -1], points[1::2], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(rows[:, 2], points[0::2])  # the middle is somewhere else


def test_slerp_between_orthogonal_unit_vectors_by_hand():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    middle = slerp(a, b, torch.tensor([0.5]))
    torch.testing.assert_close(middle, torch.tensor([[1 / math.sqrt(2), 1 / math.sqrt(2)]]))
