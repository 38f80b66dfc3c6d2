"""The typed run configuration: defaults, presets, files, overrides, validation.

A run is described by one ``RunConfig``. It is built in layers, each a short
diff over the one before: the typed defaults, a preset (``presets/*.yaml``),
a user's YAML file, ``key=value`` overrides from the command line. Every key
is checked against the dataclasses below, so a misspelt key is an error that
names it, never a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Union

import yaml

from gankit.errors import ConfigError, closest_name, did_you_mean
from gankit.models import ModelConfig
from gankit.objectives import OBJECTIVES, ObjectiveParams, objective_class
from gankit.objectives.penalties import conditional_penalty_problem
from gankit.training.augment import parse_policy
from gankit.training.lr_schedule import LR_SCHEDULES

# The main job, what a bare `gankit train` trains. Issue 18's rule: a stabiliser becomes the main job's default only
# if it wins on the mean at equal wall time. SN + hinge did, on the main job's data (classifier FD 7.0 +- 0.4 against
# WGAN-GP's 10.5 +- 0.8 over 3 seeds at 300 training s) and on 500 digits (22.0 against 33.7), so the main job moved
# from wgan-gp-mnist (still a preset) to hinge-sngan-mnist (benchmarks/results/equal-time-mnist-sizes.txt).
DEFAULT_PRESET = "hinge-sngan-mnist"
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
CRITIC_SCHEDULES = ("constant", "wgan")
PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class DataConfig:
    name: str = "mnist"  # a built-in dataset or a path to a folder of images
    root: str = "data"  # where torchvision-format datasets live (--data-root)
    image_size: int | None = None  # None: the dataset's native size (folders: 64)
    channels: int | None = None  # None: 1 for MNIST/digits, 3 otherwise
    toy_size: int = 100_000  # points drawn once for the toy 2-D sets
    # Limited data: train on a seeded, class-stratified subset of this many samples (null: all of them). The
    # subset follows subset_seed, not train.seed, so runs with different seeds see the same samples; evaluation
    # still compares against the full real data (an FD against 50 images would be meaningless).
    subset: int | None = None
    subset_seed: int = 0
    # Decode a folder (or CelebA) of 1,000+ images once into <root>/.gankit-cache and map it from there.
    cache: bool = True
    # Stream batches from the host instead of holding the data on the device: null decides by size (more than
    # half the device's free memory), true or false forces. Same batches, same weights, either way.
    stream: bool | None = None


@dataclass
class OptimizerConfig:
    # None means "the objective's recommendation" (e.g. RMSProp 5e-5 for WGAN).
    name: str | None = None
    lr: float | None = None
    betas: list[float] | None = None
    weight_decay: float = 0.0


@dataclass
class OptimConfig:
    generator: OptimizerConfig = field(default_factory=OptimizerConfig)
    critic: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class ObjectiveConfig:
    name: str = "wgan-gp"
    # Validated against the objective's own Params dataclass once the name is known.
    params: ObjectiveParams = field(default_factory=lambda: objective_class("wgan-gp").Params())


@dataclass
class TrainConfig:
    steps: int = 2000  # generator steps
    # Stop earlier once this many training seconds have passed (a budget for
    # sweeps and benchmarks); null trains to `steps`. Where it stops depends on
    # the machine's speed, so such a run is not reproducible step for step.
    max_seconds: float | None = None
    batch_size: int = 64
    n_critic: int | None = None  # critic steps per generator step; None: the objective's
    # "wgan": 100 critic steps for the first 25 generator steps and every 500th (Arjovsky et al.)
    critic_schedule: str = "constant"
    ema_decay: float = 0.0  # 0 turns the generator EMA off; 0.999 is typical
    # Learning rate over training, for both sides: constant | linear-decay (to 0 at the last step, from
    # lr_decay_start; null: half of steps) | step (times lr_step_factor every lr_step_every steps).
    lr_schedule: str = "constant"
    lr_decay_start: int | None = None
    lr_step_every: int = 1000
    lr_step_factor: float = 0.5
    # plateau: times lr_step_factor when the mean of the logged statistic lr_plateau_stat (one that should
    # fall, e.g. BEGAN's convergence) over a window of lr_plateau_every steps has not fallen below the best
    # window's by lr_plateau_threshold (relative) for lr_plateau_patience windows; never below lr_min_factor.
    lr_plateau_stat: str | None = None
    lr_plateau_every: int = 100
    lr_plateau_patience: int = 2
    lr_plateau_threshold: float = 0.01
    lr_min_factor: float = 0.25
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    # CPU threads PyTorch may use (null: its default, one per core). On a machine shared with other jobs,
    # fewer threads than cores is often faster, and leaves the others their share.
    threads: int | None = None
    # fp32, or bf16 autocast for the networks' forward and backward (losses and
    # the penalty stay float32): faster on CPUs and GPUs with bf16 matrix units,
    # much slower where bf16 is emulated. auto: bf16 where it is native, else fp32.
    precision: str = "fp32"
    log_every: int = 50  # steps between host syncs for logging
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    sample_grid_size: int = 64
    tensorboard: bool = True
    # 2-D data: the critic's value surface with real and generated points (contours/step_*.png, and
    # training.gif at the end), every this many steps; null: at each logged step; 0: never.
    figure_every: int | None = None
    # The critic loss's gradient norm per critic layer at each logged step (diagnostics.jsonl, read by
    # `gankit diagnose`): one norm per layer, computed on the device, synced only when logged.
    layer_diagnostics: bool = True
    # Live alarms (training/alarms.py): a line on the progress stream, a metrics.jsonl record and a red row in
    # report.html when the critic loss sticks, the W estimate stays negative, a gradient norm explodes, modes
    # collapse or an evaluation metric jumps; each once per episode. false turns them off.
    alarms: bool = True
    alarm_warmup: int = 100  # generator steps before training statistics are judged (at first they are noise)
    alarm_patience: int = 3  # log intervals a stuck critic loss or a negative W estimate must last
    alarm_gradient_factor: float = 100.0  # a gradient norm this many times its running median
    alarm_metric_factor: float = 3.0  # an evaluation metric worse by this factor than at the previous evaluation
    alarm_modes_fall: float = 0.5  # modes covered falling to this fraction of the previous evaluation's, or less
    # Convolutional networks and image batches in channels-last memory order (NHWC): oneDNN's and
    # cuDNN's faster convolution kernels. Same numbers to float rounding; off for MLPs and 2-D data.
    channels_last: bool = True
    # On the CPU, convolutions that are matrix products in disguise (a DCGAN critic's head, a generator's
    # first layer, a one-channel input layer) computed as matmuls: same parameters and numbers, faster.
    fast_layers: bool = True
    # DiffAugment (Zhao et al. 2020): a comma list of color, translation, cutout applied, differentiably, to every
    # image the critic sees (real, generated, penalty points) in training only; '' turns it off. See training/augment.py.
    augment: str | None = ""  # null, like "", is off


@dataclass
class EvalConfig:
    """Metrics computed periodically during training (see ``gankit eval --help`` for the names)."""

    every: int = 0  # generator steps between evaluations; 0 turns them off
    metrics: list[str] | None = None  # None: every metric that fits the data
    samples: int | None = None  # None: 2500 for 2-D data, 5000 for images
    features: str = "auto"  # auto | classifier | inception
    inception_weights: str | None = None


@dataclass
class RunConfig:
    preset: str | None = None
    description: str = ""
    # A preset's promise: the wall seconds its default run takes on this project's reference machine (2 cores
    # of an AMD EPYC, AVX2), start-up, evaluations, figures and report included. Informative only (training
    # never reads it); `gankit presets` shows it and benchmarks/quality.py checks it.
    budget_seconds: float | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON/checkpoint safe), objective params flattened."""
        out = dataclasses.asdict(self)
        params = out["objective"].pop("params")
        out["objective"].update(params)
        return out


# --------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in inner) + " (or null)"
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp``, or a ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
        (item_type,) = typing.get_args(tp)
        return [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. data.name: 25 is unlikely but harmless
    raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")


def _unknown_key(key: str, known: list[str], prefix: str) -> ConfigError:
    full = f"{prefix}.{key}" if prefix else key
    close = closest_name(key, known)
    hint = f"did you mean '{close}'? " if close is not None else ""
    where = f"section '{prefix}'" if prefix else "the top level"
    return ConfigError(f"unknown config key '{full}': {hint}valid keys in {where}: {', '.join(known)}")


def _merge_dataclass(instance: Any, updates: dict[str, Any], prefix: str) -> None:
    """Apply a nested dict of updates to a dataclass instance, checking every key."""
    if not isinstance(updates, dict):
        raise ConfigError(f"config section '{prefix}' must be a mapping of keys to values, got {updates!r}")
    hints = typing.get_type_hints(type(instance))
    known = [f.name for f in dataclasses.fields(instance)]
    for key, value in updates.items():
        if key not in known:
            raise _unknown_key(str(key), known, prefix)
        full = f"{prefix}.{key}" if prefix else key
        current = getattr(instance, key)
        if dataclasses.is_dataclass(current):
            _merge_dataclass(current, value, full)
        else:
            setattr(instance, key, _coerce(value, hints[key], full))


def _merge_objective(objective: ObjectiveConfig, updates: dict[str, Any]) -> None:
    """The objective section: its name picks the params dataclass the rest must fit."""
    if not isinstance(updates, dict):
        raise ConfigError(f"config section 'objective' must be a mapping, got {updates!r}")
    updates = dict(updates)
    if "name" in updates:
        new_name = _coerce(updates.pop("name"), str, "objective.name")
        params_type = objective_class(new_name).Params
        if new_name != objective.name:
            # A new objective starts from its own defaults (WGAN-div's k = 2,
            # p = 6), keeping only what was explicitly set in a later layer.
            objective.params = params_type()
        objective.name = new_name
    _merge_dataclass(objective.params, updates, "objective")


def apply_updates(config: RunConfig, updates: dict[str, Any]) -> None:
    """Merge a nested mapping (from a preset, a YAML file or overrides) into ``config``."""
    if not isinstance(updates, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(updates).__name__}")
    updates = dict(updates)
    if "objective" in updates:
        _merge_objective(config.objective, updates.pop("objective"))
    _merge_dataclass(config, updates, "")


# --------------------------------------------------------------------------- presets


# A preset file whose name starts with this is a base: a recipe that presets (and config files) build on with a
# top-level ``preset:`` key, never a run of its own, so `gankit presets`, the zoo and the benchmarks do not list it.
BASE_PREFIX = "_"


def _preset_files() -> dict[str, Any]:
    folder = resources.files("gankit") / "presets"
    return {p.name[: -len(".yaml")]: p for p in folder.iterdir() if p.name.endswith(".yaml")}


def preset_names() -> list[str]:
    """The presets a user can train: every preset file but the bases."""
    return sorted(name for name in _preset_files() if not name.startswith(BASE_PREFIX))


def merge_preset_layers(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """``layer`` over ``base`` as mappings, with ``apply_updates``'s rules, so the result builds the same config.

    Sections merge key by key and lists are replaced. An objective section that
    names another objective replaces the base's whole (a new objective starts
    from its own defaults, as ``_merge_objective`` does).
    """
    below, objective = base.get("objective"), layer.get("objective")
    if isinstance(below, dict) and isinstance(objective, dict) and objective.get("name", below.get("name")) != below.get("name"):
        base = {key: value for key, value in base.items() if key != "objective"}
    return _merge_mappings(base, layer)


def _merge_mappings(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in layer.items():
        below = merged.get(key)
        merged[key] = _merge_mappings(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return merged


def _preset_layers(name: str) -> list[tuple[str, dict[str, Any]]]:
    """``name`` and the bases it builds on (its ``preset:`` key, theirs...), nearest first, each file read once."""
    files = _preset_files()
    layers: list[tuple[str, dict[str, Any]]] = []
    chain: list[str] = []
    while name is not None:
        if name not in files:
            named_by = f" (named by preset '{chain[-1]}')" if chain else ""
            choices = {n: p for n, p in files.items() if chain or not n.startswith(BASE_PREFIX)}
            raise ConfigError(f"unknown preset '{name}'{named_by}{did_you_mean(name, choices)}: run 'gankit presets' "
                              "to list them")
        if name in chain:
            raise ConfigError(f"preset '{chain[0]}' builds on itself ({' -> '.join([*chain, name])}): "
                              f"remove the 'preset:' key of '{chain[-1]}'")
        chain.append(name)
        data = yaml.safe_load(files[name].read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"preset '{name}' must hold a mapping of sections (data:, model:, ...): fix {files[name]}")
        layers.append((name, data))
        name = data.get("preset")
    return layers


def preset_chain(name: str) -> list[str]:
    """``name`` and the bases it builds on (its ``preset:`` key, theirs...), nearest first."""
    return [link for link, _ in _preset_layers(name)]


def read_preset(name: str) -> dict[str, Any]:
    """The preset's settings, with those of the bases it builds on merged under them (no ``preset:`` key left)."""
    merged: dict[str, Any] = {}
    for _, layer in reversed(_preset_layers(name)):
        merged = merge_preset_layers(merged, {key: value for key, value in layer.items() if key != "preset"})
    return merged


def read_yaml_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' does not exist: check the path given to --config") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file '{path}' ({err}): pass a readable YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file '{path}' is not valid YAML{where}: fix its syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of sections (data:, model:, ...)")
    return data


def parse_override(text: str) -> dict[str, Any]:
    """``train.batch_size=128`` -> ``{"train": {"batch_size": 128}}``."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like section.key=value, e.g. train.batch_size=128")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override '{text}' has an empty key part: use section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def build_config(
    preset: str | None = None,
    files: list[str | Path] | None = None,
    overrides: list[str] | None = None,
    updates: dict[str, Any] | None = None,
) -> RunConfig:
    """Defaults <- preset <- files <- ``updates`` <- overrides, then validated.

    A config file may name its own base with a top-level ``preset:`` key.
    With no preset anywhere, the main job's preset is used.
    """
    layers = [read_yaml_file(f) for f in files or []]
    if preset is not None and str(preset).startswith(BASE_PREFIX):
        users = [name for name in preset_names() if str(preset) in preset_chain(name)[1:]]
        raise ConfigError(
            f"'{preset}' is a base that presets build on, not a run of its own: train one of them "
            f"({', '.join(users) or 'gankit presets lists them'}), or name it with 'preset: {preset}' in a config "
            "file that sets the objective"
        )
    if preset is None:
        named = [layer.get("preset") for layer in layers if layer.get("preset")]
        preset = named[-1] if named else (None if layers else DEFAULT_PRESET)
    config = RunConfig()
    if preset is not None:
        base = read_preset(str(preset))
        apply_updates(config, base)
        config.preset = str(preset)
    for layer in layers:
        layer = {k: v for k, v in layer.items() if k != "preset"}
        apply_updates(config, layer)
    if updates:
        apply_updates(config, updates)
    for text in overrides or []:
        apply_updates(config, parse_override(text))
    validate(config)
    return config


def dropped_objective_keys_notice(config: RunConfig) -> str | None:
    """One line when the objective was renamed away from the preset's, naming the preset's objective keys lost.

    A new ``objective.name`` starts from that objective's own defaults (see
    ``_merge_objective``), so ``--preset wgan-gp-8gaussians objective.name=nsgan``
    silently trains without the preset's ``penalty_weight: 0.1``. That is by
    design (the keys may not even exist for the new objective), but a user
    comparing objectives on one recipe needs to be told.
    """
    if config.preset is None:
        return None
    preset_objective = dict(read_preset(config.preset).get("objective") or {})
    preset_name = preset_objective.pop("name", None)
    if preset_name is None or preset_name == config.objective.name or not preset_objective:
        return None
    final = config.to_dict()["objective"]
    lost = [f"{key}={value}" for key, value in preset_objective.items() if final.get(key) != value]
    if not lost:
        return None
    keys = ", ".join(f"objective.{item}" for item in lost)
    return (f"note: objective.name={config.objective.name} replaces preset {config.preset}'s {preset_name} and starts "
            f"from {config.objective.name}'s defaults, so the preset's {keys} do not carry over: "
            "pass them again to keep them")


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """A RunConfig from ``RunConfig.to_dict()`` output (a saved config.yaml or checkpoint)."""
    config = RunConfig()
    apply_updates(config, data)
    validate(config)
    return config


# --------------------------------------------------------------------------- validation


def _check(problems: list[str], condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


def validate(config: RunConfig) -> None:
    """Range checks that types alone cannot express; the first problem is raised."""
    problems: list[str] = []
    t = config.train
    for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "sample_grid_size"):
        value = getattr(t, name)
        _check(problems, value >= 1, f"train.{name} must be >= 1, got {value}")
    _check(problems, t.figure_every is None or t.figure_every >= 0,
           f"train.figure_every must be >= 0 (0 turns the 2-D figures off, null draws them at each log step), got {t.figure_every}")
    _check(problems, t.max_seconds is None or t.max_seconds > 0, f"train.max_seconds must be > 0, got {t.max_seconds}")
    _check(problems, t.n_critic is None or t.n_critic >= 1, f"train.n_critic must be >= 1, got {t.n_critic}")
    _check(problems, 0.0 <= t.ema_decay < 1.0, f"train.ema_decay must be in [0, 1), got {t.ema_decay} (0 turns EMA off)")
    _check(problems, t.precision in PRECISIONS, f"train.precision must be one of {', '.join(PRECISIONS)}, got '{t.precision}'")
    _check(problems, t.critic_schedule in CRITIC_SCHEDULES,
           f"train.critic_schedule must be one of {', '.join(CRITIC_SCHEDULES)}, got '{t.critic_schedule}'")
    _check(problems, t.lr_schedule in LR_SCHEDULES,
           f"train.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got '{t.lr_schedule}'")
    # A start at or past train.steps is allowed: a shortened run (--steps) then simply trains before the decay.
    _check(problems, t.lr_decay_start is None or t.lr_decay_start >= 0,
           f"train.lr_decay_start must be >= 0, got {t.lr_decay_start}: null starts at half of the steps")
    _check(problems, t.lr_step_every >= 1, f"train.lr_step_every must be >= 1, got {t.lr_step_every}")
    _check(problems, t.threads is None or t.threads >= 1,
           f"train.threads must be >= 1 (CPU threads; null: PyTorch's default), got {t.threads}")
    _check(problems, 0 < t.lr_step_factor <= 1, f"train.lr_step_factor must be in (0, 1], got {t.lr_step_factor}")
    _check(problems, t.lr_schedule != "plateau" or bool(t.lr_plateau_stat),
           "train.lr_schedule plateau needs train.lr_plateau_stat: name a logged statistic that should fall, "
           "e.g. convergence for began")
    _check(problems, t.lr_plateau_every >= 1, f"train.lr_plateau_every must be >= 1, got {t.lr_plateau_every}")
    _check(problems, t.lr_plateau_patience >= 1,
           f"train.lr_plateau_patience must be >= 1, got {t.lr_plateau_patience}: windows without progress")
    _check(problems, 0 <= t.lr_plateau_threshold < 1,
           f"train.lr_plateau_threshold must be in [0, 1), got {t.lr_plateau_threshold}: 0.01 asks for a 1% fall")
    _check(problems, 0 < t.lr_min_factor <= 1,
           f"train.lr_min_factor must be in (0, 1], got {t.lr_min_factor}: the floor as a factor of the rate, e.g. 0.25")
    _check(problems, t.alarm_warmup >= 0, f"train.alarm_warmup must be >= 0 generator steps, got {t.alarm_warmup}")
    _check(problems, t.alarm_patience >= 2,
           f"train.alarm_patience must be >= 2 log intervals (a stuck loss is one seen unchanged), got {t.alarm_patience}")
    _check(problems, t.alarm_gradient_factor > 1,
           f"train.alarm_gradient_factor must be > 1, got {t.alarm_gradient_factor}: 100 flags a norm 100x its median")
    _check(problems, t.alarm_metric_factor > 1,
           f"train.alarm_metric_factor must be > 1, got {t.alarm_metric_factor}: 3 flags a metric 3x worse")
    _check(problems, 0 < t.alarm_modes_fall < 1,
           f"train.alarm_modes_fall must be in (0, 1), got {t.alarm_modes_fall}: 0.5 flags modes covered halving")
    try:
        parse_policy(t.augment)
    except ConfigError as err:
        problems.append(str(err))
    e = config.eval
    _check(problems, e.every >= 0, f"eval.every must be >= 0 (0 turns evaluation off), got {e.every}")
    _check(problems, e.samples is None or e.samples >= 2, f"eval.samples must be >= 2, got {e.samples}")
    _check(problems, e.features in ("auto", "classifier", "stacked-classifier", "inception"),
           f"eval.features must be auto, classifier, stacked-classifier or inception, got '{e.features}'")
    for role in ("generator", "critic"):
        o: OptimizerConfig = getattr(config.optim, role)
        key = f"optim.{role}"
        _check(problems, o.name is None or o.name in OPTIMIZERS,
               f"{key}.name must be one of {', '.join(OPTIMIZERS)}, got '{o.name}'")
        _check(problems, o.lr is None or o.lr > 0, f"{key}.lr must be > 0, got {o.lr}: use a small positive learning rate such as 1e-4")
        _check(problems, o.betas is None or (len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas)),
               f"{key}.betas must be two numbers in [0, 1), got {o.betas}")
        _check(problems, o.weight_decay >= 0, f"{key}.weight_decay must be >= 0, got {o.weight_decay}")
    d = config.data
    _check(problems, d.image_size is None or d.image_size >= 4, f"data.image_size must be >= 4, got {d.image_size}")
    _check(problems, d.channels in (None, 1, 3), f"data.channels must be 1 or 3, got {d.channels}")
    _check(problems, d.toy_size >= 1, f"data.toy_size must be >= 1, got {d.toy_size}")
    _check(problems, d.subset is None or d.subset >= 1,
           f"data.subset must be >= 1 (samples to train on; null keeps all of them), got {d.subset}")
    problems += config.model.validate()
    problems += config.objective.params.validate("objective")
    params = config.objective.params
    if config.model.conditional and params.penalty.weight > 0:
        problem = conditional_penalty_problem(params.penalty.points)
        if problem is not None:
            problems.append(problem)
    if params.lecam_weight > 0 and not objective_class(config.objective.name).supports_lecam:
        problems.append(
            f"objective.lecam_weight works on objectives that score one critic on real and generated samples, "
            f"and {config.objective.name} scores its critics in a game of its own: set objective.lecam_weight=0"
        )
    if problems:
        raise ConfigError(problems[0])


def resolved_optimizer(config: RunConfig, role: str) -> OptimizerConfig:
    """The optimiser settings for ``role``, the objective's recommendation filling the gaps."""
    rec = objective_class(config.objective.name).recommended
    o: OptimizerConfig = getattr(config.optim, role)
    return OptimizerConfig(
        name=o.name or rec.optimizer,
        lr=o.lr if o.lr is not None else rec.lr,
        betas=list(o.betas) if o.betas is not None else list(rec.betas),
        weight_decay=o.weight_decay,
    )


def resolve(config: RunConfig) -> RunConfig:
    """A copy with every "use the recommendation" gap filled, as saved in config.yaml."""
    out = dataclasses.replace(config)
    out.optim = OptimConfig(
        generator=resolved_optimizer(config, "generator"), critic=resolved_optimizer(config, "critic")
    )
    out.train = dataclasses.replace(config.train)
    if out.train.n_critic is None:
        out.train.n_critic = objective_class(config.objective.name).recommended.n_critic
    return out


__all__ = [
    "OBJECTIVES",
    "DataConfig",
    "ObjectiveConfig",
    "OptimConfig",
    "OptimizerConfig",
    "RunConfig",
    "TrainConfig",
    "apply_updates",
    "build_config",
    "config_from_dict",
    "merge_preset_layers",
    "parse_override",
    "preset_chain",
    "preset_names",
    "read_preset",
    "resolve",
    "validate",
]
