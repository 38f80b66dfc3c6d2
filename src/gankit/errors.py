"""Errors that mean "the user asked for something we cannot do".

Every such error carries one line that names the problem and the fix. The
command line prints that line and exits with status 2, without a traceback;
anything else that goes wrong is a bug and keeps its traceback.
"""


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
