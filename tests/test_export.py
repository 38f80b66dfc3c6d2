"""gankit export: each format checked against PyTorch, the JSON spec, loading safetensors back, bad input."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from conftest import TINY_TOY

import gankit
from gankit.api import Run, load_data
from gankit.cli import main
from gankit.config import build_config, resolve
from gankit.data.domains import describe_data
from gankit.errors import GankitError
from gankit.export import PARITY_INPUTS, ExportError, export_run, load_export
from gankit.networks import build_networks, build_objective

HAS_ONNXRUNTIME = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))
TINY = [o for o in TINY_TOY if not o.startswith("model.")] + [
    "model.generator_widths=[16,16]", "model.critic_widths=[16,16]", "model.latent_dim=6",
]


def built_run(preset: str, *overrides: str) -> Run:
    """An untrained run in memory (random weights, eval mode): what export reads, without training."""
    config = resolve(build_config(preset, overrides=TINY + list(overrides)))
    data = describe_data(load_data(config))
    objective = build_objective(config)
    torch.manual_seed(0)
    networks = build_networks(config, data, objective)
    for module in networks.values():
        module.eval()
    return Run(None, config, dict(networks.items()), data, 0, latent=objective.generator_input(config.model.latent_dim),
               objective=objective, sides=dict(networks.sides))


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run folder trained 2 steps with an EMA (train.ema_decay 0.9), for the command-line tests."""
    out = tmp_path_factory.mktemp("runs")
    config = build_config("wgan-gp-8gaussians", overrides=TINY + ["train.steps=2", "train.ema_decay=0.9"])
    return gankit.train(config, out=out, progress=False, log=quiet).path


def test_safetensors_export_loads_back_without_the_run_and_samples_the_same(tmp_path):
    run = built_run("cwgan-gp-8gaussians")
    result = export_run(run, tmp_path / "g.safetensors", log=quiet)
    assert result.files[0].max_abs_diff == 0.0  # the same weights in the same modules
    loaded = load_export(tmp_path / "g.safetensors")
    assert loaded.path is None and loaded.num_classes == 8
    assert torch.equal(loaded.sample(16, seed=3, labels=2), run.sample(16, seed=3, labels=2))
    assert torch.equal(gankit.sample(tmp_path / "g.safetensors", 10, seed=1), run.sample(10, seed=1))
    spec = json.loads((tmp_path / "g.safetensors.json").read_text())
    assert spec["format"] == "safetensors" and spec["latent"] == {"dim": 6, "distribution": "normal"}
    inputs = spec["networks"]["generator"]["inputs"]
    assert [(i["name"], i["dtype"]) for i in inputs] == [("z", "float32"), ("labels", "int64")]
    assert inputs[1]["classes"] == 8


def test_torchscript_export_with_a_fixed_batch_matches_pytorch(tmp_path):
    run = built_run("wgan-gp-8gaussians", "model.generator_norm=batch")  # batch norm, in eval mode
    result = export_run(run, tmp_path / "g.pt", batch=24, log=quiet)  # 64 inputs = 24 + 24 + 16 padded to 24
    assert result.spec["batch"] == 24
    assert result.spec["networks"]["generator"]["parity"]["inputs"] == PARITY_INPUTS
    module = torch.jit.load(str(tmp_path / "g.pt"))
    z = torch.randn(24, 6, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert (module(z) - run.generator(z)).abs().max() < 1e-5


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnx, onnxruntime and onnxscript (pip install -e '.[export]') "
                    "are not installed")
def test_onnx_export_of_a_conditional_generator_matches_pytorch_in_onnxruntime(tmp_path):
    import onnxruntime

    run = built_run("cwgan-gp-8gaussians")
    result = export_run(run, tmp_path / "g.onnx", log=quiet)
    assert 0 <= result.files[0].max_abs_diff <= 1e-4
    spec = json.loads((tmp_path / "g.onnx.json").read_text())
    names = [i["name"] for i in spec["networks"]["generator"]["inputs"]]
    session = onnxruntime.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(7))  # a batch size the export never saw
    labels = torch.tensor([0, 3, 7, 7, 1])
    (got,) = session.run(None, dict(zip(names, [z.numpy(), labels.numpy()])))
    with torch.no_grad():
        assert np.abs(got - run.generator(z, labels).numpy()).max() < 1e-4


def test_each_generator_side_network_gets_its_file_and_its_inputs(tmp_path):
    run = built_run("bigan-8gaussians")
    export_run(run, tmp_path / "bigan.pt", log=quiet)
    spec = json.loads((tmp_path / "bigan.pt.json").read_text())
    assert {role: n["file"] for role, n in spec["networks"].items()} == {
        "generator": "bigan.generator.pt", "encoder": "bigan.encoder.pt"}
    assert spec["networks"]["encoder"]["inputs"][0]["shape"] == ["batch", 2]
    assert spec["networks"]["encoder"]["output"]["shape"] == ["batch", 6]
    encoder = torch.jit.load(str(tmp_path / "bigan.encoder.pt"))
    x = torch.randn(9, 2)
    with torch.no_grad():
        assert torch.allclose(encoder(x), run.networks["encoder"](x), atol=1e-6)


def test_a_translation_runs_safetensors_export_rebuilds_both_generators(tmp_path):
    run = built_run("cyclegan-8gaussians-25gaussians")
    export_run(run, tmp_path / "cycle.safetensors", log=quiet)
    loaded = load_export(tmp_path / "cycle.safetensors")
    assert sorted(loaded.networks) == ["g_ab", "g_ba"] and loaded.latent is None
    x = torch.randn(7, 2)
    with torch.no_grad():
        for role in ("g_ab", "g_ba"):
            assert torch.equal(loaded.networks[role](x), run.networks[role](x))



def test_a_translation_export_translates_and_sample_says_so_in_one_line(tmp_path, capsys):
    run = built_run("cyclegan-8gaussians-25gaussians")
    export = tmp_path / "cycle.safetensors"
    export_run(run, export, log=quiet)
    points = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    np.savez(tmp_path / "points.npz", points=points)
    assert main(["translate", str(export), str(tmp_path / "points.npz"), "-o", str(tmp_path / "out.npz"),
                 "--no-progress"]) == 0
    with torch.no_grad():
        expected = run.networks["g_ab"](torch.from_numpy(points))
    assert np.allclose(np.load(tmp_path / "out.npz")["points"], expected.numpy(), atol=1e-6)
    capsys.readouterr()
    assert main(["sample", str(export), "-o", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"gankit translate {export} INPUT -o OUT" in err
    assert not (tmp_path / "s.png").exists()


def test_infogan_export_takes_the_explicit_codes_its_spec_lays_out(tmp_path):
    run = built_run("infogan-8gaussians", "model.latent_dim=12", "objective.continuous=2")
    export_run(run, tmp_path / "info.pt", log=quiet)
    layout = json.loads((tmp_path / "info.pt.json").read_text())["networks"]["generator"]["inputs"][0]["layout"]
    assert layout["free_noise"]["columns"] == [0, 2]
    assert layout["category_one_hot"]["columns"] == [2, 10]
    assert layout["continuous"]["columns"] == [10, 12]
    module = torch.jit.load(str(tmp_path / "info.pt"))
    z = torch.randn(8, 12, generator=torch.Generator().manual_seed(2))
    explicit = run.generator.codes.generator_input(z)  # one-hot category, continuous codes in [-1, 1]
    with torch.no_grad():
        assert torch.allclose(module(explicit), run.generator(z), atol=1e-6)


def test_a_failed_parity_check_writes_nothing(tmp_path, monkeypatch):
    import gankit.export as export_module

    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", -1.0)  # every difference, even 0, fails
    with pytest.raises(ExportError, match="differs from the PyTorch network"):
        export_run(built_run("wgan-gp-8gaussians"), tmp_path / "g.pt", log=quiet)
    assert list(tmp_path.iterdir()) == []


def test_onnx_without_the_extra_names_it_in_one_line(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(ExportError, match=r"pip install -e '\.\[export\]'"):
        export_run(built_run("wgan-gp-8gaussians"), tmp_path / "g.onnx", log=quiet)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the command line


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_exports_the_ema_and_samples_the_export_without_the_run_folder(trained, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "export", trained, "-o", tmp_path / "g.safetensors", "--ema")
    assert code == 0 and "max |difference| 0 on 64 fixed inputs" in out
    assert json.loads((tmp_path / "g.safetensors.json").read_text())["weights"] == "ema"
    assert run_cli(capsys, "sample", tmp_path / "g.safetensors", "-o", tmp_path / "a.npz", "-n", 12)[0] == 0
    assert run_cli(capsys, "sample", trained, "-o", tmp_path / "b.npz", "-n", 12)[0] == 0  # EMA by default
    assert np.array_equal(np.load(tmp_path / "a.npz")["points"], np.load(tmp_path / "b.npz")["points"])
    # the raw weights are another export, and differ from the EMA after training
    assert run_cli(capsys, "export", trained, "-o", tmp_path / "raw.safetensors")[0] == 0
    raw = load_export(tmp_path / "raw.safetensors").sample(12, seed=0)
    assert not torch.equal(raw, torch.from_numpy(np.load(tmp_path / "a.npz")["points"]))


def assert_one_line_error(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error:") and "Traceback" not in err
    for word in words:
        assert word in lines[0]


def test_cli_bad_exports_fail_in_one_line_and_lose_nothing(trained, tmp_path, capsys):
    empty = tmp_path / "never-trained"
    empty.mkdir()
    (empty / "config.yaml").write_text("objective: {name: wgan-gp}\n")
    code, _, err = run_cli(capsys, "export", empty, "-o", tmp_path / "g.pt")
    assert_one_line_error(code, err, "checkpoint")
    code, _, err = run_cli(capsys, "export", trained, "-o", tmp_path / "g.onnx", "--format", "onxx")
    assert_one_line_error(code, err, "onxx", "did you mean 'onnx'")
    code, _, err = run_cli(capsys, "export", trained, "-o", tmp_path / "g.bin")
    assert_one_line_error(code, err, "--format")
    code, _, err = run_cli(capsys, "export", trained, "-o", tmp_path / "g.pt", "--batch", "0")
    assert_one_line_error(code, err, "--batch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["never-trained"]
    kept = tmp_path / "g.pt"
    kept.write_bytes(b"someone's file")
    code, _, err = run_cli(capsys, "export", trained, "-o", kept)
    assert_one_line_error(code, err, "already exists", "--overwrite")
    assert kept.read_bytes() == b"someone's file"


def test_cli_ema_export_of_a_run_without_ema_is_refused(tmp_path, capsys):
    config = build_config("wgan-gp-8gaussians", overrides=TINY + ["train.steps=1", "train.ema_decay=0"])
    folder = gankit.train(config, out=tmp_path, progress=False, log=quiet).path
    code, _, err = run_cli(capsys, "export", folder, "-o", tmp_path / "g.safetensors", "--ema")
    assert_one_line_error(code, err, "no EMA", "without --ema")
    assert not (tmp_path / "g.safetensors").exists()


@pytest.mark.parametrize("psi", ["0", "1.5", "-0.2", "nan"])
def test_cli_truncation_outside_0_1_is_refused_and_nothing_is_overwritten(trained, tmp_path, capsys, psi):
    for command, name in (("sample", "s.png"), ("interpolate", "w.png")):
        out = tmp_path / name
        out.write_bytes(b"old")
        code, _, err = run_cli(capsys, command, trained, "-o", out, "--truncation", psi, "--overwrite")
        assert_one_line_error(code, err, "(0, 1]")
        assert out.read_bytes() == b"old"


def test_export_of_something_that_is_not_an_export_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(GankitError, match="not a gankit export"):
        load_export(tmp_path / "plain.safetensors")
