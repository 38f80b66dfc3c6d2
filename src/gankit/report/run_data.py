"""What the report pages read from a run folder: its config, its logged numbers and its pictures.

Reports are read-only views of a folder that training wrote (see
``gankit.training.run_dir``), so this module only reads files; a missing
picture is simply not there, but a folder without its config or its metrics
is not a run and is refused with one line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from gankit.errors import RunDirectoryError
from gankit.evaluation.provenance import PROVENANCE_KEY
from gankit.evaluation.records import upgrade_record
from gankit.training.logging import ALARM_KEY, METRICS_FILE, read_metrics
from gankit.training.run_dir import CONFIG_FILE, CONTOURS, SAMPLES, TRAINING_GIF, W_COMPARISON

FINAL_SAMPLES = "final.png"
EVAL_PREFIX = "eval/"

_STEP_PICTURE = re.compile(r"^step_(\d+)\.png$")
# Logged numbers that are bookkeeping rather than quantities worth a curve:
# the step and clock, sample counts, per-metric timings, and the class
# histogram (one number per class, which a class-coverage metric summarises).
_BOOKKEEPING = frozenset({"step", "time", "eval_samples"})
_BOOKKEEPING_PREFIXES = ("eval_seconds/", "eval/class_")
_FIRST = ("generator_loss", "critic_loss", "wasserstein", "penalty", "grad_norm")
_LAST = ("steps_per_s",)

T = TypeVar("T")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_quantity(key: str, value: Any) -> bool:
    """Whether a metrics.jsonl entry is a finite number worth plotting (not bookkeeping, not text)."""
    if not _finite(value):
        return False
    return key not in _BOOKKEEPING and not key.startswith(_BOOKKEEPING_PREFIXES)


def ordered_keys(keys: set[str]) -> list[str]:
    """Losses first, then the rest alphabetically, throughput last: the order a reader looks for them."""
    first = [k for k in _FIRST if k in keys]
    last = [k for k in _LAST if k in keys]
    middle = sorted(keys - set(first) - set(last))
    return first + middle + last


def thin(items: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` items spread evenly over ``items``, always keeping the first and the last."""
    n = len(items)
    if limit <= 0:
        return []
    if n <= limit:
        return list(items)
    if limit == 1:
        return [items[-1]]
    picks = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in picks]


def step_pictures(folder: Path) -> list[tuple[int, Path]]:
    """The ``step_XXXXXXXX.png`` files of ``folder`` with their steps, in step order."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP_PICTURE.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


@dataclass
class RunData:
    """One run folder as the reports see it."""

    path: Path
    config: dict[str, Any]
    records: list[dict[str, Any]]
    _keys: dict[bool, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, path: str | Path) -> RunData:
        path = Path(path)
        if not path.is_dir():
            raise RunDirectoryError(f"'{path}' is not a folder: pass a run folder that training created")
        config_file, metrics_file = path / CONFIG_FILE, path / METRICS_FILE
        missing = [p.name for p in (config_file, metrics_file) if not p.is_file()]
        if missing:
            raise RunDirectoryError(
                f"'{path}' is not a finished gankit run folder (no {' or '.join(missing)} inside): "
                "pass the folder that training created, after it has logged at least once"
            )
        try:
            config = yaml.safe_load(config_file.read_text()) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise RunDirectoryError(f"cannot read '{config_file}' ({err.__class__.__name__}): it is damaged") from None
        if not isinstance(config, dict):
            raise RunDirectoryError(f"'{config_file}' is not a gankit config (not a mapping): it is damaged")
        # An older gankit's keys under today's names (eval/fd -> eval/fd_classifier or eval/fid).
        return cls(path, config, [upgrade_record(r) for r in read_metrics(metrics_file)])

    @property
    def name(self) -> str:
        return self.path.resolve().name

    # ------------------------------------------------------------------ numbers
    @property
    def training_records(self) -> list[dict[str, Any]]:
        """The records the training loop wrote (they carry the training clock)."""
        return [r for r in self.records if "time" in r]

    @property
    def alarms(self) -> list[dict[str, Any]]:
        """The live alarms training raised (metrics.jsonl records with an ``alarm`` key), in step order."""
        found = [r for r in self.records if isinstance(r.get(ALARM_KEY), str) and _finite(r.get("step"))]
        return sorted(found, key=lambda r: r["step"])

    def keys(self, evaluation: bool) -> list[str]:
        """The plottable quantities: evaluation metrics (``eval/...``) or training statistics."""
        if evaluation not in self._keys:  # pages ask often; the records do not change
            found = {
                k for r in self.records for k, v in r.items()
                if is_quantity(k, v) and k.startswith(EVAL_PREFIX) == evaluation
            }
            self._keys[evaluation] = ordered_keys(found)
        return list(self._keys[evaluation])

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(steps, values) of one quantity; records where it is missing or not finite are left out."""
        pairs = [(r["step"], r[key]) for r in self.records if _finite(r.get(key)) and _finite(r.get("step"))]
        return [float(s) for s, _ in pairs], [float(v) for _, v in pairs]

    def last(self, key: str) -> float | None:
        _, values = self.series(key)
        return values[-1] if values else None

    def last_provenance(self, key: str) -> dict[str, Any] | None:
        """The provenance of the record ``last(key)`` comes from; None where unknown (an older gankit wrote it)."""
        for record in reversed(self.records):
            if _finite(record.get(key)) and _finite(record.get("step")):
                found = record.get(PROVENANCE_KEY)
                return found if isinstance(found, dict) else None
        return None

    @property
    def final_step(self) -> int | None:
        steps = [r["step"] for r in self.records if _finite(r.get("step"))]
        return int(max(steps)) if steps else None

    @property
    def training_seconds(self) -> float | None:
        """Training time as the loop measured it: evaluation is left out, a resumed run's sessions add up."""
        times = [r["time"] for r in self.training_records if _finite(r.get("time"))]
        return float(max(times)) if times else None

    @property
    def mean_steps_per_s(self) -> float | None:
        """Generator steps per second over the whole run (total steps over total training time)."""
        steps = [r["step"] for r in self.training_records if _finite(r.get("step"))]
        seconds = self.training_seconds
        if not steps or not seconds:
            return None
        return max(steps) / seconds

    # ------------------------------------------------------------------ config
    def setting(self, dotted: str, default: Any = None) -> Any:
        """A config value by its dotted key, e.g. ``data.name``."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def data_signature(self) -> tuple[Any, Any, Any]:
        """What makes two runs' data the same for comparison: the dataset, its image size and channels."""
        return (self.setting("data.name"), self.setting("data.image_size"), self.setting("data.channels"))

    def describe_data(self) -> str:
        name, size, channels = self.data_signature
        extra = []
        if size is not None:
            extra.append(f"{size}px")
        if channels is not None:
            extra.append(f"{channels} channels")
        return f"{name} ({', '.join(extra)})" if extra else str(name)

    # ------------------------------------------------------------------ pictures
    @property
    def sample_timeline(self) -> list[tuple[int, Path]]:
        return step_pictures(self.path / SAMPLES)

    @property
    def objective_grids(self) -> list[Path]:
        """samples/*.png other than the timeline and the final grid (InfoGAN's code sweeps, BiGAN's reconstructions)."""
        folder = self.path / SAMPLES
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.png") if p.name != FINAL_SAMPLES and not p.name.startswith("step_"))

    @property
    def contour_timeline(self) -> list[tuple[int, Path]]:
        return step_pictures(self.path / CONTOURS)

    def optional_file(self, relative: str) -> Path | None:
        path = self.path / relative
        return path if path.is_file() else None

    @property
    def final_samples(self) -> Path | None:
        return self.optional_file(f"{SAMPLES}/{FINAL_SAMPLES}")

    @property
    def w1_comparison(self) -> Path | None:
        return self.optional_file(W_COMPARISON)

    @property
    def training_gif(self) -> Path | None:
        return self.optional_file(TRAINING_GIF)


def flatten(config: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A nested config as (dotted key, value) pairs, in the file's order."""
    pairs: list[tuple[str, Any]] = []
    for key, value in config.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            pairs.extend(flatten(value, full))
        else:
            pairs.append((full, value))
    return pairs
