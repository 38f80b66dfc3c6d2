"""Issue 19: scores carry their provenance, the classifier FD has its own key, too few samples for FD is refused,
compare refuses numbers measured differently, and an evaluation shows its progress."""

import hashlib
import json
from pathlib import Path

import pytest
import torch
import yaml

import gankit
from gankit import api
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import EvaluationError
from gankit.evaluation import Evaluator
from gankit.evaluation import progress as eval_progress
from gankit.evaluation.classifier import WEIGHTS_PATH
from gankit.evaluation.evaluator import check_fd_samples
from gankit.evaluation.provenance import PROVENANCE_KEY, differences
from gankit.evaluation.records import upgrade_record
from gankit.report.compare import write_comparison
from gankit.report.run_data import RunData
from gankit.training.logging import read_metrics

DIGITS = ["train.steps=1", "train.n_critic=1", "train.tensorboard=false", "train.device=cpu", "train.log_every=1",
          "train.sample_every=1000", "train.checkpoint_every=1000", "train.figure_every=0",
          "model.generator_widths=[16]", "model.critic_widths=[16]", "eval.every=0"]


def run_cli(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One generator step of the 8x8-digits preset at 28 px: an image run the shipped classifier reads."""
    config = api.build_config("wgan-gp-digits", overrides=DIGITS)
    return api.train(config, out=tmp_path_factory.mktemp("prov"), name="digits", progress=False,
                     log=lambda _: None).path


# ------------------------------------------------------------------ the provenance record


def test_eval_json_names_feature_network_weights_real_set_counts_resize_seed_and_version(digits_run, capsys):
    assert run_cli("eval", digits_run, "--metrics", "fd,classes", "--samples", 150, "--seed", 3, "--json",
                   "--no-progress") == 0
    printed = json.loads(capsys.readouterr().out)
    provenance = printed[PROVENANCE_KEY]
    assert provenance["feature_space"] == "mnist-classifier"
    assert provenance["feature_weights_sha256"] == hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()
    assert provenance["feature_dim"] == 128
    # scikit-learn's 1,797 digits at their own 8 px, 150 of them drawn; the classifier reads 28 px, so both
    # sets are resized for it (as_classifier_input).
    assert provenance["real"] == {"name": "digits", "split": "all (scikit-learn)", "count": 150, "of": 1797,
                                  "shape": [1, 8, 8]}
    assert provenance["generated"] == 150 and provenance["resize"] == "bilinear-antialias 8x8->28x28"
    assert provenance["seed"] == 3 and provenance["gankit_version"] == gankit.__version__
    # The record appended to metrics.jsonl is the one printed.
    assert read_metrics(digits_run / "metrics.jsonl")[-1][PROVENANCE_KEY] == provenance


def test_classifier_fd_has_its_own_key_and_title_and_old_records_are_read_under_it(digits_run, tmp_path):
    result = api.evaluate(digits_run, metrics=["fd"], samples=129, append=False)
    assert set(result.values) == {"fd_classifier"}  # never "fd", never "fid" in the classifier's space
    # gankit 0.2.0 wrote eval/fd whatever the space; readers see it under the space's key.
    old = {"step": 5, "eval_samples": 5000, "eval_features": "mnist-classifier", "eval/fd": 12.5}
    assert upgrade_record(old) == {"step": 5, "eval_samples": 5000, "eval_features": "mnist-classifier",
                                   "eval/fd_classifier": 12.5}
    assert upgrade_record({**old, "eval_features": "inception-v3"})["eval/fid"] == 12.5
    run = _fake_run(tmp_path / "old", [old])
    assert RunData.load(run).last("eval/fd_classifier") == 12.5
    page = write_comparison([run, _fake_run(tmp_path / "old2", [{**old, "eval/fd": 20.0}])], tmp_path / "c.html")
    assert "FD (MNIST classifier; not FID) (last)" in page.read_text()


class _PointGenerator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 2)

    def forward(self, z, labels=None):
        return self.layer(z)


def test_points_runs_record_no_feature_network():
    evaluator = Evaluator(load_dataset("8gaussians", toy_size=512), metrics=["modes"], samples=200, has_critic=False)
    provenance = evaluator.evaluate(_PointGenerator(), 2).record()[PROVENANCE_KEY]
    assert provenance["feature_space"] is None and provenance["feature_weights_sha256"] is None
    assert provenance["resize"] is None
    assert provenance["real"] == {"name": "8gaussians", "split": "generated", "count": 200, "of": 512, "shape": [2]}
    assert provenance["generated"] == 200


def test_seed_and_version_do_not_make_numbers_incomparable_but_counts_and_weights_do():
    base = {"feature_space": "mnist-classifier", "feature_weights_sha256": "a" * 64, "real": {"name": "mnist"},
            "generated": 5000, "resize": "none", "seed": 0, "gankit_version": "0.2.0"}
    assert differences(base, {**base, "seed": 4, "gankit_version": "0.3.0"}) == []
    assert differences(base, {**base, "generated": 500}) == ["generated"]
    assert differences(base, {**base, "feature_weights_sha256": "b" * 64}) == ["feature_weights_sha256"]
    assert differences(base, None) == []  # unknown: not refused (marked by compare)


# ------------------------------------------------------------------ too few samples for FD


def test_fd_needs_one_more_sample_than_the_feature_dimension():
    check_fd_samples("mnist-classifier", 128, 129, 5000, "mnist")  # rank 128 of 128: accepted
    with pytest.raises(EvaluationError, match="at least 129 samples.*got 128: pass --samples 129"):
        check_fd_samples("mnist-classifier", 128, 128, 5000, "mnist")
    with pytest.raises(EvaluationError, match="real data 'folder' has only 100"):
        check_fd_samples("mnist-classifier", 128, 5000, 100, "folder")


def test_eval_with_fewer_samples_than_the_feature_dimension_is_one_line_and_exit_2(digits_run, capsys):
    before = (digits_run / "metrics.jsonl").read_text()
    assert run_cli("eval", digits_run, "--samples", 10, "--no-progress") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "at least 129 samples" in err and "--samples 129" in err
    assert (digits_run / "metrics.jsonl").read_text() == before  # nothing appended


def test_training_with_too_few_evaluation_samples_fails_before_step_0(tmp_path):
    config = api.build_config("wgan-gp-digits", overrides=[*DIGITS[:-1], "eval.every=1", "eval.samples=20"])
    with pytest.raises(EvaluationError, match="at least 129 samples"):
        api.train(config, out=tmp_path, name="few", progress=False, log=lambda _: None)
    assert not list(tmp_path.glob("few/checkpoints/*.pt"))


# ------------------------------------------------------------------ compare refuses mixed provenance


def _fake_run(folder: Path, records: list[dict]) -> Path:
    """A run folder as the report reads it: config.yaml and metrics.jsonl (hand-written records)."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": {"name": "mnist", "image_size": 28, "channels": 1},
                                                        "objective": {"name": "wgan-gp"}}))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def _record(fd: float, **provenance) -> dict:
    known = {"feature_space": "mnist-classifier", "feature_weights_sha256": "c" * 64, "feature_dim": 128,
             "real": {"name": "mnist", "split": "train", "count": 5000, "of": 60000, "shape": [1, 28, 28]},
             "generated": 5000, "resize": "none", "seed": 0, "gankit_version": "0.2.0"}
    return {"step": 100, "eval_samples": 5000, "eval/fd_classifier": fd, PROVENANCE_KEY: {**known, **provenance}}


def test_compare_refuses_numbers_whose_provenance_differs_and_force_marks_them(tmp_path, capsys):
    a = _fake_run(tmp_path / "a", [_record(10.0)])
    b = _fake_run(tmp_path / "b", [_record(11.0, seed=7)])  # another seed: the same estimate, compared
    c = _fake_run(tmp_path / "c", [_record(30.0, generated=500)])
    assert run_cli("compare", a, b, "--out", tmp_path / "ab.html") == 0
    assert "†" not in (tmp_path / "ab.html").read_text()
    capsys.readouterr()
    out = tmp_path / "ac.html"
    assert run_cli("compare", a, c, "--out", out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "differ in generated" in err and "--force" in err
    assert not out.exists()
    assert run_cli("compare", a, c, "--out", out, "--force") == 0
    page = out.read_text()
    assert "FD (MNIST classifier; not FID) (last) †" in page
    assert "differ in generated" in page and "generated=5000" in page and "generated=500" in page


def test_compare_marks_but_accepts_a_run_without_provenance(tmp_path):
    old = {"step": 100, "eval_samples": 5000, "eval_features": "mnist-classifier", "eval/fd": 12.0}
    page = write_comparison([_fake_run(tmp_path / "new", [_record(10.0)]), _fake_run(tmp_path / "old", [old])],
                            tmp_path / "c.html").read_text()
    assert "(last) ‡" in page and "provenance of old is unknown" in page


# ------------------------------------------------------------------ progress


def test_eval_shows_its_stages_on_stderr_only_and_logs_one_record(digits_run, capsys, monkeypatch):
    monkeypatch.setattr(eval_progress, "refresh_interval", lambda: 0.0)
    before = len(read_metrics(digits_run / "metrics.jsonl"))
    assert run_cli("eval", digits_run, "--metrics", "fd,kid", "--samples", 150, "--json") == 0
    captured = capsys.readouterr()
    for stage in ("sampling 150", "fd", "kid", "real features 150/150", "fake features 150/150"):
        assert stage in captured.err, stage
    json.loads(captured.out)  # stdout stays one JSON object
    assert len(read_metrics(digits_run / "metrics.jsonl")) == before + 1
    assert run_cli("eval", digits_run, "--metrics", "fd", "--samples", 150, "--no-progress", "--no-append") == 0
    assert "sampling" not in capsys.readouterr().err


# ------------------------------------------------------------------ translation runs


def test_translation_evaluations_carry_both_domains_and_refuse_too_few_for_fd():
    from gankit.evaluation.translation_metrics import TranslationEvaluator

    pair = load_dataset("mnist:mnist-inverted")  # two halves of the sample, each with a held-out tenth (250)
    evaluator = TranslationEvaluator(pair, metrics=["fd", "cycle"], samples=200)
    provenance = evaluator.provenance
    assert provenance["feature_space"] == "mnist-classifier"
    assert provenance["feature_weights_sha256"] == hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()
    assert provenance["real"]["name"] == "mnist:mnist-inverted" and provenance["real"]["split"] == "held-out test"
    assert provenance["real"]["count"] == [200, 200] and provenance["generated"] == [200, 200]
    with pytest.raises(EvaluationError, match="at least 129 samples"):
        TranslationEvaluator(pair, metrics=["fd"], samples=50)
    assert TranslationEvaluator(pair, metrics=["cycle"], samples=50).provenance["feature_space"] is None
