"""load_config: conf/<env>.yaml + LAKEHOUSE_HOME + LAKEHOUSE__<SECTION>__<KEY> overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lakehouse.config import load_config
from lakehouse.errors import ConfigError

pytestmark = pytest.mark.unit


def write_conf(conf_dir: Path, env: str, text: str) -> Path:
    conf_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / f"{env}.yaml"
    path.write_text(text)
    return path


def test_lakehouse_home_sets_home(tmp_path: Path) -> None:
    cfg = load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.home == tmp_path.resolve()


def test_relative_warehouse_root_resolves_under_lakehouse_home(tmp_path: Path) -> None:
    cfg = load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.warehouse_uri == str(tmp_path.resolve() / "warehouse")


def test_home_defaults_to_dot_lakehouse_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    cfg = load_config("local", environ={})

    assert cfg.home == tmp_path.resolve() / ".lakehouse"


def test_lakehouse_home_overrides_home_in_yaml(tmp_path: Path) -> None:
    cfg = load_config("docker", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.home == tmp_path.resolve()


def test_lakehouse_env_picks_the_file(tmp_path: Path) -> None:
    cfg = load_config(environ={"LAKEHOUSE_ENV": "prod", "LAKEHOUSE_HOME": str(tmp_path)})

    assert (cfg.env, cfg.spark.master, cfg.spark.shuffle_partitions) == ("prod", "yarn", 400)


def test_env_argument_wins_over_lakehouse_env(tmp_path: Path) -> None:
    cfg = load_config("docker", environ={"LAKEHOUSE_ENV": "prod", "LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.env == "docker"


def test_int_override_keeps_int_type(tmp_path: Path) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS": "3"}

    cfg = load_config("local", environ=environ)

    assert cfg.spark.shuffle_partitions == 3
    assert type(cfg.spark.shuffle_partitions) is int


def test_bool_override_false_gives_false(tmp_path: Path) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__SPARK__UI_ENABLED": "false"}

    cfg = load_config("local", environ=environ)

    assert cfg.spark.ui_enabled is False


def test_string_override_keeps_digits_as_string(tmp_path: Path) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__SPARK__DRIVER_MEMORY": "8"}

    cfg = load_config("local", environ=environ)

    assert cfg.spark.driver_memory == "8"


def test_list_override_is_a_yaml_list(tmp_path: Path) -> None:
    environ = {
        "LAKEHOUSE_HOME": str(tmp_path),
        "LAKEHOUSE__SPARK__JVM_OPTIONS": '["-XX:TieredStopAtLevel=1", "-Xss4m"]',
    }

    cfg = load_config("local", environ=environ)

    assert cfg.spark.jvm_options == ("-XX:TieredStopAtLevel=1", "-Xss4m")


def test_string_override_that_is_not_valid_yaml_is_kept_verbatim(tmp_path: Path) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__WAREHOUSE__ROOT": "@scratch"}

    cfg = load_config("local", environ=environ)

    assert cfg.warehouse.root == "@scratch"


def test_override_that_is_not_valid_yaml_raises_config_error_naming_variable(
    tmp_path: Path,
) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS": "[8"}

    with pytest.raises(ConfigError, match="LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS"):
        load_config("local", environ=environ)


@pytest.mark.parametrize("var", ["LAKEHOUSE__SPARK__NOPE", "LAKEHOUSE__NOPE"])
def test_override_of_unknown_key_raises_config_error_naming_variable(
    tmp_path: Path, var: str
) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), var: "1"}

    with pytest.raises(ConfigError, match=var):
        load_config("local", environ=environ)


def test_override_of_wrong_type_raises_config_error_naming_key(tmp_path: Path) -> None:
    environ = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS": "many"}

    with pytest.raises(ConfigError, match=r"spark\.shuffle_partitions"):
        load_config("local", environ=environ)


def test_unknown_key_in_yaml_raises_config_error_naming_key_and_file(tmp_path: Path) -> None:
    path = write_conf(tmp_path / "conf", "local", "spark:\n  nope: 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path / "conf")

    assert "spark.nope" in str(caught.value)
    assert str(path) in str(caught.value)


def test_unknown_section_in_yaml_raises_config_error_naming_key_and_file(tmp_path: Path) -> None:
    path = write_conf(tmp_path / "conf", "local", "sparks:\n  master: local[1]\n")

    with pytest.raises(ConfigError) as caught:
        load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path / "conf")

    assert "sparks" in str(caught.value)
    assert str(path) in str(caught.value)


def test_wrong_type_in_yaml_raises_config_error_naming_key_and_file(tmp_path: Path) -> None:
    path = write_conf(tmp_path / "conf", "local", 'spark:\n  shuffle_partitions: "many"\n')

    with pytest.raises(ConfigError) as caught:
        load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path / "conf")

    assert "spark.shuffle_partitions" in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file_raises_config_error_naming_path_and_known_envs(tmp_path: Path) -> None:
    conf_dir = tmp_path / "conf"
    write_conf(conf_dir, "local", "env: local\n")
    write_conf(conf_dir, "docker", "env: docker\n")

    with pytest.raises(ConfigError) as caught:
        load_config("nope", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=conf_dir)

    message = str(caught.value)
    assert str(conf_dir / "nope.yaml") in message
    assert "'docker'" in message
    assert "'local'" in message


def test_missing_shipped_env_lists_shipped_envs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\['docker', 'local', 'prod'\]"):
        load_config("nope", environ={"LAKEHOUSE_HOME": str(tmp_path)})


def test_invalid_yaml_raises_config_error_naming_file(tmp_path: Path) -> None:
    path = write_conf(tmp_path / "conf", "local", "spark: [unclosed\n")

    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path / "conf")

    assert str(path) in str(caught.value)


def test_yaml_that_is_not_a_mapping_raises_config_error(tmp_path: Path) -> None:
    write_conf(tmp_path / "conf", "local", "- spark\n- warehouse\n")

    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path / "conf")


def test_empty_yaml_gives_defaults(tmp_path: Path) -> None:
    write_conf(tmp_path / "conf", "local", "")

    cfg = load_config(
        "local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path / "conf"
    )

    assert (cfg.env, cfg.spark.master, cfg.spark.shuffle_partitions) == ("local", "local[*]", 8)


@pytest.mark.parametrize("env", ["local", "docker", "prod"])
def test_shipped_conf_file_loads(tmp_path: Path, env: str) -> None:
    cfg = load_config(env, environ={"LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.env == env


def test_absolute_warehouse_root_is_kept(tmp_path: Path) -> None:
    cfg = load_config("docker", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.warehouse_uri == "/lakehouse/warehouse"


def test_object_store_warehouse_root_passes_through_unchanged(tmp_path: Path) -> None:
    cfg = load_config("prod", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    assert cfg.warehouse_uri == "s3://acme-lakehouse/warehouse"


def test_config_attribute_cannot_be_assigned(tmp_path: Path) -> None:
    cfg = load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    with pytest.raises(ValidationError, match="frozen"):
        cfg.env = "prod"


def test_config_section_attribute_cannot_be_assigned(tmp_path: Path) -> None:
    cfg = load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)})

    with pytest.raises(ValidationError, match="frozen"):
        cfg.spark.shuffle_partitions = 1


def test_secret_in_a_file_is_refused_naming_the_variable(tmp_path: Path) -> None:
    path = write_conf(tmp_path, "local", "mysql:\n  password: hunter2\n")
    with pytest.raises(ConfigError, match="LAKEHOUSE__MYSQL__PASSWORD") as err:
        load_config("local", environ={"LAKEHOUSE_HOME": str(tmp_path)}, conf_dir=tmp_path)
    assert str(path) in str(err.value)


def test_secret_from_the_environment_keeps_its_exact_text(tmp_path: Path) -> None:
    cfg = load_config(
        "local",
        environ={"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__REDSHIFT__PASSWORD": "007"},
    )
    assert cfg.redshift.password.get_secret_value() == "007"
    assert "007" not in repr(cfg)


def test_state_paths_resolve_under_home_unless_absolute(tmp_path: Path) -> None:
    cfg = load_config(
        "local",
        environ={"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE__PATHS__SERVICES": "/srv/lh"},
    )
    assert cfg.path("landing") == tmp_path / "landing"
    assert cfg.path("services") == Path("/srv/lh")
