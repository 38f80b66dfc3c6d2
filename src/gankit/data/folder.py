"""A folder of image files, searched recursively, as a dataset.

Files are found by extension (every format Pillow can decode); other files
are skipped and counted. If every image sits under a first-level subfolder
and there are at least two such subfolders, the subfolder is the class label
(torchvision's ImageFolder convention).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from gankit.data.dataset import Dataset
from gankit.data.decode_cache import MIN_CACHED_IMAGES, cached_decode
from gankit.data.image_files import decode_images, image_extensions
from gankit.data.image_tensors import shape_text
from gankit.data.streaming import MappedDataset
from gankit.errors import DataError

DEFAULT_FOLDER_SIZE = 64


@dataclass
class FolderScan:
    """What a recursive search of a folder found."""

    paths: list[str]  # image files, in a deterministic (sorted) order
    skipped: int  # files without an image extension, hidden files included


def _raise_walk_error(error: OSError) -> None:
    # os.walk silently ignores folders it cannot list unless given this callback.
    where = error.filename or "a subfolder"
    if isinstance(error, PermissionError):
        raise DataError(f"cannot read folder '{where}' (permission denied): make it readable or point --data elsewhere")
    raise DataError(f"cannot read folder '{where}' ({error.strerror or error}): check the path given to --data")


def scan_folder(root: str) -> FolderScan:
    """Every image file under ``root``, recursively, sorted for a deterministic order."""
    if not os.path.exists(root):
        raise DataError(
            f"dataset folder '{root}' does not exist: point --data at a folder of images, or name a built-in dataset"
        )
    if not os.path.isdir(root):
        raise DataError(f"'{root}' is a file, not a folder: point --data at the folder that holds the images")
    extensions = image_extensions()
    paths: list[str] = []
    skipped = 0
    for folder, subfolders, files in os.walk(root, onerror=_raise_walk_error):
        # Hidden folders hold tool state (.git, .ipynb_checkpoints), not training data.
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for file in sorted(files):
            # Hidden files include macOS "._name.jpg" resource forks, which are not images.
            if not file.startswith(".") and os.path.splitext(file)[1].lower() in extensions:
                paths.append(os.path.join(folder, file))
            else:
                skipped += 1
    if not paths:
        found = f" ({skipped} other files skipped)" if skipped else ""
        raise DataError(
            f"no images found under '{root}'{found} (searched recursively for .png/.jpg/.webp/.bmp/... files):"
            " point --data at a folder of images"
        )
    return FolderScan(paths=paths, skipped=skipped)


def subfolder_labels(root: str, paths: list[str]) -> tuple[torch.Tensor, list[str]] | None:
    """Labels from first-level subfolders (sorted names), or None when the images are not split that way."""
    tops = []
    for path in paths:
        parts = os.path.relpath(path, root).split(os.sep)
        if len(parts) < 2:
            return None  # an image directly in the root belongs to no class
        tops.append(parts[0])
    classes = sorted(set(tops))
    if len(classes) < 2:
        return None  # a single subfolder is just where the images live, not a class
    index = {name: i for i, name in enumerate(classes)}
    return torch.tensor([index[top] for top in tops], dtype=torch.int64), classes


def _class_text(classes: list[str]) -> str:
    shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
    return f"{len(classes)} classes from subfolders ({shown})"


def load_folder(
    root: str,
    image_size: int | None = None,
    channels: int | None = None,
    name: str = "folder",
    title: str | None = None,
    with_labels: bool = True,
    cache_dir: str | None = None,
) -> Dataset:
    """All images under ``root``, centre-cropped to squares and resized to ``image_size`` (default 64).

    ``name`` and ``title`` let a named dataset stored as plain files (CelebA)
    reuse this loader under its own name; ``with_labels=False`` ignores subfolders.
    With ``cache_dir``, a folder of ``MIN_CACHED_IMAGES`` or more is decoded once into a cache file there
    and mapped from it afterwards (``decode_cache``).
    """
    size = image_size or DEFAULT_FOLDER_SIZE
    scan = scan_folder(root)
    images, upscaled, mapped, cache_note = decode_with_cache(root, scan.paths, size, channels or 3, cache_dir)
    labelled = subfolder_labels(root, scan.paths) if with_labels else None
    notes = ["centre-cropped to squares"] + ([cache_note] if cache_note else [])
    if upscaled:
        notes.append(f"{upscaled} upscaled from smaller than {size}px")
    if scan.skipped:
        notes.append(f"skipped {scan.skipped} non-image file{'s' if scan.skipped != 1 else ''}")
    if labelled is not None:
        notes.append(_class_text(labelled[1]))
    heading = title or f"image folder '{root}'"
    return MappedDataset(
        name=name,
        description=f"{heading}: {len(scan.paths):,} images, {shape_text(images)} ({'; '.join(notes)})",
        kind="images",
        data=images,
        labels=None if labelled is None else labelled[0],
        num_classes=None if labelled is None else len(labelled[1]),
        mapped=mapped,
    )


def decode_with_cache(
    root: str, paths: list[str], size: int, channels: int, cache_dir: str | None,
) -> tuple[torch.Tensor, int, np.memmap | None, str | None]:
    """(images, how many were enlarged, the cache map or None, a note for the description) for ``paths``."""
    large = len(paths) >= MIN_CACHED_IMAGES
    if cache_dir is None or not large:
        decoded = decode_images(paths, size, channels, progress=f"decoding {len(paths):,} images" if large else None)
        return decoded.images, decoded.upscaled, None, None
    cached = cached_decode(root, paths, size, channels, cache_dir)
    note = f"{'read from' if cached.hit else 'decoded into'} the cache '{cached.path}'"
    if cached.pruned:
        count = len(cached.pruned)
        note += f", replacing {count} older {'entry' if count == 1 else 'entries'} of this folder (removed)"
    return cached.images, cached.upscaled, cached.mapped, note
