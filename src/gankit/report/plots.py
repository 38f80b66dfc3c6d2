"""Static figures written into a run folder.

Figures are bare ``matplotlib.figure.Figure`` objects, never pyplot's: saving
one to PNG needs no display and no backend, so importing gankit leaves the
user's matplotlib backend alone (a notebook keeps its inline plots), and no
figure lingers in pyplot's registry after it is saved, however long the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from torch import Tensor
from torchvision.utils import make_grid

from gankit.data.dataset import to_uint8_images
from gankit.files import atomic_write


def new_figure(figsize: tuple[float, float], dpi: int = 100) -> Figure:
    """An empty figure of ``figsize`` inches at ``dpi``, outside pyplot (see the module docstring)."""
    return Figure(figsize=figsize, dpi=dpi)


def save_figure(fig: Any, path: Path) -> None:
    """Write ``fig`` as a PNG at its own dpi; a reader never sees half a file."""
    atomic_write(Path(path), lambda handle: fig.savefig(handle, format="png", dpi=fig.dpi))


def image_grid(images: Tensor, rows: int | None = None) -> Tensor:
    """Images in [-1, 1] as one uint8 (C, H, W) grid, ``rows`` images per row."""
    n = images.shape[0]
    per_row = rows or max(1, int(round(n**0.5)))
    grid = make_grid(images.detach().float().cpu(), nrow=per_row, padding=2, normalize=False, pad_value=1.0)
    return to_uint8_images(grid)


def save_image_grid(images: Tensor, path: Path, rows: int | None = None) -> None:
    """A PNG of a grid of images in [-1, 1]; small images are upscaled to stay visible."""
    from PIL import Image

    grid = image_grid(images, rows)
    array = grid.permute(1, 2, 0).numpy()
    picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if picture.width < 256:
        scale = max(1, 256 // picture.width)
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    atomic_write(Path(path), lambda handle: picture.save(handle, format="PNG"))


def save_points_plot(points: Tensor, path: Path, real: Tensor | None = None, title: str = "") -> None:
    """Generated 2-D points over real ones, on fixed axes so frames compare."""
    fig = new_figure((5, 5))
    ax = fig.subplots()
    if real is not None:
        r = real.detach().float().cpu()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="tab:orange", alpha=0.3, label="real")
    p = points.detach().float().cpu()
    ax.scatter(p[:, 0], p[:, 1], s=2, c="tab:blue", alpha=0.6, label="generated")
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-2.5, 2.5)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)


# Logged numbers that are bookkeeping, or too many to draw one panel each (the class histogram).
_NOT_CURVES = ("step", "time", "eval_samples")
_NOT_CURVE_PREFIXES = ("eval_seconds/", "eval/class_")


def _is_curve(key: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return key not in _NOT_CURVES and not key.startswith(_NOT_CURVE_PREFIXES)


def save_curves(records: Sequence[dict[str, Any]], path: Path, title: str = "") -> bool:
    """One panel per logged quantity against the generator step; False if nothing to plot."""
    keys = sorted({k for r in records for k, v in r.items() if _is_curve(k, v)})
    if not records or not keys:
        return False
    columns = 2 if len(keys) > 1 else 1
    rows = (len(keys) + columns - 1) // columns
    fig = new_figure((6 * columns, 2.6 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        xs = [r["step"] for r in records if isinstance(r.get(key), (int, float))]
        ys = [r[key] for r in records if isinstance(r.get(key), (int, float))]
        ax.plot(xs, ys, lw=1.2)
        ax.set_title(key)
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def _series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    pairs = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def save_wasserstein_comparison(records: Sequence[dict[str, Any]], path: Path, title: str = "") -> bool:
    """The critic's W estimate beside the exact W1 of the same evaluations; False without exact W1.

    The two live on different scales (the critic is only roughly 1-Lipschitz),
    so each has its own axis; the question the figure answers is whether the
    estimate rises and falls with the true distance. The panel on the right
    plots one against the other with their rank correlation.
    """
    steps_w1, exact = _series(records, "eval/w1")
    steps_critic, estimate = _series(records, "eval/critic_w")
    if len(exact) < 2 or steps_w1 != steps_critic:
        return False
    from scipy.stats import spearmanr

    fig = new_figure((11, 3.8))
    left, right = fig.subplots(1, 2)
    left.plot(steps_w1, exact, color="tab:blue", marker="o", ms=3, label="exact W1 (optimal transport)")
    left.set_xlabel("generator step")
    left.set_ylabel("exact W1", color="tab:blue")
    twin = left.twinx()
    twin.plot(steps_critic, estimate, color="tab:red", marker="s", ms=3, label="critic estimate")
    twin.set_ylabel("critic's E[D(real)] - E[D(fake)]", color="tab:red")
    train_steps, train_w = _series(records, "wasserstein")
    if train_w:
        twin.plot(train_steps, train_w, color="tab:red", alpha=0.25, lw=0.8, label="critic estimate (training batches)")
    left.grid(alpha=0.3)
    left.set_title("over training")
    rho = spearmanr(exact, estimate).statistic
    right.scatter(exact, estimate, c=steps_w1, cmap="viridis", s=14)
    right.set_xlabel("exact W1")
    right.set_ylabel("critic estimate")
    right.set_title(f"estimate against truth (Spearman rho = {rho:.2f})")
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    return True
