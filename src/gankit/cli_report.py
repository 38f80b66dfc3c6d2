"""The report commands: ``gankit report``, ``gankit diagnose``, ``gankit compare`` and ``gankit zoo``.

They live apart from ``gankit.cli`` so that the training commands and the
pages can change independently; ``gankit.cli.build_parser`` adds them with
``add_report_commands``. User errors are GankitError subclasses, which
``gankit.cli.main`` prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import ConfigError

EPILOG_REPORT = """examples:
  gankit report runs/wgan-gp-8gaussians                   # writes runs/wgan-gp-8gaussians/report.html
  gankit report runs/wgan-gp-mnist --median-window 51     # smoother Wasserstein curve
"""

EPILOG_DIAGNOSE = """examples:
  gankit diagnose runs/wgan-8gaussians        # clipping: weights at +-c, layer norms drifting apart
  gankit diagnose runs/wgan-gp-8gaussians     # the penalty: level layer norms, ||grad D|| near 1
"""

EPILOG_COMPARE = """examples:
  gankit compare runs/wgan-gp-8gaussians runs/gan-8gaussians
  gankit compare runs/a runs/b runs/c --out abc.html
  gankit compare runs/mnist-run runs/digits-run --force   # different data: compare anyway
"""

EPILOG_ZOO = """examples:
  gankit zoo                                       # 6 objectives on 25gaussians, 2000 steps each
  gankit zoo --data mnist --max-seconds 300        # the MNIST presets, 5 minutes of training each
  gankit zoo --presets wgan-gp-8gaussians,gan-8gaussians --steps 500 --out runs/two
  gankit zoo --steps 200 --set train.device=cpu --set train.batch_size=128
  gankit zoo --presets wgan-gp-8gaussians --seeds 5   # mean +- std over 5 seeds
"""


def _whole_number_at_least(minimum: int, meaning: str):
    """An argparse type: a whole number >= ``minimum``; ``meaning`` says the bound in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning}, got {value}")
        return value

    return parse


_positive_int = _whole_number_at_least(1, "at least 1")
_non_negative_int = _whole_number_at_least(0, "0 or more")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_report_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report``, ``diagnose``, ``compare`` and ``zoo`` to the ``gankit`` command's subparsers."""
    from gankit.report.figures import DEFAULT_MEDIAN_WINDOW
    from gankit.zoo import DEFAULT_DATA, DEFAULT_STEPS, OBJECTIVES, TOY_DATA

    p = subparsers.add_parser(
        "report",
        help="write a run's report.html: config, timings, curves and samples in one offline page",
        description="Write RUN/report.html, a self-contained page (no network needed) with the run's config, "
        "machine and timings, one curve per logged quantity, the sample grids over training and the final samples.",
        epilog=EPILOG_REPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder that training created")
    p.add_argument(
        "--median-window", type=_non_negative_int, default=DEFAULT_MEDIAN_WINDOW, metavar="N",
        help=f"logged points in the running median drawn over the critic's Wasserstein estimate "
        f"(default {DEFAULT_MEDIAN_WINDOW}; 0 or 1: raw curve only)",
    )
    p.set_defaults(handler=_cmd_report)

    p = subparsers.add_parser(
        "diagnose",
        help="the WGAN-GP paper's diagnostics: critic layer gradient norms, weight histograms, gradient norms at r(x)",
        description="Write RUN/diagnose.html and RUN/diagnostics/*.png: the critic loss's gradient norm per critic "
        "layer over training (vanishing or exploding under clipping), histograms of the critic's weights (the "
        "pile-up at +-c under clipping) and the distribution of ||grad D(x)|| at real samples, generated samples "
        "and their interpolates (whether the Lipschitz constraint holds). A translation run's two critics (d_a, d_b) "
        "each get their weight and gradient-norm figures, at their domain's samples and the translations into it.",
        epilog=EPILOG_DIAGNOSE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder that training created")
    p.add_argument("--points", type=_positive_int, default=1000, metavar="N",
                   help="real samples (and as many generated ones and interpolates) to take gradients at (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and interpolates (default 0)")
    p.add_argument("--device", default="cpu", help="device to compute on (default cpu)")
    p.set_defaults(handler=_cmd_diagnose)

    p = subparsers.add_parser(
        "compare",
        help="one page comparing runs: final metrics, overlaid curves, final samples",
        description="Write one self-contained page comparing runs trained on the same data: a table of final "
        "metrics, losses, wall time and it/s, the curves overlaid, and the final samples side by side.",
        epilog=EPILOG_COMPARE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (two or more)")
    p.add_argument("--out", default="comparison.html", metavar="FILE",
                   help="the page to write (default: comparison.html; a folder gets comparison.html inside)")
    p.add_argument("--force", action="store_true",
                   help="compare runs even if they were trained on different data or a metric's provenance differs "
                   "(feature network, real set, sample counts, resize): such rows are then marked")
    p.set_defaults(handler=_cmd_compare)

    p = subparsers.add_parser(
        "zoo",
        help="train several objectives on the same data and budget, then compare them",
        description="Train a set of presets on one dataset under one budget (steps or wall time), each into "
        f"OUT/NAME, then write OUT/comparison.html. Default presets: {', '.join(OBJECTIVES)} "
        f"(the <objective>-8gaussians presets for 2-D data, <objective>-mnist for MNIST).",
        epilog=EPILOG_ZOO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", metavar="NAME",
                   help=f"dataset for every run: {', '.join(TOY_DATA)} or mnist have default presets; "
                   f"with --presets any dataset (default: {DEFAULT_DATA}, or the presets' own)")
    p.add_argument("--presets", metavar="A,B,...", help="comma-separated presets (see 'gankit presets')")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int, metavar="N",
                        help=f"generator steps per run (default {DEFAULT_STEPS} when no --max-seconds)")
    budget.add_argument("--max-seconds", type=_positive_float, metavar="S",
                        help="training seconds per run (evaluation time excluded) instead of a step count")
    p.add_argument("--out", default="runs/zoo", metavar="DIR",
                   help="folder for the runs and the page (default runs/zoo)")
    p.add_argument("--set", action="append", default=[], dest="settings", metavar="KEY=VALUE",
                   help="a config override for every run, e.g. --set train.device=cpu; may be repeated")
    p.add_argument("--vary", metavar="KEY=V1,V2,...",
                   help="train each preset once per value of one setting: an ablation as one zoo, e.g. "
                   "--vary objective.cycle=none,forward,both")
    p.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                   help="train each run with N seeds (its train.seed and the N-1 after it) and report mean and "
                   "std over them beside every seed's values (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines or bars")
    p.set_defaults(handler=_cmd_zoo)


def _cmd_report(args: argparse.Namespace) -> int:
    from gankit.report.run_report import write_run_report

    print(write_run_report(Path(args.run), median_window=args.median_window))
    return 0


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from gankit.report.diagnose import diagnose

    result = diagnose(Path(args.run), points=args.points, seed=args.seed, device=args.device)
    if result.clip_value is not None and result.share_at_clip:
        shares = ", ".join(f"{layer} {share:.0%}" for layer, share in result.share_at_clip.items())
        print(f"critic weights within 1% of +-c (c = {result.clip_value:g}): {shares}")
    for kind, stats in result.gradient_norms.items():
        print(f"||grad D|| at {kind}: mean {stats['mean']:.3g}, median {stats['median']:.3g}, "
              f"{stats['share_above_1']:.1%} above 1")
    print(result.page)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from gankit.report.compare import write_comparison

    if len(args.runs) < 2:
        raise ConfigError("compare needs two or more run folders; for one run use 'gankit report RUN'")
    print(write_comparison([Path(r) for r in args.runs], Path(args.out), force=args.force))
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from gankit.zoo import run_zoo

    presets = [name.strip() for name in args.presets.split(",") if name.strip()] if args.presets else None
    if args.presets is not None and not presets:
        raise ConfigError(
            "--presets is empty: give comma-separated preset names, e.g. --presets gan-8gaussians,wgan-8gaussians"
        )
    bad = [s for s in args.settings if "=" not in s]
    if bad:
        raise ConfigError(f"--set takes KEY=VALUE, got '{bad[0]}'")
    page = run_zoo(
        presets, data=args.data, steps=args.steps, max_seconds=args.max_seconds, out=Path(args.out),
        overrides=args.settings, progress=not args.no_progress, vary=args.vary, seeds=args.seeds,
    )
    print(page)
    return 0
