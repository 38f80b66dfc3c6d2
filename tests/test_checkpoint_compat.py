"""Runs written by gankit 0.1.0 keep working: sample, eval and resume (0.1.0's losses, and bit-identical to training straight through)."""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

import gankit
from gankit.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "v0.1.0"
EXPECTED = json.loads((FIXTURES / "expected_resume.json").read_text())


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_010_run_resumes_bit_identically_to_010(name, tmp_path):
    run_dir = _copy(name, tmp_path)
    gankit.resume(run_dir, steps=4, progress=False, log=lambda _: None)
    run = gankit.load_run(run_dir, use_ema=False)
    expected = EXPECTED[name]
    assert run.step == expected["step"]
    # The weights 0.1.0 itself reached are in expected_resume.json as digests, but they are bit-exact only on
    # the CPU kind that wrote the fixture (float32 matmul kernels differ in the last bits between ISAs, and
    # the fixture's first steps carry that machine's rounding). On any machine the resumed 0.1.0 run must
    # match the same run trained straight through by this gankit to float32 rounding.
    config = gankit.load_run(FIXTURES / name).config
    config.train.steps = expected["step"]
    straight = gankit.train(config, out=tmp_path / "straight", name=name, progress=False, log=lambda _: None)
    straight = gankit.load_run(straight.path, use_ema=False)
    for role in ("generator", "critic"):
        mine, theirs = getattr(run, role).state_dict(), getattr(straight, role).state_dict()
        worst = max((mine[k].double() - theirs[k].double()).abs().max().item() for k in mine)
        assert worst < 1e-4, (role, worst)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    after = [r for r in records if r["step"] > 2 and "critic_loss" in r]
    assert len(after) == len(expected["losses_after_resume"])
    for now, then in zip(after, expected["losses_after_resume"]):
        for key, value in then.items():
            assert math.isclose(now[key], value, rel_tol=1e-4, abs_tol=1e-6), key


def test_a_010_run_samples_and_evaluates(tmp_path, capsys):
    run_dir = _copy("wgan-gp-8gaussians", tmp_path)
    assert main(["sample", str(run_dir), "-n", "16", "-o", str(tmp_path / "points.npz")]) == 0
    assert main(["eval", str(run_dir), "--metrics", "modes", "--samples", "200", "--json", "--no-append"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= record["eval/modes_covered"] <= 8


def test_a_checkpoint_from_a_newer_gankit_is_one_line_naming_both_versions(tmp_path, capsys):
    run_dir = _copy("wgan-gp-8gaussians", tmp_path)
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    newer = tmp_path / "newer.pt"
    torch.save({**state, "version": 99, "gankit_version": "9.0.0"}, newer)
    before = newer.read_bytes()
    assert main(["sample", str(newer), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "gankit 9.0.0" in err and f"gankit {gankit.__version__}" in err and "upgrade" in err
    assert newer.read_bytes() == before and not (tmp_path / "x.png").exists()


def test_current_checkpoints_record_the_format_and_the_gankit_version(tmp_path):
    run_dir = _copy("began-8gaussians", tmp_path)
    gankit.resume(run_dir, steps=3, progress=False, log=lambda _: None)
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert state["version"] == 2 and state["gankit_version"] == gankit.__version__
    assert set(state["networks"]) == {"generator", "critic"} and set(state["optimizers"]) == {"generator", "critic"}
    assert set(state["objective"]) == {"k"}
