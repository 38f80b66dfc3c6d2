"""torchrun as ``gankit train --nproc N`` starts it: PyTorch's own launcher, run in-process.

The only difference from ``python -m torch.distributed.run`` is how a user's
mistake ends. A bad setting or a missing data folder makes every rank raise
the same one-line error and exit with 2; torchrun would then print that line
once per rank and raise ChildFailedError, whose traceback and failure table
bury it. Here each rank leaves its line in a folder (gankit.errors.report_error)
and the launcher prints each distinct line once, in rank order, and exits
with 2. A rank-specific error (one machine lacks the data) is printed too, as
its own line. Any other failure (a crash, a killed rank) is torchrun's report
as before.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

from gankit.errors import LAUNCH_ERRORS_ENV, GankitError

USER_ERROR = GankitError.exit_code
# The logger of torchrun's worker supervision: it logs each failed rank and the SIGTERM sent to the rest.
WORKER_LOG = "torch.distributed.elastic.multiprocessing.api"


def _not_about_a_user_error(record: logging.LogRecord) -> bool:
    """Drop the supervisor's lines about ranks that exited with gankit's user-error code, and its SIGTERM notices.

    The SIGTERM notice goes in every case: after a crash the failure table torchrun raises still names the rank.
    """
    message = record.getMessage()
    return f"(exitcode: {USER_ERROR})" not in message and "closing signal SIGTERM" not in message


def _distinct_lines(folder: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(folder.glob("rank-*.txt")):
        line = path.read_text(encoding="utf-8").strip()
        if line and line not in lines:
            lines.append(line)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.getLogger(WORKER_LOG).addFilter(_not_about_a_user_error)
    with tempfile.TemporaryDirectory(prefix="gankit-launch-") as folder:
        os.environ[LAUNCH_ERRORS_ENV] = folder  # the ranks inherit it
        try:
            run(args)
        except ChildFailedError as failed:
            lines = _distinct_lines(Path(folder))
            codes = {failure.exitcode for failure in failed.failures.values()}
            # Only a job that failed on user errors alone (the rest stopped by torchrun's SIGTERM) ends quietly.
            if lines and USER_ERROR in codes and codes <= {USER_ERROR, -signal.SIGTERM}:
                print("\n".join(lines), file=sys.stderr)
                return USER_ERROR
            raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
