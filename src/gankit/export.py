"""``gankit export``: a run's generator-side networks as ONNX, TorchScript or safetensors, checked on the spot.

What is exported is the run's **generator side** (``Run.sides["generator"]``):
the generator; both translators of a CycleGAN or DiscoGAN run; a BiGAN or
ALI run's generator and encoder. No variant is named here: what each network
reads and writes follows from its type (a latent ``Generator``, a
``Translator``, an ``Encoder``).

Files, for ``-o FILE``:

* one network: ``FILE`` itself; several (onnx, torchscript): ``STEM.ROLE.SUFFIX``
  beside it (``gen.g_ab.onnx``, ``gen.g_ba.onnx``); safetensors always holds
  every role in one file, its tensors named ``ROLE.PARAMETER``;
* ``FILE.json``: the input specification, enough to use the files without
  gankit (input names, shapes, dtypes, latent distribution and size, classes,
  InfoGAN's code layout, output shape and range, how to make uint8 of it), and
  the run, step, weights and the parity measured.

Each file is first written to a scratch folder, loaded back from there
(onnxruntime for ONNX, ``torch.jit.load``, ``load_export``), run on
``PARITY_INPUTS`` fixed inputs against the PyTorch network, and written to
its place (``files.atomic_write``) only if every network's largest absolute
difference is at most ``PARITY_TOLERANCE``: a failed check leaves nothing
behind, and nothing existing is replaced without ``overwrite``.

InfoGAN: an ONNX or TorchScript file holds the inner generator, whose input is
the explicit ``[free noise, one-hot category, continuous codes]`` (gankit's
own ``z -> codes`` step uses the normal CDF, which ONNX has no operator for;
explicit codes also let a user choose them). A safetensors file holds the
whole generator, and ``load_export(...).sample`` draws ``z`` as the run did.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit import __version__
from gankit.api import Run, load_run
from gankit.config import config_from_dict
from gankit.errors import CheckpointError, ConfigError, GankitError, did_you_mean
from gankit.files import atomic_write
from gankit.models.base import Generator
from gankit.models.heads import CodedGenerator
from gankit.models.joint import Encoder
from gankit.models.translation import Translator
from gankit.networks import build_networks, build_objective
from gankit.sampling import LatentInput
from gankit.training.checkpoint import restore_modules

FORMATS = {"onnx": (".onnx",), "torchscript": (".pt", ".ts"), "safetensors": (".safetensors",)}
PARITY_INPUTS = 64  # the number of fixed inputs every export is checked on
PARITY_TOLERANCE = 1e-4  # largest absolute difference accepted, on outputs in [-1, 1] (or latent codes)
PARITY_SEED = 0
ONNX_OPSET = 18
METADATA_KEY = "gankit_export"  # the safetensors metadata entry holding the JSON header
SPEC_SUFFIX = ".json"  # the specification is FILE + this: gen.onnx -> gen.onnx.json
ONNX_EXTRA = "pip install -e '.[export]' (or: pip install onnx onnxruntime onnxscript)"
TO_UINT8 = "uint8 = round((clamp(x, -1, 1) + 1) * 127.5), channels first (N, C, H, W)"


class ExportError(GankitError):
    """An export cannot be written or failed its check against the PyTorch network."""


# ---------------------------------------------------------------- what each network reads and writes


@dataclass
class TensorSpec:
    name: str
    shape: list[Any]  # "batch" for the batch dimension
    dtype: str
    about: dict[str, Any] = field(default_factory=dict)  # distribution, range, classes, layout

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "shape": self.shape, "dtype": self.dtype, **self.about}


@dataclass
class RoleInterface:
    """One exported role: the module a file holds, its inputs and output, and fixed inputs to check it on."""

    role: str
    module: nn.Module  # what ONNX and TorchScript trace (InfoGAN: the inner generator)
    inputs: list[TensorSpec]
    output: TensorSpec
    make_inputs: Callable[[int, int], tuple[Tensor, ...]]  # (n, seed) -> inputs for ``module``

    def record(self) -> dict[str, Any]:
        return {"inputs": [s.record() for s in self.inputs], "output": self.output.record()}


def _sample_about(kind: str) -> dict[str, Any]:
    if kind == "points":
        return {"kind": "points", "range": "unbounded (the data's own coordinates)"}
    return {"kind": "images", "range": [-1.0, 1.0], "to_uint8": TO_UINT8}


def _latent_about(latent: LatentInput) -> dict[str, Any]:
    if latent.distribution == "normal":
        return {"distribution": "standard normal N(0, I)", "truncation": "optional: multiply by psi in (0, 1]"}
    return {"distribution": "uniform on [-1, 1]"}


def role_interface(role: str, module: nn.Module, run: Run) -> RoleInterface:
    """What ``module`` (role ``role`` of ``run``) consumes and makes, from its type alone."""
    device = next(module.parameters()).device
    if isinstance(module, Translator):
        return _samples_in(role, module, module.source_shape, _sample_about(run.kind),
                           TensorSpec("samples", ["batch", *module.sample_shape], "float32", _sample_about(run.kind)))
    if isinstance(module, Encoder):
        out = TensorSpec("z", ["batch", module.latent_dim], "float32",
                         {"about": "the code E(x); ALI's encoder gives its posterior mean"})
        return _samples_in(role, module, module.sample_shape, _sample_about(run.kind), out)
    if isinstance(module, Generator):
        return _generator_interface(role, module, run, device)
    raise ExportError(
        f"the run's role '{role}' is a {type(module).__name__}, which gankit export does not know how to feed: "
        "export supports generators, translators and encoders"
    )


def _samples_in(role: str, module: nn.Module, shape: tuple[int, ...], about: dict, out: TensorSpec) -> RoleInterface:
    device = next(module.parameters()).device

    def make(n: int, seed: int) -> tuple[Tensor, ...]:
        # Inputs in the samples' range: uniform on [-1, 1] (images) or standard normal (points).
        g = torch.Generator().manual_seed(seed)
        if about["kind"] == "images":
            x = torch.rand(n, *shape, generator=g) * 2 - 1
        else:
            x = torch.randn(n, *shape, generator=g)
        return (x.to(device),)

    return RoleInterface(role, module, [TensorSpec("x", ["batch", *shape], "float32", about)], out, make)


def _generator_interface(role: str, module: Generator, run: Run, device: torch.device) -> RoleInterface:
    latent = run.latent if run.latent is not None else LatentInput(module.latent_dim)
    about = _latent_about(latent)
    traced: nn.Module = module
    to_input = None
    if isinstance(module, CodedGenerator):
        codes = module.codes
        free = module.latent_dim - codes.width
        about = {
            "distribution": "explicit InfoGAN codes, not raw noise",
            "layout": {
                "free_noise": {"columns": [0, free], "distribution": "standard normal"},
                "category_one_hot": {"columns": [free, free + codes.categories], "categories": codes.categories},
                "continuous": {"columns": [free + codes.categories, module.latent_dim], "count": codes.continuous,
                               "distribution": "uniform on [-1, 1] in training (the paper's figures sweep to +-2)"},
            },
        }
        traced, to_input = module.generator, codes.generator_input
    inputs = [TensorSpec("z", ["batch", module.latent_dim], "float32", about)]
    classes = module.num_classes if module.conditional else None
    if classes:
        inputs.append(TensorSpec("labels", ["batch"], "int64", {"classes": classes, "range": [0, classes - 1]}))

    def make(n: int, seed: int) -> tuple[Tensor, ...]:
        z = latent.draw(n, device, seed=seed)
        z = to_input(z) if to_input is not None else z
        return (z, torch.arange(n, device=device) % classes) if classes else (z,)

    out = TensorSpec("samples", ["batch", *module.sample_shape], "float32", _sample_about(run.kind))
    return RoleInterface(role, traced, inputs, out, make)


class _Positional(nn.Module):
    """``module`` with a forward of exactly its exported inputs, so exporters name them (x | z | z, labels)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


class _One(_Positional):
    def forward(self, first: Tensor) -> Tensor:
        return self.module(first).float()


class _Two(_Positional):
    def forward(self, first: Tensor, labels: Tensor) -> Tensor:
        return self.module(first, labels).float()


def _wrapped(interface: RoleInterface) -> nn.Module:
    return (_One if len(interface.inputs) == 1 else _Two)(interface.module).eval()


# ---------------------------------------------------------------- writing and checking one file


def _batched(fn: Callable[..., Any], inputs: tuple[Tensor, ...], batch: int | None) -> Tensor:
    """``fn`` over ``inputs`` in batches of exactly ``batch`` (the last one padded with the first rows)."""
    n = inputs[0].shape[0]
    if batch is None:
        return torch.as_tensor(fn(*inputs))
    outputs = []
    for start in range(0, n, batch):
        chunk = [x[start:start + batch] for x in inputs]
        short = batch - chunk[0].shape[0]
        if short:
            chunk = [torch.cat([c, x[:short]]) for c, x in zip(chunk, inputs)]
        outputs.append(torch.as_tensor(fn(*chunk))[: batch - short])
    return torch.cat(outputs)


def _onnx_bytes(
    wrapper: nn.Module, example: tuple[Tensor, ...], names: list[str], batch: int | None
) -> tuple[bytes, str]:
    """The ONNX model and which exporter made it: torch.export's (dynamo) first, the TorchScript one if it fails."""
    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")
            shapes = None
            if batch is None:
                dim = torch.export.Dim("batch")
                shapes = {arg: {0: dim} for arg in (["first"] if len(names) == 1 else ["first", "labels"])}
            program = torch.onnx.export(wrapper, example, None, dynamo=True, input_names=names,
                                        output_names=["out"], dynamic_shapes=shapes, opset_version=ONNX_OPSET)
            return program.model_proto.SerializeToString(), "torch.export (dynamo)"
    except Exception:  # noqa: BLE001 - torch.export fails in many ways; the legacy exporter may still succeed
        buffer = io.BytesIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
            warnings.simplefilter("ignore")  # its deprecation notice: the file is what matters, and it is checked
            axes = {**{n: {0: "batch"} for n in names}, "out": {0: "batch"}} if batch is None else None
            torch.onnx.export(wrapper, example, buffer, dynamo=False, input_names=names, output_names=["out"],
                              dynamic_axes=axes, opset_version=17)
        return buffer.getvalue(), "torchscript-based (legacy)"


def _onnx_outputs(path: Path, names: list[str]) -> Callable[..., Any]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # the check is small; one thread keeps it from competing with anything
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda *xs: session.run(None, {n: x.cpu().numpy() for n, x in zip(names, xs)})[0]


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


@dataclass
class ExportedFile:
    role: str
    path: Path
    max_abs_diff: float
    seconds: float
    exporter: str


def _check(role: str, fmt: str, reference: Tensor, got: Tensor) -> float:
    diff = (got.float().cpu() - reference.float().cpu()).abs().max().item()
    if not math.isfinite(diff) or diff > PARITY_TOLERANCE:
        raise ExportError(
            f"the {fmt} export of '{role}' differs from the PyTorch network by {diff:.3g} on {PARITY_INPUTS} fixed "
            f"inputs (more than {PARITY_TOLERANCE:g}): nothing was written; try another --format or report it"
        )
    return diff


# ---------------------------------------------------------------- safetensors and load_export


def _header(run: Run, roles: list[str], weights: str) -> dict[str, Any]:
    return {
        "gankit_version": __version__,
        "config": run.config.to_dict(),
        "data": run.data,
        "step": run.step,
        "roles": roles,
        "weights": weights,
        "run": None if run.path is None else str(run.path),
    }


def _safetensors_bytes(run: Run, roles: list[str], weights: str) -> bytes:
    from safetensors.torch import save

    tensors = {f"{role}.{key}": value.detach().cpu().contiguous().clone()
               for role in roles for key, value in run.networks[role].state_dict().items()}
    return save(tensors, metadata={METADATA_KEY: json.dumps(_header(run, roles, weights))})


def load_export(path: str | Path, device: str = "cpu", use_ema: bool = True) -> Run:
    """A ``gankit export --format safetensors`` file as a ``Run`` to sample from, with no run folder.

    The file's metadata holds the run's config and data description; the
    networks are rebuilt from them and given the file's weights. ``Run.path``
    is None (there is no folder to log into), ``Run.preview`` is unavailable.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"export '{path}' does not exist: pass a .safetensors file that gankit export wrote")
    return _load_export_file(path, device, use_ema)


def _load_export_file(path: Path, device: str, use_ema: bool) -> Run:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"'{path}' is not a readable safetensors file ({str(err)[:100]}): re-export it") from None
    if METADATA_KEY not in metadata:
        raise CheckpointError(f"'{path}' is a safetensors file but not a gankit export: write one with gankit export")
    header = json.loads(metadata[METADATA_KEY])
    if header["weights"] == "ema" and not use_ema:
        raise ConfigError(f"'{path}' holds the EMA weights only: drop --no-ema, or export the raw ones (no --ema)")
    config = config_from_dict(header["config"])
    objective = build_objective(config)
    networks = build_networks(config, header["data"], objective)
    roles = list(header["roles"])
    states = {role: {k[len(role) + 1:]: v for k, v in tensors.items() if k.startswith(f"{role}.")} for role in roles}
    restore_modules({role: networks[role] for role in roles}, states, what="exported network")
    from gankit.training.trainer import resolve_device

    target = resolve_device(device)
    kept = {role: networks[role].to(target).eval() for role in roles}
    return Run(None, config, kept, header["data"], int(header["step"]),
               latent=objective.generator_input(config.model.latent_dim), objective=objective.to(target),
               sides={"generator": tuple(roles), "critic": ()})


# ---------------------------------------------------------------- the command


@dataclass
class ExportResult:
    files: list[ExportedFile]
    spec_path: Path
    spec: dict[str, Any]


def format_for(out: Path, fmt: str | None) -> str:
    """The format asked for, or the one ``out``'s suffix names; a ConfigError when they disagree or neither is known."""
    suffix = out.suffix.lower()
    by_suffix = next((name for name, suffixes in FORMATS.items() if suffix in suffixes), None)
    if fmt is None:
        if by_suffix is None:
            raise ConfigError(f"cannot tell the format of '{out}': pass --format onnx, torchscript or safetensors")
        return by_suffix
    if fmt not in FORMATS:
        raise ConfigError(
            f"unknown export format '{fmt}'{did_you_mean(fmt, FORMATS)}: use onnx, torchscript or safetensors"
        )
    if suffix not in FORMATS[fmt]:
        raise ConfigError(f"a {fmt} export is named {' or '.join(FORMATS[fmt])}, got -o '{out}': rename it")
    return fmt


def parse_batch(text: str | int | None) -> int | None:
    """``--batch``: an int >= 1 (a fixed batch) or "dynamic" (None)."""
    if text is None or text == "dynamic":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--batch must be a number of samples or 'dynamic', got '{text}'") from None
    if value < 1:
        raise ConfigError(f"--batch must be at least 1 (or 'dynamic'), got {value}")
    return value


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ExportError(f"ONNX export needs the optional package '{err.name}': {ONNX_EXTRA}") from None


def _role_paths(out: Path, roles: list[str], fmt: str) -> dict[str, Path]:
    if fmt == "safetensors" or len(roles) == 1:
        return {role: out for role in roles}
    return {role: out.with_name(f"{out.stem}.{role}{out.suffix}") for role in roles}


def export_run(
    run: Run | str | Path,
    out: str | Path,
    fmt: str | None = None,
    ema: bool = False,
    batch: int | str | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> ExportResult:
    """Export ``run``'s generator side to ``out`` (and ``out.json``), each file checked against PyTorch.

    ``ema``: the EMA weights (the run must have kept them); otherwise the raw
    ones. ``batch``: a fixed batch size, or None / "dynamic".
    """
    out = Path(out)
    fmt = format_for(out, fmt)
    batch = parse_batch(batch)
    if batch is not None and fmt == "safetensors":
        raise ConfigError("--batch fixes a traced graph's batch size; safetensors holds weights only: leave it out")
    if fmt == "onnx":
        _require_onnx()
    if not out.parent.is_dir():
        raise ExportError(f"folder '{out.parent}' does not exist: create it or choose another -o path")
    if not isinstance(run, Run):
        run = load_run(run, use_ema=ema)
        if ema and run.config.train.ema_decay <= 0:
            raise ConfigError(
                f"'{run.path}' kept no EMA of its generator (train.ema_decay is {run.config.train.ema_decay}): "
                "export without --ema"
            )
    roles = list((run.sides or {}).get("generator") or [r for r in ("generator",) if r in run.networks])
    if not roles:
        raise ExportError("this run has no generator-side network to export")
    paths = _role_paths(out, roles, fmt)
    spec_path = out.with_name(out.name + SPEC_SUFFIX)
    for target in [*dict.fromkeys(paths.values()), spec_path]:
        if target.exists() and not overwrite:
            raise ExportError(f"'{target}' already exists: choose another -o path or pass --overwrite")
    interfaces = {role: role_interface(role, run.networks[role], run) for role in roles}
    weights = "ema" if ema else "raw"
    written = _write_checked(run, interfaces, paths, fmt, batch, weights)
    spec = _spec(run, interfaces, written, fmt, batch, weights, out)
    atomic_write(spec_path, lambda handle: handle.write((json.dumps(spec, indent=2) + "\n").encode()))
    for f in written:
        log(f"{f.role}: {fmt} max |difference| {f.max_abs_diff:.3g} on {PARITY_INPUTS} fixed inputs "
            f"(tolerance {PARITY_TOLERANCE:g}), {f.seconds:.2f} s -> {f.path}")
    log(f"input specification: {spec_path}")
    return ExportResult(written, spec_path, spec)


def _write_checked(run: Run, interfaces: dict[str, RoleInterface], paths: dict[str, Path], fmt: str,
                   batch: int | None, weights: str) -> list[ExportedFile]:
    """Every file made in a scratch folder and checked there; written into place (atomically) only when all pass."""
    results: list[ExportedFile] = []
    files: dict[Path, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="gankit-export-") as scratch:
        if fmt == "safetensors":
            start = time.perf_counter()
            out = paths[next(iter(paths))]
            trial = Path(scratch) / out.name
            files[out] = _safetensors_bytes(run, list(interfaces), weights)
            _write_file(trial, files[out])
            loaded = _load_export_file(trial, "cpu", use_ema=True)
            for role, interface in interfaces.items():
                inputs = tuple(x.cpu() for x in interface.make_inputs(PARITY_INPUTS, PARITY_SEED))
                reference = _reference(interface, inputs)
                with torch.no_grad():
                    got = _wrapped(role_interface(role, loaded.networks[role], loaded))(*inputs)
                results.append(ExportedFile(role, out, _check(role, fmt, reference, got),
                                            time.perf_counter() - start, "safetensors.torch, gankit.load_export"))
        else:
            for role, interface in interfaces.items():
                start = time.perf_counter()
                trial = Path(scratch) / paths[role].name
                inputs = interface.make_inputs(PARITY_INPUTS, PARITY_SEED)
                reference = _reference(interface, inputs)
                files[paths[role]], got, exporter = _export_one(interface, inputs, trial, fmt, batch)
                results.append(ExportedFile(role, paths[role], _check(role, fmt, reference, got),
                                            time.perf_counter() - start, exporter))
    for path, data in files.items():
        atomic_write(path, lambda handle, data=data: handle.write(data))
    return results


@torch.no_grad()
def _reference(interface: RoleInterface, inputs: tuple[Tensor, ...]) -> Tensor:
    return _wrapped(interface)(*inputs).cpu()


def _export_one(interface: RoleInterface, inputs: tuple[Tensor, ...], trial: Path, fmt: str,
                batch: int | None) -> tuple[bytes, Tensor, str]:
    """The file's bytes, its outputs on ``inputs`` once loaded back from ``trial``, and what made and ran it."""
    wrapper = _wrapped(interface)
    names = [s.name for s in interface.inputs]
    example = tuple(x[:batch] for x in inputs) if batch is not None else inputs
    if batch is not None and example[0].shape[0] < batch:  # a fixed batch larger than the check's inputs
        example = tuple(x.repeat(math.ceil(batch / x.shape[0]), *([1] * (x.dim() - 1)))[:batch] for x in inputs)
    cpu_inputs = tuple(x.cpu() for x in inputs)
    if fmt == "onnx":
        data, exporter = _onnx_bytes(wrapper, example, names, batch)
        _write_file(trial, data)
        outputs = _batched(_onnx_outputs(trial, names), cpu_inputs, batch)
        return data, outputs, f"torch.onnx, {exporter}; checked with onnxruntime"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice; the traced file is checked below
        traced = torch.jit.trace(wrapper, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
        data = buffer.getvalue()
        _write_file(trial, data)
        loaded = torch.jit.load(str(trial), map_location="cpu")
        return data, _batched(loaded, cpu_inputs, batch), "torch.jit.trace; checked with torch.jit.load"


def _spec(run: Run, interfaces: dict[str, RoleInterface], written: list[ExportedFile], fmt: str,
          batch: int | None, weights: str, out: Path) -> dict[str, Any]:
    by_role = {f.role: f for f in written}
    latent = run.latent
    return {
        "format": fmt,
        "gankit_version": __version__,
        "run": None if run.path is None else str(run.path),
        "step": run.step,
        "objective": run.config.objective.name,
        "architecture": run.config.model.arch,
        "weights": weights,
        "batch": "dynamic" if batch is None else batch,
        "latent": None if latent is None else {"dim": latent.dim, "distribution": latent.distribution},
        "data": {k: run.data.get(k) for k in ("name", "kind", "sample_shape", "num_classes")},
        "networks": {
            role: {
                "file": by_role[role].path.name,
                **interface.record(),
                "parity": {"max_abs_diff": by_role[role].max_abs_diff, "inputs": PARITY_INPUTS,
                           "tolerance": PARITY_TOLERANCE, "checked_with": by_role[role].exporter},
                "export_seconds": round(by_role[role].seconds, 3),
            }
            for role, interface in interfaces.items()
        },
        "usage": _usage(fmt, out),
    }


def _usage(fmt: str, out: Path) -> str:
    if fmt == "onnx":
        return (f"onnxruntime.InferenceSession('{out.name}').run(None, {{'z': z}})[0] with z float32 as 'inputs' "
                "says; feed 'labels' too for a conditional generator, 'x' for a translator or encoder")
    if fmt == "torchscript":
        return f"torch.jit.load('{out.name}')(z) or (z, labels) or (x), tensors as 'inputs' says"
    return (f"gankit.load_export('{out.name}').sample(n, seed=0) or gankit sample {out.name} -o grid.png; "
            "tensors are named ROLE.PARAMETER (safetensors.torch.load_file) and the safetensors metadata "
            f"'{METADATA_KEY}' holds the config that rebuilds the networks")
