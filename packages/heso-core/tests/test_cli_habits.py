"""CLI habits (issue 16, item 9): ``--version``, exit codes (1 only for a verdict that is not
Valid, 2 for usage, configuration and input errors), ``heso log``, a progress line on a
terminal, and an empty store reported as empty."""

from __future__ import annotations

import importlib.metadata
import io
import json

import pytest

import heso
from heso.capture import capture
from heso.cli import _progress, main

T = ["2026-01-02T03:04:05Z", "2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z"]
POLICY = """
[policy]
default = "allow"

[[rule]]
id = "no-rm"
verb = "tool_call"
scope = "run_shell"
decision = "block"

[[rule]]
id = "refunds-need-approval"
verb = "tool_call"
scope = "refund"
decision = "require_approval"
approvers = ["oncall"]
"""


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: --version, --help and usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(heso_project):
    """Five receipts: three workflows, three decisions, two verbs, over a month."""
    heso_project.write_policy(POLICY)
    plan = [
        (T[0], "tool_call", "lookup_order", {"order_id": "A-1"}, "support", {}),
        (T[0], "tool_call", "run_shell", {"command": "rm -rf /"}, "ops", {}),
        (T[1], "tool_call", "refund", {"order": "A-1", "amount": 40}, "billing", {}),
        (T[1], "delete", "drop_table", {"table": "users"}, "ops", {}),
        (T[2], "tool_call", "lookup_order", {"order_id": "A-2"}, "support", {"api_key": "s"}),
    ]
    hashes = []
    for when, verb, tool, fields, workflow, extra in plan:
        heso.init(project_root=heso_project.root, clock_override=when)
        outcome = capture(
            verb, tool, {**fields, **extra}, workflow=workflow, redact_fields=list(extra)
        )
        hashes.append(outcome.action_hash)
    heso.shutdown()
    return heso_project, hashes


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"heso {importlib.metadata.version('heso-core')}\n"
    assert out.split()[1] == heso.__version__


def test_log_lists_every_receipt_oldest_first(store, capsys):
    project, hashes = store
    code, out, _ = run(capsys, "log", "--project", project.root)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["ENTRY", "CAPTURED", "(UTC)"]
    assert [line.split()[-1] for line in lines[1:6]] == [h[:12] for h in hashes]
    assert "block" in lines[2] and "require_approval" in lines[3] and "ops" in lines[4]
    assert lines[-1].startswith("5 of 5 receipts")
    data = json.loads(run(capsys, "log", "--project", project.root, "--json")[1])
    assert (data["total"], data["shown"]) == (5, 5)
    assert [r["action_hash"] for r in data["rows"]] == hashes
    assert data["rows"][1] == {
        "seq": 1,
        "entry_hash": data["rows"][1]["entry_hash"],
        "action_hash": hashes[1],
        "captured_at": T[0],
        "verb": "tool_call",
        "tool": "run_shell",
        "decision": "block",
        "rule_id": "no-rm",
        "workflow": "ops",
        "account": "default",
        "approvers": 0,
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--verb", "delete"], [3]),
        (["--tool", "lookup_order"], [0, 4]),
        (["--decision", "block"], [1]),
        (["--decision", "require_approval"], [2, 3]),
        (["--workflow", "ops"], [1, 3]),
        (["--account", "default", "--workflow", "support"], [0, 4]),
        (["--since", "2026-01-05"], [2, 3, 4]),
        (["--until", "2026-01-05T09:59"], [0, 1]),
        (["--since", "2026-01-03", "--until", "2026-01-31T23:59:59Z"], [2, 3]),
        (["--search", "users"], [3]),
        (["--tool", "lookup_order", "-n", "1"], [4]),
        (["--limit", "2"], [3, 4]),
        (["--workflow", "nobody"], []),
    ],
)
def test_log_filters(store, capsys, filters, expected):
    project, _ = store
    code, out, _ = run(capsys, "log", *filters, "--project", project.root, "--json")
    assert code == 0 and [r["seq"] for r in json.loads(out)["rows"]] == expected
    code, out, _ = run(capsys, "log", *filters, "--project", project.root)
    assert code == 0
    assert out.startswith("no receipt matches (of 5)") if not expected else "ENTRY" in out


def test_an_empty_store_is_reported_as_empty(heso_project, capsys):
    at = ["--project", heso_project.root]
    code, out, err = run(capsys, "verify", "--chain", *at)
    assert code == 0 and "the store is empty, there are no receipts yet" in out and err == ""
    code, out, _ = run(capsys, "verify", "--chain", *at, "--json")
    data = json.loads(out)
    assert code == 0 and data["empty"] is True and data["entries"] == 0
    code, out, _ = run(capsys, "log", *at)
    assert code == 0 and out.startswith("the store is empty: no receipts yet")
    assert json.loads(run(capsys, "log", *at, "--json")[1]) == {"total": 0, "shown": 0, "rows": []}
    for verb in ("verify", "show"):
        code, _, err = run(capsys, verb, "abcd", *at)
        assert code == 2 and "is empty: no receipt has been minted yet" in err


def test_exit_codes_of_every_verb(store, capsys, tmp_path, monkeypatch):
    """1 only for a verdict that is not Valid; 2 for usage, configuration and input errors."""
    project, hashes = store
    at = ["--project", project.root]
    bad = json.loads(run(capsys, "show", hashes[0][:12], *at)[1])
    bad["content"]["action"]["fields"]["order_id"] = "A-999"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-home"))
    linted = tmp_path / "linted.toml"
    linted.write_text(
        '[[rule]]\nid = "mail"\norder = 1\nverb = "tool_call"\nscope = "send_email"\n'
        'conditions = [{ field = "to", op = "ends_with", value = "@example.com" }]\n'
        'decision = "allow"\n'
    )
    verdicts = [
        ["verify", tmp_path / "bad.json"],
        ["reveal", hashes[4][:12], "--field", "api_key", "--value", "wrong", *at],
        ["policy", "check", "--strict", linted],  # a warning fails --strict
    ]
    errors = [
        [],
        ["frobnicate"],
        ["verify", "--bogus-flag"],
        ["verify", *at],
        ["verify", "--sealed", *at],
        ["verify", "ffffffffffff", *at],
        ["verify", "--chain", "--trust", "nope", *at],
        ["verify", "--chain", "--project", tmp_path / "nowhere"],
        ["show", "not-hex", *at],
        ["reveal", hashes[0][:12], "--field", "order_id", "--value", "A-1", *at],
        ["log", "--since", "yesterday", *at],
        ["log", "--limit", "0", *at],
        ["log", "--decision", "maybe", *at],
        ["policy", "explain", "--verb", "teleport", "--tool", "x", "--policy", project.policy_path],
        ["approvals"],
        ["approver"],
        ["verifier"],
        ["approvals", "show", "ffffffffffff", *at],
        ["approve", hashes[2][:12], "--as", "mallory", *at],
        ["approver", "show", "nobody"],
        ["verifier", "export", tmp_path / "missing" / "v.html"],
        ["init", tmp_path / "strict", "--require-passphrase"],
    ]
    for argv in verdicts:
        assert run(capsys, *argv)[0] == 1, argv
    for argv in errors:
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, code, out, err)
        assert "Traceback" not in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_work_shows_a_progress_line_on_a_terminal_only(store, capsys, monkeypatch):
    project, _ = store
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    code, out, _ = run(capsys, "verify", "--chain", *["--project", project.root, "--json"])
    assert code == 0 and json.loads(out)["ok"] is True  # stdout stays clean
    shown = terminal.getvalue()
    assert shown.startswith("\r\x1b[2Kverifying the chain in ") and " s" in shown
    assert shown.endswith("\r\x1b[2K")  # erased before the result
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert run(capsys, "log", "--project", project.root, "--json")[0] == 0
    assert terminal.getvalue().startswith("\r\x1b[2Kreading the receipts in ")
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a pipe or a file: nothing
    piped = io.StringIO()
    with _progress.progress("working", stream=piped):
        pass
    assert piped.getvalue() == ""


def test_quick_work_prints_no_progress_line():
    terminal = _Terminal()
    with _progress.progress("working", stream=terminal):
        pass
    assert terminal.getvalue() == ""
