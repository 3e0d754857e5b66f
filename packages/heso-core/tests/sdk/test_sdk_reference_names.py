"""Every public name the Python SDK reference (../shared/seeds/001) spells exists in heso, with
the documented signature (the suspend/resume names are checked with the approvals tests)."""

from __future__ import annotations

import inspect

import pytest

import heso
from heso.errors import HesoError

VERBS = ("llm_call", "tool_call", "http_request", "delete", "payment", "data_export")


@pytest.mark.parametrize("value", VERBS)
def test_verbs_are_spelled_as_the_reference_spells_them(value):
    member = getattr(heso.Verb, value)
    assert member is heso.Verb(value) and member.name == value and member == value
    assert getattr(heso.Verb, value.upper()) is member  # the upper-case spelling is an alias


def test_iterating_verbs_gives_each_once():
    assert [v.value for v in heso.Verb] == list(VERBS)


def test_outcome_kinds():
    assert heso.OutcomeKind.BLOCKED.value == "blocked"
    assert {k.value for k in heso.OutcomeKind} >= {"allowed", "blocked", "suspended"}


@pytest.mark.parametrize(
    "name",
    [
        "Config",
        "Action",
        "Outcome",
        "OutcomeKind",
        "Verb",
        "RedactStrategy",
        "BlockedError",
        "SuspendedError",
        "BridgeError",
        "HesoConfigError",
    ],
)
def test_public_types_are_importable_from_heso(name):
    value = getattr(heso, name)
    assert inspect.isclass(value)
    exec(f"from heso import {name}", {})
    if name.endswith("Error"):
        assert issubclass(value, HesoError)


def _keyword_only(fn) -> dict[str, object]:
    params = inspect.signature(fn).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), fn
    return {p.name: p.default for p in params}


def test_init_signature():
    # The reference's parameters, plus telemetry (docs/telemetry.md).
    assert _keyword_only(heso.init) == dict.fromkeys(
        (
            "project_root",
            "binary",
            "workflow",
            "account",
            "clock_override",
            "timeout",
            "blocking",
            "telemetry",
        )
    )
    assert inspect.signature(heso.init).return_annotation in ("Config", heso.Config)


ENV = {
    "HESO_BIN": ("binary", "/opt/heso-verify-cli", "/opt/heso-verify-cli"),
    "HESO_WORKFLOW": ("workflow", "vendor-payouts", "vendor-payouts"),
    "HESO_ACCOUNT": ("account", "acct_19", "acct_19"),
    "HESO_CLOCK": ("clock_override", "2026-01-14T18:04:31Z", "2026-01-14T18:04:31Z"),
    "HESO_TIMEOUT": ("timeout", "2.5", 2.5),
    "HESO_BLOCKING": ("blocking", "false", False),
}


@pytest.mark.parametrize("variable", sorted(ENV))
def test_each_init_parameter_falls_back_to_its_variable(variable, heso_project, monkeypatch):
    field, text, expected = ENV[variable]
    monkeypatch.setenv(variable, text)
    config = heso_project.init()
    assert getattr(config, field) == expected
    if variable != "HESO_BLOCKING":  # an explicit argument wins over the variable
        other = (
            7.0
            if field == "timeout"
            else "2027-01-01T00:00:00Z"
            if field == "clock_override"
            else "x"
        )
        assert getattr(heso_project.init(**{field: other}), field) == other


def test_project_root_falls_back_to_heso_project_root(heso_project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HESO_PROJECT_ROOT", str(heso_project.root))
    assert heso.init().project_root == heso_project.root.resolve()


def test_step_and_process_signatures():
    assert _keyword_only(heso.step) == {"workflow": None, "account": None, "redact": None}
    params = list(inspect.signature(heso.process).parameters)
    assert params[0] == "action"
    assert inspect.signature(heso.process).return_annotation in ("Outcome", heso.Outcome)
