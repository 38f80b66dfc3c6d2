"""Resizing and channel conversion of whole uint8 image tensors (N, C, H, W)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Resizing converts to float; doing it in chunks bounds the temporary memory
# (60,000 MNIST digits at 64x64 would otherwise need about 1 GB of float32).
_RESIZE_CHUNK = 4096

# ITU-R 601 luma weights, the ones Pillow uses for RGB -> L, so that a
# torchvision set and a folder of the same images give the same grey levels.
_LUMA = (0.299, 0.587, 0.114)


def resize_images(images: Tensor, size: int) -> Tensor:
    """Square-resize uint8 images with antialiased bilinear interpolation, staying uint8."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    chunks = []
    for chunk in images.split(_RESIZE_CHUNK):
        resized = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        chunks.append(resized.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(chunks)


def match_channels(images: Tensor, channels: int) -> Tensor:
    """Grey to RGB by repetition, RGB to grey by luma; other counts are left alone."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if have == 3 and channels == 1:
        weights = torch.tensor(_LUMA).view(1, 3, 1, 1)
        chunks = [(c.float() * weights).sum(1, keepdim=True) for c in images.split(_RESIZE_CHUNK)]
        return torch.cat(chunks).round().clamp(0, 255).to(torch.uint8)
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels")


def shape_text(images: Tensor) -> str:
    """'CxHxW' of one image, for descriptions."""
    return "x".join(str(d) for d in images.shape[1:])
