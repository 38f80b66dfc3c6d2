"""Crash safety: a training process SIGKILLed at random moments resumes to bit-identical weights."""

import os
import random
import signal
import statistics
import subprocess
import sys
import time

import pytest
import torch
from conftest import TINY_TOY

from gankit import api
from gankit.config import build_config
from gankit.training.checkpoint import step_checkpoints

STEPS = 120
# A checkpoint every step makes a kill during a checkpoint write likely, not lucky.
OVERRIDES = TINY_TOY + ["train.checkpoint_every=1", "train.keep_checkpoints=2", "train.log_every=5"]


def _start(args, env):
    return subprocess.Popen([sys.executable, "-m", "gankit", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_sigkill_at_random_moments_then_resume_gives_bitwise_identical_weights(tmp_path):
    straight = api.train(build_config("wgan-gp-8gaussians", overrides=OVERRIDES + [f"train.steps={STEPS}"]),
                         out=tmp_path, name="straight", progress=False, log=lambda _: None)
    run_dir = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = ["train", "--preset", "wgan-gp-8gaussians", "--out", tmp_path, "--name", "killed",
             "--steps", STEPS, "--no-progress", *OVERRIDES]
    resume = ["train", "--resume", run_dir, "--no-progress"]
    chooser = random.Random(0)
    kills, checkpoints_seen = 0, []
    for attempt in range(4):
        process = _start([str(a) for a in (first if attempt == 0 else resume)], env)
        # Wait until this process has written a new checkpoint, then kill it a random moment later.
        before = {p.name for p in step_checkpoints(run_dir / "checkpoints")}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            now = {p.name for p in step_checkpoints(run_dir / "checkpoints")}
            if now - before:
                break
            time.sleep(0.02)
        time.sleep(chooser.uniform(0.0, 0.4))
        if process.poll() is not None:
            break  # it finished before we could kill it
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kills += 1
        checkpoints_seen.append(sorted(p.name for p in step_checkpoints(run_dir / "checkpoints"))[-1])
    assert kills >= 3, f"only {kills} kills landed: the machine is faster than the test assumes"
    final = _start([str(a) for a in resume], env)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert len(set(checkpoints_seen)) == len(checkpoints_seen)  # every session made progress
    expected = torch.load(straight.path / "checkpoints/last.pt", weights_only=True)
    actual = torch.load(run_dir / "checkpoints/last.pt", weights_only=True)
    assert actual["step"] == expected["step"] == STEPS
    for part in ("networks", "optimizers"):
        flat_expected = _tensors(expected[part])
        flat_actual = _tensors(actual[part])
        assert flat_expected.keys() == flat_actual.keys()
        for key in flat_expected:
            assert torch.equal(flat_expected[key], flat_actual[key]), f"{part}.{key} differs after {kills} kills"
    # Writes cut short by a kill leave temporary files; resuming removes them.
    assert not [p.name for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]


def _tensors(tree, prefix=""):
    """Every tensor in a nested state dict, keyed by its path."""
    found = {}
    if isinstance(tree, torch.Tensor):
        found[prefix] = tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            found.update(_tensors(value, f"{prefix}/{key}"))
    elif isinstance(tree, (list, tuple)):
        for index, value in enumerate(tree):
            found.update(_tensors(value, f"{prefix}/{index}"))
    return found


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_zero(tmp_path):
    import shutil

    config = build_config("wgan-gp-8gaussians", overrides=TINY_TOY + ["train.steps=3"])
    done = api.train(config, out=tmp_path, name="run", progress=False, log=lambda _: None)
    expected = [p.detach().clone() for p in done.generator.parameters()]
    shutil.rmtree(tmp_path / "run/checkpoints")  # as if killed before the first checkpoint
    messages = []
    resumed = api.resume(tmp_path / "run", progress=False, log=messages.append)
    assert any("no checkpoint yet" in m for m in messages)
    assert resumed.step == 3
    assert all(torch.equal(a, b) for a, b in zip(expected, resumed.generator.parameters()))


def _last_logged_step(run_dir):
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        if line.startswith('{"step": '):
            return int(line.split(",")[0].split(":")[1])
    return 0


def _rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


@pytest.mark.slow
def test_soak_many_checkpoint_cycles_with_kills_keep_memory_flat(tmp_path):
    """Run with `pytest -m slow -s`: about 6 minutes. Prints each session's memory over time.

    Six sessions of 40-60 s each (a checkpoint every 20 steps, an evaluation
    every 200, sample plots every 250), each SIGKILLed and resumed, then one
    to the end. Within a session, after a warm-up of 600 steps, the median RSS
    of the second half must stay within 5% + 25 MB of the first half's: a
    steady leak breaks it; the allocator's warm-up does not.
    """
    steps = 40000
    overrides = TINY_TOY + ["train.checkpoint_every=20", "train.keep_checkpoints=3", "train.log_every=10",
                            "train.sample_every=250", "eval.every=200", "eval.samples=500"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run_dir = tmp_path / "soak"
    first = ["train", "--preset", "wgan-gp-8gaussians", "--out", tmp_path, "--name", "soak",
             "--steps", steps, "--no-progress", *overrides]
    resume = ["train", "--resume", run_dir, "--no-progress"]
    chooser = random.Random(1)
    sessions = []
    for attempt in range(6):
        process = _start([str(a) for a in (first if attempt == 0 else resume)], env)
        # Warm-up ends once this session has trained 600 steps: past its first
        # evaluation, sample plot and checkpoints, whatever the machine's speed.
        start_step = _last_logged_step(run_dir)
        while process.poll() is None and _last_logged_step(run_dir) < start_step + 600:
            time.sleep(0.2)
        readings = []
        stop_at = time.monotonic() + chooser.uniform(40, 60)
        while time.monotonic() < stop_at and process.poll() is None:
            rss = _rss_mb(process.pid)
            if rss is not None:
                readings.append(rss)
            time.sleep(0.5)
        finished = process.poll() is not None
        if not finished:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if len(readings) >= 8:
            sessions.append(readings)
        if finished:
            break
    assert len(sessions) >= 3
    for index, readings in enumerate(sessions):
        half = len(readings) // 2
        early, late = statistics.median(readings[:half]), statistics.median(readings[half:])
        print(f"session {index}: {len(readings)} readings after warm-up; median RSS first half {early:.0f} MB, "
              f"second half {late:.0f} MB, peak {max(readings):.0f} MB")
        assert late <= early * 1.05 + 25, f"session {index} grew from {early:.0f} to {late:.0f} MB"
    final = _start([str(a) for a in resume], env)
    _, err = final.communicate(timeout=900)
    assert final.returncode == 0, err
