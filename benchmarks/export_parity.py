"""Export parity (issue 19): every exportable kind of run, in every format, checked against PyTorch.

    python -m benchmarks.export_parity              # short runs of each kind (a few minutes on 2 CPU cores)
    python -m benchmarks.export_parity --steps 2    # untrained networks: the wiring only

Each run trains ``--steps`` steps of its preset from the command line's code
path (``gankit.train``), then ``gankit.export_run`` writes it as ONNX,
TorchScript and safetensors. The export itself loads each file back
(onnxruntime, ``torch.jit.load``, ``gankit.load_export``) and compares it
with the PyTorch network on 64 fixed inputs; the table is that maximum
absolute difference per role, the export's wall seconds and the file's size.
A second check, independent of the export's own, samples the safetensors file
through ``gankit.sample`` and compares it with the run folder's samples.

Results: ``benchmarks/results/export-parity.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import gankit
from gankit.export import export_run

RESULTS = Path(__file__).resolve().parent / "results"
FORMATS = ("onnx", "torchscript", "safetensors")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}
# (label, preset, overrides, export the EMA weights): one run of each generator interface there is.
SMALL_MNIST = ["model.base_channels=16", "train.batch_size=32", "data.subset=512"]
CASES = (
    ("DCGAN MNIST, EMA", "wgan-gp-mnist", SMALL_MNIST + ["train.ema_decay=0.999"], True),
    ("conditional DCGAN MNIST", "cwgan-gp-mnist", SMALL_MNIST, False),
    ("InfoGAN MNIST", "infogan-mnist", SMALL_MNIST, False),
    ("BiGAN MNIST (G and E)", "bigan-mnist", SMALL_MNIST, False),
    ("MLP 8gaussians", "wgan-gp-8gaussians", ["train.batch_size=64"], False),
    ("CycleGAN 2-D (two G)", "cyclegan-8gaussians-25gaussians", ["train.batch_size=64"], False),
)
COMMON = ["train.tensorboard=false", "train.sample_every=100000", "train.checkpoint_every=100000",
          "eval.every=0", "train.figure_every=0", "train.device=cpu"]


def measure(label: str, preset: str, overrides: list[str], ema: bool, steps: int, out: Path) -> list[dict]:
    config = gankit.build_config(preset, overrides=COMMON + overrides + [f"train.steps={steps}"])
    run_path = gankit.train(config, out=out, name=preset, progress=False, log=lambda _: None).path
    rows = []
    for fmt in FORMATS:
        target = out / f"{preset}{SUFFIX[fmt]}"
        start = time.perf_counter()
        result = export_run(run_path, target, fmt=fmt, ema=ema, log=lambda _: None)
        seconds = time.perf_counter() - start
        for f in result.files:
            rows.append({"case": label, "preset": preset, "format": fmt, "role": f.role,
                         "max_abs_diff": f.max_abs_diff, "export_seconds": round(seconds, 2),
                         "bytes": f.path.stat().st_size, "exporter": f.exporter})
    return rows


def sample_parity(preset: str, out: Path, ema: bool) -> float | None:
    """``gankit.sample`` of the safetensors file against the run folder's: None where a run has no latent sampler."""
    run = gankit.load_run(out / preset, use_ema=ema)
    if run.generator is None or run.latent is None:
        return None
    exported = gankit.sample(out / f"{preset}.safetensors", 64, seed=3)
    return (exported - run.sample(64, seed=3)).abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="training steps per run before export (default 50)")
    parser.add_argument("--out", default=str(RESULTS / "export-parity.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    rows, samples = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, preset, overrides, ema in CASES:
            rows += measure(label, preset, overrides, ema, args.steps, Path(scratch))
            samples[label] = sample_parity(preset, Path(scratch), ema)
    print(f"{'case':<26}{'role':<14}{'format':<13}{'max |diff|':>12}{'export s':>10}{'size KiB':>10}")
    for r in rows:
        print(f"{r['case']:<26}{r['role']:<14}{r['format']:<13}{r['max_abs_diff']:>12.2e}"
              f"{r['export_seconds']:>10.2f}{r['bytes'] / 1024:>10.0f}")
    print("gankit.sample of the safetensors file against the run folder, max |diff| on 64 seeded samples:")
    for label, diff in samples.items():
        print(f"  {label:<26}{'no latent sampler' if diff is None else f'{diff:.2e}'}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"steps": args.steps, "torch": torch.__version__, "rows": rows,
                                          "sample_parity": samples}, indent=2) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
