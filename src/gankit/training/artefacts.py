"""What the loop asks of whoever draws its pictures: the interface only.

The training loop produces tensors (preview samples, the critic, real
points); turning them into PNGs, animations and the HTML report is the
user-facing side's job (``gankit.artefacts.RunArtefacts``, handed in by the
API). So ``training/`` imports nothing from ``report/``, and a run trained
without a writer (benchmarks, tests, a user's notebook) pays for no figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from torch import Tensor, nn


class ArtefactWriter(Protocol):
    def samples(self, path: Path, samples: Tensor, kind: str, rows: int | None, real: Tensor | None, title: str) -> None:
        """A preview: an image grid (``rows`` samples per row, None: square), or a scatter plot over ``real``."""

    def critic_figure(
        self, path: Path, critic: nn.Module, real: Tensor, fake: Tensor, title: str, labels: Tensor | None
    ) -> None:
        """A 2-D critic's value surface with real and generated points."""

    def objective_grid(self, path: Path, samples: Tensor, rows: int) -> None:
        """One of the objective's own grids (InfoGAN's code sweeps)."""

    def finish(self, run_dir: Path, title: str, animate: bool) -> None:
        """The end-of-run artefacts: curves, the critic-vs-W1 plot, the 2-D animation, report.html."""
