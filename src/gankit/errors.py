"""Errors that mean "the user asked for something we cannot do".

Every such error carries one line that names the problem and the fix. The
command line prints that line and exits with status 2, without a traceback;
anything else that goes wrong is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable

# Set by gankit.launch (``gankit train --nproc N``) for the ranks it starts: a folder where each rank leaves its
# error line instead of printing it, so the launcher prints each distinct line once.
LAUNCH_ERRORS_ENV = "GANKIT_LAUNCH_ERRORS"


class GankitError(Exception):
    """Base class of the errors a user can fix by changing their input."""

    exit_code = 2


class ConfigError(GankitError):
    """A config key, value, preset or override is wrong."""


class DataError(GankitError):
    """A dataset is missing, empty, corrupt or unsuitable."""


class CheckpointError(GankitError):
    """A checkpoint or run directory is missing, corrupt or incompatible."""


class RunDirectoryError(GankitError):
    """A run directory cannot be created or reused as asked."""


class TrainingDiverged(GankitError):
    """A loss or a parameter became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3


class EvaluationError(GankitError):
    """A metric cannot be computed as asked: unknown, unsuited to the data, or missing its weights."""


def closest_name(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of ``choices`` most like ``name`` (``difflib``'s ratio at least ``cutoff``), or None."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to a mistyped ``name``, or ``""`` if none is close.

    Every "unknown ..." message puts it right after the name it corrects:
    ``f"unknown preset '{name}'{did_you_mean(name, presets)}: ..."``.
    """
    close = closest_name(name, choices, cutoff)
    return f" (did you mean '{close}'?)" if close is not None else ""


def report_error(line: str) -> None:
    """Print a user error's line; a rank started by gankit.launch leaves it for the launcher instead."""
    folder = os.environ.get(LAUNCH_ERRORS_ENV)
    if folder and os.path.isdir(folder):
        with open(os.path.join(folder, f"rank-{int(os.environ.get('RANK', '0')):05d}.txt"), "w", encoding="utf-8") as f:
            f.write(line + "\n")
        return
    print(line, file=sys.stderr)
