"""gankit's benchmark (issue 4): throughput, the reference-style baseline, time to quality, utilisation.

    python -m benchmarks.run --quick                 # every part, short budgets (about 5 minutes on 2 CPU cores)
    python -m benchmarks.run                         # the full run (about 35 minutes on 2 CPU cores)
    python -m benchmarks.run --only reference --only utilisation --device cuda
    python -m benchmarks.run --only quality --seeds 5   # every preset at its budget (hours; not in the default run)

Prints a table per part and writes benchmarks/results/<name>.json (rewritten
after every part) and <name>.txt (the printed tables). Targets are reported
as PASS/FAIL; a missed target never makes the command fail.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchmarks import comparison, levers, quality, throughput, time_to_quality, utilisation
from benchmarks.report import Results, table
from benchmarks.settings import benchmark_device, timed_precisions
from gankit.training.precision import native_bf16

DEFAULT_PARTS = ("throughput", "reference", "levers", "time-to-quality", "utilisation")
# Asked for by name only: every preset at its full budget takes hours (benchmarks/quality.py).
PARTS = (*DEFAULT_PARTS, "quality")
RESULTS = Path(__file__).resolve().parent / "results"


def results_path(out: str | None, quick: bool, device: str) -> Path:
    """``--out`` as a path (anything with a slash or ending in .json) or as a name under benchmarks/results/."""
    if out is None:
        out = f"{'quick' if quick else 'full'}-{torch.device(device).type}"
    if "/" in out or out.endswith(".json"):
        return Path(out).with_suffix(".json")
    return RESULTS / f"{out}.json"


def machine(device: str) -> dict[str, object]:
    """Enough to tell which machine a number came from."""
    info: dict[str, object] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(torch.device(device)),
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def cpu_model() -> str:
    """The CPU's model name (Linux), else what the platform module knows: numbers differ a lot between CPUs."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short budgets: every part in a few minutes")
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART",
                        help=f"run only this part (repeatable): {', '.join(PARTS)} (quality, every preset at "
                             "its budget, runs only when named)")
    parser.add_argument("--seeds", type=int, default=1, help="quality: seeds per preset (default 1)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--out", default=None,
                        help="results name (written to benchmarks/results/NAME.json) or a .json path; "
                             "default quick-<device> or full-<device>")
    parser.add_argument("--reference-preset", default=time_to_quality.MNIST_PRESET, metavar="PRESET",
                        help="time-to-quality: the settings the reference loop trains on MNIST (default: the main "
                             "job's own; wgan-gp-mnist-mlp is PyTorch-GAN's wgan_gp.py); gankit trains the main job")
    parser.add_argument("--emulated-bf16", action="store_true",
                        help="time bf16 rows even where the device emulates bf16 (an order of magnitude slower "
                             "than fp32); by default they are timed only where bf16 is native")
    args = parser.parse_args(argv)
    device = benchmark_device(args.device)
    parts = [p for p in PARTS if p in (args.only or DEFAULT_PARTS)]
    mode = "QUICK" if args.quick else "FULL"
    results = Results(results_path(args.out, args.quick, device), {
        "machine": machine(device),
        "quick": args.quick,
        "parts": parts,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
    })
    say = results.say
    say(f"gankit benchmark ({mode.lower()}) on {device} ({results.document['machine']['cpu_model']}, "
        f"{torch.get_num_threads()} threads): {', '.join(parts)}")
    precisions = timed_precisions(device, args.emulated_bf16)
    if "bf16" not in precisions:
        say(f"bf16 is emulated on this {torch.device(device).type} (vector unit "
            f"{torch.backends.cpu.get_cpu_capability()}): only fp32 is timed "
            "(--emulated-bf16 times bf16 anyway)")
    started = time.perf_counter()

    # The three parts that time windows and print one table: (part, module, header).
    windowed = [
        ("throughput", throughput,
         lambda b: f"throughput: gankit's train_step, median of {b.rounds} window(s) of >= {b.seconds:g} s"),
        ("reference", comparison,
         lambda b: f"gankit against the reference-style loop, identical settings "
                   f"({b.rounds} interleaved rounds of >= {b.seconds:g} s; reference in fp32)"),
        ("levers", levers,
         lambda b: f"levers: gankit against itself with one lever off "
                   f"({b.rounds} interleaved rounds of >= {b.seconds:g} s)"),
    ]
    for part, module, header in windowed:
        if part in parts:
            budget = getattr(module, mode)
            say(f"\n== {header(budget)}")
            rows = module.run(device, budget, emulated_bf16=args.emulated_bf16)
            say(table(rows, module.COLUMNS))
            results.add(part, rows)

    if "time-to-quality" in parts:
        budget = getattr(time_to_quality, mode)
        say(f"\n== time to quality: MNIST, reference loop at {args.reference_preset}'s settings, gankit's main job "
            f"({budget.mnist_seconds:g} s per loop, FD on {budget.mnist_samples} samples "
            f"every {budget.mnist_every:g} s of training; fixed threshold FD <= {budget.fd_threshold:g})")
        mnist = time_to_quality.mnist(device, budget, args.reference_preset)
        say(table(mnist["rows"], time_to_quality.mnist_columns(mnist["fd_threshold"])))
        say(mnist["headline"])
        results.add("time_to_quality", {"mnist": mnist})
        say(f"\n== time to quality: 25gaussians (up to {budget.toy_seconds:g} s per loop, "
            f"modes every {budget.toy_every:g} s of training)")
        toy = time_to_quality.toy(device, budget)
        say(table(toy["rows"], time_to_quality.TOY_COLUMNS))
        say(f"threshold: {toy['threshold']}")
        results.add("time_to_quality", {"mnist": mnist, "25gaussians": toy})

    if "quality" in parts:
        budget = quality.QUICK if args.quick else quality.FULL
        say("\n== quality: every MNIST, Stacked MNIST and 2-D preset at its budget, from the command line")
        report = quality.run(budget, quality.presets_of(list(quality.GROUPS)), max(1, args.seeds), say=say)
        say(report["text"])
        results.add("quality", {k: report[k] for k in ("rows", "summary")})

    if "utilisation" in parts:
        budget = getattr(utilisation, mode)
        say("\n== utilisation: a train step's FLOP/s (FlopCounterMode) as a share of the measured matmul peak")
        report = utilisation.run(device, budget, emulated_bf16=args.emulated_bf16)
        say(table(report["rows"], utilisation.COLUMNS))
        results.add("utilisation", report)

    results.document["wall_seconds"] = round(time.perf_counter() - started, 1)
    say(f"\n{results.document['wall_seconds']:.0f} s; wrote {results.path} and {results.text_path.name}")
    results.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
