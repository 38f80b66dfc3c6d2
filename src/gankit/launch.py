"""torchrun as ``gankit train --nproc N`` starts it: PyTorch's own launcher, run in-process.

The only difference from ``python -m torch.distributed.run`` is how a user's
mistake ends. A bad setting or a missing data folder makes every rank print
gankit's one line and exit with 2; torchrun then raises ChildFailedError,
whose traceback and failure table would bury that line. Here such a job
exits with 2 after the ranks' line alone; any other failure (a crash, a
killed rank) is torchrun's report as before.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

USER_ERROR = 2  # the exit code of gankit's one-line errors (GankitError.exit_code)
# The logger of torchrun's worker supervision: it logs each failed rank and the SIGTERM sent to the rest.
WORKER_LOG = "torch.distributed.elastic.multiprocessing.api"


def _not_about_a_user_error(record: logging.LogRecord) -> bool:
    """Drop the supervisor's lines about ranks that exited with gankit's user-error code, and its SIGTERM notices.

    The SIGTERM notice goes in every case: after a crash the failure table torchrun raises still names the rank.
    """
    message = record.getMessage()
    return f"(exitcode: {USER_ERROR})" not in message and "closing signal SIGTERM" not in message


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.getLogger(WORKER_LOG).addFilter(_not_about_a_user_error)
    try:
        run(args)
    except ChildFailedError as failed:
        if USER_ERROR in {failure.exitcode for failure in failed.failures.values()}:
            return USER_ERROR
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
