"""heso.init: resolution order, discovery, fail-fast errors, re-init, the pinned clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import heso
from heso.capture import capture
from heso_testing.project import make_project


def test_init_without_heso_toml_fails_fast(tmp_path, heso_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(heso.HesoConfigError, match=r"no heso\.toml found") as err:
        heso.init()
    assert "heso init" in str(err.value)
    with pytest.raises(heso.HesoConfigError, match=r"no heso\.toml in"):
        heso.init(project_root=tmp_path)


def test_gates_before_init_raise_config_error_naming_init(heso_env):
    heso.shutdown()
    with pytest.raises(heso.HesoConfigError, match=r"call heso\.init\(\)"):
        capture("tool_call", "t", {})
    with pytest.raises(heso.HesoConfigError):
        heso.process(heso.Action(heso.Verb.TOOL_CALL, "t"))


def test_discovery_walks_up_from_the_cwd(heso_project, monkeypatch):
    sub = heso_project.root / "src" / "agents"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    config = heso.init()
    assert config.project_root == heso_project.root.resolve()
    assert config.policy_path == heso_project.root.resolve() / "heso.toml"


def test_defaults(heso_project):
    config = heso_project.init()
    assert (config.workflow, config.account, config.blocking) == ("default", "default", True)
    assert config.clock_override is None and config.binary == "heso"
    assert isinstance(config, heso.Config)


SETTINGS = """
[policy]
default = "allow"

[heso]
workflow = "from-toml"
account = "toml-acct"
blocking = false
timeout = 3
binary = "/opt/heso"
clock = "2030-01-01T00:00:00Z"
"""


def test_toml_settings_apply_when_nothing_else_is_set(heso_project):
    heso_project.write_policy(SETTINGS)
    config = heso_project.init()
    assert (config.workflow, config.account, config.blocking) == ("from-toml", "toml-acct", False)
    assert (config.timeout, config.binary) == (3.0, "/opt/heso")
    assert config.clock_override == "2030-01-01T00:00:00Z"


def test_environment_beats_toml(heso_project, monkeypatch):
    heso_project.write_policy(SETTINGS)
    monkeypatch.setenv("HESO_WORKFLOW", "from-env")
    monkeypatch.setenv("HESO_ACCOUNT", "env-acct")
    monkeypatch.setenv("HESO_BLOCKING", "true")
    monkeypatch.setenv("HESO_TIMEOUT", "7.5")
    monkeypatch.setenv("HESO_BIN", "/env/heso")
    monkeypatch.setenv("HESO_CLOCK", "2031-02-03T04:05:06+02:00")
    config = heso_project.init()
    assert (config.workflow, config.account, config.blocking) == ("from-env", "env-acct", True)
    assert (config.timeout, config.binary) == (7.5, "/env/heso")
    assert config.clock_override == "2031-02-03T02:05:06Z"


def test_explicit_arguments_beat_environment(heso_project, monkeypatch):
    heso_project.write_policy(SETTINGS)
    monkeypatch.setenv("HESO_WORKFLOW", "from-env")
    monkeypatch.setenv("HESO_BLOCKING", "1")
    monkeypatch.setenv("HESO_TIMEOUT", "7.5")
    config = heso_project.init(
        workflow="explicit",
        account="arg-acct",
        blocking=False,
        timeout=1,
        binary="/arg/heso",
        clock_override=datetime(2032, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
    )
    assert (config.workflow, config.account, config.blocking) == ("explicit", "arg-acct", False)
    assert (config.timeout, config.binary) == (1.0, "/arg/heso")
    assert config.clock_override == "2032-01-01T05:00:00Z"


def test_project_root_from_environment(heso_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HESO_PROJECT_ROOT", str(heso_project.root))
    assert heso.init().project_root == heso_project.root.resolve()


@pytest.mark.parametrize(
    ("env", "value", "match"),
    [
        ("HESO_BLOCKING", "maybe", "HESO_BLOCKING must be true or false"),
        ("HESO_TIMEOUT", "soon", "timeout must be a number"),
        ("HESO_TIMEOUT", "-1", "timeout must be positive"),
        ("HESO_CLOCK", "yesterday", "RFC 3339"),
    ],
)
def test_bad_environment_values_are_config_errors(heso_project, monkeypatch, env, value, match):
    monkeypatch.setenv(env, value)
    with pytest.raises(heso.HesoConfigError, match=match):
        heso_project.init()


def test_bad_arguments_are_config_errors(heso_project):
    with pytest.raises(heso.HesoConfigError, match="aware datetime"):
        heso_project.init(clock_override=datetime(2030, 1, 1))
    with pytest.raises(heso.HesoConfigError, match="workflow must be a non-empty string"):
        heso_project.init(workflow="")


def test_unknown_setting_in_heso_table_names_the_line(heso_project):
    heso_project.write_policy('[policy]\ndefault = "allow"\n[heso]\nworkflo = "x"\n')
    with pytest.raises(heso.HesoConfigError, match="workflow") as err:
        heso_project.init()
    assert err.value.line == 4


def test_clock_override_pins_captured_at(heso_project):
    heso_project.init(clock_override="2026-05-06T07:08:09Z")
    capture("tool_call", "a", {})
    capture("tool_call", "b", {})
    assert {r["content"]["captured_at"] for r in heso_project.receipts()} == {
        "2026-05-06T07:08:09Z"
    }


def test_without_a_pinned_clock_captured_at_is_now(heso_project):
    heso_project.init()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    capture("tool_call", "a", {})
    stamp = heso_project.receipts()[0]["content"]["captured_at"]
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= before


def test_init_again_replaces_the_config_and_the_project(heso_project, tmp_path):
    heso_project.init(workflow="first")
    capture("tool_call", "one", {})
    other = make_project(tmp_path / "other")
    config = other.init(workflow="second")
    assert heso.config.current().config is config
    capture("tool_call", "two", {})
    assert [r["content"]["action"]["workflow"] for r in heso_project.receipts()] == ["first"]
    assert [r["content"]["action"]["workflow"] for r in other.receipts()] == ["second"]


def test_shutdown_makes_gates_raise_until_the_next_init(heso_project):
    heso_project.init()
    heso.shutdown()
    with pytest.raises(heso.HesoConfigError):
        capture("tool_call", "t", {})
    heso_project.init()
    assert capture("tool_call", "t", {}).allowed


def test_invalid_policy_fails_init(heso_project):
    heso_project.write_policy('[policy]\ndefault = "maybe"\n')
    with pytest.raises(heso.HesoConfigError, match="maybe"):
        heso_project.init()
