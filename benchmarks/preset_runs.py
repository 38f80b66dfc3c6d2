"""One preset trained through gankit's API, with its wall time and final evaluation, and a plain-text table.

Shared by the benchmarks that reproduce papers' tables (translation, inference GANs, f-GAN sweeps): each
row is one ``gankit.train`` run, with everything a run does (evaluations, figures, report) inside its wall
time; only the interpreter's start-up (about 3 s) is outside it. ``outcome`` reads any finished run folder
the same way (the quality benchmark's command-line runs too).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import gankit
from gankit.config import build_config
from gankit.evaluation.records import upgrade_record


def train_preset(preset: str, overrides: list[str], steps: int | None, out: Path, name: str) -> tuple[dict, gankit.Run]:
    """(row, run): ``steps`` None keeps the preset's budget and evaluation schedule, else both become ``steps``."""
    budget = [] if steps is None else [f"train.steps={steps}", f"eval.every={steps}"]
    config = build_config(preset, overrides=[*overrides, *budget, "train.tensorboard=false"])
    start = time.perf_counter()
    run = gankit.train(config, out=out, name=name, progress=False, log=lambda _: None)
    wall = time.perf_counter() - start
    return {"wall_s": round(wall, 1), **outcome(run.path)}, run


def outcome(run_path: Path) -> dict:
    """A finished run's steps, training seconds, steps/s over them and last evaluation (``eval/`` dropped from keys).

    The training seconds leave out previews, figures and evaluations (the trainer's clock does), so a
    wall time far above them says the run's periodic work costs more than its training.
    """
    # upgrade_record: a run of an older gankit has its eval/fd under today's key (fd_classifier or fid).
    records = [upgrade_record(json.loads(line)) for line in (run_path / "metrics.jsonl").read_text().splitlines()]
    evaluation = next((r for r in reversed(records) if "eval_samples" in r), {})
    trained = [r for r in records if "steps_per_s" in r]
    done = trained[-1]["step"] if trained else 0
    return {
        "steps": done,
        "train_s": round(trained[-1]["time"], 1) if trained else None,
        "steps_per_s": round(done / max(trained[-1]["time"], 1e-9), 2) if trained else None,
        **{k[len("eval/"):]: v for k, v in evaluation.items() if k.startswith("eval/")},
    }


def table(title: str, rows: dict[str, dict], columns: tuple[str, ...], first: str = "setting") -> str:
    """Rows by name, the chosen columns to 3 significant digits ('-' where absent), then steps and wall s."""
    head = [first, *columns, "steps", "wall s"]
    lines = [f"== {title}", "  ".join(head)]
    for name, row in rows.items():
        cells = [name] + [f"{row[c]:.3g}" if isinstance(row.get(c), (int, float)) else "-" for c in columns]
        lines.append("  ".join(cells + [str(row.get("steps", "-")), f"{row.get('wall_s', float('nan')):.0f}"]))
    return "\n".join(lines)
