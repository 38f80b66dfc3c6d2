"""The folder of one run: where it lives and how it is created or reopened.

    runs/NAME/
      config.yaml     the resolved config
      metrics.jsonl   one JSON object per logged step
      samples/        fixed-noise grids (or 2-D scatter plots) by step
      checkpoints/    step_XXXXXXXX.pt and last.pt
      curves.png      the logged quantities against the step
      contours/       2-D runs: the critic's value surface with real and generated points, by step
      training.gif    2-D runs: those figures as an animation
      diagnostics.jsonl  the critic loss's gradient norm per critic layer, by logged step
      report.html     everything above on one self-contained page
      events.*        TensorBoard
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gankit.errors import RunDirectoryError
from gankit.files import atomic_write

CONFIG_FILE = "config.yaml"
SAMPLES = "samples"
CHECKPOINTS = "checkpoints"
CURVES = "curves.png"
CONTOURS = "contours"
TRAINING_GIF = "training.gif"
DIAGNOSTICS = "diagnostics.jsonl"
W_COMPARISON = "critic_vs_exact_w1.png"  # written when the run measured exact W1 (eval.every on 2-D data)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_run_name(name: str) -> str:
    """A run name is one path component: it cannot climb out of the runs folder."""
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        raise RunDirectoryError(
            f"run name '{name}' is not allowed: use letters, digits, '.', '_' and '-' only (no '/' or '..')"
        )
    return name


def new_run_dir(out: Path, name: str) -> Path:
    """Create ``out/name``; refuse to reuse one that exists, so nothing is overwritten."""
    run_dir = Path(out) / check_run_name(name)
    if run_dir.exists():
        raise RunDirectoryError(
            f"run folder '{run_dir}' already exists: pass --resume to continue it, or --name to start a new run"
        )
    try:
        run_dir.mkdir(parents=True)
    except OSError as err:
        raise RunDirectoryError(f"cannot create run folder '{run_dir}' ({err.strerror}): choose another --out") from None
    (run_dir / SAMPLES).mkdir()
    (run_dir / CHECKPOINTS).mkdir()
    return run_dir


def existing_run_dir(path: Path) -> Path:
    run_dir = Path(path)
    # A run killed before its first checkpoint has only its config.yaml; it is still a run.
    if not (run_dir / CHECKPOINTS).is_dir() and not (run_dir / CONFIG_FILE).is_file():
        raise RunDirectoryError(
            f"'{run_dir}' is not a gankit run folder (no checkpoints/ or config.yaml inside): "
            "pass the folder that training created"
        )
    return run_dir


def write_config(run_dir: Path, config_dict: dict) -> None:
    text = yaml.safe_dump(config_dict, sort_keys=False)
    atomic_write(Path(run_dir) / CONFIG_FILE, lambda handle: handle.write(text.encode()))
