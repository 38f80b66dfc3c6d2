"""Reading a user's samples for the commands that take inputs (translate, encode, reconstruct).

Inputs are a folder of images, one image file, or an ``.npz`` of ``images``
(uint8, N x C x H x W) or ``points`` (N x D). Image files get the
preprocessing training folders get (centre square, resized to the expected
side, grey or RGB as expected); an ``.npz`` must already have the exact shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.errors import DataError


def read_inputs(path: Path, shape: tuple[int, ...]) -> Tensor:
    """Images in [-1, 1] (N, C, H, W) or points (N, D) from ``path``, shaped for a domain of ``shape``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"input '{path}' does not exist: pass a folder of images, an image file or an .npz")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, shape)
    if len(shape) != 3:
        raise DataError(f"this run translates 2-D points, so its input must be an .npz with 'points', got '{path}'")
    from gankit.data.folder import scan_folder
    from gankit.data.image_files import decode_images

    paths = [str(path)] if path.is_file() else scan_folder(str(path)).paths
    if not paths:
        raise DataError(f"no images found in '{path}': put image files in it or pass an .npz")
    decoded = decode_images(paths, shape[1], shape[0]).images
    return decoded.float() / 127.5 - 1.0


def _read_npz(path: Path, shape: tuple[int, ...]) -> Tensor:
    try:
        with np.load(path) as archive:
            arrays = dict(archive)
    except Exception as error:  # noqa: BLE001 -- numpy raises several types for a bad file
        raise DataError(f"cannot read '{path}' as an .npz ({type(error).__name__}): pass a file np.savez wrote") from None
    key = "points" if len(shape) == 1 else "images"
    if key not in arrays:
        raise DataError(f"'{path}' has no '{key}' array (it has {', '.join(arrays) or 'none'}): save the inputs as '{key}'")
    array = arrays[key]
    if tuple(array.shape[1:]) != shape:
        raise DataError(
            f"'{path}' holds {key} of shape {tuple(array.shape[1:])}, but this run translates {shape}: "
            f"give it {key} of shape (N, {', '.join(map(str, shape))})"
        )
    tensor = torch.from_numpy(array)
    if key == "points":
        return tensor.float()
    if tensor.dtype != torch.uint8:
        raise DataError(f"'{path}' images are {array.dtype}, not uint8 0..255: save them as uint8")
    return tensor.float() / 127.5 - 1.0
