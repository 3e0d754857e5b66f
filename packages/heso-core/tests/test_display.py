"""Terminal injection (issue 15, item 7): text an agent or the store supplied never reaches a
terminal raw. ``heso.display`` escapes it, and every CLI verb prints through it."""

from __future__ import annotations

import json

import pytest

import heso
from heso.cli import main
from heso.display import escape, escape_json, escape_lines
from heso_testing.hostile_text import HOSTILE, PRINTABLE


def printable(text: str) -> bool:
    """Nothing a terminal would interpret: only printable characters and line breaks."""
    return all(ch.isprintable() or ch == "\n" for ch in text)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_control_bidi_and_invisible_character_becomes_a_visible_escape(name):
    text = f"list_repos{HOSTILE[name]}delete_repo"
    shown = escape(text)
    assert printable(shown) and "\n" not in shown
    assert shown.startswith("list_repos") and shown.endswith("delete_repo")
    assert len(shown) > len(text)
    hidden = [ch for ch in HOSTILE[name] if not ch.isprintable()]
    assert hidden and all(f"{ord(ch):02x}" in shown for ch in hidden)


@pytest.mark.parametrize("text", PRINTABLE)
def test_printable_text_is_unchanged(text):
    assert escape(text) == text == escape_lines(text)


def test_escape_forms():
    assert escape("\x1b\u202e\U000e0041") == "\\x1b\\u202e\\U000e0041"
    assert escape_lines("a\x1b\nb\u2028") == "a\\x1b\nb\\u2028"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_escaped_json_is_the_same_value_and_safe_to_print(name):
    value = {"tool": f"x{HOSTILE[name]}y", f"k{HOSTILE[name]}": ["é", HOSTILE[name]]}
    for indent in (None, 2):
        text = escape_json(json.dumps(value, indent=indent, ensure_ascii=False))
        assert printable(text) and json.loads(text) == value
    assert "é" in escape_json(json.dumps("é", ensure_ascii=False))


# -- every verb ------------------------------------------------------------------------------

TOOL = "delete_repo" + HOSTILE["csi"] + "list_repos"
FIELDS = {
    "repo": "prod-db" + HOSTILE["rlo"] + "xobdnas" + HOSTILE["isolates"],
    "note" + HOSTILE["line-separators"]: HOSTILE["osc-link"] + HOSTILE["c1-csi"],
    "who": HOSTILE["zero-width"] + HOSTILE["sgr"] + HOSTILE["tag"],
}
WORKFLOW = "ops" + HOSTILE["osc-title"]
ACCOUNT = "acct" + HOSTILE["nel"] + HOSTILE["marks"]
POLICY = """
[policy]
default = "allow"

[[rule]]
id = "repos-need-approval"
verb = "tool_call"
scope = "delete_repo*"
decision = "require_approval"
approvers = ["oncall"]
"""


@pytest.fixture
def hostile(heso_project, monkeypatch, tmp_path):
    """A project with one allowed and one pending action whose names, labels and fields carry
    every kind of hostile character, and alice registered in ``oncall``."""
    from heso.approvals.identity import new_approver

    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "alice"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", "alice's passphrase")
    _, public = new_approver("alice")
    heso_project.write_policy(
        POLICY + f'\n[approvers.oncall]\nmembers = {{ alice = "{public}" }}\n'
    )
    heso.init(project_root=heso_project.root)
    allowed = heso.process(
        heso.Action(heso.Verb.tool_call, "list" + HOSTILE["rlo"], FIELDS, WORKFLOW, ACCOUNT)
    )
    with pytest.raises(heso.SuspendedError) as parked:
        heso.process(heso.Action(heso.Verb.tool_call, TOOL, FIELDS, WORKFLOW, ACCOUNT))
    heso.shutdown()
    return heso_project, allowed.action_hash, parked.value.action_hash


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert printable(out), out
    assert printable(err), err
    return code, out, err


def test_no_verb_prints_agent_supplied_text_raw(hostile, capsys):
    project, allowed, parked = hostile
    at = ["--project", project.root]
    code, out, _ = cli(capsys, "approvals", "show", parked[:12], *at)
    assert code == 0
    assert "tool       tool_call delete_repo\\x1b[2K\\x0d\\x1b[1Alist_repos" in out
    assert "prod-db\\u202exobdnas\\u2066" in out and "ops\\x1b]0;approved\\x07" in out
    code, out, _ = cli(capsys, "approvals", "show", parked[:12], *at, "--json")
    assert json.loads(out)["tool_name"] == TOOL and json.loads(out)["action"]["fields"] == FIELDS
    assert cli(capsys, "approvals", "list", *at)[0] == 0
    assert json.loads(cli(capsys, "approvals", "list", *at, "--json")[1])[0]["tool_name"] == TOOL
    reason = "ok" + HOSTILE["csi"] + HOSTILE["rlo"]
    code, out, _ = cli(capsys, "approve", parked[:12], "--as", "alice", "--reason", reason, *at)
    assert code == 0 and "delete_repo\\x1b[2K" in out
    code, out, _ = cli(capsys, "approvals", "show", parked[:12], *at)
    assert "ok\\x1b[2K\\x0d\\x1b[1A\\u202e" in out
    assert cli(capsys, "approvals", "list", "--all", *at)[0] == 0
    for target in (allowed[:12], parked[:12]):
        assert cli(capsys, "verify", target, *at)[0] == 0
        assert cli(capsys, "verify", target, *at, "--json")[0] == 0
        code, out, _ = cli(capsys, "show", target, *at)
        assert code == 0 and json.loads(out)["content"]["action"]["fields"] == FIELDS
        assert cli(capsys, "show", target, *at, "--json")[0] == 0
    assert cli(capsys, "verify", "--chain", *at)[0] == 0
    code, out, _ = cli(capsys, "log", *at)
    assert code == 0 and "list\\u202e" in out and "delete_repo\\x1b[2K" in out
    rows = json.loads(cli(capsys, "log", *at, "--json")[1])["rows"]
    assert [r["tool"] for r in rows] == ["list" + HOSTILE["rlo"], TOOL]
    assert cli(capsys, "log", "--workflow", WORKFLOW, *at)[0] == 0
    explain = ["policy", "explain", "--verb", "tool_call", "--tool", TOOL, "--policy"]
    code, out, _ = cli(capsys, *explain, project.policy_path)
    assert code == 0 and "repos-need-approval" in out
    assert cli(capsys, *explain, project.policy_path, "--json")[0] == 0


def test_errors_quoting_hostile_input_are_escaped(hostile, capsys):
    project, _, _ = hostile
    for argv in (["show", "ab" + HOSTILE["csi"]], ["approvals", "show", HOSTILE["rlo"]]):
        code, _, err = cli(capsys, *argv, "--project", project.root)
        assert code == 2 and err.startswith("error: ")
    code, out, _ = cli(capsys, "show", HOSTILE["osc-title"], "--project", project.root, "--json")
    assert code == 2 and json.loads(out)["ok"] is False
