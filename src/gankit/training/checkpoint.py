"""Checkpoints: written atomically, loaded without running a stranger's code.

A checkpoint is a plain dict of tensors and Python primitives. It is loaded
with ``torch.load(weights_only=True)``, whose unpickler refuses anything but
tensors and basic containers, so a malicious file cannot execute code.

Writes go to a temporary file in the same folder, are fsynced, then renamed
over the target: a crash leaves either the old file or the new one, never a
half-written checkpoint under the real name. Each checkpoint has a SHA-256
sidecar (``step_XXXXXXXX.pt.sha256``) so that a file damaged later (a bad
disk, a partial copy between machines) is detected on load, named, and
skipped in favour of the previous good one.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit import __version__
from gankit.errors import CheckpointError
from gankit.files import atomic_write, fsync_directory

FORMAT = "gankit-checkpoint"
# 1: gankit 0.1.0 (one generator, one critic under fixed keys); 2: networks, EMA and optimisers by role and side.
VERSION = 2
LAST = "last.pt"
_STEP_FILE = re.compile(r"^step_(\d{8})\.pt$")


def step_filename(step: int) -> str:
    return f"step_{step:08d}.pt"


CHECKSUM_SUFFIX = ".sha256"


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def save_checkpoint(folder: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``step_XXXXXXXX.pt`` and its checksum, make ``last.pt`` name it; keep the newest ``keep``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "gankit_version": __version__, **payload}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    target = folder / step_filename(step)
    try:
        _write_checkpoint_files(folder, target, data, digest)
    except OSError as err:
        # A full disk or a lost mount: the previous checkpoint is untouched, so say so and how to go on.
        raise CheckpointError(
            f"could not write checkpoint '{target}' ({err.strerror or err}): the previous checkpoint is intact; "
            f"free space or fix the folder, then continue with: gankit train --resume {folder.parent}"
        ) from None
    for old in step_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
        checksum_path(old).unlink(missing_ok=True)
    return target


def _write_checkpoint_files(folder: Path, target: Path, data: bytes, digest: str) -> None:
    atomic_write(target, lambda handle: handle.write(data))
    # The sidecar follows the file: a crash between the two leaves a file
    # without a sidecar, which loads unverified (torch still checks its zip structure).
    atomic_write(checksum_path(target), lambda handle: handle.write(digest.encode() + b"\n"))
    # last.pt is a hard link to the newest step file: no second write of the
    # data, and os.replace makes the switch atomic.
    link_tmp = folder / f".{LAST}.link"
    link_tmp.unlink(missing_ok=True)
    try:
        os.link(target, link_tmp)
        os.replace(link_tmp, folder / LAST)
    except OSError:  # file systems without hard links: write a copy instead
        link_tmp.unlink(missing_ok=True)
        atomic_write(folder / LAST, lambda handle: handle.write(data))
    atomic_write(checksum_path(folder / LAST), lambda handle: handle.write(digest.encode() + b"\n"))
    fsync_directory(folder)


def _verify_checksum(path: Path) -> None:
    sidecar = checksum_path(path)
    if not sidecar.is_file():
        return
    expected = sidecar.read_text().strip()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise CheckpointError(
            f"checkpoint '{path}' fails its SHA-256 check (truncated or corrupted): "
            "resume from an earlier file in its checkpoints/ folder"
        )


def step_checkpoints(folder: Path) -> list[Path]:
    """Periodic checkpoints in the folder, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _STEP_FILE.match(p.name))


def remove_partial_writes(folder: Path) -> int:
    """Delete the temporary files of writes that a kill cut short; returns how many.

    ``atomic_write`` removes its temporary file on any error, but a SIGKILL or
    a power cut gives it no chance. Only call this when no other process writes
    to the folder (at resume).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    stale = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith((".tmp", ".link"))]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def has_checkpoint(folder: Path) -> bool:
    """Whether the folder holds any checkpoint file, readable or not."""
    return (Path(folder) / LAST).is_file() or bool(step_checkpoints(folder))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's payload, or a CheckpointError naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist: pass a run folder or a .pt file that gankit wrote")
    _verify_checksum(path)
    try:
        with warnings.catch_warnings():
            # A foreign pickle makes torch warn about its protocol; the error below says all the user needs.
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message is a page long; the line naming the offending global is the useful part.
        named = [line.strip() for line in str(err).splitlines() if "Unsupported" in line or "GLOBAL" in line]
        what = f" ({named[0][:120]})" if named else ""
        raise CheckpointError(
            f"refused to load '{path}': it holds objects other than tensors and plain data{what}, "
            "which could run code; only load checkpoints written by gankit"
        ) from None
    except Exception as err:  # noqa: BLE001 - torch raises many types for damaged files
        raise CheckpointError(
            f"checkpoint '{path}' is damaged or not a checkpoint ({type(err).__name__}): "
            "resume from an earlier file in its checkpoints/ folder"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is not a gankit checkpoint: pass a file from a run's checkpoints/ folder")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"checkpoint '{path}' has no valid format version ({version!r}): it was not written by gankit")
    if version > VERSION:
        raise CheckpointError(
            f"checkpoint '{path}' was written by gankit {payload.get('gankit_version', 'unknown')} (format {version}); "
            f"this gankit {__version__} reads formats up to {VERSION}: upgrade gankit to load it"
        )
    return migrate(payload)


def migrate(payload: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of any older format in the current layout (the file itself is never rewritten)."""
    if payload["version"] == 1:
        # gankit 0.1.0: one generator and one critic under fixed keys, an EMA of the generator or None.
        payload = dict(payload)
        payload["networks"] = {"generator": payload.pop("generator"), "critic": payload.pop("critic")}
        ema = payload.pop("ema")
        payload["ema"] = None if ema is None else {"generator": ema}
        payload["optimizers"] = {
            "generator": payload.pop("generator_optimizer"),
            "critic": payload.pop("critic_optimizer"),
        }
        payload["preview"] = {"noise": payload.pop("fixed_noise"), "labels": payload.pop("fixed_labels")}
        payload["version"] = VERSION
    return payload


def restore_modules(modules: dict[str, torch.nn.Module], states: dict[str, Any], what: str = "network") -> None:
    """Load each module's state by role; any mismatch is one CheckpointError naming the role and the first detail."""
    missing = sorted(set(modules) - set(states))
    if missing:
        raise CheckpointError(
            f"the checkpoint has no {what} '{missing[0]}' (it holds {', '.join(sorted(states)) or 'none'}): "
            "it was written for another objective; resume or load it with the config it was written with"
        )
    for role, module in modules.items():
        try:
            module.load_state_dict(states[role])
        except (KeyError, RuntimeError, ValueError) as err:
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            detail = (lines[1] if len(lines) > 1 else lines[0])[:160] if lines else type(err).__name__
            raise CheckpointError(
                f"the checkpoint's {what} '{role}' does not match the architecture its config describes ({detail}): "
                "it was edited or written by another gankit; use an untouched checkpoint with its own config"
            ) from None


def load_latest_checkpoint(folder: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """The newest readable checkpoint of a run; damaged ones are named and skipped."""
    folder = Path(folder)
    candidates = [folder / LAST] + list(reversed(step_checkpoints(folder)))
    candidates = [p for p in candidates if p.is_file()]
    if not candidates:
        raise CheckpointError(f"no checkpoint found in '{folder}': the run never reached its first checkpoint")
    problems = []
    for path in candidates:
        try:
            payload = load_checkpoint(path)
        except CheckpointError as err:
            problems.append(str(err))
            warn(f"warning: {err}; trying an older checkpoint")
            continue
        return payload
    raise CheckpointError(f"every checkpoint in '{folder}' is unreadable; the first problem: {problems[0]}")
