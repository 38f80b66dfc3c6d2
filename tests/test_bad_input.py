"""Bad input, table-driven: each case exits 2 with one line that names the problem, and touches nothing on disk.

Every case runs against the same workspace (an existing run, a checkpoint, a
few data folders); a snapshot of every file's bytes is taken before and
compared after, so "nothing lost or overwritten" is checked for all of them.
"""

import pickle
from pathlib import Path

import pytest
import torch
from conftest import TINY_TOY
from PIL import Image

from gankit.cli import main


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    code = main(["train", "--preset", "wgan-gp-8gaussians", "--out", str(root / "runs"), "--name", "toy",
                 "--steps", "2", "--no-progress", *TINY_TOY])
    assert code == 0
    (root / "empty").mkdir()
    (root / "texts").mkdir()
    (root / "texts" / "notes.txt").write_text("not an image")
    (root / "broken").mkdir()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(root / "broken" / "a.png")
    data = (root / "broken" / "a.png").read_bytes()
    (root / "broken" / "a.png").write_bytes(data[: len(data) // 2])
    (root / "not-a-folder.txt").write_text("x")
    (root / "list.yaml").write_text("- a\n- b\n")
    (root / "invalid.yaml").write_text("train: {steps: [1,\n")
    (root / "garbage.pt").write_bytes(b"\x00garbage" * 100)
    (root / "taken.png").write_bytes(b"precious")
    (root / "plain-folder").mkdir()

    class Exploit:  # what a stranger's checkpoint could carry
        def __reduce__(self):
            return (Path.write_text, (root / "pwned.txt", "code ran"))

    with open(root / "evil.pt", "wb") as handle:
        pickle.dump({"format": "gankit-checkpoint", "payload": Exploit()}, handle)

    # A checkpoint whose config names wider networks than its weights: "another architecture".
    state = torch.load(root / "runs/toy/checkpoints/last.pt", weights_only=True)
    state["config"]["model"]["generator_widths"] = [64, 64]
    torch.save(state, root / "other-arch.pt")
    return root


TOY = ["train", "--preset", "wgan-gp-8gaussians", "--no-progress", "--out", "{root}/new-runs"]

# (id, argv, words the one line must contain). {root} is the workspace.
CASES = [
    # config and command line
    ("unknown preset", ["train", "--preset", "wgan-gp-mnst", "--out", "{root}/new-runs"], ["unknown preset", "wgan-gp-mnist"]),
    ("unknown key", TOY + ["train.batchsize=3"], ["train.batchsize"]),
    ("unknown section", TOY + ["trian.steps=3"], ["trian"]),
    ("wrong type int", TOY + ["train.steps=many"], ["train.steps", "integer"]),
    ("wrong type list", TOY + ["model.generator_widths=5"], ["model.generator_widths", "list"]),
    ("wrong type bool", TOY + ["train.tensorboard=maybe"], ["train.tensorboard"]),
    ("negative learning rate", TOY + ["optim.critic.lr=-1"], ["optim.critic.lr must be > 0"]),
    ("zero steps", TOY + ["--steps", "0"], ["train.steps must be >= 1"]),
    ("zero critic steps", TOY + ["train.n_critic=0"], ["train.n_critic"]),
    ("ema decay out of range", TOY + ["train.ema_decay=1.5"], ["train.ema_decay"]),
    ("unknown objective", TOY + ["objective.name=wgan-xp"], ["unknown objective", "wgan-gp"]),
    ("unknown architecture", TOY + ["model.arch=resnet"], ["model.arch"]),
    ("unknown critic norm", TOY + ["model.critic_norm=group"], ["model.critic_norm"]),
    ("batch norm under a penalty", TOY + ["model.critic_norm=batch"], ["critic_norm", "layer"]),
    ("unknown precision", TOY + ["train.precision=fp8"], ["train.precision"]),
    ("unknown optimiser", TOY + ["optim.generator.name=lion"], ["optim.generator.name"]),
    ("objective parameter of another objective", TOY + ["objective.clip_value=0.1"], ["clip_value"]),
    ("negative penalty weight", TOY + ["objective.penalty_weight=-1"], ["penalty_weight"]),
    ("unknown penalty points", TOY + ["objective.penalty_points=everywhere"], ["penalty_points"]),
    ("cuda on a machine without it", TOY + ["--device", "cuda"], ["CUDA", "--device cpu"]),
    ("negative eval interval", TOY + ["eval.every=-5"], ["eval.every"]),
    ("missing config file", ["train", "--config", "{root}/nope.yaml", "--out", "{root}/new-runs"], ["nope.yaml", "does not exist"]),
    ("invalid YAML", ["train", "--config", "{root}/invalid.yaml", "--out", "{root}/new-runs"], ["not valid YAML"]),
    ("config that is not a mapping", ["train", "--config", "{root}/list.yaml", "--out", "{root}/new-runs"], ["mapping"]),
    # data
    ("unknown dataset", TOY + ["--data", "mnistt"], ["unknown dataset", "mnist"]),
    ("empty folder", TOY + ["--data", "{root}/empty"], ["empty"]),
    ("folder without images", TOY + ["--data", "{root}/texts"], ["texts"]),
    ("a file instead of a folder", TOY + ["--data", "{root}/not-a-folder.txt"], ["not-a-folder.txt"]),
    ("truncated PNG", TOY + ["--data", "{root}/broken"], ["a.png"]),
    ("batch bigger than the dataset", TOY + ["data.toy_size=10", "--batch-size", "64"], ["larger than the dataset"]),
    ("zero image size", ["train", "--preset", "wgan-gp-digits", "--out", "{root}/new-runs", "--image-size", "0"], ["image_size"]),
    ("CIFAR-10 absent", ["train", "--preset", "wgan-gp-mnist", "--data", "cifar10", "--data-root", "{root}/no-data",
                         "--out", "{root}/new-runs"], ["cifar-10"]),
    ("CelebA absent", ["train", "--preset", "wgan-gp-celeba", "--data-root", "{root}/no-data", "--out", "{root}/new-runs"],
     ["celeba"]),
    # run folders
    ("existing run without --resume", TOY + ["--name", "toy", "--out", "{root}/runs"], ["already exists", "--resume"]),
    ("resume of a folder that is not a run", ["train", "--resume", "{root}/plain-folder"], ["not a gankit run folder"]),
    ("resume with a new config", ["train", "--resume", "{root}/runs/toy", "train.steps=9"], ["--resume"]),
    ("run name escaping the output folder", TOY + ["--name", "../escape"], ["not allowed"]),
    # checkpoints
    ("missing checkpoint", ["sample", "{root}/nowhere.pt", "-o", "{root}/x.png"], ["does not exist"]),
    ("garbage checkpoint", ["sample", "{root}/garbage.pt", "-o", "{root}/x.png"], ["garbage.pt"]),
    ("malicious pickle", ["sample", "{root}/evil.pt", "-o", "{root}/x.png"], ["refused to load"]),
    ("checkpoint of another architecture", ["sample", "{root}/other-arch.pt", "-o", "{root}/x.png"], ["does not match"]),
    ("sample count of zero", ["sample", "{root}/runs/toy", "-n", "0", "-o", "{root}/x.png"], ["-n"]),
    ("sample output that exists", ["sample", "{root}/runs/toy", "-o", "{root}/taken.png"], ["already exists"]),
    # issue 5's variants and issue 6's pages
    ("conditional model on unlabelled data", TOY + ["model.conditional=true", "--data", "swissroll"],
     ["no class labels", "model.conditional=false"]),
    ("conditional critic with shuffled penalty points", TOY + ["model.conditional=true", "objective.penalty_points=within"],
     ["penalty_points 'within'", "conditional"]),
    ("InfoGAN latent too small for its codes", ["train", "--preset", "infogan-8gaussians", "--out", "{root}/new-runs",
                                                "model.latent_dim=8"], ["model.latent_dim", "at least 9"]),
    ("BEGAN gamma out of range", ["train", "--preset", "began-8gaussians", "--out", "{root}/new-runs",
                                  "objective.gamma=2"], ["objective.gamma"]),
    ("label for an unconditional run", ["sample", "{root}/runs/toy", "--label", "3", "-o", "{root}/y.png"],
     ["not conditional"]),
    ("class grid for an unconditional run", ["sample", "{root}/runs/toy", "--class-grid", "-o", "{root}/y.png"],
     ["--class-grid", "conditional"]),
    ("report of a folder that is not a run", ["report", "{root}/plain-folder"], ["plain-folder"]),
    ("diagnose of a missing folder", ["diagnose", "{root}/nowhere"], ["nowhere"]),
    ("compare with a missing run", ["compare", "{root}/runs/toy", "{root}/nowhere", "--out", "{root}/c.html"],
     ["nowhere"]),
    # evaluation
    ("unknown metric", ["eval", "{root}/runs/toy", "--metrics", "fid"], ["unknown metric", "fd"]),
    ("image metric on 2-D data", ["eval", "{root}/runs/toy", "--metrics", "kid"], ["needs images data"]),
    ("label match of an unconditional run", ["eval", "{root}/runs/toy", "--metrics", "label_match"], ["label_match"]),
    ("missing Inception weights file", ["eval", "{root}/runs/toy", "--inception-weights", "{root}/nope.pth"],
     ["nope.pth", "not a file"]),
]


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv, words", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(workspace, capsys, argv, words):
    before = snapshot(workspace)
    code = main([a.replace("{root}", str(workspace)) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("gankit: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert snapshot(workspace) == before
    assert not (workspace / "pwned.txt").exists()
    assert not (workspace / "new-runs").exists() or not any((workspace / "new-runs").iterdir())


def test_the_table_covers_at_least_thirty_bad_inputs():
    assert len(CASES) >= 30


def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    import errno

    from gankit.training import checkpoint

    args = ["train", "--preset", "wgan-gp-8gaussians", "--out", str(tmp_path), "--name", "toy", "--no-progress",
            *TINY_TOY, "train.checkpoint_every=2"]
    assert main(args + ["--steps", "2"]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "toy/checkpoints").iterdir()}
    real_atomic_write = checkpoint.atomic_write

    def disk_fills_mid_write(path, write):
        def partial(handle):
            handle.write(b"the first bytes")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_atomic_write(path, partial)

    monkeypatch.setattr(checkpoint, "atomic_write", disk_fills_mid_write)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "toy"), "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and "previous checkpoint is intact" in err
    after = {p.name: p.read_bytes() for p in (tmp_path / "toy/checkpoints").iterdir()}
    assert after == before
