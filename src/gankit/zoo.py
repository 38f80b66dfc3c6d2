"""The zoo: train several objectives on the same data under the same budget, then compare them.

    run_zoo(data="25gaussians", steps=2000)       # GAN, NS-GAN, LSGAN, WGAN, WGAN-GP, WGAN-div
    run_zoo(data="mnist", max_seconds=120)        # the MNIST presets, two minutes of training each

Every run gets the same dataset, the same step count or wall-time budget and
the same extra overrides, so the comparison page differs between runs only in
what the presets choose (objective, networks, optimiser). All configs are
built, and all run folders checked, before the first run trains: a typo in
the last preset name should not surface an hour into the sweep.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gankit.config import RunConfig, build_config, preset_names, read_preset
from gankit.errors import ConfigError, RunDirectoryError, TrainingDiverged
from gankit.report.across_seeds import summarise
from gankit.report.compare import COMPARISON_FILE, write_comparison
from gankit.report.run_data import RunData
from gankit.training.run_dir import check_run_name

DEFAULT_DATA = "25gaussians"
DEFAULT_STEPS = 2000  # the toy presets' own length; used when neither steps nor max_seconds is given
OBJECTIVES = ("gan", "nsgan", "lsgan", "wgan", "wgan-gp", "wgan-div")
TOY_DATA = ("8gaussians", "25gaussians", "swissroll")
# With only a time budget the step count must not stop a run first; no
# machine reaches this many generator steps in any sensible budget.
UNBOUNDED_STEPS = 1_000_000_000
SEED_SUMMARY_FILE = "seeds.json"
SUMMARY_LINE_METRICS = 4  # metrics per group in the zoo's closing log lines; the page and seeds.json have all


def default_presets(data: str) -> list[str]:
    """The zoo of ``data``: one preset per objective of ``OBJECTIVES`` that gankit ships for it.

    The 2-D sets share the 8gaussians presets (same networks and optimisers;
    the data is overridden); MNIST has its own presets with convolutional nets.
    """
    if data in TOY_DATA:
        suffix = "8gaussians"
    elif data == "mnist":
        suffix = "mnist"
    else:
        raise ConfigError(
            f"there is no default zoo for data '{data}': use one of {', '.join(TOY_DATA + ('mnist',))}, "
            "or name the presets to train (--presets a,b)"
        )
    available = set(preset_names())
    return [f"{objective}-{suffix}" for objective in OBJECTIVES if f"{objective}-{suffix}" in available]


def _run_name(preset: str, data: str | None) -> str:
    """The preset's name, with its dataset swapped for the zoo's: wgan-gp-8gaussians -> wgan-gp-25gaussians."""
    own = (read_preset(preset).get("data") or {}).get("name")
    if data is None or own == data:
        return preset
    suffix = f"-{own}"
    base = preset[: -len(suffix)] if own and preset.endswith(suffix) else preset
    return f"{base}-{data}"


@dataclass
class _Entry:
    name: str
    config: RunConfig
    group: str  # the name less its seed suffix: the runs of one group differ only in their seed


def parse_variation(text: str | None) -> list[tuple[str, str]]:
    """``KEY=V1,V2,...`` as [(setting, run-name suffix)], e.g. objective.cycle=none,both -> cycle-none, cycle-both.

    An ablation is then one zoo: each preset trains once per value.
    """
    if not text:
        return [("", "")]
    key, sep, values = text.partition("=")
    choices = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not choices:
        raise ConfigError(f"--vary '{text}' is not KEY=V1,V2,...: e.g. --vary objective.cycle=none,forward,both")
    leaf = key.strip().split(".")[-1]
    return [(f"{key.strip()}={v}", f"-{leaf}-{v}") for v in choices]


def _plan(
    presets: Sequence[str],
    data: str | None,
    steps: int | None,
    max_seconds: float | None,
    overrides: Sequence[str],
    out: Path,
    vary: str | None = None,
    seeds: int = 1,
) -> list[_Entry]:
    """Every run's config and folder name, checked before anything trains."""
    if not presets:
        raise ConfigError("the zoo needs at least one preset")
    if seeds < 1:
        raise ConfigError(f"the zoo's seed count must be at least 1, got {seeds}")
    if steps is not None and steps < 1:
        raise ConfigError(f"the zoo's step budget must be at least 1, got {steps}")
    if max_seconds is not None and max_seconds <= 0:
        raise ConfigError(f"the zoo's time budget must be more than 0 seconds, got {max_seconds:g}")
    budget = []
    if steps is None and max_seconds is None:
        steps = DEFAULT_STEPS
    budget.append(f"train.steps={steps if steps is not None else UNBOUNDED_STEPS}")
    if max_seconds is not None:
        budget.append(f"train.max_seconds={max_seconds}")
    data_override = [f"data.name={data}"] if data is not None else []
    entries = []
    variations = parse_variation(vary)
    for preset in presets:
        for setting, suffix in variations:
            # The budget comes last: every run must get the same one, whatever the overrides say.
            varied = [setting] if setting else []
            settings = data_override + list(overrides) + varied
            config = build_config(preset, overrides=settings + budget)
            group = _run_name(preset, data) + suffix
            # Several seeds count up from the run's own seed (0 unless --set train.seed=K moved it).
            for seed in range(config.train.seed, config.train.seed + seeds) if seeds > 1 else (None,):
                if seed is not None:
                    config = build_config(preset, overrides=settings + [f"train.seed={seed}"] + budget)
                name = check_run_name(group if seed is None else f"{group}-seed{seed}")
                if any(entry.name == name for entry in entries):
                    raise ConfigError(f"preset '{preset}' is listed twice (both would train into '{out / name}')")
                if (out / name).exists():
                    raise RunDirectoryError(
                        f"'{out / name}' already exists: pass another --out for this zoo, or remove the old runs"
                    )
                entries.append(_Entry(name, config, group))
    datasets = {(e.config.data.name, e.config.data.image_size, e.config.data.channels) for e in entries}
    if len(datasets) > 1:
        which = ", ".join(f"{e.name}: {e.config.data.name}" for e in entries)
        raise ConfigError(f"these presets train on different data ({which}): pass --data to train them all on one")
    return entries


def _quiet(message: str) -> None:
    """The log of a run when the zoo was asked for no progress output."""


def run_zoo(
    presets: Sequence[str] | None = None,
    data: str | None = None,
    steps: int | None = None,
    max_seconds: float | None = None,
    out: str | Path = "runs/zoo",
    overrides: Sequence[str] = (),
    progress: bool = True,
    log: Callable[[str], None] = print,
    vary: str | None = None,
    seeds: int = 1,
) -> Path:
    """Train each preset into ``out/NAME`` on the same data and budget; return the comparison page's path.

    ``presets`` defaults to the zoo of ``data`` (``default_presets``); ``data``
    defaults to the presets' own dataset, or 25gaussians when no presets are
    given. ``steps`` and ``max_seconds`` are the budget (both may be given;
    the first reached stops a run); with neither, every run trains
    ``DEFAULT_STEPS`` steps. ``overrides`` are ``key=value`` settings applied
    to every run; ``vary`` (``KEY=V1,V2,...``) trains each preset once per
    value, which makes a paper's ablation one zoo. ``seeds`` above 1 trains each of those runs with that
    many seeds (the run's seed and the ones after it, folders ``NAME-seedK``); the page then opens with
    mean +- std over the seeds and ``OUT/seeds.json`` holds the same numbers with every seed's values.
    A run that diverges is reported and the sweep goes on; on Ctrl-C the finished runs are compared before
    the interrupt propagates.
    """
    from gankit import api

    if presets is None:
        data = data or DEFAULT_DATA
        presets = default_presets(data)
    out = Path(out)
    entries = _plan(list(presets), data, steps, max_seconds, overrides, out, vary, seeds)
    out.mkdir(parents=True, exist_ok=True)
    say = log if progress else _quiet
    total, trained, notes = len(entries), [], []
    interrupted = False
    for index, entry in enumerate(entries, start=1):
        say(f"[{index}/{total}] {entry.name} ...")
        start = time.perf_counter()
        try:
            run = api.train(entry.config, out=out, name=entry.name, progress=progress, log=say)
        except TrainingDiverged as err:
            say(f"[{index}/{total}] {entry.name} diverged: {err}")
            notes.append(f"{entry.name} diverged and is shown up to its last logged step: {err}")
            trained.append(out / entry.name)
            continue
        trained.append(out / entry.name)
        say(f"[{index}/{total}] {entry.name} done: step {run.step} in {time.perf_counter() - start:.1f} s")
        if run.interrupted:
            interrupted = True
            notes.append(f"the zoo was interrupted during {entry.name}; the presets after it did not train")
            break
    # A run that failed before logging anything has nothing to compare.
    comparable = [path for path in trained if _has_records(path)]
    if not comparable:
        raise TrainingDiverged("no run of the zoo logged anything to compare: see the messages above")
    seed_groups = _seed_groups(entries, comparable, out) if seeds > 1 else None
    if seed_groups:
        _write_seed_summary(comparable, seed_groups, out, say)
    # The runs are trained: a metric measured differently between them is marked on the page, not refused.
    page = write_comparison(comparable, out / COMPARISON_FILE, notes=notes, seed_groups=seed_groups,
                            refuse_mixed_provenance=False)
    say(f"comparison of {len(comparable)} runs: {page}")
    if interrupted:
        raise KeyboardInterrupt
    return page


def _seed_groups(entries: Sequence[_Entry], comparable: Sequence[Path], out: Path) -> dict[str, list[int]]:
    """Each group's runs as indices into ``comparable`` (runs that logged nothing are not in it)."""
    index = {path: i for i, path in enumerate(comparable)}
    groups: dict[str, list[int]] = {}
    for entry in entries:
        if out / entry.name in index:
            groups.setdefault(entry.group, []).append(index[out / entry.name])
    return groups


def _write_seed_summary(comparable: Sequence[Path], groups: dict[str, list[int]], out: Path,
                        say: Callable[[str], None]) -> None:
    """OUT/seeds.json, and one line per group with its first evaluation metrics as mean +- std."""
    runs = [RunData.load(path) for path in comparable]
    summary = summarise({group: [runs[i] for i in indices] for group, indices in groups.items()})
    (out / SEED_SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    for group, quantities in summary.items():
        shown = [k for k in quantities if k.startswith("eval/")][:SUMMARY_LINE_METRICS]
        cells = ", ".join(f"{k[len('eval/'):]} {quantities[k]['mean']:.4g} ± {quantities[k]['std']:.2g}" for k in shown)
        say(f"{group} over {len(groups[group])} seeds: {cells or 'no evaluation'}")


def _has_records(path: Path) -> bool:
    try:
        return bool(RunData.load(path).records)
    except RunDirectoryError:
        return False
