"""Writing files so that a crash never leaves half of one: every part of gankit writes through here.

``atomic_write`` writes to a temporary file in the same folder, fsyncs it and
renames it over the target: a crash leaves either the old file or the new
one. Checkpoints, configs, sample grids, figures and reports all use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fsync_directory(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename still happened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(file_object)`` on a temporary file, then move it to ``path``.

    If anything fails (a full disk, a kill), the previous ``path`` is untouched
    and the temporary file is removed.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would (0644 under umask 022).
        os.chmod(tmp_name, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    fsync_directory(path.parent)
