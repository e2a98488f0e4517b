from pathlib import Path

import pytest

from splat2sim.config import available_presets, load_config, read_preset
from splat2sim.errors import ConfigError


def test_defaults_and_overrides():
    config = load_config(overrides=["frames.target_count=25", "run.seed=7", "frames.end_s=3.5"])
    assert config.section("frames").target_count == 25
    assert config.run.seed == 7
    assert config.section("frames").end_s == 3.5


@pytest.mark.parametrize(
    "override, words",
    [
        ("frames.target_cont=3", ["unknown key 'frames.target_cont'", "did you mean 'target_count'"]),
        ("frame.target_count=3", ["unknown config section 'frame'", "did you mean 'frames'"]),
        ("frames.target_count=many", ["must be a whole number"]),
        ("frames.target_count=1", ["must be >= 2"]),
        ("run.device=tpu", ["must be one of"]),
        ("target_count=3", ["expected section.key=value"]),
        ("frames.start_s=5", []),  # valid alone
    ],
)
def test_bad_overrides_name_the_problem(override, words):
    if not words:
        load_config(overrides=[override])
        return
    with pytest.raises(ConfigError) as info:
        load_config(overrides=[override])
    text = str(info.value)
    for word in words:
        assert word in text


def test_cross_field_validation():
    with pytest.raises(ConfigError, match="end_s"):
        load_config(overrides=["frames.start_s=5", "frames.end_s=2"])


def test_presets_load_and_differ():
    names = available_presets()
    assert {"cpu", "gpu", "quality"} <= set(names)
    sizes = {name: load_config(preset=name).section("frames").max_side for name in names}
    assert len(set(sizes.values())) == len(sizes)
    with pytest.raises(ConfigError, match="unknown preset 'cpuu'.*"):
        read_preset("cpuu")


def test_config_files_yaml_and_toml(tmp_path: Path):
    yaml_file = tmp_path / "a.yaml"
    yaml_file.write_text("frames:\n  target_count: 12\n")
    toml_file = tmp_path / "b.toml"
    toml_file.write_text("[frames]\nmax_side = 320\n")
    config = load_config(files=[yaml_file, toml_file], overrides=["frames.target_count=13"])
    assert config.section("frames").target_count == 13  # --set wins over files
    assert config.section("frames").max_side == 320


@pytest.mark.parametrize(
    "text, suffix, message",
    [
        ("frames: [1, 2\n", ".yaml", "not valid YAML"),
        ("[frames\n", ".toml", "not valid TOML"),
        ("- 1\n- 2\n", ".yaml", "must hold a mapping"),
        ("frames:\n  bogus: 1\n", ".yaml", "unknown key 'frames.bogus'"),
    ],
)
def test_unreadable_config_files(tmp_path: Path, text, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(files=[path])


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(files=[tmp_path / "nope.yaml"])


def test_layering_on_a_base_and_preset_reset():
    base = load_config(overrides=["frames.target_count=9"])
    layered = load_config(base=base, overrides=["frames.max_side=300"])
    assert layered.section("frames").target_count == 9 and layered.section("frames").max_side == 300
    reset = load_config(base=base, preset="cpu")
    assert reset.section("frames").target_count == read_preset("cpu")["frames"]["target_count"]


def test_dotted_override_deep_merges_into_a_mapping_field():
    config = load_config(
        overrides=["physics.objects.obj_000.mass=0.4", "physics.objects.obj_000.static_friction=0.7", "physics.objects.mug.mass=0.3"]
    )
    assert config.section("physics").objects == {"obj_000": {"mass": 0.4, "static_friction": 0.7}, "mug": {"mass": 0.3}}
    with pytest.raises(ConfigError, match="is not a mapping"):
        load_config(overrides=["frames.target_count.x=3"])


def test_a_moved_key_is_migrated_in_a_stored_config_and_named_in_a_users(tmp_path):
    """physics.scale_from_sizes moved to scale.from_sizes (the scale stage): a workspace's
    stored config.yaml from an older splat2sim still opens; a user's --set is told where it went."""
    import yaml

    from splat2sim import api
    from splat2sim.config import Config
    from splat2sim.errors import ConfigError
    from splat2sim.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    (ws.root / "config.yaml").write_text(yaml.safe_dump({"physics": {"scale_from_sizes": "never", "views": 3}}))
    config = api.workspace_config(ws)
    assert config.section("scale").from_sizes == "never" and config.section("physics").views == 3
    with pytest.raises(ConfigError, match="moved to 'scale.from_sizes'"):
        Config.defaults().apply_overrides(["physics.scale_from_sizes=never"])


def test_defaults_preset_is_the_bare_defaults():
    """``--preset defaults`` asks for no preset at all (a new workspace would otherwise start
    from the machine's); ``auto`` resolves to a real preset file."""
    from splat2sim.config import Config, dump_config, load_config, read_preset

    assert dump_config(load_config(preset="defaults")) == dump_config(Config.defaults())
    auto = load_config(preset="auto")
    assert auto.section("splat").iterations in {read_preset(p)["splat"]["iterations"] for p in ("cpu", "gpu")}
