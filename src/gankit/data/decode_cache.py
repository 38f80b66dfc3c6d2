"""A folder decoded once: the uint8 images in a memory-mapped ``.npy`` under ``<data.root>/.gankit-cache``.

Decoding CelebA's 200k JPEGs takes minutes; reading back 2.4 GB of decoded
pixels takes seconds. The cache file is named by a SHA-256 key over what the
pixels depend on: every file's relative path, size and modification time,
the image size and channels, the crop/resize policy and this format's
version. Change, add or remove a file (or ask for another size) and the key
changes, so the images are decoded again into a new file; nothing else ever
invalidates it. Once the new entry is written, the entries it replaces (the
same folder at the same size and channels, under an older key: the folder has
changed since) are removed, so a folder that grows does not leave a copy of
its pixels behind per version; entries at other sizes are kept.

Each entry is two files: ``<key>.npy`` (uint8 N x C x H x W, numpy's format,
so ``np.load(mmap_mode=...)`` maps it) and ``<key>.json`` (the key, shape and
decode notes). Both are written to temporary names and renamed into place,
the JSON last: a decode killed half-way leaves no entry that looks complete.
An entry that is there but does not read back (a truncated or edited file)
is refused with one line naming it: it is never deleted for the user.

Labels are not cached: they follow from the file list (subfolder names),
which is scanned anyway to compute the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from gankit.data.image_files import decode_images
from gankit.errors import DataError

CACHE_FOLDER = ".gankit-cache"
# Bumped whenever decoding changes the pixels it produces (crop, resampling, mode conversion).
CACHE_FORMAT_VERSION = 1
DECODE_POLICY = "exif-transposed, centre square, bicubic resize, alpha on white"
# Below this many files a decode takes about a second: a cache would save nothing and leave files behind.
MIN_CACHED_IMAGES = 1000


@dataclass
class CachedImages:
    """Decoded images backed by a cache file (``images`` is a copy-on-write map of it)."""

    images: torch.Tensor  # uint8 (N, C, size, size), memory-mapped: pages are read when touched
    mapped: np.memmap  # the same bytes as a numpy map (its filename and offset let a loader read it whole)
    upscaled: int
    path: str  # the .npy file
    hit: bool  # True when read back, False when decoded just now
    pruned: list[str] = field(default_factory=list)  # the .npy files of the stale entries this decode replaced


def cache_key(root: str, paths: Sequence[str], size: int, channels: int) -> str:
    """SHA-256 over everything the decoded pixels depend on (see the module docstring)."""
    digest = hashlib.sha256()
    policy = {"version": CACHE_FORMAT_VERSION, "size": size, "channels": channels, "policy": DECODE_POLICY}
    digest.update(json.dumps(policy, sort_keys=True).encode())
    prefix = os.path.join(root, "")
    for path in paths:
        status = os.stat(path)
        # Slicing off the root is what relpath returns for the scan's paths, at a tenth of its cost (100k files).
        relative = path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, root)
        digest.update(f"{relative}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _corrupt(path: str, reason: str) -> DataError:
    return DataError(
        f"decode cache '{path}' is corrupt ({reason}): delete it (the images are decoded again),"
        " or set data.cache=false"
    )


def _read_entry(npy: str, header_file: str, key: str, shape: tuple[int, ...]) -> CachedImages:
    try:
        with open(header_file, encoding="utf-8") as handle:
            header = json.load(handle)
        upscaled = int(header["upscaled"])
        if header["key"] != key or tuple(header["shape"]) != shape:
            raise ValueError("its key or shape is not the one its name promises")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _corrupt(header_file, " ".join(str(error).split())[:120] or type(error).__name__) from None
    try:
        # Copy-on-write: writable for torch.from_numpy (no warning), yet nothing is ever written back to the file.
        mapped = np.load(npy, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise _corrupt(npy, " ".join(str(error).split())[:120] or type(error).__name__) from None
    if mapped.dtype != np.uint8 or tuple(mapped.shape) != shape:
        raise _corrupt(npy, f"holds {mapped.dtype} {tuple(mapped.shape)}, expected uint8 {shape}")
    expected_bytes = mapped.offset + mapped.nbytes
    if os.path.getsize(npy) != expected_bytes:
        raise _corrupt(npy, f"{os.path.getsize(npy):,} bytes, expected {expected_bytes:,}")
    return CachedImages(torch.from_numpy(mapped), mapped, upscaled, npy, hit=True)


def _write_entry(cache_dir: str, key: str, paths: Sequence[str], shape: tuple[int, ...], source: str) -> None:
    os.makedirs(cache_dir, exist_ok=True)
    final = os.path.join(cache_dir, f"{key}.npy")
    # The pid keeps concurrent builders (the ranks of a torchrun job) off each other's temporary files.
    temporary = os.path.join(cache_dir, f".{key}.{os.getpid()}.tmp.npy")
    try:
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
        decoded = decode_images(paths, shape[-1], shape[1], out=out, progress=f"decoding {len(paths):,} images once")
        out.flush()
        upscaled = decoded.upscaled
        del out, decoded  # closes the map before the rename
        os.replace(temporary, final)
        header = {"key": key, "shape": list(shape), "upscaled": upscaled,
                  "source": os.path.abspath(source), "format_version": CACHE_FORMAT_VERSION, "policy": DECODE_POLICY}
        header_temporary = os.path.join(cache_dir, f".{key}.{os.getpid()}.tmp.json")
        with open(header_temporary, "w", encoding="utf-8") as handle:
            json.dump(header, handle)
        os.replace(header_temporary, os.path.join(cache_dir, f"{key}.json"))
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)  # our own half-written file; the finished one was renamed away


def cached_decode(root: str, paths: Sequence[str], size: int, channels: int, cache_dir: str) -> CachedImages:
    """``paths`` (files under ``root``) decoded to uint8 (N, C, size, size), through the cache in ``cache_dir``."""
    key = cache_key(root, paths, size, channels)
    npy = os.path.join(cache_dir, f"{key}.npy")
    header_file = os.path.join(cache_dir, f"{key}.json")
    shape = (len(paths), channels, size, size)
    # The header is written last, so an entry without one was never finished: decode again over its .npy.
    if os.path.exists(header_file) and os.path.exists(npy):
        return _read_entry(npy, header_file, key, shape)
    try:
        _write_entry(cache_dir, key, paths, shape, root)
    except OSError as error:
        raise DataError(
            f"cannot write the decode cache in '{cache_dir}' ({error.strerror or error}): free some disk space,"
            " make data.root writable, or set data.cache=false"
        ) from None
    entry = _read_entry(npy, header_file, key, shape)
    entry.hit = False
    entry.pruned = _prune_replaced_entries(cache_dir, key, root, shape)
    return entry


def _prune_replaced_entries(cache_dir: str, key: str, source: str, shape: tuple[int, ...]) -> list[str]:
    """Remove the entries of ``source`` at ``shape``'s size and channels under another key; their .npy paths.

    Only finished entries whose header names this folder are touched (a header
    that does not read is left for the user, as a corrupt one is). The .npy
    goes first: an interrupted removal leaves a header without pixels, which
    no lookup takes for an entry and the next prune removes.
    """
    removed = []
    for name in sorted(os.listdir(cache_dir)):
        if not name.endswith(".json") or name.startswith(".") or name == f"{key}.json":
            continue
        header_file = os.path.join(cache_dir, name)
        try:
            with open(header_file, encoding="utf-8") as handle:
                header = json.load(handle)
            replaced = header["source"] == os.path.abspath(source) and list(header["shape"][1:]) == list(shape[1:])
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
        if not replaced:
            continue
        npy = header_file[: -len(".json")] + ".npy"
        try:
            if os.path.exists(npy):
                os.remove(npy)
            os.remove(header_file)
        except OSError:
            continue  # another process (a torchrun rank) removed it first, or it is not ours to remove
        removed.append(npy)
    return removed
