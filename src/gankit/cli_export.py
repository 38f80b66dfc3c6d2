"""The ``export`` and ``interpolate`` commands: parse, then call ``gankit.export`` or ``gankit.walks``."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG_EXPORT = """examples:
  gankit export runs/wgan-gp-mnist -o generator.onnx            # format from the suffix; checked with onnxruntime
  gankit export runs/wgan-gp-mnist -o generator.safetensors --ema
  gankit export runs/cyclegan-mnist-inverted -o cycle.pt        # cycle.g_ab.pt and cycle.g_ba.pt (TorchScript)
  gankit sample generator.safetensors -o grid.png               # no run folder needed

Beside FILE, FILE.json describes the inputs (names, shapes, dtypes, latent distribution, classes, InfoGAN's
code layout), the output (shape, range [-1, 1] and how to make uint8 of it), the run, step and the parity
measured. ONNX needs the optional extra: pip install -e '.[export]'.
"""

EPILOG_INTERPOLATE = """walks (--walk, default by run):
  latent  between pairs of latent points, each row from sample 2i to sample 2i+1 of the same --seed
          (spherical for normal latents, linear for uniform ones; --slerp / --lerp to choose)
  class   conditional runs: the class embedding walked from class k to k+1 at a fixed z per row
  code    InfoGAN: one continuous code (--code N) swept over [-2, 2] (--span), or --code category:
          the categories in turn, the other inputs fixed per row

examples:
  gankit interpolate runs/wgan-gp-mnist -o walk.png --steps 10 --pairs 6
  gankit interpolate runs/wgan-gp-mnist -o walk.gif --truncation 0.7
  gankit interpolate runs/infogan-mnist -o codes.png --code 1
"""


def add_export_commands(subparsers: argparse._SubParsersAction) -> None:
    _add_export(subparsers)
    _add_interpolate(subparsers)


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a run's generator(s) as ONNX, TorchScript or safetensors, checked against PyTorch",
        description="Export the generator side of a run (the generator; both generators of a translation run; "
        "BiGAN's generator and encoder) with its input specification as FILE.json. Each file is checked on 64 "
        "fixed inputs against the PyTorch network before it is put in place; a difference above 1e-4 is an error.",
        epilog=EPILOG_EXPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or a .pt checkpoint")
    p.add_argument("-o", "--out", required=True, metavar="FILE",
                   help="output: .onnx, .pt/.ts (TorchScript) or .safetensors; several networks (onnx, "
                   "torchscript): STEM.ROLE.SUFFIX beside it")
    p.add_argument("--format", dest="fmt", metavar="FORMAT",
                   help="onnx, torchscript or safetensors (default: from FILE's suffix)")
    p.add_argument("--ema", action="store_true", help="export the EMA weights (the run must keep one); default: raw")
    p.add_argument("--batch", default="dynamic", metavar="N|dynamic",
                   help="onnx and torchscript: a fixed batch size N, or dynamic (default)")
    p.add_argument("--overwrite", "--force", action="store_true", help="replace existing output files")
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from gankit.export import export_run

    export_run(args.run, Path(args.out), args.fmt, ema=args.ema, batch=args.batch, overwrite=args.overwrite)
    return 0


def _add_interpolate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "interpolate",
        help="latent walks, class morphs (conditional runs) and code sweeps (InfoGAN), as a grid or a GIF",
        description="Walk a generator's inputs. -o FILE.png writes a grid (one walk per row), FILE.gif an animation "
        "(one frame per step, there and back), FILE.npz the samples (pairs x steps x ...).",
        epilog=EPILOG_INTERPOLATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder, a .pt checkpoint or a .safetensors export")
    p.add_argument("-o", "--out", required=True, help="output: FILE.png, FILE.gif or FILE.npz")
    p.add_argument("--walk", choices=("latent", "class", "code"),
                   help="what to walk (default: code for InfoGAN, class for conditional runs, else latent)")
    p.add_argument("--steps", type=int, default=8, help="samples along each walk, both ends included (default 8)")
    p.add_argument("--pairs", type=int, default=4, help="walks: one row each (default 4)")
    path = p.add_mutually_exclusive_group()
    path.add_argument("--slerp", action="store_true", help="spherical interpolation (default for normal latents)")
    path.add_argument("--lerp", action="store_true", help="linear interpolation (default for uniform latents)")
    p.add_argument("--code", default=None, metavar="N|category",
                   help="InfoGAN: the continuous code to sweep (0-based; default 0) or 'category'")
    p.add_argument("--span", type=float, default=2.0, help="InfoGAN: sweep the code over [-SPAN, SPAN] (default 2)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="normal latents: scale the draws by psi in (0, 1] (default 1: none)")
    p.add_argument("--seed", type=int, default=0, help="latent noise seed (default 0)")
    p.add_argument("--fps", type=float, default=8.0, help="GIF frames per second (default 8)")
    p.add_argument("--device", default="cpu", help="device to run on (default cpu)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator even if the run kept an EMA")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(handler=_cmd_interpolate)


def _cmd_interpolate(args: argparse.Namespace) -> int:
    from gankit.walks import check_walk_output, interpolate, save_walk

    out = Path(args.out)
    check_walk_output(out, args.overwrite)  # before loading anything: a typo costs nothing
    from gankit.api import load_run

    run = load_run(args.run, device=args.device, use_ema=not args.no_ema)
    spherical = True if args.slerp else False if args.lerp else None
    walk = interpolate(run, walk=args.walk, steps=args.steps, pairs=args.pairs, spherical=spherical, seed=args.seed,
                       truncation=args.truncation, code=args.code, span=args.span)
    print(save_walk(walk, out, run.kind, overwrite=args.overwrite, fps=args.fps))
    return 0
