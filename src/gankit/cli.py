"""The command line: parse, call the API, turn user errors into one line and exit code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gankit import __version__
from gankit.cli_export import add_export_commands
from gankit.cli_recommend import add_recommend_command
from gankit.cli_report import add_report_commands
from gankit.config import (
    DEFAULT_PRESET,
    build_config,
    dropped_objective_keys_notice,
    preset_chain,
    preset_names,
    read_preset,
)
from gankit.errors import ConfigError, GankitError, report_error

EPILOG_TRAIN = """examples:
  gankit train                                   # the main job: SNGAN (hinge + spectral norm) on the MNIST sample
  gankit train --preset wgan-gp-mnist            # WGAN-GP on the same digits
  gankit train --preset wgan-gp-8gaussians --steps 2000
  gankit train --preset wgan-mnist train.batch_size=128 optim.critic.lr=1e-4
  gankit train --config my.yaml --name my-run
  gankit train --resume runs/wgan-gp-mnist --steps 6000
"""


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a GAN from a preset, a YAML config and key=value overrides",
        description="Train a GAN. Settings are layered: defaults, --preset, --config files, then key=value "
        f"overrides and the flags below. With neither --preset nor --config, the preset is {DEFAULT_PRESET}.",
        epilog=EPILOG_TRAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.batch_size=128")
    p.add_argument("--preset", help="a named recipe (see 'gankit presets')")
    p.add_argument("--config", action="append", default=[], metavar="FILE", help="a YAML config; may be repeated")
    p.add_argument("--out", default="runs", metavar="DIR", help="folder that holds run folders (default: runs)")
    p.add_argument("--name", help="run folder name (default: the preset's name)")
    p.add_argument("--steps", type=int, help="generator steps to train to")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--data", help="dataset: 8gaussians, 25gaussians, swissroll, mnist, stacked-mnist, digits, cifar10, celeba or a folder")
    p.add_argument("--data-root", help="where torchvision datasets live (default: data)")
    p.add_argument("--image-size", type=int, help="resize images to this many pixels square")
    p.add_argument("--batch-size", type=int, help="global batch size")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="RUN",
        help="continue a run exactly where its last checkpoint left it (default RUN: --out/--name)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to metrics.jsonl)")
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="data-parallel over N processes on this machine: shorthand for "
        "'torchrun --standalone --nproc-per-node N -m gankit train ...' (the global batch stays train.batch_size)",
    )
    p.set_defaults(handler=_cmd_train)


def _flag_overrides(args: argparse.Namespace) -> list[str]:
    pairs = [
        ("train.steps", args.steps),
        ("train.seed", args.seed),
        ("train.device", args.device),
        ("data.name", args.data),
        ("data.root", args.data_root),
        ("data.image_size", args.image_size),
        ("train.batch_size", args.batch_size),
    ]
    return [f"{key}={value}" for key, value in pairs if value is not None]


def _relaunch_under_torchrun(nproc: int, argv: Sequence[str]) -> int:
    """Replace this process by torchrun running the same command without --nproc.

    torchrun is PyTorch's own launcher: gankit starts it rather than managing
    worker processes itself, so the single-machine shortcut and a multi-node
    job behave the same.
    """
    import os

    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    if os.environ.get("WORLD_SIZE"):
        raise ConfigError("--nproc cannot be used inside a torchrun job: torchrun already chose the processes")
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        rest.append(arg)
    command = [sys.executable, "-m", "gankit.launch", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "gankit", *rest]
    sys.stdout.flush()
    os.execv(sys.executable, command)
    return 0  # not reached


def _cmd_train(args: argparse.Namespace) -> int:
    from gankit import api
    from gankit.training.distributed import shutdown_distributed

    if args.nproc is not None:
        return _relaunch_under_torchrun(args.nproc, args.argv)
    try:
        return _train_or_resume(api, args)
    finally:
        shutdown_distributed()


def _train_or_resume(api, args: argparse.Namespace) -> int:

    progress = not args.no_progress
    if args.resume is not None:
        changed = args.config or args.overrides or args.data or args.data_root or args.image_size
        if changed or args.seed is not None or args.batch_size is not None:
            raise ConfigError(
                "--resume continues a run with its saved config: only --steps and --device may be given with it"
            )
        default_name = args.name or args.preset or DEFAULT_PRESET
        run_dir = Path(args.resume) if args.resume else Path(args.out) / default_name
        run = api.resume(run_dir, steps=args.steps, progress=progress, device=args.device)
    else:
        config = build_config(args.preset, args.config, args.overrides + _flag_overrides(args))
        notice = dropped_objective_keys_notice(config)
        if notice:
            print(notice)
        run = api.train(config, out=args.out, name=args.name, progress=progress)
    if run.interrupted:
        # 130 is the shell's code for "stopped by Ctrl-C": scripts chaining on success stop here too.
        return 130
    if run.path is None:  # a torchrun rank other than 0: rank 0 reports
        return 0
    print(f"done: {run.path} at step {run.step}; samples in {run.path}/samples, checkpoint in {run.path}/checkpoints")
    return 0


def _add_sample(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sample",
        help="draw samples from a run or checkpoint (no dataset needed)",
        description="Draw samples. -o OUT.png writes a grid (a scatter plot for 2-D data), -o OUT.npz writes "
        "'images' (uint8, N x C x H x W) or 'points' (float32, N x 2), any other -o is a folder of PNGs.",
    )
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT",
                   help="a run folder, a .pt checkpoint or a .safetensors file from gankit export")
    p.add_argument("-n", "--num", type=int, help="how many samples (default 64; with --class-grid, per class: 10)")
    p.add_argument("-o", "--out", required=True, help="output: FILE.png, FILE.npz or a folder")
    p.add_argument("--seed", type=int, default=0, help="latent noise seed (default 0)")
    p.add_argument("--device", default="cpu", help="device to sample on (default cpu)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if the run kept an EMA")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="normal latents: scale the draws by psi in (0, 1], for more typical samples (default 1: none)")
    classes = p.add_mutually_exclusive_group()
    classes.add_argument("--label", type=int, metavar="K", help="conditional runs: draw every sample from class K")
    classes.add_argument(
        "--class-grid",
        action="store_true",
        help="conditional runs: one row per class, -n samples each (default 10: a 10 x 10 grid on MNIST)",
    )
    p.set_defaults(handler=_cmd_sample)


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from gankit.api import load_run
    from gankit.outputs import save_samples

    num = args.num if args.num is not None else (10 if args.class_grid else 64)
    if num < 1:
        raise ConfigError(f"-n must be at least 1, got {num}")
    run = load_run(args.run, device=args.device, use_ema=not args.no_ema)
    if run.kind == "interactions":
        raise ConfigError(f"a recommender run ({run.config.objective.name}) draws no samples: list its top items "
                          f"with gankit recommend {args.run} --user U -k K")
    rows = None
    if run.latent is None:
        # A translation run samples nothing from noise: it shows its held-out inputs translated and back.
        if args.label is not None or args.class_grid:
            raise ConfigError("--label and --class-grid need a conditional latent generator; this run translates")
        if run.preview_inputs is None:  # an export holds the translators, not the run's held-out inputs
            raise ConfigError(f"'{args.run}' translates, and an export keeps no inputs to show: translate your own "
                              f"with gankit translate {args.run} INPUT -o OUT")
        preview = run.preview()
        print(save_samples(preview.samples, Path(args.out), run.kind, overwrite=args.overwrite, rows=preview.rows))
        return 0
    if args.class_grid:
        if run.num_classes is None:
            raise ConfigError("--class-grid needs a conditional run (model.conditional=true), and this one is not")
        labels = torch.arange(run.num_classes).repeat_interleave(num)
        samples, rows = run.sample(len(labels), seed=args.seed, labels=labels, truncation=args.truncation), num
    else:
        samples = run.sample(num, seed=args.seed, labels=args.label, truncation=args.truncation)
    print(save_samples(samples, Path(args.out), run.kind, overwrite=args.overwrite, rows=rows))
    return 0


def _add_eval(subparsers: argparse._SubParsersAction) -> None:
    from gankit.evaluation import METRICS
    from gankit.evaluation.features import FEATURE_SPACES

    listing = "\n".join(f"  {m.name:<9} ({'/'.join(m.kinds)}) {m.description}" for m in METRICS.values())
    p = subparsers.add_parser(
        "eval",
        help="measure a run or checkpoint: mode coverage, exact W1, FD/KID/IS/PRDC, class coverage",
        description="Evaluate a run's generator against its training data and append the result to the run's "
        "metrics.jsonl. Without --metrics, every metric that fits the data runs.",
        epilog=f"metrics:\n{listing}\n\nexamples:\n  gankit eval runs/wgan-gp-mnist\n"
        "  gankit eval runs/wgan-gp-8gaussians --metrics modes,w1 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or a .pt checkpoint")
    p.add_argument("--metrics", metavar="NAMES", help="comma-separated metric names (default: all that fit the data)")
    p.add_argument("--samples", type=int, help="generated (and real) samples: default 2500 for 2-D data, 5000 for images")
    p.add_argument("--features", default="auto", choices=FEATURE_SPACES,
                   help="feature space for image metrics: auto = MNIST classifier for grey images, the same per channel "
                   "for stacked-mnist, Inception-v3 for other colour images")
    p.add_argument("--inception-weights", metavar="PATH", help="Inception-v3 weights file (torch-fidelity's .pth)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent noise and the real subset (default 0)")
    p.add_argument("--device", default="cpu", help="device to evaluate on (default cpu)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-append", action="store_true", help="do not append the result to the run's metrics.jsonl")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress line on stderr (sampling, features, each metric)")
    p.set_defaults(handler=_cmd_eval)


def _format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value:  # NaN
        return "n/a"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from gankit.api import evaluate, load_run

    run = load_run(args.run, device=args.device)
    result = evaluate(
        run, metrics=args.metrics, samples=args.samples, features=args.features,
        inception_weights=args.inception_weights, seed=args.seed, device=args.device, append=not args.no_append,
        progress=not args.no_progress,
    )
    if args.json:  # the record as appended to metrics.jsonl, its eval_provenance included
        print(json.dumps({"run": str(args.run), **result.record()}))
        return 0
    space = f", features: {result.feature_space}" if result.feature_space else ""
    print(f"{args.run} at step {result.step}, {result.samples} samples{space}")
    if result.provenance is not None:
        from gankit.evaluation.provenance import describe

        print(f"provenance: {describe(result.provenance, tuple(result.provenance))}")
    width = max(len(k) for k in result.values)
    print(f"{'metric':<{width}}  {'value':>10}")
    for key, value in result.values.items():
        print(f"{key:<{width}}  {_format_value(value):>10}")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in result.seconds.items())
    print(f"time: {timing}")
    return 0


def _add_presets(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "presets", help="list the presets, or show one",
        description="List the presets: name, the wall time its default run takes on the reference machine "
        "(2 cores of an AMD EPYC with AVX2, evaluations and figures included) where stated, and what it trains.",
    )
    p.add_argument("name", nargs="?", help="print this preset's YAML")
    p.set_defaults(handler=_cmd_presets)


def _cmd_presets(args: argparse.Namespace) -> int:
    if args.name:
        import yaml

        bases = preset_chain(args.name)[1:]
        if bases:  # the settings printed are the merged ones; say where the shared ones come from
            print(f"# {args.name} builds on {' <- '.join(bases)}; the settings below are all of them, merged")
        print(yaml.safe_dump(read_preset(args.name), sort_keys=False), end="")
        return 0
    names = preset_names()
    width = max(len(n) for n in names)
    for name in names:
        preset = read_preset(name)
        print(f"{name:<{width}}  {_budget_text(preset.get('budget_seconds')):>7}  {preset.get('description', '')}")
    return 0


def _budget_text(seconds: float | None) -> str:
    """A preset's stated wall time on the reference machine, as '9.5 min' or '90 s' ('' when not stated)."""
    if seconds is None:
        return ""
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _add_translate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "translate",
        help="translate images (or 2-D points) with a CycleGAN or DiscoGAN run (no dataset needed)",
        description="Translate INPUT (a folder of images, an image file, or an .npz of 'images' uint8 N x C x H x W "
        "or 'points') from one domain of a translation run to the other. -o OUT.png writes rows of input / "
        "translation / reconstruction, -o OUT.npz the translations, any other -o a folder of PNGs.",
        epilog="examples:\n  gankit translate runs/cyclegan-mnist-inverted digits/ -o inverted/\n"
        "  gankit translate runs/cyclegan-mnist-inverted test.npz -o grid.png --direction b2a",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a translation run folder or its .pt checkpoint")
    p.add_argument("input", metavar="INPUT", help="folder of images, an image file, or an .npz")
    p.add_argument("-o", "--out", required=True, help="output: FILE.png (a grid), FILE.npz or a folder")
    p.add_argument("--direction", default="a2b", choices=("a2b", "b2a"), help="A to B (default) or B to A")
    p.add_argument("--device", default="cpu", help="device to translate on (default cpu)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generators even if the run kept an EMA")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_translate)


def _cmd_translate(args: argparse.Namespace) -> int:
    from gankit.api import load_run
    from gankit.inputs import read_inputs
    from gankit.outputs import save_samples
    from gankit.translate import check_translation_run, source_shape, translate

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    run = load_run(args.run, device=args.device, use_ema=not args.no_ema)
    check_translation_run(run)
    inputs = read_inputs(Path(args.input), source_shape(run, args.direction))
    translated, reconstructed = translate(run, inputs, args.direction, args.batch_size, not args.no_progress)
    out, rows = Path(args.out), None
    if out.suffix.lower() == ".png" and run.kind == "images":
        translated, rows = _grid_of_rows([inputs, translated, reconstructed])
    print(save_samples(translated, out, run.kind, overwrite=args.overwrite, rows=rows))
    return 0


def _grid_of_rows(parts: list) -> tuple:
    """Whole rows of up to 8 images, one row of each part in turn (up to four such groups): (grid, per row)."""
    from gankit.objectives.translation import translation_rows

    count = len(parts[0])
    per_row = min(8, count)
    n = min(count, 4 * per_row) // per_row * per_row
    return translation_rows([p[i:i + per_row] for i in range(0, n, per_row) for p in parts]), per_row


def _add_encode(subparsers: argparse._SubParsersAction) -> None:
    for name, what in (("encode", "write E(x) of each input to an .npz ('z')"),
                       ("reconstruct", "write G(E(x)): a grid of input / reconstruction rows, an .npz or a folder")):
        p = subparsers.add_parser(
            name, help=f"BiGAN/ALI runs: {what}",
            description=f"{what[0].upper()}{what[1:]}. INPUT is a folder of images, an image file, or an .npz of "
            "'images' (uint8, N x C x H x W) or 'points'. No dataset needed.",
        )
        p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a bigan or ali run folder or its .pt checkpoint")
        p.add_argument("input", metavar="INPUT", help="folder of images, an image file, or an .npz")
        p.add_argument("-o", "--out", required=True, help="output: .npz" + ("" if name == "encode" else ", .png or a folder"))
        p.add_argument("--device", default="cpu", help="device to run on (default cpu)")
        p.add_argument("--no-ema", action="store_true", help="use the raw networks even if the run kept an EMA")
        p.add_argument("--overwrite", action="store_true", help="replace an existing output")
        p.set_defaults(handler=_cmd_encode if name == "encode" else _cmd_reconstruct)


def _encoder_inputs(args: argparse.Namespace):
    from gankit.api import load_run
    from gankit.encode import check_encoder_run
    from gankit.inputs import read_inputs

    run = load_run(args.run, device=args.device, use_ema=not args.no_ema)
    check_encoder_run(run)
    return run, read_inputs(Path(args.input), tuple(run.data["sample_shape"]))


def _cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from gankit.encode import encode
    from gankit.files import atomic_write

    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise ConfigError(f"gankit encode writes an .npz of codes, got -o '{out}': use -o FILE.npz")
    if out.exists() and not args.overwrite:
        raise ConfigError(f"'{out}' already exists: choose another -o path or pass --overwrite")
    run, inputs = _encoder_inputs(args)
    codes = encode(run, inputs).numpy()
    atomic_write(out, lambda handle: np.savez_compressed(handle, z=codes))
    print(f"wrote {len(codes)} codes (z: float32, shape {codes.shape}) to {out}")
    return 0


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    from gankit.encode import reconstruct
    from gankit.outputs import save_samples

    run, inputs = _encoder_inputs(args)
    rebuilt = reconstruct(run, inputs)
    out, rows = Path(args.out), None
    if out.suffix.lower() == ".png" and run.kind == "images":
        rebuilt, rows = _grid_of_rows([inputs, rebuilt])
    print(save_samples(rebuilt, out, run.kind, overwrite=args.overwrite, rows=rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gankit",
        description="Train, evaluate and compare GANs; the Wasserstein family first-class.",
    )
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train(subparsers)
    _add_sample(subparsers)
    _add_eval(subparsers)
    _add_translate(subparsers)
    _add_encode(subparsers)
    _add_presets(subparsers)
    add_report_commands(subparsers)
    add_recommend_command(subparsers)
    add_export_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may sit anywhere among the options; argparse only
    # collects positionals that come together, so gather the rest here.
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    overrides = [e for e in extra if "=" in e and not e.startswith("-")]
    unknown = [e for e in extra if e not in overrides]
    if unknown or (overrides and args.command != "train"):
        parser.error(f"unrecognized arguments: {' '.join(unknown or overrides)}")
    if overrides:
        args.overrides = list(args.overrides) + overrides
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except GankitError as err:
        report_error(f"gankit: error: {err}")
        return err.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`gankit presets | head`): not an error of ours. Point stdout at devnull so
        # the interpreter's final flush does not raise again, and exit as Unix tools do on SIGPIPE.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
