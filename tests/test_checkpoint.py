"""Checkpoint files: atomic writes, retention, safe loading, fallback on damage."""

import errno

import pytest
import torch

from gankit.errors import CheckpointError
from gankit.training.checkpoint import (
    LAST,
    atomic_write,
    load_checkpoint,
    load_latest_checkpoint,
    save_checkpoint,
    step_checkpoints,
)


def payload(step):
    return {"step": step, "weights": torch.full((3,), float(step))}


def test_save_keeps_the_newest_k_and_last_points_to_the_newest(tmp_path):
    for step in (10, 20, 30, 40):
        save_checkpoint(tmp_path, step, payload(step), keep=2)
    assert [p.name for p in step_checkpoints(tmp_path)] == ["step_00000030.pt", "step_00000040.pt"]
    assert load_checkpoint(tmp_path / LAST)["step"] == 40
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old contents")

    def fill_the_disk(handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, fill_the_disk)
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


class RunsCode:
    """Unpickling this would create a file: the classic pickle exploit."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "gankit-checkpoint", "version": 1, "payload": RunsCode(str(marker))}, evil)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_truncated_checkpoint_is_named_and_an_older_one_is_used(tmp_path):
    save_checkpoint(tmp_path, 10, payload(10), keep=3)
    newest = save_checkpoint(tmp_path, 20, payload(20), keep=3)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # also truncates last.pt: it is the same file
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(newest)
    newest.with_name(newest.name + ".sha256").unlink()  # without its checksum, torch's zip reader still notices
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(newest)
    warnings = []
    state = load_latest_checkpoint(tmp_path, warn=warnings.append)
    assert state["step"] == 10
    assert any("step_00000020.pt" in w or LAST in w for w in warnings)


def test_files_that_are_not_gankit_checkpoints_are_refused(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        load_checkpoint(other)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_latest_checkpoint(tmp_path / "empty", warn=print)


def test_a_flipped_bit_fails_the_checksum_and_the_previous_checkpoint_is_used(tmp_path):
    for step in (10, 20):
        save_checkpoint(tmp_path, step, payload(step), keep=3)
    newest = tmp_path / "step_00000020.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, inside the tensor data: the zip structure stays valid
    newest.write_bytes(bytes(data))  # last.pt is a hard link to it: both are damaged
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(newest)
    warnings = []
    state = load_latest_checkpoint(tmp_path, warn=warnings.append)
    assert state["step"] == 10
    assert any("step_00000020.pt" in w and "SHA-256" in w for w in warnings)


def test_checksum_sidecars_follow_retention(tmp_path):
    for step in (10, 20, 30):
        save_checkpoint(tmp_path, step, payload(step), keep=1)
    sidecars = sorted(p.name for p in tmp_path.glob("*.sha256"))
    assert sidecars == ["last.pt.sha256", "step_00000030.pt.sha256"]
