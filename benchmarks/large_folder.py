"""Issue 19: an image folder at the scale users have (100,000 JPEGs at 64 px) through the decode cache.

    python -m benchmarks.large_folder                 # 100,000 images under /tmp (about 300 MB + a 1.2 GB cache)
    python -m benchmarks.large_folder --count 5000    # a quick trial

Generates a seeded folder of JPEGs (smooth gradients with a few shapes, so they compress like photos rather
than like noise), then measures, each in a fresh process so that its peak RSS is its own:

* first run: scanning, hashing and decoding the folder into the cache (the cache is deleted first);
* second run: the same load, now a cache hit (what a second ``gankit train`` waits for before its first step);
* generator steps/s of a small DCGAN (WGAN-GP, n_critic 5, batch 64) with the data in memory
  (``data.stream=false``) and streamed from the memory-mapped cache (``data.stream=true``), and each run's
  peak RSS. On a CPU the in-memory run holds the 1.2 GB tensor; the streamed one maps the file, and the pages
  it touches count towards its RSS while they stay mapped (the kernel may drop them: they are the file's).

Prints a table and writes ``benchmarks/results/large-folder.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = 64
DONE_MARKER = ".complete"


def _image(index: int) -> np.ndarray:
    """One seeded 64x64 RGB picture: a two-colour gradient at a random angle and a few filled discs."""
    rng = np.random.default_rng(index)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * x + np.sin(angle) * y + 1) / 2
    low, high = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    picture = low + t[..., None] * (high - low)
    for _ in range(rng.integers(1, 4)):
        cy, cx, radius = rng.uniform(0, SIZE, 2).tolist() + [rng.uniform(4, 20)]
        disc = (y * (SIZE - 1) - cy) ** 2 + (x * (SIZE - 1) - cx) ** 2 < radius**2
        picture[disc] = rng.uniform(0, 255, 3)
    return picture.astype(np.uint8)


def generate_folder(folder: Path, count: int) -> float:
    """``count`` JPEGs in 100 subfolders (like a sharded data set); reused when already complete. Seconds spent."""
    from PIL import Image

    if (folder / DONE_MARKER).exists():
        return 0.0
    start = time.perf_counter()

    def write(index: int) -> None:
        sub = folder / f"{index % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(index)).save(sub / f"{index:06d}.jpg", quality=90)

    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        list(pool.map(write, range(count), chunksize=256))
    (folder / DONE_MARKER).write_text(str(count))
    return time.perf_counter() - start


def _config(folder: Path, root: Path, stream: str, batch_size: int):
    from gankit.config import build_config, resolve

    return resolve(build_config("wgan-gp-celeba", overrides=[
        f"data.name={folder}", f"data.root={root}", f"data.stream={stream}", "model.base_channels=8",
        "model.latent_dim=32", f"train.batch_size={batch_size}", "train.device=cpu", "eval.every=0",
        "train.tensorboard=false", "train.log_every=10",
    ]))


def child_load(folder: Path, root: Path) -> dict:
    start = time.perf_counter()
    from gankit.api import load_data

    imported = time.perf_counter()
    dataset = load_data(_config(folder, root, "null", 64))
    loaded = time.perf_counter()
    return {"import_s": imported - start, "load_s": loaded - imported, "images": len(dataset),
            "description": dataset.description}


def child_train(folder: Path, root: Path, stream: str, steps: int, warmup: int, batch_size: int) -> dict:
    import torch

    from gankit.api import load_data
    from gankit.training.trainer import Trainer

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    start = time.perf_counter()
    config = _config(folder, root, stream, batch_size)
    trainer = Trainer(config, load_data(config), progress=False, log=lambda line: None)
    ready = time.perf_counter()
    trainer.fit(warmup)
    timed_start = time.perf_counter()
    trainer.fit(warmup + steps)
    seconds = time.perf_counter() - timed_start
    # The memory split is taken while the trainer still holds its data.
    return {**_memory_now(), "stream": stream, "streams": trainer.streams, "setup_s": ready - start, "steps": steps,
            "generator_steps_per_s": steps / seconds, "batches_per_s": steps * (config.train.n_critic + 1) / seconds}


def _memory_now() -> dict:
    """RSS at the end split as the kernel counts it: anonymous (the process's own) and file-backed (mapped
    pages of the cache, which the kernel maps around each read and may drop at will)."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                fields[f"{name.lower()}_end_mib"] = int(value.split()[0]) / 1024
    return fields


def _run_child(args: list[str]) -> dict:
    """One measurement in a fresh Python; its JSON answer with its own peak RSS and wall time."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchmarks.large_folder", "--child", *args],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    answer["process_wall_s"] = wall
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="images in the generated folder")
    parser.add_argument("--where", default="/tmp/gankit-large-folder", help="where the folder and cache go")
    parser.add_argument("--steps", type=int, default=60, help="timed generator steps per training run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default="large-folder", help="results/NAME.json")
    parser.add_argument("--note", default="", help="a remark stored with the results (e.g. a shared machine)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, folder, root, *rest = args.child
        if kind == "load":
            answer = child_load(Path(folder), Path(root))
        else:
            stream, steps, warmup, batch = rest
            answer = child_train(Path(folder), Path(root), stream, int(steps), int(warmup), int(batch))
        answer["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        answer = {**_memory_now(), **answer}  # a training run's own split (taken with its data alive) wins
        print(json.dumps(answer))
        return

    where = Path(args.where)
    folder, root = where / f"images-{args.count}", where / f"root-{args.count}"
    generated_s = generate_folder(folder, args.count)
    shutil.rmtree(root / ".gankit-cache", ignore_errors=True)  # the first run must decode
    first = _run_child(["load", str(folder), str(root)])
    second = _run_child(["load", str(folder), str(root)])
    common = [str(args.steps), str(args.warmup), str(args.batch_size)]
    in_memory = _run_child(["train", str(folder), str(root), "false", *common])
    streamed = _run_child(["train", str(folder), str(root), "true", *common])
    cache_bytes = sum(p.stat().st_size for p in (root / ".gankit-cache").iterdir())
    result = {
        "count": args.count, "image_size": SIZE, "generated_s": generated_s, "cache_mib": cache_bytes / 2**20,
        "first_run": first, "second_run": second, "in_memory": in_memory, "streamed": streamed,
        "machine": {"cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                    "python": platform.python_version(), "platform": platform.platform()},
        "note": args.note,
        "command": " ".join(["python -m benchmarks.large_folder", *sys.argv[1:]]),
    }
    rows = [
        ("first run: scan + decode into the cache", f"{first['load_s']:.1f} s", f"{first['peak_rss_mib']:.0f} MiB"),
        ("second run: load (cache hit)", f"{second['load_s']:.2f} s (process {second['process_wall_s']:.1f} s)",
         f"{second['peak_rss_mib']:.0f} MiB"),
        ("train, data in memory", f"{in_memory['generator_steps_per_s']:.2f} G steps/s", f"{in_memory['peak_rss_mib']:.0f} MiB"),
        ("train, streamed (data.stream=true)", f"{streamed['generator_steps_per_s']:.2f} G steps/s",
         f"{streamed['peak_rss_mib']:.0f} MiB"),
    ]
    print(f"{args.count:,} JPEGs at {SIZE} px, cache {cache_bytes / 2**20:.0f} MiB, {os.cpu_count()} CPUs"
          + (f" ({args.note})" if args.note else ""))
    for (label, value, rss), run in zip(rows, (first, second, in_memory, streamed)):
        split = f" (at the end: {run['rssanon_end_mib']:.0f} anonymous, {run['rssfile_end_mib']:.0f} file-backed)"
        print(f"  {label:<42} {value:<34} peak RSS {rss}{split}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{args.out}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
