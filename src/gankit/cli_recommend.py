"""``gankit recommend RUN --user U -k K``: a recommender run's top-k items for one user, with their scores.

Ids are the data file's (MovieLens counts users and items from 1, the
synthetic set from 0). The user's training positives are left out, as the
test metrics leave them out, unless ``--include-seen``.
"""

from __future__ import annotations

import argparse

from gankit.errors import ConfigError


def add_recommend_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "recommend",
        help="print a recommender run's (irgan, bpr) top-k items for a user, with scores",
        description="Rank every item for one user by the run's generator (IRGAN's policy, BPR's MF) and print "
        "rank, item id and score. The user's training positives are left out unless --include-seen.",
    )
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or a .pt checkpoint of an irgan or bpr run")
    p.add_argument("--user", type=int, required=True, metavar="U", help="the user's id, as in the data file")
    p.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--include-seen", action="store_true", help="rank the user's training positives too")
    p.add_argument("--device", default="cpu", help="device to score on (default cpu)")
    p.set_defaults(handler=_cmd_recommend)


def check_request(run, user: int, k: int) -> None:
    """A ConfigError (one line, exit 2) unless ``run`` is a recommender, ``user`` one of its users and k >= 1."""
    data = run.data
    if data.get("kind") != "interactions" or run.objective is None or run.objective.evaluates != "rankings":
        raise ConfigError(
            f"gankit recommend needs a recommender run (irgan, bpr), and this one is {run.config.objective.name} "
            f"on {data.get('name')}: train one with --preset irgan-synthetic or bpr-synthetic"
        )
    base, users = int(data["id_base"]), int(data["num_users"])
    if not base <= user < base + users:
        raise ConfigError(f"user {user} is not in the data: use an id from {base} to {base + users - 1}")
    if k < 1:
        raise ConfigError(f"-k must be at least 1, got {k}")


def top_items(run, dataset, user: int, k: int, include_seen: bool = False) -> list[tuple[int, float]]:
    """(item id as in the data file, score) of the top ``k`` for ``user`` (also as in the data file)."""
    import torch

    check_request(run, user, k)
    base, items = int(run.data["id_base"]), int(run.data["num_items"])
    generator = run.networks["generator"]
    device = next(generator.parameters()).device
    with torch.no_grad():
        scores = generator(torch.tensor([user - base], device=device))[0].float().cpu()
    if not include_seen:
        seen = dataset.data[dataset.data[:, 0] == user - base, 1].cpu()
        scores[seen] = float("-inf")
    top = scores.topk(min(k, items))
    return [(int(i) + base, float(s)) for i, s in zip(top.indices, top.values) if s != float("-inf")]


def _cmd_recommend(args: argparse.Namespace) -> int:
    from gankit.api import load_data, load_run

    run = load_run(args.run, device=args.device)
    check_request(run, args.user, args.k)  # before reading any data
    dataset = load_data(run.config) if not args.include_seen else None
    if dataset is not None and dataset.extra_description().get("fingerprint") != run.data.get("fingerprint"):
        raise ConfigError(
            f"the data '{run.config.data.name}' is not the split this run was trained on (another file under "
            "--data-root?): restore the run's data to leave out the right training positives, or pass --include-seen"
        )
    ranked = top_items(run, dataset, args.user, args.k, include_seen=args.include_seen)
    seen = "" if args.include_seen else ", training positives left out"
    print(f"top {len(ranked)} items for user {args.user} ({run.config.objective.name}, step {run.step}{seen}):")
    print(f"{'rank':>4}  {'item':>6}  score")
    for rank, (item, score) in enumerate(ranked, start=1):
        print(f"{rank:>4}  {item:>6}  {score:.4f}")
    return 0
