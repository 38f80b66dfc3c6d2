"""An evaluation's own progress on the progress stream (stderr): sampling, features, then each metric.

Five thousand Inception features on a CPU take minutes; without a word the
run looks hung. The line is a transient tqdm bar (``leave=False``): below the
training bar during training, alone under ``gankit eval``, gone when the
evaluation ends, and never in metrics.jsonl. Redirected to a file it redraws
at most every ``FILE_INTERVAL_S`` seconds, as the training bar does, so a log
gets a status line per long stage rather than one per feature batch.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

TERMINAL_INTERVAL_S = 0.1
FILE_INTERVAL_S = 10.0


def refresh_interval() -> float:
    """Seconds between redraws: often on a terminal, rarely in a file."""
    return TERMINAL_INTERVAL_S if sys.stderr.isatty() else FILE_INTERVAL_S


class EvalProgress:
    """Counts an evaluation's stages and shows the current one (with its batches, for feature extraction)."""

    def __init__(self, enabled: bool, stages: int, title: str):
        self.enabled = enabled
        self._stage = ""
        self.bar = tqdm(total=stages, desc=title, unit="stage", leave=False, disable=not enabled,
                        file=sys.stderr, mininterval=refresh_interval(), miniters=0, dynamic_ncols=True)

    def stage(self, name: str) -> None:
        """Begin stage ``name``; the previous one, if any, counts as done."""
        if self._stage:
            self.bar.update(1)
        self._stage = name
        self._show(name)

    def batches(self, what: str):
        """A feature extractor's BatchReport that shows '<what> done/total' within the current stage."""
        return lambda done, total: self._show(f"{self._stage}: {what} {done}/{total}")

    def _show(self, text: str) -> None:
        # refresh=False leaves redrawing to tqdm's interval; the update below lets it redraw if that has passed.
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(0)

    def close(self) -> None:
        if self._stage:
            self.bar.update(1)
        self.bar.close()

    def __enter__(self) -> EvalProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
