"""The benchmark's reference loop must do the same work as gankit, or its speed ratio means nothing.

Not a timing test: the benchmark itself is run by hand (python -m benchmarks.run).
"""

import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks.gankit_loop import GankitLoop
from benchmarks.reference_loop import ReferenceLoop
from gankit.config import build_config, resolve
from gankit.data import Dataset
from gankit.objectives import CRITIC_PHASE, RealBatch

TINY = [
    "train.device=cpu", "train.batch_size=8", "train.n_critic=2", "train.tensorboard=false", "eval.every=0",
    "model.latent_dim=8", "model.generator_widths=[16]", "model.critic_widths=[16]",
]


@pytest.fixture
def tiny():
    """The MLP preset shrunk to 8x8 digits of noise: its loop, settings and penalty, milliseconds a step."""
    config = resolve(build_config("wgan-gp-mnist-mlp", overrides=TINY))
    images = torch.randint(0, 256, (32, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return config, Dataset(name="tiny", description="random 8x8 images", kind="images", data=images)


def test_reference_loop_computes_gankits_wgan_gp_critic_loss_and_both_loops_train(tiny):
    config, dataset = tiny
    ours, theirs = GankitLoop(config, dataset), ReferenceLoop(config, dataset)
    # The same architecture objects with the same initial weights, by construction.
    nets = ours.trainer.networks
    for mine, reference in ((nets["generator"], theirs.generator), (nets["critic"], theirs.critic)):
        assert type(mine) is type(reference)
        for (name, a), b in zip(mine.state_dict().items(), reference.state_dict().values()):
            assert torch.equal(a, b), name

    # Step 1's critic loss from the same batch and noise: gankit's plain (unfused) computation against the
    # reference's separate forwards. Both draw the noise, then the interpolation weights, from torch's RNG.
    rows = torch.arange(config.train.batch_size)
    gankit_batch, _ = dataset.batch(rows)
    reference_batch = torch.stack([theirs.dataset[int(i)][0] for i in rows])  # through PIL and the transforms
    assert torch.allclose(gankit_batch, reference_batch, atol=1e-6)
    ours.trainer.context.join_critic_forwards = False
    torch.manual_seed(7)
    gankit_loss = ours.trainer.run_phase(CRITIC_PHASE, RealBatch.single(gankit_batch))["critic_loss"].item()
    torch.manual_seed(7)
    reference_loss = theirs.critic_step(reference_batch)[0].item()
    assert reference_loss == pytest.approx(gankit_loss, abs=1e-5)
    ours.trainer.context.join_critic_forwards = True

    for _ in range(2):
        ours.step()
        theirs.step()
    assert all(math.isfinite(ours.flush()[key]) for key in ("critic_loss", "generator_loss"))
    assert all(math.isfinite(value) for value in theirs.last_losses.values())
    assert (ours.generator_steps, theirs.generator_steps) == (2, 2)
    assert theirs.critic_steps == 2 * config.train.n_critic


def test_quality_benchmark_flags_a_preset_that_breaks_its_stated_budget():
    from benchmarks.quality import broken_budget, summarise

    rows = [{"preset": "p", "seed": s, "wall_s": w, "budget_s": 100.0} for s, w in ((0, 90.0), (1, 112.0))]
    finding = broken_budget(summarise(rows)["p"])
    assert finding is not None and "112 s" in finding and "100 s" in finding
    # Within the slack for machines of one kind, and presets that state no budget, are not findings.
    assert broken_budget(summarise([{**rows[0], "wall_s": 104.0}])["p"]) is None
    assert broken_budget(summarise([{**rows[1], "budget_s": None}])["p"]) is None


def test_quality_sweep_with_runs_records_each_row_and_a_rerun_trains_only_what_is_missing(tmp_path, monkeypatch,
                                                                                         capsys):
    from benchmarks import quality

    trained = []

    def fake_train_once(preset, seed, steps, out):
        trained.append((preset, seed))
        if seed == 1 and len(trained) == 2:
            return {"preset": preset, "seed": seed, "wall_s": 1.0, "budget_s": None, "failed": "boom"}
        return {"preset": preset, "seed": seed, "wall_s": 10.0 + seed, "budget_s": None, "modes_covered": 8}

    monkeypatch.setattr(quality, "train_once", fake_train_once)
    first = quality.run(quality.FULL, ["p"], 2, say=lambda _: None, runs=tmp_path / "q")
    assert trained == [("p", 0), ("p", 1)] and first["summary"]["p"]["failed"] == ["boom"]
    assert [r["seed"] for r in quality.recorded_rows(tmp_path / "q")] == [0]  # a failed run is not recorded
    second = quality.run(quality.FULL, ["p"], 2, say=lambda _: None, runs=tmp_path / "q")
    assert trained == [("p", 0), ("p", 1), ("p", 1)]  # seed 0 was recorded: only seed 1 is trained again
    assert second["summary"]["p"]["wall_s"]["values"] == [10.0, 11.0]
    monkeypatch.setattr(quality, "RESULTS", tmp_path / "results")
    assert quality.main(["--runs", str(tmp_path / "q"), "--collect", "--out", "collected"]) == 0
    assert trained == [("p", 0), ("p", 1), ("p", 1)]  # --collect trains nothing
    saved = json.loads((tmp_path / "results" / "collected.json").read_text())
    assert [r["seed"] for r in saved["rows"]] == [0, 1]
    with pytest.raises(SystemExit) as exit_info:
        quality.main(["--runs", str(tmp_path / "empty"), "--collect"])
    assert exit_info.value.code == 2 and "has none: pass the --runs folder" in capsys.readouterr().err


def test_quality_benchmark_refuses_a_path_for_out_before_any_run(capsys, monkeypatch):
    from benchmarks import quality

    monkeypatch.setattr(quality, "run", lambda *a, **k: pytest.fail("no run may start with a bad --out"))
    with pytest.raises(SystemExit) as exit_info:
        quality.main(["--presets", "wgan-gp-8gaussians", "--out", "benchmarks/results/mine"])
    assert exit_info.value.code == 2
    assert "--out is a name under benchmarks/results/, not a path" in capsys.readouterr().err


def test_equal_time_table_reads_each_zoo_and_names_the_lowest_mean_fd_and_what_is_missing(tmp_path):
    from benchmarks import equal_time

    by_key = {r.key: r for r in equal_time.ROWS}
    rows = [by_key["main"], by_key["sngan"], by_key["r1"]]

    def zoo(row, size, fds):
        folder = equal_time.zoo_folder(tmp_path, row, size)
        folder.mkdir(parents=True)
        spread = lambda values: {"mean": sum(values) / len(values), "std": 0.5, "n": len(values), "values": values}
        numbers = {"eval/fd_classifier": spread(fds), "eval/recall": spread([0.9] * len(fds)),
                   "mean steps/s": spread([10.0] * len(fds)), "training time (s)": spread([300.0] * len(fds))}
        (folder / "seeds.json").write_text(json.dumps({row.preset: numbers}))

    zoo(rows[0], 500, [12.0, 14.0, 13.0])
    zoo(rows[1], 500, [9.0, 11.0, 10.0])
    table = equal_time.collect(tmp_path, [500], rows)
    assert table["cells"]["500"]["sngan"]["fd_classifier"]["mean"] == 10.0
    assert table["cells"]["500"]["main"]["steps_per_s"]["mean"] == 10.0
    assert table["missing"] == ["500-r1"]
    text = equal_time.render(table, rows, 300, 2)
    assert "lowest mean FD: sngan" in text and "not trained: 500-r1" in text
    assert "main FD per seed: 12.00, 14.00, 13.00" in text


def test_equal_time_subsets_are_fixed_stratified_and_batches_never_exceed_the_digits():
    from benchmarks import equal_time

    assert equal_time.size_overrides(5000) == ()
    assert equal_time.size_overrides(500) == ("data.subset=500", "data.subset_seed=0")
    assert "train.batch_size=50" in equal_time.size_overrides(50)
    command = equal_time.zoo_command(equal_time.ROWS[-1], 50, 300, 3, Path("out"))
    assert command[command.index("--max-seconds") + 1] == "300"
    assert ["--set", "objective.lecam_weight=0.3"] == command[command.index("objective.lecam_weight=0.3") - 1:][:2]
