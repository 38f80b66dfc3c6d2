"""Decoding image files into one uint8 tensor: mode conversion, centre crop, resize, in a thread pool."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps
from tqdm import tqdm

from gankit.errors import DataError

# Formats Pillow lists but cannot decode here: stubs need a handler we do not
# have, EPS needs Ghostscript, and MPEG only reads the header of a video.
_UNDECODABLE_FORMATS = {"EPS", "MPEG"}

# Pillow releases the GIL while decoding and resizing, so threads beyond the
# core count still help by overlapping file reads with decoding.
_MAX_WORKERS = 16

# Modes that carry an alpha band; they are composited on white first.
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
# Integer and float modes with more than 8 bits per sample.
_WIDE_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}


def image_extensions() -> frozenset[str]:
    """Lower-case file extensions (with the dot) of every format Pillow can decode."""
    Image.init()
    readable = set()
    for extension, format_id in Image.registered_extensions().items():
        factory = Image.OPEN.get(format_id, (None,))[0]
        is_stub = isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile)
        if factory is not None and not is_stub and format_id not in _UNDECODABLE_FORMATS:
            readable.add(extension.lower())
    return frozenset(readable)


@dataclass
class DecodedImages:
    """Images decoded from files, with how many had to be enlarged."""

    images: torch.Tensor  # uint8 (N, C, size, size)
    upscaled: int  # files whose shorter side was below the target size


def _wide_to_grey(image: Image.Image) -> Image.Image:
    """16-bit and float images to 8-bit grey; Pillow's own conversion clips rather than scales."""
    values = np.asarray(image, dtype=np.float64)
    peak = float(values.max()) if values.size else 0.0
    if image.mode == "F" and peak <= 1.0:
        values = values * 255.0  # float images conventionally hold 0..1
    elif peak > 255.0:
        values = values / 257.0  # 0..65535 onto 0..255
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), mode="L")


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Any Pillow mode to RGB (channels 3) or L (channels 1)."""
    if image.mode in _WIDE_MODES:
        image = _wide_to_grey(image)
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    if has_alpha:
        # Transparent pixels usually hold black; on white they look as the image was meant to.
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba).convert("RGB")
    target = "RGB" if channels == 3 else "L"
    if image.mode == target:
        return image
    if image.mode not in ("RGB", "L", "1"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, P: via RGB, which every mode converts to
    return image.convert(target)


def _centre_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def decode_image(path: str, size: int, channels: int) -> tuple[np.ndarray, bool]:
    """One file as a uint8 (size, size, channels) array, centre-cropped to a square; and whether it was enlarged."""
    try:
        with Image.open(path) as opened:
            # For JPEGs, decode at a reduced scale that is still at least `size`: much faster for big photos.
            opened.draft("RGB" if channels == 3 else "L", (size, size))
            opened.load()  # decodes now, so that a truncated file fails here and not later
            image = ImageOps.exif_transpose(opened)  # phone photos store their rotation in EXIF
            image = _centre_square(_to_mode(image, channels))
    except Exception as error:  # noqa: BLE001 -- Pillow's decoders raise many types for a bad file
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise DataError(f"cannot decode image '{path}' ({reason}): remove or replace it") from None
    upscaled = image.width < size
    if image.width != size:
        image = image.resize((size, size), Image.BICUBIC)
    array = np.asarray(image, dtype=np.uint8)
    return (array[:, :, None] if array.ndim == 2 else array), upscaled


def decode_images(
    paths: Sequence[str], size: int, channels: int, out: np.ndarray | None = None, progress: str | None = None,
) -> DecodedImages:
    """All ``paths`` decoded in order into one (N, C, size, size) uint8 tensor, using a thread pool.

    ``out``, a writable uint8 (N, C, size, size) array (the decode cache's memory-mapped file), receives the
    images in place of a new array, so a large folder is never held twice. ``progress`` names a bar on
    stderr (shown on a terminal only: tqdm's ``disable=None``).
    """
    nhwc = out is None
    if nhwc:
        out = np.empty((len(paths), size, size, channels), dtype=np.uint8)
    upscaled = 0
    workers = max(1, min(_MAX_WORKERS, 2 * (os.cpu_count() or 1), len(paths)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gankit-decode")
    bar = None if progress is None else tqdm(
        total=len(paths), desc=progress, unit="img", file=sys.stderr, disable=None, dynamic_ncols=True)
    try:
        # map() yields results in input order, whatever order the threads finish in.
        results = pool.map(decode_image, paths, [size] * len(paths), [channels] * len(paths))
        for index, (array, enlarged) in enumerate(results):
            out[index] = array if nhwc else array.transpose(2, 0, 1)
            upscaled += enlarged
            if bar is not None:
                bar.update()
    finally:
        # On an error, do not decode the rest of a 200k-image folder before reporting it.
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    images = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous() if nhwc else torch.from_numpy(out)
    return DecodedImages(images=images, upscaled=upscaled)
