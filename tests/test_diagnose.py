"""Issue 6's figures of a run: the 2-D critic contours and animation, and ``gankit diagnose``."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY_TOY
from PIL import Image

from gankit import api
from gankit.cli import main
from gankit.config import build_config


def train_tiny(out, preset, name, steps, *extra):
    config = build_config(preset, overrides=TINY_TOY + [f"train.steps={steps}", *extra])
    return api.train(config, out=out, name=name, progress=False, log=lambda message: None).path


def spread(path):
    """Pixel standard deviation: 0 for a blank picture."""
    return float(np.asarray(Image.open(path).convert("RGB"), dtype=float).std())


@pytest.fixture(scope="module")
def clipped(tmp_path_factory):
    # The paper's c = 0.01 (the preset uses 0.05): on these tiny layers it pins most weights to the edges.
    return train_tiny(tmp_path_factory.mktemp("w"), "wgan-8gaussians", "wgan", 8, "train.figure_every=4",
                      "objective.clip_value=0.01")


def test_two_d_runs_draw_critic_contours_at_each_figure_step_and_animate_them(clipped):
    frames = sorted((clipped / "contours").glob("step_*.png"))
    assert [f.name for f in frames] == ["step_00000004.png", "step_00000008.png"]
    assert all(spread(f) > 20 for f in frames)
    with Image.open(clipped / "training.gif") as gif:
        assert gif.n_frames == 2
        assert float(np.asarray(gif.convert("RGB"), dtype=float).std()) > 20


def test_figures_default_to_the_log_cadence_and_can_be_turned_off(tmp_path):
    run = train_tiny(tmp_path, "wgan-gp-8gaussians", "default", 4, "train.figure_every=null", "train.log_every=2")
    assert len(list((run / "contours").glob("*.png"))) == 2
    off = train_tiny(tmp_path, "wgan-gp-8gaussians", "off", 2)
    assert not (off / "contours").exists() and not (off / "training.gif").exists()


def test_layer_gradient_norms_are_logged_for_every_critic_layer_at_each_log_step(clipped):
    records = [json.loads(line) for line in (clipped / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8]  # TINY_TOY logs every 2 steps
    layers = records[0]["critic_layer_grad_norms"]
    assert list(layers) == ["hidden.0.weight", "hidden.2.weight", "output.weight"]
    assert all(value > 0 for r in records for value in r["critic_layer_grad_norms"].values())


def test_diagnose_shows_clipped_weights_piled_at_plus_minus_c(clipped, capsys):
    assert main(["diagnose", str(clipped), "--points", "200"]) == 0
    out = capsys.readouterr().out
    assert "within 1% of +-c (c = 0.01)" in out
    from gankit.report.diagnose import diagnose

    result = diagnose(clipped, points=200)
    # PyTorch's default init puts these weights far beyond 0.01: clipping pins most of them to the edges.
    assert result.clip_value == 0.01
    assert set(result.share_at_clip) == {"hidden.0.weight", "hidden.2.weight", "output.weight"}
    assert all(share > 0.5 for share in result.share_at_clip.values())
    assert [p.name for p in result.figures] == ["layer_grad_norms.png", "critic_weights.png", "gradient_norms.png"]
    assert all(spread(p) > 10 for p in result.figures)
    assert result.page.name == "diagnose.html" and "data:image/png;base64" in result.page.read_text()
    # A critic clipped to 0.01 in three layers is far flatter than 1-Lipschitz.
    assert result.gradient_norms["interpolates"]["share_above_1"] == 0.0


def test_diagnose_of_a_penalised_critic_reports_no_clipping(tmp_path):
    from gankit.report.diagnose import diagnose

    run = train_tiny(tmp_path, "wgan-gp-8gaussians", "gp", 4)
    result = diagnose(run, points=100)
    assert result.clip_value is None and result.share_at_clip == {}
    assert set(result.gradient_norms) == {"real", "generated", "interpolates"}
    # The interpolates come from the penalty's own function on a seeded RNG: the same seed gives the
    # same numbers whatever the global RNG holds, another seed other interpolates.
    torch.manual_seed(123)
    assert diagnose(run, points=100).gradient_norms == result.gradient_norms
    other = diagnose(run, points=100, seed=1).gradient_norms
    assert other["interpolates"] != result.gradient_norms["interpolates"]


def test_diagnose_measures_gradient_norms_with_the_penalty_functions():
    from gankit.objectives.penalties import real_fake_interpolates
    from gankit.report.diagnose import _gradient_norms_at, _interpolates

    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        expected = real_fake_interpolates(real, fake)
    before = torch.get_rng_state()
    between = _interpolates(real, fake, seed=7)
    assert torch.equal(between, expected)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is left where it was
    # Every interpolate lies on its real-fake segment: (x - fake) is parallel to (real - fake).
    t = ((between - fake) * (real - fake)).sum(1) / (real - fake).pow(2).sum(1)
    assert torch.allclose(fake + t[:, None] * (real - fake), between, atol=1e-5) and (t >= 0).all() and (t <= 1).all()

    # A linear critic x -> w.x has gradient norm |w| everywhere.
    linear = torch.nn.Linear(2, 1)
    norms = _gradient_norms_at(lambda x, labels: linear(x).squeeze(1), between, None)
    assert np.allclose(norms, linear.weight.norm().item(), rtol=1e-5)
