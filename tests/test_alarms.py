"""Live training alarms: each fires on a constructed sequence or run, once per episode, and a healthy run is silent."""

import json

import pytest
import torch
from conftest import TINY_TOY
from torch import nn

from gankit.api import load_data
from gankit.config import build_config, resolve
from gankit.errors import ConfigError
from gankit.objectives import OBJECTIVES, objective_class
from gankit.report.run_data import RunData
from gankit.report.run_report import write_run_report
from gankit.training.alarms import GRADIENT_PEAK, Alarm, AlarmMonitor, AlarmSettings, GradientPeaks
from gankit.training.checkpoint import load_latest_checkpoint
from gankit.training.logging import read_metrics
from gankit.training.run_dir import CHECKPOINTS, write_config
from gankit.training.trainer import Trainer

NO_WARMUP = AlarmSettings(warmup=0)


def feed(monitor, rows, start=1, every=10):
    """Each row (a dict of statistics) as one log interval; the alarms raised, with their steps."""
    raised = []
    for i, row in enumerate(rows):
        raised += monitor.observe_training(start * every + i * every, row)
    return raised


def healthy_rows(n=30):
    """A short healthy run's numbers: a noisy falling loss, a positive W, gradient peaks within 3x of each other."""
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(n, 4, generator=gen).tolist()
    return [{"critic_loss": -0.5 + 0.3 * a, "wasserstein": 0.2 + b, "critic_grad_norm_peak": 1 + 2 * c,
             "generator_grad_norm_peak": 0.5 + d} for a, b, c, d in noise]


# ---------------------------------------------------------------------------------------------- the monitor
def test_a_healthy_sequence_raises_nothing():
    monitor = AlarmMonitor(NO_WARMUP, "critic_loss", "wasserstein")
    assert feed(monitor, healthy_rows()) == []
    assert monitor.observe_evaluation(100, {"modes_covered": 8.0, "w1": 0.5, "high_quality": 0.8}) == []
    assert monitor.observe_evaluation(200, {"modes_covered": 7.0, "w1": 1.2, "high_quality": 0.5}) == []


def test_a_stuck_critic_loss_fires_once_per_episode():
    monitor = AlarmMonitor(NO_WARMUP, "critic_loss")
    losses = [0.9, 0.6931, 0.6931, 0.6931, 0.6931, 0.6931, 0.5, 0.6931, 0.6931, 0.6931]
    raised = feed(monitor, [{"critic_loss": v} for v in losses])
    # Three equal intervals (steps 20, 30, 40) fire at 40; 50 and 60 continue the episode; 0.5 ends it; 80-100 again.
    assert [(a.step, a.kind) for a in raised] == [(40, "critic_loss_stuck"), (100, "critic_loss_stuck")]
    assert "stuck at 0.6931 for 3 log intervals" in raised[0].message


def test_a_critic_loss_at_zero_and_one_within_a_millionth_count_as_stuck():
    assert [a.step for a in feed(AlarmMonitor(NO_WARMUP), [{"critic_loss": v} for v in (0.0, 1e-20, 0.0)])] == [30]
    assert "stuck at 0 " in feed(AlarmMonitor(NO_WARMUP), [{"critic_loss": 0.0}] * 3)[0].message
    assert len(feed(AlarmMonitor(NO_WARMUP), [{"critic_loss": 2.0 * (1 + d)} for d in (0, 5e-7, 1e-7)])) == 1
    assert feed(AlarmMonitor(NO_WARMUP), [{"critic_loss": 2.0 * (1 + d)} for d in (0, 5e-6, 1e-7)]) == []


def test_a_negative_w_estimate_fires_after_patience_intervals_and_only_where_the_objective_has_one():
    rows = [{"wasserstein": w} for w in (0.3, -0.1, -0.2, 0.1, -0.1, -0.2, -0.3, -0.4, -0.1)]
    raised = feed(AlarmMonitor(NO_WARMUP, "critic_loss", "wasserstein"), rows)
    assert [(a.step, a.kind) for a in raised] == [(70, "w_estimate_negative")]  # two negatives at 20-30 are not enough
    assert "negative for 3 log intervals" in raised[0].message
    assert feed(AlarmMonitor(NO_WARMUP, "critic_loss", None), rows) == []  # no W estimate declared: nothing read


def test_an_exploding_gradient_fires_against_the_running_median_of_earlier_intervals():
    key = GRADIENT_PEAK.format(side="generator")
    peaks = [1.0, 2.0, 1.5, 160.0, 300.0, 1.0, 2.0, 1000.0]
    raised = feed(AlarmMonitor(NO_WARMUP), [{key: p} for p in peaks])
    # 160 > 100 x median(1, 2, 1.5) = 150; 300 continues the episode; 1000 > 100 x median(1, 2, 1.5, 160, 300, 1, 2) = 200.
    assert [(a.step, a.kind) for a in raised] == [(40, "gradient_exploding"), (80, "gradient_exploding")]
    assert raised[0].message.startswith("generator gradient norm 160 is 107x the running median 1.5")
    # Below the factor (140 < 150) nothing; and no median before three earlier intervals.
    assert feed(AlarmMonitor(NO_WARMUP), [{key: p} for p in (1.0, 2.0, 1.5, 140.0)]) == []
    assert feed(AlarmMonitor(NO_WARMUP), [{key: p} for p in (1.0, 2.0, 1e6)]) == []


def test_the_sides_gradients_are_separate_episodes():
    rows = [{GRADIENT_PEAK.format(side=s): 1.0 for s in ("critic", "generator")}] * 3
    rows.append({GRADIENT_PEAK.format(side="critic"): 500.0, GRADIENT_PEAK.format(side="generator"): 500.0})
    raised = feed(AlarmMonitor(NO_WARMUP), rows)
    assert [a.message.split()[0] for a in raised] == ["critic", "generator"]


def test_warmup_steps_are_not_judged():
    rows = [{"critic_loss": 0.0}] * 6
    raised = feed(AlarmMonitor(AlarmSettings(warmup=40)), rows)  # steps 10..60: only 40, 50, 60 are seen
    assert [a.step for a in raised] == [60]


def test_modes_falling_by_half_between_evaluations_fire():
    monitor = AlarmMonitor(NO_WARMUP)
    assert monitor.observe_evaluation(250, {"modes_covered": 8.0}) == []
    assert monitor.observe_evaluation(500, {"modes_covered": 5.0}) == []  # 5 > 8/2
    raised = monitor.observe_evaluation(750, {"modes_covered": 2.0})
    assert [(a.step, a.kind) for a in raised] == [(750, "modes_collapsing")]
    assert "from 5 to 2 between the evaluations at steps 500 and 750" in raised[0].message


@pytest.mark.parametrize("name, before, after, fires", [
    ("fd", 10.0, 31.0, True), ("fd", 10.0, 29.0, False),
    ("fd_classifier", 2.0, 7.0, True), ("fid", 20.0, 70.0, True), ("kid", 0.01, 0.05, True),
    ("w1", 0.2, 0.7, True), ("fd_classifier_a2b", 1.0, 3.5, True),
    ("high_quality", 0.9, 0.2, True), ("high_quality", 0.9, 0.4, False),
    ("kid_std", 0.001, 0.01, False), ("critic_w", 0.1, 5.0, False),  # no known direction: never judged
])
def test_an_evaluation_metric_worse_by_the_factor_fires(name, before, after, fires):
    monitor = AlarmMonitor(NO_WARMUP)
    monitor.observe_evaluation(100, {name: before})
    raised = monitor.observe_evaluation(200, {name: after})
    assert [a.kind for a in raised] == (["metric_jump"] if fires else [])


def test_thresholds_come_from_the_settings():
    loose = AlarmMonitor(AlarmSettings(warmup=0, metric_factor=10.0, modes_fall=0.2, patience=5))
    loose.observe_evaluation(1, {"fd": 1.0, "modes_covered": 10.0})
    assert loose.observe_evaluation(2, {"fd": 9.0, "modes_covered": 3.0}) == []
    assert feed(loose, [{"critic_loss": 0.0}] * 4) == []
    assert len(feed(loose, [{"critic_loss": 0.0}])) == 1


def test_state_survives_a_checkpoint_so_a_resumed_run_neither_repeats_nor_forgets(tmp_path):
    monitor = AlarmMonitor(NO_WARMUP, "critic_loss", "wasserstein")
    key = GRADIENT_PEAK.format(side="critic")
    assert len(feed(monitor, [{"critic_loss": 0.0, "wasserstein": -1.0, key: 1.0}] * 3)) == 2  # stuck, negative W
    monitor.observe_evaluation(30, {"fd": 1.0})
    torch.save(monitor.state_dict(), tmp_path / "state.pt")
    resumed = AlarmMonitor(NO_WARMUP, "critic_loss", "wasserstein")
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    # The episodes go on (no repeat of stuck or negative W); the gradient history and the last evaluation remain.
    raised = feed(resumed, [{"critic_loss": 0.0, "wasserstein": -1.0, key: 500.0}], start=4)
    assert [a.kind for a in raised] == ["gradient_exploding"]
    assert [a.kind for a in resumed.observe_evaluation(40, {"fd": 5.0})] == ["metric_jump"]


def test_an_alarm_is_one_line_with_its_step_and_a_record_without_the_training_clock():
    alarm = Alarm(1200, "critic_loss_stuck", "critic loss stuck at 0.6931 for 3 log intervals")
    assert alarm.line() == ("alarm at step 1200: critic loss stuck at 0.6931 for 3 log intervals - "
                            "see README, 'Training alarms'")
    assert alarm.record() == {"step": 1200, "alarm": "critic_loss_stuck",
                              "message": "critic loss stuck at 0.6931 for 3 log intervals"}


# ---------------------------------------------------------------------------------------------- gradients
def test_gradient_peaks_are_the_largest_norm_of_each_side_over_an_interval():
    critic, generator = nn.Linear(2, 1, bias=False), nn.Linear(1, 1, bias=False)
    peaks = GradientPeaks({"critic": list(critic.parameters()), "generator": list(generator.parameters())})
    critic.weight.grad = torch.tensor([[3.0, 4.0]])
    peaks.capture("critic")
    critic.weight.grad = torch.tensor([[0.6, 0.8]])
    peaks.capture("critic")
    peaks.capture("generator")  # no gradient yet: nothing to report for that side
    taken = peaks.take()
    assert set(taken) == {"critic_grad_norm_peak"} and taken["critic_grad_norm_peak"].item() == pytest.approx(5.0)
    assert peaks.take() == {}


# ---------------------------------------------------------------------------------------------- declarations
def test_only_the_wasserstein_family_declares_a_w_estimate():
    declared = {name for name in OBJECTIVES if objective_class(name).w_estimate_stat is not None}
    assert declared == {"wgan", "wgan-gp", "wgan-div"}
    assert all(objective_class(name).w_estimate_stat == "wasserstein" for name in declared)


def test_bad_alarm_settings_name_the_key():
    for override, key in (("train.alarm_patience=1", "train.alarm_patience"),
                          ("train.alarm_gradient_factor=1", "train.alarm_gradient_factor"),
                          ("train.alarm_modes_fall=1.5", "train.alarm_modes_fall"),
                          ("train.alarm_warmup=-1", "train.alarm_warmup")):
        with pytest.raises(ConfigError, match=key):
            build_config("wgan-gp-8gaussians", overrides=[override])


# ---------------------------------------------------------------------------------------------- real runs
ALARM_RUN = ["train.log_every=5", "train.alarm_warmup=0", "train.checkpoint_every=5"]
# Weight clipping at 1e-12 flattens the critic: its loss sits at 0 and the generator gets no gradient.
FLAT_CRITIC = ["objective.clip_value=1e-12"]


def train(run_dir, preset, steps, *extra, resume=False):
    """A tiny real run into ``run_dir`` through the trainer alone: no pictures, so no matplotlib time."""
    config = resolve(build_config(preset, overrides=TINY_TOY + ALARM_RUN + [f"train.steps={steps}", *extra]))
    run_dir.mkdir(exist_ok=True)
    write_config(run_dir, config.to_dict())
    trainer = Trainer(config, load_data(config), run_dir=run_dir, progress=False, log=print)
    if resume:
        trainer.load_state_dict(load_latest_checkpoint(run_dir / CHECKPOINTS, warn=print))
    trainer.fit(steps)
    return run_dir


def alarm_records(run):
    return [r for r in read_metrics(run / "metrics.jsonl") if "alarm" in r]


def test_a_healthy_short_run_with_evaluations_raises_no_alarm(tmp_path, capsys):
    run = train(tmp_path / "healthy", "wgan-gp-8gaussians", 20, "eval.every=10", "eval.samples=400",
                "eval.metrics=[modes,critic_w]")
    records = read_metrics(run / "metrics.jsonl")
    assert sum("time" in r for r in records) == 4 and sum("eval/critic_w" in r for r in records) == 2
    assert alarm_records(run) == [] and "alarm" not in capsys.readouterr().out
    # The gradient peaks feed the monitor but stay out of the logged statistics.
    assert not any(k.endswith("_grad_norm_peak") for r in records for k in r)


def test_a_flat_critic_fires_once_in_the_log_the_stream_and_a_red_report_row_and_resume_does_not_repeat_it(
        tmp_path, capsys):
    run = train(tmp_path / "flat", "wgan-8gaussians", 25, *FLAT_CRITIC)
    # Step 5 averages the first, unclipped critic step; 10, 15, 20 are exactly 0: the alarm at 20, once.
    assert [(r["step"], r["alarm"]) for r in alarm_records(run)] == [(20, "critic_loss_stuck")]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("alarm")]
    assert lines == ["alarm at step 20: critic loss stuck at 0 for 3 log intervals (a critic that stopped learning "
                     "gives its generator no gradient; said once until it moves) - see README, 'Training alarms'"]
    # Resumed to 40 from the checkpoint at 25: the episode goes on, so nothing is said again (a monitor
    # started afresh would see 30, 35, 40 stuck and fire at 40).
    train(run, "wgan-8gaussians", 40, *FLAT_CRITIC, resume=True)
    assert [r["step"] for r in alarm_records(run)] == [20]
    assert "alarm" not in capsys.readouterr().out
    page = write_run_report(run).read_text()
    assert '<h2>Alarms</h2>' in page and '<table class="alarms">' in page
    assert "<tr><th>20</th><td>critic_loss_stuck</td><td>critic loss stuck at 0 for 3 log" in page
    assert "table.alarms tr th, table.alarms tr td { background: #fde8e8" in page  # the row is red
    assert [a["step"] for a in RunData.load(run).alarms] == [20]


def test_train_alarms_false_silences_them(tmp_path, capsys):
    run = train(tmp_path / "quiet", "wgan-8gaussians", 20, *FLAT_CRITIC, "train.alarms=false")
    assert [r["critic_loss"] for r in read_metrics(run / "metrics.jsonl")][1:] == [0.0, 0.0, 0.0]
    assert alarm_records(run) == [] and "alarm" not in capsys.readouterr().out


def _report_of(tmp_path, records):
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.yaml").write_text("objective: {name: wgan-gp}\ndata: {name: 8gaussians}\n")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run, write_run_report(run).read_text()


def test_gankit_report_regenerates_the_alarm_rows_from_metrics_jsonl(tmp_path):
    run, page = _report_of(tmp_path, [{"step": 50, "time": 1.0, "critic_loss": 0.1, "steps_per_s": 50.0},
                                      {"step": 50, "alarm": "w_estimate_negative", "message": "W <negative>"}])
    assert "<tr><th>50</th><td>w_estimate_negative</td><td>W &lt;negative&gt;</td></tr>" in page
    # The alarm record is no training record: the run's timings read only those.
    assert RunData.load(run).mean_steps_per_s == 50.0


def test_a_run_without_alarms_has_no_alarm_section(tmp_path):
    _, page = _report_of(tmp_path, [{"step": 50, "time": 1.0, "critic_loss": 0.1, "steps_per_s": 50.0}])
    assert "<h2>Alarms</h2>" not in page and "Run" in page
