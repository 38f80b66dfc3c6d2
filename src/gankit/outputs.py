"""Writing generated samples where the user asked: a grid, a folder of PNGs, an .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from gankit.data.dataset import to_uint8_images
from gankit.errors import GankitError
from gankit.files import atomic_write
from gankit.report.plots import save_image_grid, save_points_plot


class OutputError(GankitError):
    """The output path cannot be written as asked."""


def _to_uint8(images: Tensor) -> np.ndarray:
    return to_uint8_images(images).cpu().numpy()


def save_samples(samples: Tensor, out: Path, kind: str, overwrite: bool = False, rows: int | None = None) -> str:
    """Write ``samples`` to ``out``; returns a one-line description of what was written.

    ``out`` ending in .png is one grid (images) or scatter plot (points);
    ending in .npz holds ``images`` (uint8, N x C x H x W) or ``points``
    (float32, N x 2); anything else is a folder of numbered PNGs (images only).
    Existing files are never replaced unless ``overwrite``. ``rows`` sets a
    grid's images per row (default: a square grid).
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in (".png", ".npz"):
        if out.exists() and not overwrite:
            raise OutputError(f"'{out}' already exists: choose another -o path or pass --overwrite")
        if not out.parent.exists():
            raise OutputError(f"folder '{out.parent}' does not exist: create it or choose another -o path")
    if suffix == ".npz":
        key = "points" if kind == "points" else "images"
        array = samples.detach().float().cpu().numpy() if kind == "points" else _to_uint8(samples)
        atomic_write(out, lambda handle: np.savez_compressed(handle, **{key: array}))
        return f"wrote {len(array)} {key} ({key}: {array.dtype}, shape {tuple(array.shape)}) to {out}"
    if suffix == ".png":
        if kind == "points":
            save_points_plot(samples, out)
            return f"wrote a scatter plot of {len(samples)} points to {out}"
        save_image_grid(samples, out, rows=rows)
        return f"wrote a grid of {len(samples)} images to {out}"
    if suffix:
        raise OutputError(f"cannot write samples as '{suffix}': use a .png grid, an .npz file or a folder name")
    if kind == "points":
        raise OutputError("2-D samples cannot be written as a folder of PNGs: use -o FILE.npz or -o FILE.png")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"folder '{out}' exists and is not empty: choose a new folder or pass --overwrite")
    out.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    array = _to_uint8(samples)
    width = len(str(len(array) - 1))
    for i, image in enumerate(array):
        picture = Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
        picture.save(out / f"sample_{i:0{width}d}.png")
    return f"wrote {len(array)} PNG files to {out}/"
