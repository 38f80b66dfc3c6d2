"""The image-folder decode cache (data/decode_cache.py) and streaming from the host (data/streaming.py)."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.api
from gankit.cli import main
from gankit.config import build_config, resolve
from gankit.data import decode_cache, folder, load_dataset
from gankit.data.streaming import StreamingDataset, place_dataset, should_stream
from gankit.errors import DataError
from gankit.training.sampler import DeviceBatchSampler
from gankit.training.trainer import Trainer

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def cache_small_folders(monkeypatch):
    """Real folders are cached from 1,000 images; these tests' dozen must be cached too."""
    monkeypatch.setattr(folder, "MIN_CACHED_IMAGES", 1)


def write_folder(root, count=12, size=10, seed=0):
    """``count`` seeded RGB PNGs in two class subfolders (so labels are exercised)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        sub = root / ("cats" if i % 2 else "dogs")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size + 2, 3), dtype=np.uint8)).save(sub / f"{i:02d}.png")
    return root


class CountingDecoder:
    """Wraps the cache's decoder to count how many times a folder is decoded."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = decode_cache.decode_images

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(decode_cache, "decode_images", counted)


def entries(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_the_cache_is_built_once_then_read_back_without_decoding(tmp_path, monkeypatch):
    images, cache = write_folder(tmp_path / "images"), tmp_path / "root" / ".gankit-cache"
    uncached = load_dataset(str(images), image_size=8)
    first = load_dataset(str(images), image_size=8, cache_dir=str(cache))
    assert "decoded into the cache" in first.description
    assert [name.rsplit(".", 1)[1] for name in entries(cache)] == ["json", "npy"]  # no temporary file left

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit must not decode")

    monkeypatch.setattr(decode_cache, "decode_images", no_decoding)
    second = load_dataset(str(images), image_size=8, cache_dir=str(cache))
    assert "read from the cache" in second.description
    # The same pixels and labels as decoding afresh, whether mapped or read whole onto a device.
    assert torch.equal(second.data, uncached.data) and torch.equal(second.labels, uncached.labels)
    assert torch.equal(second.to(CPU).data, uncached.data)
    assert second.num_classes == 2


@pytest.mark.parametrize("change", ["rewrite", "touch", "add", "remove", "size"])
def test_the_cache_is_rebuilt_when_a_file_or_the_size_changes(tmp_path, monkeypatch, change):
    images, cache = write_folder(tmp_path / "images"), tmp_path / ".gankit-cache"
    decoder = CountingDecoder(monkeypatch)
    load_dataset(str(images), image_size=8, cache_dir=str(cache))
    load_dataset(str(images), image_size=8, cache_dir=str(cache))
    assert decoder.calls == 1  # unchanged: a hit
    target = images / "dogs" / "00.png"
    size = 8
    if change == "rewrite":  # new pixels and a new modification time
        Image.fromarray(np.full((10, 12, 3), 200, dtype=np.uint8)).save(target)
        os.utime(target, ns=(os.stat(target).st_atime_ns, os.stat(target).st_mtime_ns + 10**9))
    elif change == "touch":  # same bytes, new time: decoded again, since only the time says the file changed
        os.utime(target, ns=(os.stat(target).st_atime_ns, os.stat(target).st_mtime_ns + 10**9))
    elif change == "add":
        Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(images / "dogs" / "99.png")
    elif change == "remove":
        target.unlink()
    else:
        size = 6
    rebuilt = load_dataset(str(images), image_size=size, cache_dir=str(cache))
    assert decoder.calls == 2
    assert torch.equal(rebuilt.data, load_dataset(str(images), image_size=size).data)
    npy = [name for name in entries(cache) if name.endswith(".npy")]
    if change == "size":
        assert len(npy) == 2  # another size is another entry beside the first, both kept
        assert "replacing" not in rebuilt.description
    else:
        # The folder changed: its old entry (a full copy of its pixels) is removed, and the user is told.
        assert len(npy) == 1 and len(entries(cache)) == 2
        assert "replacing 1 older entry of this folder (removed)" in rebuilt.description


def test_pruning_keeps_other_folders_and_unreadable_headers(tmp_path):
    first, second = write_folder(tmp_path / "first"), write_folder(tmp_path / "second", seed=1)
    cache = tmp_path / ".gankit-cache"
    load_dataset(str(first), image_size=8, cache_dir=str(cache))
    load_dataset(str(second), image_size=8, cache_dir=str(cache))
    (cache / "notes.json").write_text("{not json")  # someone else's file: never judged, never removed
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(first / "dogs" / "99.png")
    rebuilt = load_dataset(str(first), image_size=8, cache_dir=str(cache))
    assert "replacing 1 older entry" in rebuilt.description
    assert len([name for name in entries(cache) if name.endswith(".npy")]) == 2  # first's new one, second's
    assert (cache / "notes.json").exists()
    assert "read from the cache" in load_dataset(str(second), image_size=8, cache_dir=str(cache)).description


def test_a_decode_that_fails_half_way_leaves_no_entry(tmp_path):
    images, cache = write_folder(tmp_path / "images"), tmp_path / ".gankit-cache"
    (images / "dogs" / "04.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError, match="04.png"):
        load_dataset(str(images), image_size=8, cache_dir=str(cache))
    assert entries(cache) == []  # neither a half-written .npy nor its temporary file


def cli_train(images, root, out, *extra):
    return main(["train", "--preset", "wgan-gp-mnist", "--data", str(images), "--data-root", str(root),
                 "--out", str(out), "--name", "r", "--steps", "1", "--no-progress", "data.image_size=8",
                 "model.arch=mlp", "model.generator_widths=[16]", "model.critic_widths=[16]", "train.batch_size=4",
                 "train.device=cpu", "eval.every=0", *extra])


@pytest.mark.parametrize("damage", ["truncate", "header"])
def test_a_corrupt_cache_is_one_line_exit_2_and_nothing_is_deleted(tmp_path, monkeypatch, capsys, damage):
    images, root = write_folder(tmp_path / "images"), tmp_path / "data"
    load_dataset(str(images), image_size=8, cache_dir=str(root / ".gankit-cache"))
    [header, npy] = sorted((root / ".gankit-cache").iterdir())
    broken = npy if damage == "truncate" else header
    broken.write_bytes(broken.read_bytes()[:-7])
    before = {p: p.read_bytes() for p in [*images.rglob("*.png"), header, npy]}
    capsys.readouterr()
    assert cli_train(images, root, tmp_path / "runs") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "delete it" in lines[0] and "data.cache=false" in lines[0]
    assert {p: p.read_bytes() for p in before} == before  # images and the damaged cache untouched
    assert not (tmp_path / "runs" / "r").exists()
    # The fix the message names works: without the cache the same folder trains.
    if damage == "truncate":
        assert cli_train(images, root, tmp_path / "runs", "data.cache=false") == 0


def test_peeking_at_the_next_batch_does_not_move_the_sampler():
    sampler = DeviceBatchSampler(10, 4, CPU, seed=3)
    twin = DeviceBatchSampler(10, 4, CPU, seed=3)
    for _ in range(7):  # crosses three epoch ends (two batches of 4 per epoch of 10)
        peeked = sampler.peek_indices()
        assert torch.equal(peeked, sampler.next_indices())
        assert torch.equal(peeked, twin.next_indices())
    a, b = sampler.state_dict(), twin.state_dict()
    assert torch.equal(a["generator"], b["generator"]) and torch.equal(a["order"], b["order"])
    assert (a["position"], a["epoch"]) == (b["position"], b["epoch"])


def test_streaming_is_chosen_by_size_unless_forced(monkeypatch):
    data = load_dataset("8gaussians", toy_size=1000)  # 8,000 bytes of float32 points
    monkeypatch.setattr("gankit.data.streaming.free_memory", lambda device: 10_000)
    assert should_stream(data, CPU, None)  # more than half of 10,000 bytes
    assert not should_stream(data, CPU, False)
    monkeypatch.setattr("gankit.data.streaming.free_memory", lambda device: 20_000)
    assert not should_stream(data, CPU, None) and should_stream(data, CPU, True)
    assert isinstance(place_dataset(data, CPU, True), StreamingDataset)
    streamed = place_dataset(data, CPU, True)
    rows = torch.tensor([7, 3, 999, 3, 0])
    assert torch.equal(streamed.batch(rows)[0], data.batch(rows)[0])  # order kept, duplicates included


def tiny_trainer(images, root, stream):
    config = resolve(build_config("wgan-gp-mnist", overrides=[
        f"data.name={images}", f"data.root={root}", "data.image_size=8", f"data.stream={stream}",
        "model.arch=mlp", "model.generator_widths=[16]", "model.critic_widths=[16]", "train.batch_size=4",
        "train.n_critic=2",
        "train.device=cpu", "eval.every=0"]))
    return Trainer(config, gankit.api.load_data(config), progress=False, log=lambda m: None)


def weights(trainer):
    return {f"{role}.{k}": v.clone() for role, m in trainer.networks.items() for k, v in m.state_dict().items()}


def test_streaming_and_in_memory_training_give_the_same_weights_and_resume_exactly(tmp_path):
    images, root = write_folder(tmp_path / "images"), tmp_path / "data"
    in_memory = tiny_trainer(images, root, "false")
    assert not in_memory.streams
    in_memory.fit(5)  # 12 images, 3 batches of 4 per epoch: 15 draws cross 4 epoch ends
    streamed = tiny_trainer(images, root, "true")
    assert streamed.streams and isinstance(streamed.dataset, StreamingDataset)
    streamed.fit(2)
    state = copy.deepcopy(streamed.state_dict())  # a checkpoint's copy, not the live tensors
    streamed.fit(5)
    expected = weights(in_memory)
    assert weights(streamed).keys() == expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in weights(streamed).items())
    # Resumed from the checkpoint taken while a batch was being prefetched: the same weights again.
    resumed = tiny_trainer(images, root, "true")
    resumed.load_state_dict(state)
    resumed.fit(5)
    assert all(torch.equal(v, expected[k]) for k, v in weights(resumed).items())


class RecordingRanks:
    """A stand-in for a torchrun context: which rank of its machine this is, and when it waits for the others."""

    enabled = True

    def __init__(self, local_rank, events):
        self.local_rank, self.events = local_rank, events

    def long_barrier(self, timeout_s):
        assert timeout_s >= 3600  # a CelebA decode takes minutes: the default group's 300 s would cut it off
        self.events.append("barrier set up")
        return lambda: self.events.append("wait")


@pytest.mark.parametrize("local_rank, cache, expected", [
    # The barrier is set up while every rank is there; the machine's first rank fills the cache while the others
    # wait, and they map it once it is there.
    (0, True, ["barrier set up", "load", "wait"]),
    (1, True, ["barrier set up", "wait", "load"]),
    (1, False, ["load"]),  # no cache, nothing to wait for: each rank decodes its own
])
def test_under_torchrun_a_machine_decodes_a_cached_folder_once(monkeypatch, local_rank, cache, expected):
    events = []
    monkeypatch.setattr(gankit.api, "load_dataset", lambda *args, **kwargs: events.append("load") or "data")
    config = build_config("wgan-gp-8gaussians", overrides=[f"data.cache={str(cache).lower()}"])
    assert gankit.api.load_data(config, RecordingRanks(local_rank, events)) == "data"
    assert events == expected
