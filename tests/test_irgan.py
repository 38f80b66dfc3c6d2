"""IRGAN and its BPR baseline (issue 20): REINFORCE by hand, importance weights, the train/test wall,
ranking metrics by hand, resume, and bad input in one line."""

import json
import math

import pytest
import torch

import gankit
from gankit import losses
from gankit.cli import main
from gankit.config import build_config, resolve
from gankit.data import load_dataset
from gankit.data.interactions import pair_codes, read_movielens_ratings, synthetic_feedback
from gankit.errors import DataError
from gankit.evaluation.ranking_metrics import ndcg_at_k, precision_at_k, ranking_hits
from gankit.objectives.recommendation import importance_weights, proposal
from gankit.training.checkpoint import load_latest_checkpoint
from gankit.training.trainer import Trainer

QUIET = dict(progress=False, log=lambda _: None)
TINY = ["train.batch_size=16", "train.log_every=1", "train.sample_every=1000", "train.checkpoint_every=2",
        "train.tensorboard=false", "train.device=cpu", "eval.every=0", "objective.embedding_dim=4"]


def tiny_data():
    return synthetic_feedback(users=30, items=40, rank=3, density=0.15)


def tiny_config(preset, *extra):
    return resolve(build_config(preset, overrides=TINY + list(extra)))


def test_reinforce_gradient_matches_its_hand_computed_expectation():
    # Three items, logits z, rewards r: grad_z J = p * (r - E_p[r]) for J = E_{d~p}[r(d)].
    z = torch.tensor([0.5, -1.0, 0.2], requires_grad=True)
    r = torch.tensor([1.0, 3.0, -2.0])
    p = torch.softmax(z.detach(), 0)
    expected = p * (r - (p * r).sum())
    positives = torch.tensor([False, True, False])
    pn = proposal(p[None], positives[None], 0.2)[0]
    w = importance_weights(p, pn)
    # Exact: the loss's expectation under pn, each item weighted by its proposal probability.
    exact = -(pn * torch.log_softmax(z, 0) * r * w).sum()
    (grad,) = torch.autograd.grad(exact, z)
    assert torch.allclose(-grad, expected, atol=1e-6)
    # Monte Carlo through the loss the generator minimises: descent on it is ascent on J.
    torch.manual_seed(0)
    items = torch.multinomial(pn, 200_000, replacement=True)
    loss = losses.reinforce_loss(torch.log_softmax(z, 0)[items], r[items], w[items])
    (grad,) = torch.autograd.grad(loss, z)
    assert torch.allclose(-grad, expected, atol=0.01)
    assert expected.abs().min() > 0.05  # the check above is not vacuous


def test_a_mean_reward_baseline_keeps_the_gradient_and_the_schedule_pretrains_each_side():
    from gankit.objectives.base import CRITIC, GENERATOR
    from gankit.objectives.recommendation import IRGAN, IRGANParams

    # Subtracting the samples' mean reward leaves the estimate on grad J = p (r - E_p r): E_p[grad log p] = 0.
    z = torch.tensor([0.5, -1.0, 0.2], requires_grad=True)
    r = torch.tensor([1.0, 3.0, -2.0])
    p = torch.softmax(z.detach(), 0)
    torch.manual_seed(1)
    items = torch.multinomial(p, 200_000, replacement=True)
    loss = losses.reinforce_loss(torch.log_softmax(z, 0)[items], r[items] - r[items].mean(), torch.ones(len(items)))
    (grad,) = torch.autograd.grad(loss, z)
    assert torch.allclose(-grad, p * (r - (p * r).sum()), atol=0.01)

    # 2 steps of BPR for the generator, then 3 of the critic alone, then the game.
    irgan = IRGAN(IRGANParams(pretrain_steps=2, critic_pretrain_steps=3))
    sides = [[phase.side for phase in irgan.phases(step, 2)] for step in range(6)]
    assert sides == [[GENERATOR]] * 2 + [[CRITIC, CRITIC]] * 3 + [[CRITIC, CRITIC, GENERATOR]]
    assert IRGANParams(critic_pretrain_steps=-1).validate("objective") == [
        "objective.critic_pretrain_steps must be >= 0, got -1"]


def test_importance_weights_sum_to_one_under_the_proposal():
    p = torch.tensor([[0.5, 0.3, 0.2, 0.0]])
    positives = torch.tensor([[False, True, False, True]])
    pn = proposal(p, positives, 0.2)
    # (1 - 0.2) p + 0.2 / 2 on each of the two positives, by hand.
    assert torch.allclose(pn, torch.tensor([[0.4, 0.34, 0.16, 0.1]]))
    assert pn.sum().item() == pytest.approx(1.0)
    w = importance_weights(p, pn)
    assert (pn * w).sum().item() == pytest.approx(1.0)  # E_pn[p / pn] = sum_d p(d) = 1
    assert w[0, 0].item() == pytest.approx(0.5 / 0.4)


def test_rewards_paper_and_code():
    f = torch.tensor([0.0, 2.0])
    assert torch.allclose(losses.irgan_reward(f, "paper"), torch.tensor([math.log(2), math.log(1 + math.e ** 2)]))
    assert torch.allclose(losses.irgan_reward(f, "code"), torch.tensor([0.0, 2 / (1 + math.exp(-2)) - 1]))
    assert losses.bpr_loss(torch.tensor([1.0]), torch.tensor([1.0])).item() == pytest.approx(math.log(2))


def test_precision_and_ndcg_on_constructed_rankings():
    # 5 items; user 0 trained on item 0, test positives 1 and 3; user 1 has no test positive (left out).
    scores = torch.tensor([[9.0, 1.0, 5.0, 4.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    train = torch.tensor([[True, False, False, False, False], [False] * 5])
    test = torch.tensor([[False, True, False, True, False], [False] * 5])
    hits, relevant = ranking_hits(scores, train, test, depth=4)
    # Ranking without item 0: 2, 3, 1, 4 -> hits 0, 1, 1, 0.
    assert hits.tolist() == [[False, True, True, False]] and relevant.tolist() == [2]
    assert precision_at_k(hits, 3) == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(hits, relevant, 3) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    # One test positive: IDCG counts min(k, 1) hit, so a hit at rank 1 is NDCG 1.
    one = torch.tensor([[True, False, False]])
    assert ndcg_at_k(one, torch.tensor([1]), 3) == pytest.approx(1.0)
    assert precision_at_k(one, 3) == pytest.approx(1 / 3)


def test_no_test_pair_enters_training_or_pretraining():
    data = tiny_data()
    config = tiny_config("irgan-synthetic", "train.steps=5", "objective.pretrain_steps=2",
                         "objective.critic_pretrain_steps=1")
    trainer = Trainer(config, data, **QUIET)
    test_codes = pair_codes(data.test, data.num_items)
    seen = []
    draw = trainer._draw_real

    def recording():
        batch = draw()
        seen.append(batch.samples.clone())
        return batch

    trainer._draw_real = recording
    trainer.fit(5)
    rows = torch.cat(seen)
    assert len(rows) >= 16 * (2 + 2 + 2 * 3)  # both pre-trainings and the game's steps drew
    assert not torch.isin(pair_codes(rows, data.num_items), test_codes).any()
    # The positives the generator's proposal mixes in are the training mask, which holds no test pair.
    assert not (trainer.objective.train_positives & data.test_mask()).any()
    assert trainer.objective.train_positives.sum() == len(data.data)


@pytest.mark.parametrize("preset", ["irgan-synthetic", "bpr-synthetic"])
def test_resume_is_bit_identical(tmp_path, preset):
    data = tiny_data()
    # Every stage crosses the resume: generator pre-training (0-1), critic pre-training (2), the game (3-5).
    extra = ["objective.pretrain_steps=2", "objective.critic_pretrain_steps=1"] if preset.startswith("irgan") else []
    config = tiny_config(preset, "train.steps=6", *extra)
    straight = Trainer(config, data, **QUIET)
    straight.fit(6)
    first = Trainer(config, data, run_dir=tmp_path, **QUIET)
    first.fit(4)
    resumed = Trainer(config, data, run_dir=tmp_path, **QUIET)
    resumed.load_state_dict(load_latest_checkpoint(tmp_path / "checkpoints", warn=print))
    resumed.fit(6)
    for role, net in straight.networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.networks[role].state_dict()[key]), (role, key)
    assert set(straight.optimizers) == ({"generator", "critic"} if preset.startswith("irgan") else {"generator"})


def test_recommend_and_bad_input_are_one_line_exit_2(tmp_path, capsys):
    config = build_config("bpr-synthetic", overrides=TINY + ["train.steps=2", "eval.every=2"])
    messages = []
    run = gankit.train(config, out=tmp_path, name="bpr", progress=False, log=messages.append)
    # The factorisations ignore model.arch, so the log does not name it (it said dcgan).
    (folder_line,) = [m for m in messages if m.startswith("run folder:")]
    assert folder_line.endswith("(bpr, device cpu)")
    # The ranking record says what it ranked against: the data set's fixed test split, no feature network.
    record = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()
              if "eval_provenance" in line][-1]
    data = load_dataset("synthetic-feedback")
    measured = record["eval_provenance"]
    assert measured["feature_space"] is None and measured["real"]["name"] == "synthetic-feedback"
    assert measured["real"]["count"] == len(data.test) and measured["real"]["of"] == len(data.test) + len(data.data)
    assert measured["generated"] == record["eval_samples"] == int(data.test_mask().any(-1).sum())
    capsys.readouterr()
    assert main(["recommend", str(run.path), "--user", "3", "-k", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6  # heading, column names, four items
    items = [int(line.split()[1]) for line in lines[2:]]
    assert not set(items) & set(data.data[data.data[:, 0] == 3, 1].tolist())  # training positives left out
    for args, needle in ((["--user", "500"], "user 500 is not in the data"), (["--user", "3", "-k", "0"], "-k must be")):
        assert main(["recommend", str(run.path), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1
    assert main(["sample", str(run.path), "-o", str(tmp_path / "s.png")]) == 2
    assert "gankit recommend" in capsys.readouterr().err


def test_movielens_reader_names_a_malformed_line_and_a_missing_file(tmp_path, capsys):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    # A stand-in shaped like u.data (not the real file): users 1-2, items 1-6, ratings >= 4 positive.
    rows = [(1, 1, 5), (1, 2, 4), (1, 3, 3), (1, 4, 4), (1, 5, 5), (2, 1, 4), (2, 6, 2), (2, 2, 5), (2, 3, 4), (2, 5, 4)]
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t88{u}{i}\n" for u, i, r in rows))
    data = load_dataset("movielens-100k", root=str(tmp_path))
    assert (data.num_users, data.num_items, data.id_base) == (2, 6, 1)
    assert len(data.data) + len(data.test) == 8 and len(data.test) == 2  # 8 positives, 20% held out
    good = read_movielens_ratings(folder / "u.data")
    assert good.shape == (10, 3)
    (folder / "u.data").write_text("1\t1\t5\t881250949\n1\t2\tfour\t881250949\n")
    with pytest.raises(DataError, match=r"u.data line 2 is malformed"):
        load_dataset("movielens-100k", root=str(tmp_path))
    config = ["train", "--preset", "bpr-movielens", "--data-root", str(tmp_path / "absent"), "--out", str(tmp_path)]
    assert main(config + ["--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "grouplens.org/datasets/movielens/100k" in err and len(err.splitlines()) == 1
