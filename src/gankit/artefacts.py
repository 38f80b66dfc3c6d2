"""The pictures a training run leaves in its folder, drawn with ``gankit.report``.

The API hands a ``RunArtefacts`` to the trainer (``training/`` only knows the
``ArtefactWriter`` interface), so the arrows point from the user-facing
parts to the core.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from gankit.report.plots import save_curves, save_image_grid, save_points_plot, save_wasserstein_comparison
from gankit.report.run_report import write_run_report
from gankit.report.toy_figures import save_animation, save_critic_contours
from gankit.training.logging import METRICS_FILE, read_metrics
from gankit.training.run_dir import CONTOURS, CURVES, TRAINING_GIF, W_COMPARISON


class RunArtefacts:
    """Sample grids, 2-D critic figures, curves and the report of one run folder."""

    def samples(self, path: Path, samples: Tensor, kind: str, rows: int | None, real: Tensor | None, title: str) -> None:
        if kind == "points":
            save_points_plot(samples, path, real=real, title=title)
        else:
            save_image_grid(samples, path, rows=rows)

    def critic_figure(
        self, path: Path, critic: nn.Module, real: Tensor, fake: Tensor, title: str, labels: Tensor | None
    ) -> None:
        path.parent.mkdir(exist_ok=True)
        save_critic_contours(critic, real, fake, path, title=title, labels=labels)

    def objective_grid(self, path: Path, samples: Tensor, rows: int) -> None:
        save_image_grid(samples, path, rows=rows)

    def finish(self, run_dir: Path, title: str, animate: bool) -> None:
        records = read_metrics(run_dir / METRICS_FILE)
        save_curves(records, run_dir / CURVES, title=title)
        save_wasserstein_comparison(records, run_dir / W_COMPARISON, title=title)
        if animate:
            save_animation(sorted((run_dir / CONTOURS).glob("step_*.png")), run_dir / TRAINING_GIF)
        write_run_report(run_dir)
