"""The command line end to end: train, resume, sample, presets, and bad input."""

import os
import subprocess
import sys

import numpy as np
from conftest import TINY_TOY
from PIL import Image

from gankit.cli import main
from gankit.config import DEFAULT_PRESET


def run_cli(*argv):
    return main([str(a) for a in argv])


def train_toy(out, name="toy", steps=6, *extra):
    return run_cli("train", "--preset", "wgan-gp-8gaussians", "--out", out, "--name", name, "--steps", steps,
                   "--no-progress", *TINY_TOY, "train.checkpoint_every=3", *extra)


def tree(folder):
    """Every file under folder with its bytes: to prove nothing was touched."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_writes_a_complete_run_and_sample_reads_it(tmp_path):
    assert train_toy(tmp_path, "toy", 6, "train.tensorboard=true") == 0
    run = tmp_path / "toy"
    for name in ("config.yaml", "metrics.jsonl", "curves.png", "samples/final.png", "checkpoints/last.pt"):
        assert (run / name).is_file(), name
    assert any(p.name.startswith("events.out.tfevents") for p in run.iterdir())
    assert Image.open(run / "samples/final.png").size[0] > 100

    assert run_cli("sample", run, "-n", 50, "-o", tmp_path / "points.npz", "--seed", 3) == 0
    points = np.load(tmp_path / "points.npz")["points"]
    assert points.dtype == np.float32 and points.shape == (50, 2)
    assert run_cli("sample", run / "checkpoints/last.pt", "-n", 50, "-o", tmp_path / "again.npz", "--seed", 3) == 0
    assert np.array_equal(points, np.load(tmp_path / "again.npz")["points"])  # same seed, same samples
    assert run_cli("sample", run, "-n", 50, "-o", tmp_path / "other.npz", "--seed", 4) == 0
    assert not np.array_equal(points, np.load(tmp_path / "other.npz")["points"])


def test_resume_from_the_command_line_continues_the_step_count(tmp_path, capsys):
    assert train_toy(tmp_path, "toy", 3) == 0
    assert run_cli("train", "--resume", tmp_path / "toy", "--steps", 6, "--no-progress") == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "step 3 of 6" in out
    steps = [line for line in (tmp_path / "toy/metrics.jsonl").read_text().splitlines()]
    assert '"step": 6' in steps[-1]


def test_image_run_samples_to_npz_grid_and_folder(tmp_path):
    assert run_cli("train", "--preset", "wgan-gp-digits", "--out", tmp_path, "--name", "d", "--steps", 2, "--no-progress",
                   "train.tensorboard=false", "train.n_critic=1", "model.generator_widths=[16]", "model.critic_widths=[16]") == 0
    run = tmp_path / "d"
    assert run_cli("sample", run, "-n", 12, "-o", tmp_path / "x.npz") == 0
    images = np.load(tmp_path / "x.npz")["images"]
    assert images.dtype == np.uint8 and images.shape == (12, 1, 8, 8)
    assert run_cli("sample", run, "-n", 12, "-o", tmp_path / "grid.png") == 0
    assert Image.open(tmp_path / "grid.png").size[0] >= 8 * 4
    assert run_cli("sample", run, "-n", 5, "-o", tmp_path / "pngs") == 0
    files = sorted((tmp_path / "pngs").iterdir())
    assert len(files) == 5 and Image.open(files[0]).size == (8, 8)


def test_presets_lists_every_preset_with_a_line(capsys):
    assert run_cli("presets") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert "wgan-gp-mnist" in names and "wgan-gp-25gaussians" in names
    assert all(len(line.split(None, 1)) == 2 for line in lines)
    # The main job states its wall budget on the reference machine, in minutes.
    main_job = next(line for line in lines if line.split()[0] == DEFAULT_PRESET)
    assert " min " in main_job


def test_presets_into_a_reader_that_has_gone_is_quiet():
    # `gankit presets | head -1`: the reader has closed the pipe. Closing our read end before the child
    # prints makes every write fail, deterministically; the child must still exit without a traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)
    listing = subprocess.run([sys.executable, "-m", "gankit", "presets"], stdout=write_end,
                             stderr=subprocess.PIPE, timeout=120)
    os.close(write_end)
    err = listing.stderr.decode()
    assert listing.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def assert_one_line_error(capsys, code, *words):
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("gankit: error: ")
    for word in words:
        assert word in lines[0]


def test_bad_input_unknown_preset_and_key(tmp_path, capsys):
    assert_one_line_error(capsys, run_cli("train", "--preset", "wgan-gp-mnst", "--out", tmp_path), "unknown preset", "wgan-gp-mnist")
    assert_one_line_error(capsys, run_cli("train", "--out", tmp_path, "train.batchsize=3"), "train.batchsize")
    assert_one_line_error(capsys, run_cli("train", "--out", tmp_path, "optim.critic.lr=-1"), "optim.critic.lr must be > 0")
    assert not any(tmp_path.iterdir())  # nothing was created


def test_bad_input_empty_folder_and_corrupt_image(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(capsys, run_cli("train", "--data", empty, "--out", tmp_path / "runs"), str(empty))
    broken = tmp_path / "broken"
    broken.mkdir()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(broken / "good.png")
    Image.new("RGB", (64, 64), (10, 200, 10)).save(broken / "bad.png")
    data = (broken / "bad.png").read_bytes()
    (broken / "bad.png").write_bytes(data[: len(data) // 2])
    assert_one_line_error(capsys, run_cli("train", "--data", broken, "--out", tmp_path / "runs"), "bad.png")
    assert not (tmp_path / "runs").exists()


def test_bad_input_batch_bigger_than_the_dataset(tmp_path, capsys):
    code = run_cli("train", "--preset", "wgan-gp-8gaussians", "--out", tmp_path, "data.toy_size=10", "--batch-size", 64)
    assert_one_line_error(capsys, code, "train.batch_size 64", "larger than the dataset")
    assert not any(tmp_path.iterdir())


def test_bad_input_existing_run_folder_is_left_untouched(tmp_path, capsys):
    assert train_toy(tmp_path, "toy", 3) == 0
    capsys.readouterr()
    before = tree(tmp_path / "toy")
    assert_one_line_error(capsys, train_toy(tmp_path, "toy", 3), "already exists", "--resume")
    assert tree(tmp_path / "toy") == before


def test_bad_input_sample_paths(tmp_path, capsys):
    assert_one_line_error(capsys, run_cli("sample", tmp_path / "nowhere", "-o", tmp_path / "x.png"), "does not exist")
    assert train_toy(tmp_path, "toy", 3) == 0
    capsys.readouterr()
    (tmp_path / "taken.npz").write_bytes(b"precious")
    assert_one_line_error(capsys, run_cli("sample", tmp_path / "toy", "-o", tmp_path / "taken.npz"), "already exists")
    assert (tmp_path / "taken.npz").read_bytes() == b"precious"
    assert_one_line_error(capsys, run_cli("sample", tmp_path / "toy", "-o", tmp_path / "folder"), "2-D samples")


def test_bad_run_names_cannot_escape_the_output_folder(tmp_path, capsys):
    code = run_cli("train", "--preset", "wgan-gp-8gaussians", "--out", tmp_path / "runs", "--name", "../escape", *TINY_TOY)
    assert_one_line_error(capsys, code, "run name '../escape' is not allowed")
    assert not (tmp_path / "escape").exists()


def test_console_script_exits_2_without_a_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-m", "gankit", "train", "--preset", "nope", "--out", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]


def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    import signal
    import time

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = [sys.executable, "-m", "gankit", "train", "--preset", "wgan-gp-8gaussians", "--out", str(tmp_path),
               "--name", "toy", "--steps", "100000", "--no-progress", *TINY_TOY, "train.log_every=1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    metrics = tmp_path / "toy/metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 3):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted: saved" in out + err
    import torch

    state = torch.load(tmp_path / "toy/checkpoints/last.pt", weights_only=True)
    assert 3 <= state["step"] < 100000
    assert main(["train", "--resume", str(tmp_path / "toy"), "--steps", str(state["step"] + 2), "--no-progress"]) == 0
    assert torch.load(tmp_path / "toy/checkpoints/last.pt", weights_only=True)["step"] == state["step"] + 2


def test_overrides_may_sit_anywhere_among_the_options(tmp_path):
    code = run_cli("train", "train.steps=2", "--preset", "wgan-gp-8gaussians", *TINY_TOY[:3], "--out", tmp_path,
                   "--no-progress", *TINY_TOY[3:], "--name", "mixed")
    assert code == 0
    import yaml

    config = yaml.safe_load((tmp_path / "mixed/config.yaml").read_text())
    assert config["train"]["steps"] == 2 and config["train"]["batch_size"] == 32


def test_train_says_which_preset_keys_a_new_objective_name_drops(tmp_path, capsys):
    code = run_cli("train", "--preset", "wgan-gp-8gaussians", "objective.name=lsgan", "--steps", 1, *TINY_TOY,
                   "--out", tmp_path, "--no-progress")
    assert code == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note: objective.name")]
    assert len(notes) == 1 and "objective.penalty_weight=0.1 do not carry over" in notes[0]
