"""The WGAN-GP paper's toy figure for 2-D runs, and an animation of it over training.

Each frame shows the critic's value over the plane as filled contours, the
real points and the generated points, on fixed axes so that frames compare.
A Wasserstein critic should draw a smooth surface that rises towards the real
modes; a clipped one bends into the few shapes its clipped weights allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.files import atomic_write
from gankit.report.plots import new_figure, save_figure
from gankit.report.run_data import thin

EXTENT = 2.5  # the toy sets live in [-2, 2]^2 (data/toy.py); a margin shows what the critic does outside
GRID = 96  # critic evaluations per axis: smooth enough to read, 9,216 points
FRAME_SECONDS = 0.25
# A long run logs hundreds of frames; the GIF (which report.html embeds) keeps an even selection, smaller.
MAX_FRAMES = 40
GIF_WIDTH = 320


@torch.no_grad()
def critic_surface(critic: nn.Module, labels: Tensor | None = None, extent: float = EXTENT, grid: int = GRID):
    """(xs, ys, values) of the critic over a grid x grid square; a conditional critic sees ``labels[0]``."""
    device = next(critic.parameters()).device
    axis = torch.linspace(-extent, extent, grid, device=device)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    grid_labels = None if labels is None else labels[:1].expand(points.shape[0])
    was_training = critic.training
    critic.eval()
    try:
        values = critic(points, grid_labels).float().reshape(grid, grid)
    finally:
        critic.train(was_training)
    return xs.cpu(), ys.cpu(), values.cpu()


def save_critic_contours(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    path: Path,
    title: str = "",
    score_name: str = "critic value",
    labels: Tensor | None = None,
) -> None:
    """One frame: contours of the critic's value, real points (orange) and generated points (blue)."""
    xs, ys, values = critic_surface(critic, labels)
    fig = new_figure((5.4, 4.6), dpi=90)
    ax = fig.subplots()
    filled = ax.contourf(xs, ys, values, levels=20, cmap="viridis")
    ax.contour(xs, ys, values, levels=10, colors="white", linewidths=0.4, alpha=0.5)
    fig.colorbar(filled, ax=ax, label=score_name, shrink=0.85)
    r, f = real.detach().float().cpu(), fake.detach().float().cpu()
    ax.scatter(r[:, 0], r[:, 1], s=3, c="tab:orange", alpha=0.5, label="real")
    ax.scatter(f[:, 0], f[:, 1], s=3, c="tab:blue", alpha=0.6, label="generated")
    ax.set_xlim(-EXTENT, EXTENT)
    ax.set_ylim(-EXTENT, EXTENT)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3, fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)


def save_animation(
    frames: Sequence[Path], path: Path, seconds_per_frame: float = FRAME_SECONDS, max_frames: int = MAX_FRAMES
) -> bool:
    """The PNG ``frames`` as a looping GIF at ``path``, thinned evenly to ``max_frames``; False if there are none."""
    from PIL import Image

    if not frames:
        return False
    images = []
    for frame in thin(list(frames), max_frames):
        with Image.open(frame) as image:
            small = image.convert("RGB")
            small = small.resize((GIF_WIDTH, round(small.height * GIF_WIDTH / small.width)), Image.LANCZOS)
            # An adaptive palette per frame keeps the contours' gradients without dithering noise.
            images.append(small.convert("P", palette=Image.ADAPTIVE, colors=128))
    duration = int(seconds_per_frame * 1000)
    atomic_write(
        Path(path),
        lambda handle: images[0].save(
            handle, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0
        ),
    )
    return True
