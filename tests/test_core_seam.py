"""The core's seam: a GAN with two generators and two critics trains, checkpoints, resumes bit-identically
and runs under two processes with no line in training/ that knows it (tests/cycle_toy.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cycle_toy import registered, toy_config, two_mixtures

from gankit.objectives import CRITIC, GENERATOR
from gankit.training.checkpoint import load_latest_checkpoint
from gankit.training.trainer import Trainer

HERE = Path(__file__).parent


def _trainer(run_dir=None, **kwargs):
    return Trainer(toy_config(), two_mixtures(), run_dir=run_dir, progress=False, log=lambda _: None, **kwargs)


def _flat(state):
    return {f"{role}.{k}": v for role, part in state["networks"].items() for k, v in part.items()}


def test_a_two_generator_two_critic_objective_trains_every_network_and_learns_the_cycle():
    with registered():
        trainer = _trainer()
        assert trainer.networks.sides == {GENERATOR: ("g_ab", "g_ba"), CRITIC: ("d_a", "d_b")}
        # One optimiser per side, over all of that side's networks.
        for side, roles in trainer.networks.sides.items():
            stepped = {id(p) for group in trainer.optimizers[side].param_groups for p in group["params"]}
            assert stepped == {id(p) for role in roles for p in trainer.networks[role].parameters()}
        before = {k: v.clone() for k, v in _flat(trainer.state_dict()).items()}
        trainer.train_step()
        first_cycle = trainer._pending["cycle_loss"][0].item()
        for _ in range(199):
            trainer.train_step()
        last_cycle = torch.stack(trainer._pending["cycle_loss"][-20:]).mean().item()
        after = _flat(trainer.state_dict())
    changed = {key.split(".")[0] for key in before if not torch.equal(before[key], after[key])}
    assert changed == {"g_ab", "g_ba", "d_a", "d_b"}
    assert last_cycle < 0.5 * first_cycle, (first_cycle, last_cycle)
    assert trainer.objective.mean_cycle_error.item() > 0  # objective state moved


def test_it_checkpoints_and_resumes_bit_identically(tmp_path):
    with registered():
        straight = _trainer()
        straight.fit(6)
        first = _trainer(run_dir=tmp_path)
        first.fit(3)  # the last step writes a checkpoint
        resumed = _trainer(run_dir=tmp_path)
        resumed.load_state_dict(load_latest_checkpoint(tmp_path / "checkpoints", warn=print))
        assert resumed.step == 3
        resumed.fit(6)
    a, b = straight.state_dict(), resumed.state_dict()
    for key, value in _flat(a).items():
        assert torch.equal(value, _flat(b)[key]), key
    assert torch.equal(a["objective"]["mean_cycle_error"], b["objective"]["mean_cycle_error"])


def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "GANKIT_DIST_TIMEOUT": "60", "PYTHONPATH": str(HERE)}
    script = str(HERE / "cycle_toy.py")
    subprocess.run([sys.executable, script, tmp_path / "one.pt", "4"], check=True, env=env, timeout=120)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    done = subprocess.run([*launch, script, tmp_path / "two.pt", "4"], env=env, timeout=240, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    assert one["step"] == two["step"] == 4
    flat_one, flat_two = _flat(one), _flat(two)
    assert max((flat_one[k] - flat_two[k]).abs().max().item() for k in flat_one) < 1e-5
    assert one["objective"]["mean_cycle_error"].item() == pytest.approx(two["objective"]["mean_cycle_error"].item(), abs=1e-6)
