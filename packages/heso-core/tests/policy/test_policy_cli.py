"""`heso policy check` and `heso policy explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heso.cli import main
from heso.keys import SigningKey
from heso.policy.starter import STARTER_POLICY

GOOD = """
[policy]
default = "allow"

[[rule]]
id = "big-payments"
verb = "payment"
conditions = [{ field = "order.amount", op = "gt", value = 1000, display = "big" }]
decision = "block"

[[rule]]
id = "prod-sends"
verb = "tool_call"
scope = "send_*"
subject = { kind = "workflow", name = "prod" }
decision = "require_approval"
approvers = ["oncall"]

[approvers.oncall]
members = { alice = "ALICE" }
""".replace("ALICE", SigningKey.generate().public_key().to_str())

BAD = """
[[rule]]
id = "a"
verb = "llm_call"
decision = "alow"

[[rule]]
id = "b"
verb = "tool_call"
decision = "block"
sla_minutes = -3
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "heso.toml").write_text(GOOD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "check")
    assert code == 0
    assert out.strip().endswith("OK: 2 rules (2 enabled), default allow; 0 warning(s), 1 note(s)")
    assert "info[payments-allowed-by-default]" in out
    assert str(project / "heso.toml") in out


def test_check_notes_unset_approvers_and_warns_about_an_undefined_group(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_groups = GOOD.split("[approvers.oncall]")[0]
    (project / "heso.toml").write_text(no_groups, encoding="utf-8")
    code, out, _ = run(capsys, "policy", "check")
    assert code == 0
    assert 'info[unknown-approver-group] approver group "oncall"' in out
    assert out.strip().endswith("0 warning(s), 2 note(s)")
    assert run(capsys, "policy", "check", "--strict")[0] == 0
    other_group = GOOD.replace("[approvers.oncall]", "[approvers.finance]")
    (project / "heso.toml").write_text(other_group, encoding="utf-8")
    code, out, _ = run(capsys, "policy", "check")
    assert code == 0
    assert 'warning[unknown-approver-group] approver group "oncall"' in out
    assert run(capsys, "policy", "check", "--strict")[0] == 1


def test_check_finds_the_policy_upwards(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deeper = project / "src" / "pkg"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)
    code, out, _ = run(capsys, "policy", "check")
    assert code == 0 and str(project / "heso.toml") in out


def test_check_bad_policy_lists_every_problem(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "heso.toml").write_text(BAD, encoding="utf-8")
    code, out, _ = run(capsys, "policy", "check", "heso.toml")
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0].startswith('heso.toml:5:12: error[invalid] rule "a": unknown decision "alow"')
    assert 'did you mean "allow"?' in lines[0]
    assert lines[1].startswith("heso.toml:11:15: error[invalid]")
    assert lines[-1] == "heso.toml: FAILED: 2 problem(s); the policy does not load"


def test_check_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "heso.toml").write_text(BAD, encoding="utf-8")
    code, out, _ = run(capsys, "policy", "check", "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert data["counts"] == {"error": 2, "warning": 0, "info": 0}
    first = data["findings"][0]
    assert (first["line"], first["column"], first["key"]) == (5, 12, "rule[0].decision")
    assert first["hint"].startswith('did you mean "allow"?')


def test_check_json_ok_with_findings(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "heso.toml").write_text(
        '[[rule]]\nid = "off"\nverb = "*"\nenabled = false\ndecision = "block"\n', encoding="utf-8"
    )
    code, out, _ = run(capsys, "policy", "check", "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True
    assert {f["code"] for f in data["findings"]} == {"disabled-rule", "implicit-default"}
    assert (data["rules"], data["enabled_rules"], data["default"]) == (1, 0, "block")
    code, out, _ = run(capsys, "policy", "check", "--json", "--strict")
    assert code == 1 and json.loads(out)["ok"] is False


def test_check_missing_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "check", "nope.toml")
    assert code == 1
    assert "nope.toml: error[invalid] file not found" in out


def test_check_without_any_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "policy", "check")
    assert code == 2
    assert err.startswith("error: no heso.toml in")


def test_check_starter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "heso.toml"
    path.write_text(STARTER_POLICY, encoding="utf-8")
    code, out, _ = run(capsys, "policy", "check", str(path))
    assert code == 0, out


def test_explain_human(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "policy",
        "explain",
        "--verb",
        "payment",
        "--tool",
        "stripe",
        "--field",
        "order.amount=4200",
        "--field",
        "note=hello world",
    )
    assert code == 0
    assert "decision: block, by big-payments" in out
    assert "+ big: 4200 -> true" in out
    assert "path:     lane:payment(verb) > rule:big-payments=block" in out


def test_explain_json_with_fields_json_and_subject(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "policy",
        "explain",
        "--verb",
        "tool_call",
        "--tool",
        "send_sms",
        "--fields-json",
        '{"to": "+1", "n": 2}',
        "--field",
        "n=3",
        "--workflow",
        "prod",
        "--agent",
        "bot",
        "--json",
    )
    data = json.loads(out)
    assert code == 0
    assert data["action"]["fields"] == {"to": "+1", "n": 3}
    assert data["action"]["workflow"] == "prod" and data["action"]["agent"] == "bot"
    assert data["decision"] == "require_approval"
    assert data["approvers"] == ["oncall"]
    assert data["policy"]["rule_id"] == "prod-sends"
    assert [r["outcome"] for r in data["rules"]] == ["skipped", "decided"]


def test_explain_catalog_action(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "policy",
        "explain",
        "--verb",
        "tool_call",
        "--tool",
        "api",
        "--catalog-action",
        "infra.delete_resource",
        "--json",
    )
    data = json.loads(out)
    assert code == 0
    assert data["lane"] == "delete" and data["lane_source"] == "catalog:infra.delete_resource"
    assert data["policy"]["rule_id"] == "heso:floor:delete"


def test_explain_with_explicit_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "custom.toml"
    path.write_text('[policy]\ndefault = "allow"\n', encoding="utf-8")
    code, out, _ = run(
        capsys, "policy", "explain", "--verb", "llm_call", "--tool", "m", "--policy", str(path)
    )
    assert code == 0 and "decision: allow, by heso:default" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verb", "teleport", "--tool", "x"], "unknown verb 'teleport'"),
        (["--verb", "tool_call", "--tool", "x", "--field", "novalue"], "is not PATH=VALUE"),
        (["--verb", "tool_call", "--tool", "x", "--field", "a..b=1"], "a..b"),
        (["--verb", "tool_call", "--tool", "x", "--fields-json", "{bad"], "not valid JSON"),
        (["--verb", "tool_call", "--tool", "x", "--fields-json", "[1]"], "must be a JSON object"),
        (
            ["--verb", "tool_call", "--tool", "x", "--catalog-action", "payment.authorise_payment"],
            "nearest known: payment.authorize_payment",
        ),
        (["--verb", "tool_call", "--tool", "x", "--policy", "missing.toml"], "file not found"),
    ],
)
def test_explain_errors(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "policy", "explain", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err


def test_explain_on_a_bad_policy_fails(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "heso.toml").write_text(BAD, encoding="utf-8")
    code, _, err = run(capsys, "policy", "explain", "--verb", "llm_call", "--tool", "m")
    assert code == 2
    assert 'unknown decision "alow"' in err and "+1 more problem" in err


def test_check_shows_a_backtracking_regex_with_file_line_pattern_and_fix(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "heso.toml").write_text(
        '[[rule]]\nid = "r"\nverb = "tool_call"\ndecision = "block"\n'
        'conditions = [{ field = "q", op = "regex", value = \'(?<=secret)=(\\w+)\' }]\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "policy", "check", "heso.toml")
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith('heso.toml:5:52: error[invalid] rule "r" conditions[0]: regular ')
    assert "'(?<=secret)=(\\\\w+)'" in first and "look-behind" in first
    assert "another condition of the rule" in first
