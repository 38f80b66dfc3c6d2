"""The config system: layers, type coercion, validation messages, presets."""

import pytest

import gankit.config
from gankit.config import (
    DEFAULT_PRESET,
    RunConfig,
    apply_updates,
    build_config,
    config_from_dict,
    dropped_objective_keys_notice,
    merge_preset_layers,
    parse_override,
    preset_chain,
    preset_names,
    read_preset,
    resolve,
)
from gankit.errors import ConfigError
from gankit.objectives import OBJECTIVES


def test_bare_config_is_the_main_job_preset():
    config = build_config()
    assert config.preset == DEFAULT_PRESET == "hinge-sngan-mnist"
    assert config.objective.name == "hinge"
    assert config.model.critic_spectral_norm
    assert config.data.name == "mnist"


def test_overrides_are_typed_and_nested():
    config = build_config("wgan-gp-8gaussians", overrides=["train.batch_size=32", "optim.critic.lr=1e-3", "model.critic_widths=[64,64]"])
    assert config.train.batch_size == 32
    assert config.optim.critic.lr == pytest.approx(1e-3)  # YAML 1.1 reads 1e-3 as text; we coerce it
    assert config.model.critic_widths == [64, 64]
    assert parse_override("a.b.c=3") == {"a": {"b": {"c": 3}}}


def test_files_layer_over_preset_and_overrides_win(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: wgan-gp-25gaussians\ntrain: {steps: 77, batch_size: 16}\n")
    config = build_config(files=[path], overrides=["train.batch_size=8"])
    assert config.preset == "wgan-gp-25gaussians"
    assert config.data.name == "25gaussians"
    assert (config.train.steps, config.train.batch_size) == (77, 8)


def test_changing_the_objective_takes_its_own_defaults():
    config = build_config("wgan-gp-8gaussians", overrides=["objective.name=wgan-div"])
    params = config.objective.params
    assert (params.penalty_weight, params.penalty_target, params.penalty_power) == (2, 0, 6)
    config = build_config("wgan-gp-8gaussians", overrides=["objective.name=wgan", "objective.clip_value=0.05"])
    assert config.objective.params.clip_value == 0.05


def test_renaming_the_objective_names_the_preset_keys_it_drops():
    config = build_config("wgan-gp-25gaussians", overrides=["objective.name=nsgan"])
    assert config.objective.params.penalty_weight == 0  # nsgan's own default: the preset's 0.1 is gone
    notice = dropped_objective_keys_notice(config)
    assert "objective.penalty_weight=0.1, objective.penalty_every=4 do not carry over" in notice
    # A key passed again is kept and no longer named; with every key kept, or the preset's own objective, no notice.
    kept = build_config("wgan-gp-25gaussians", overrides=["objective.name=nsgan", "objective.penalty_weight=0.1"])
    assert "penalty_weight" not in dropped_objective_keys_notice(kept)
    assert dropped_objective_keys_notice(build_config("wgan-gp-25gaussians", overrides=[
        "objective.name=nsgan", "objective.penalty_weight=0.1", "objective.penalty_every=4"])) is None
    assert dropped_objective_keys_notice(build_config("wgan-gp-25gaussians")) is None
    # A preset whose objective section has only its name loses nothing.
    assert dropped_objective_keys_notice(build_config("nsgan-mnist", overrides=["objective.name=lsgan"])) is None


def test_resolve_fills_the_objectives_recommendations():
    # ebgan-8gaussians sets no optimiser and no n_critic, so WGAN's recommendations fill them all.
    config = resolve(build_config("ebgan-8gaussians", overrides=["objective.name=wgan"]))
    assert (config.optim.critic.name, config.optim.critic.lr) == ("rmsprop", 5e-5)
    assert config.train.n_critic == 5
    gp = resolve(build_config("wgan-gp-mnist"))
    assert gp.optim.generator.betas == [0.0, 0.9]


def test_config_round_trips_through_a_plain_dict():
    config = resolve(build_config("wgan-div-8gaussians", overrides=["train.steps=5"]))
    again = config_from_dict(config.to_dict())
    assert again.to_dict() == config.to_dict()


@pytest.mark.parametrize(
    "override, words",
    [
        ("train.batchsize=3", ["unknown config key 'train.batchsize'", "did you mean 'batch_size'"]),
        ("trian.steps=3", ["unknown config key 'trian'", "did you mean 'train'? valid keys in the top level: "]),
        ("objective.lambda=3", ["unknown config key 'objective.lambda': valid keys in section 'objective': "]),
        ("model.arch=dcgn", ["model.arch 'dcgn' is not known (did you mean 'dcgan'?): set it to one of mlp, dcgan"]),
        ("train.batch_size=abc", ["'train.batch_size' must be an integer", "'abc'"]),
        ("train.batch_size=0", ["train.batch_size must be >= 1"]),
        ("optim.critic.lr=-0.1", ["optim.critic.lr must be > 0"]),
        ("objective.name=wgangp", ["unknown objective 'wgangp'", "did you mean 'wgan-gp'"]),
        ("objective.penalty_points=everywhere", ["objective.penalty_points must be one of"]),
        ("train.ema_decay=1.5", ["train.ema_decay must be in [0, 1)"]),
        ("train.critic_schedule=fast", ["train.critic_schedule must be one of"]),
        ("optim.generator.name=adagrad", ["optim.generator.name must be one of"]),
        ("train.tensorboard=maybe", ["'train.tensorboard' must be true or false"]),
        ("model.critic_widths=5", ["'model.critic_widths' must be a list"]),
        ("train.steps", ["must look like section.key=value"]),
    ],
)
def test_bad_config_values_name_the_key_in_one_line(override, words):
    with pytest.raises(ConfigError) as info:
        build_config("wgan-gp-8gaussians", overrides=[override])
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_unknown_preset_suggests_the_nearest():
    with pytest.raises(ConfigError, match="did you mean 'wgan-gp-mnist'"):
        build_config("wgan-gp-minst")
    with pytest.raises(ConfigError) as info:
        build_config("wgan-gp-minst")
    expected = "unknown preset 'wgan-gp-minst' (did you mean 'wgan-gp-mnist'?): run 'gankit presets' to list them"
    assert str(info.value) == expected


def test_did_you_mean_names_the_closest_choice_or_nothing():
    from gankit.errors import closest_name, did_you_mean

    assert did_you_mean("wgangp", ["gan", "wgan-gp", "wgan-div"]) == " (did you mean 'wgan-gp'?)"
    assert did_you_mean("xyz", ["gan", "wgan-gp"]) == ""
    assert did_you_mean("fid", {"fd": 1, "kid": 2}) == " (did you mean 'fd'?)"  # a mapping offers its keys
    assert did_you_mean("abcd", ["abxy"]) == ""  # a ratio of 0.5 is under the default cutoff of 0.6 ...
    assert did_you_mean("abcd", ["abxy"], cutoff=0.5) == " (did you mean 'abxy'?)"  # ... and meets a lower one
    assert closest_name("abcd", ["abxy", "abcx"]) == "abcx" and closest_name("abcd", []) is None


def test_bad_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(files=[tmp_path / "missing.yaml"])
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: {steps: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config(files=[broken])
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        build_config(files=[listing])


def test_presets_cover_every_objective_on_mnist_and_8gaussians():
    names = preset_names()
    for objective, cls in OBJECTIVES.items():
        if cls.evaluates != "samples":  # translators and recommenders have presets on their own data
            assert any(n.startswith(f"{objective}-") for n in names)
            continue
        # One preset per data set, or several named by their variant (fgan-kl-mnist, fgan-reverse-kl-mnist).
        assert any(n.startswith(f"{objective}-") and n.endswith("-mnist") for n in names), objective
        assert any(n.startswith(f"{objective}-") and n.endswith("-8gaussians") for n in names), objective
    assert {"wgan-gp-25gaussians", "wgan-gp-mnist-mlp"} <= set(names)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_builds_names_itself_and_has_a_description(name):
    config = build_config(name)
    assert config.preset == name
    assert read_preset(name)["description"]
    # Conditional presets are named c<objective>-<data> (cgan-mnist, cwgan-gp-mnist).
    prefix = "c" if config.model.conditional else ""
    assert name.startswith(prefix + config.objective.name + "-")
    # A pair of domains A:B is named by its domains (cyclegan-mnist-inverted, discogan-arc).
    # A recommender's data may be named by its first word (irgan-synthetic on synthetic-feedback).
    assert any(part in name or part.split("-")[0] in name for part in config.data.name.split(":"))


def test_classic_mlp_preset_matches_pytorch_gan_settings():
    config = resolve(build_config("wgan-gp-mnist-mlp"))
    assert config.model.arch == "mlp" and config.model.latent_dim == 100
    assert config.model.generator_widths == [128, 256, 512, 1024]
    assert config.model.critic_widths == [512, 256]
    assert config.train.batch_size == 64 and config.train.n_critic == 5
    assert config.objective.params.penalty_weight == 10
    for role in ("generator", "critic"):
        o = getattr(config.optim, role)
        assert (o.name, o.lr, o.betas) == ("adam", 2e-4, [0.5, 0.999])


# --------------------------------------------------------------------------- presets built on a base


def test_bases_are_not_presets_but_presets_build_on_them():
    assert not any(name.startswith("_") for name in preset_names())
    assert preset_chain("lsgan-8gaussians") == ["lsgan-8gaussians", "_recipe-8gaussians"]
    merged = read_preset("lsgan-8gaussians")
    assert "preset" not in merged
    # The base's sections arrive under the preset's own keys; the objective is the preset's.
    assert merged["train"]["steps"] == 3500 and merged["model"]["critic_widths"] == [256, 256, 256]
    assert merged["objective"]["name"] == "lsgan" and merged["budget_seconds"] == 180
    # wgan-8gaussians replaces only the keys it names.
    wgan = read_preset("wgan-8gaussians")
    assert wgan["train"]["steps"] == 2500 and wgan["train"]["n_critic"] == 5 and wgan["train"]["ema_decay"] == 0.99
    assert wgan["optim"]["critic"] == {"lr": 5.0e-4, "betas": None}


def test_merging_a_preset_over_its_base_builds_what_layering_them_builds():
    # read_preset merges the mappings; build_config applies typed layers: both must give the same config,
    # including the objective rule (a new objective.name drops the base's objective keys).
    base = {"objective": {"name": "wgan-gp", "penalty_weight": 0.1}, "train": {"steps": 10, "n_critic": 2},
            "model": {"critic_widths": [8, 8]}}
    layer = {"objective": {"name": "lsgan", "fake_target": -1.0}, "train": {"steps": 20}, "model": {"critic_widths": [4]}}
    merged = merge_preset_layers(base, layer)
    assert merged["objective"] == {"name": "lsgan", "fake_target": -1.0}
    assert merged["train"] == {"steps": 20, "n_critic": 2} and merged["model"]["critic_widths"] == [4]
    layered, at_once = RunConfig(), RunConfig()
    apply_updates(layered, base)
    apply_updates(layered, layer)
    apply_updates(at_once, merged)
    assert layered == at_once and layered.objective.params.penalty_weight == 0.0
    # The same objective merges key by key.
    same = merge_preset_layers(base, {"objective": {"penalty_every": 2}})
    assert same["objective"] == {"name": "wgan-gp", "penalty_weight": 0.1, "penalty_every": 2}


def _fake_presets(monkeypatch, tmp_path, texts):
    for name, text in texts.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    monkeypatch.setattr(gankit.config, "_preset_files", lambda: {p.stem: p for p in tmp_path.glob("*.yaml")})


def test_a_preset_that_builds_on_itself_or_on_a_missing_base_is_a_clear_error(monkeypatch, tmp_path):
    _fake_presets(monkeypatch, tmp_path, {"a": "preset: _b\n", "_b": "preset: a\n", "c": "preset: _recipe\n",
                                          "_recipe-toy": "train: {steps: 5}\n"})
    with pytest.raises(ConfigError, match=r"builds on itself \(a -> _b -> a\)"):
        read_preset("a")
    with pytest.raises(ConfigError, match=r"unknown preset '_recipe' \(named by preset 'c'\).*_recipe-toy"):
        read_preset("c")
    # A user's typo is not offered a base.
    with pytest.raises(ConfigError) as error:
        read_preset("_recipe-to")
    assert "did you mean" not in str(error.value)


def test_a_config_file_may_build_on_a_base(tmp_path):
    listing = tmp_path / "mine.yaml"
    listing.write_text("preset: _recipe-8gaussians\nobjective: {name: hinge}\n")
    config = build_config(files=[listing])
    assert config.objective.name == "hinge" and config.train.steps == 3500 and config.model.critic_widths == [256, 256, 256]


def test_a_base_is_not_trained_on_its_own():
    with pytest.raises(ConfigError, match="'_recipe-8gaussians' is a base.*lsgan-8gaussians"):
        build_config("_recipe-8gaussians")
