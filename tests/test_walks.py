"""Latent walks: the ends of each walk are the samples of its two latent points; slerp by hand."""

import math

import torch
from conftest import TINY_TOY

import gankit
from gankit.config import build_config
from gankit.walks import latent_walk, slerp


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


def test_class_morph_ends_are_the_two_classes_samples_at_one_fixed_z(tmp_path):
    from gankit.walks import class_morph

    config = build_config("wgan-gp-8gaussians", overrides=TINY_TOY + ["train.steps=2", "model.conditional=true"])
    run = gankit.load_run(gankit.train(config, out=tmp_path, progress=False, log=quiet).path)
    classes = run.num_classes
    walk = class_morph(run, steps=4, pairs=3, seed=5)
    rows = walk.grid()
    start = torch.arange(3) % classes
    # The same seeded z per row: t = 0 is class k's sample, t = 1 is class k+1's.
    torch.testing.assert_close(rows[:, 0], run.sample(3, seed=5, labels=start), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rows[:, -1], run.sample(3, seed=5, labels=(start + 1) % classes), atol=1e-5, rtol=1e-5)
    # Every step of a row is drawn from its one z: the inputs repeat down the row.
    inputs = walk.inputs.view(3, 4, -1)
    assert torch.equal(inputs, inputs[:, :1].expand_as(inputs))
    assert not torch.allclose(rows[:, 1], rows[:, 0])


def test_code_sweep_moves_only_the_swept_code(tmp_path):
    from gankit.walks import code_sweep

    config = build_config("infogan-8gaussians", overrides=TINY_TOY + ["train.steps=2", "objective.continuous=2",
                                                                   "model.latent_dim=12"])
    run = gankit.load_run(gankit.train(config, out=tmp_path, progress=False, log=quiet).path)
    codes = run.generator.codes
    free_width = run.latent.dim - codes.width
    z = run.latent.draw(3, torch.device("cpu"), seed=4)
    free, _, _ = codes.split(z)

    # The categories in turn: one column per category, the rest of each row's input held.
    walk = code_sweep(run, pairs=3, seed=4, code="category")
    assert walk.steps == codes.categories
    inputs = walk.inputs.view(3, codes.categories, -1)
    torch.testing.assert_close(inputs[:, :, :free_width], free[:, None].expand(3, codes.categories, free_width))
    one_hot = inputs[:, :, free_width:free_width + codes.categories]
    assert torch.equal(one_hot, torch.eye(codes.categories).expand(3, -1, -1))
    continuous = inputs[:, :, free_width + codes.categories:]
    assert torch.equal(continuous, continuous[:, :1].expand_as(continuous))

    # Continuous code 1 from -2 to 2; code 0 and the category stay as drawn.
    walk = code_sweep(run, steps=5, pairs=3, seed=4, code=1)
    inputs = walk.inputs.view(3, 5, -1)
    swept = inputs[:, :, -1]
    torch.testing.assert_close(swept, torch.linspace(-2, 2, 5).expand(3, 5))
    held = inputs[:, :, :-1]
    assert torch.equal(held, held[:, :1].expand_as(held))
    # The images are the inner generator's on those inputs, and the sweep changes them.
    with torch.no_grad():
        run.generator.eval()
        expected = run.generator.generator(walk.inputs, None)
    torch.testing.assert_close(walk.samples, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(walk.grid()[:, 0], walk.grid()[:, -1])
