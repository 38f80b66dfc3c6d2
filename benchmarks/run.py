"""gankit's benchmark: throughput, the reference-style baseline, time to quality, utilisation.

    python -m benchmarks.run --quick          # a couple of minutes
    python -m benchmarks.run                  # the full run (about 25 minutes on 2 CPU cores)
    python -m benchmarks.run --only reference --only utilisation

Prints tables and writes JSON to benchmarks/results/<name>.json. Targets are
reported as PASS/FAIL; a missed target never fails the command.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from benchmarks.measure import config_for, gankit_throughput, reference_throughput
from benchmarks.time_to_quality import mnist_against_reference, toy_modes
from benchmarks.utilisation import step_utilisation

PARTS = ("throughput", "reference", "time-to-quality", "utilisation")
THROUGHPUT_PRESETS = [f"{o}-{d}" for d in ("mnist", "8gaussians") for o in ("gan", "nsgan", "lsgan", "wgan", "wgan-gp", "wgan-div")]
THROUGHPUT_PRESETS += ["wgan-gp-mnist-mlp", "wgan-gp-25gaussians"]
# Issue 4's targets: gankit's generator steps/s over the reference loop's, same settings, on the CPU.
TARGETS = {"wgan-gp-mnist-mlp": 2.0, "wgan-gp-mnist": 1.5}


def _table(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    widths = [max(len(c), *(len(cell(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(cell(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def throughput(device: str, steps: int) -> list[dict]:
    rows = []
    for preset in THROUGHPUT_PRESETS:
        for precision in ("fp32", "bf16") if "mnist" in preset else ("fp32",):
            numbers = gankit_throughput(config_for(preset, device, [f"train.precision={precision}"]), steps)
            rows.append({"preset": preset, "precision": precision, **numbers})
            print(_table([rows[-1]], list(rows[-1])).splitlines()[1], flush=True)
    return rows


def reference(device: str, steps: int) -> list[dict]:
    rows = []
    for preset, target in TARGETS.items():
        config = config_for(preset, device)
        baseline = reference_throughput(config, steps)["generator_steps_per_s"]
        for precision in ("fp32", "bf16"):
            ours = gankit_throughput(config_for(preset, device, [f"train.precision={precision}"]), steps)
            ratio = ours["generator_steps_per_s"] / baseline
            rows.append({"preset": preset, "gankit": precision, "reference_steps_per_s": baseline,
                         "gankit_steps_per_s": ours["generator_steps_per_s"], "ratio": ratio, "target": target,
                         "verdict": "PASS" if ratio >= target else "FAIL"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short budgets: a couple of minutes in all")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts (repeatable)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/<quick|full>-<device>.json)")
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    steps = 10 if args.quick else 40
    result: dict = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor()
                    or platform.machine(), "threads": torch.get_num_threads(), "device": args.device},
        "quick": args.quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out = Path(args.out or Path(__file__).parent / "results" / f"{'quick' if args.quick else 'full'}-{args.device}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every part: a long run interrupted later keeps what it measured
        out.write_text(json.dumps(result, indent=1))

    if "throughput" in parts:
        print("== throughput (gankit)")
        result["throughput"] = throughput(args.device, steps)
        save()
    if "reference" in parts:
        print("== gankit against the reference-style loop, identical settings")
        result["reference"] = reference(args.device, steps)
        print(_table(result["reference"], list(result["reference"][0])))
        save()
    if "utilisation" in parts:
        print("== utilisation: achieved FLOP/s of a train step / matmul peak")
        rows = [{"preset": p, "precision": q, **step_utilisation(p, q, args.device)}
                for p in ("wgan-gp-mnist", "wgan-gp-mnist-mlp") for q in ("fp32", "bf16")]
        result["utilisation"] = rows
        print(_table(rows, list(rows[0])))
        save()
    if "time-to-quality" in parts:
        budget, every = (90.0, 30.0) if args.quick else (600.0, 60.0)
        print(f"== time to quality (MNIST: reference {budget:.0f} s, then gankit; 25gaussians: up to {budget:.0f} s)")
        mnist = mnist_against_reference(budget, every, args.device)
        toy = toy_modes(budget, every / 2, args.device)
        result["time_to_quality"] = {"mnist": mnist, "25gaussians": toy}
        print(f"MNIST: {mnist['threshold']}; gankit reached it in {mnist['gankit_seconds_to_reference_quality']} s "
              f"({mnist['fraction_of_reference_time']} of the reference's time)")
        print(f"25gaussians: {toy['threshold']}: reached after {toy['seconds_to_threshold']} s; "
              f"last {toy['history'][-1]}")
    save()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
