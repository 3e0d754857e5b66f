"""``heso demo`` (issue 16, item 1): it mints into the project it runs in (scaffolding the CWD,
as ``heso init`` does, when there is none), and every command it prints works as printed from
where it ran. Output shape: ../shared/seeds/002-quickstart-python.txt."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from heso.cli import main

SHAPE = re.compile(
    r"minting your first receipts through the engine:\n"
    r"  allow     (?P<allowed>[0-9a-f]{12})…  ->  Valid \(L0\)\n"
    r"  redacted  (?P<redacted>[0-9a-f]{12})…  ->  Valid \(L0\)\n"
    r"\n"
    r"  receipts written to (?P<store>.+/heso-local-data/receipts\.jsonl)\n"
    r"  verify either yourself, offline:\n"
    r"      (?P<verify>heso verify .+)\n"
)


@pytest.fixture(autouse=True)
def _heso_on_path(monkeypatch):
    """``heso`` on PATH is this installation's, as in an activated environment."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def printed_commands(out: str) -> list[str]:
    """Every ``heso ...`` command the output tells the user to run."""
    return re.findall(r"(heso (?:verify|show|log|approvals|policy) [^\n:]*[^\s:.])", out)


def check_commands(capsys, out: str, expected_hashes: list[str]) -> None:
    commands = printed_commands(out)
    assert len(commands) >= 2, out
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "heso"
        code, shown, err = run(capsys, *argv[1:])
        assert code == 0, (command, shown, err)
        if argv[1] == "verify":
            assert shown.startswith("Valid (L0)"), shown
        if argv[1] == "show":
            receipt = json.loads(shown)
            assert receipt["content"]["action_hash"] in expected_hashes
            assert receipt["content"]["action"]["fields"]["api_key"]["heso_redacted"] == "commit"


def test_demo_outside_a_project_scaffolds_the_cwd_like_init(
    tmp_path, heso_env, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo")
    assert code == 0, out
    for name in ("heso.toml", "heso_bootstrap.py", ".gitignore", "heso-local-data/operator.key"):
        assert (tmp_path / name).exists(), name
    assert out.startswith(f"heso project in {tmp_path}")  # heso init's own report
    m = SHAPE.search(out)
    assert m is not None, out
    assert m["store"] == str(tmp_path / "heso-local-data" / "receipts.jsonl")
    assert m["verify"] == f"heso verify {m['allowed']}"
    data = (tmp_path / "heso-local-data" / "receipts.jsonl").read_text()
    assert "sk-demo-0451" not in data and '"heso_redacted":"commit"' in data
    hashes = [json.loads(line)["receipt"]["content"]["action_hash"] for line in data.splitlines()]
    assert [h[:12] for h in hashes] == [m["allowed"], m["redacted"]]
    check_commands(capsys, out, hashes)


def test_demo_in_a_project_mints_into_it_from_a_subdirectory(
    tmp_path, heso_env, capsys, monkeypatch
):
    assert run(capsys, "init", tmp_path)[0] == 0
    sub = tmp_path / "src" / "agents"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    code, out, _ = run(capsys, "demo")
    assert code == 0 and out.startswith("minting your first receipts"), out
    assert not (sub / "heso.toml").exists() and not (tmp_path / "heso-demo").exists()
    m = SHAPE.search(out)
    assert m is not None and m["store"] == str(tmp_path / "heso-local-data" / "receipts.jsonl")
    rows = json.loads(run(capsys, "log", "--json")[1])["rows"]
    assert [(r["tool"], r["workflow"], r["decision"]) for r in rows] == [
        ("search_docs", "heso-demo", "allow"),
        ("send_email", "heso-demo", "allow"),
    ]
    check_commands(capsys, out, [r["action_hash"] for r in rows])
    code, out, _ = run(capsys, "demo", "--json")  # run again: two more receipts, same project
    data = json.loads(out)
    assert code == 0 and data["ok"] and data["scaffolded"] is None
    assert (
        data["project"] == str(tmp_path)
        and len(json.loads(run(capsys, "log", "--json")[1])["rows"]) == 4
    )


@pytest.mark.parametrize("given", ["relative", "absolute"])
def test_demo_with_project_prints_commands_that_name_it(
    tmp_path, heso_env, capsys, monkeypatch, given
):
    monkeypatch.chdir(tmp_path)
    target = "my agent" if given == "relative" else str(tmp_path / "my agent")
    code, out, _ = run(capsys, "demo", "--project", target)
    assert code == 0 and (tmp_path / "my agent" / "heso.toml").exists()
    assert not (tmp_path / "heso.toml").exists()
    commands = printed_commands(out)
    assert all(shlex.split(c)[-2:] == ["--project", target] for c in commands), commands
    rows = json.loads(run(capsys, "log", "--project", target, "--json")[1])["rows"]
    check_commands(capsys, out, [r["action_hash"] for r in rows])


def test_demo_json_reports_what_init_scaffolded(tmp_path, heso_env, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo", "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True
    assert data["scaffolded"]["root"] == str(tmp_path) and data["scaffolded"]["key_created"]
    assert [r["verdict"] for r in data["receipts"]] == ["Valid (L0)", "Valid (L0)"]
    assert data["commands"][0] == f"heso verify {data['receipts'][0]['action_hash'][:12]}"


@pytest.mark.parametrize("how", ["script", "module"])
def test_demo_not_on_path_prints_how_it_was_run(tmp_path, heso_env, how):
    """Run as ``.venv/bin/heso demo`` or ``python -m heso demo`` without heso on PATH: the
    printed commands name the same program, so they still work as printed."""
    script = os.path.join(os.path.dirname(sys.executable), "heso")
    argv = [script, "demo"] if how == "script" else [sys.executable, "-m", "heso", "demo"]
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    m = SHAPE.search(
        done.stdout.replace(f"{script} verify", "heso verify").replace(
            f"{sys.executable} -m heso verify", "heso verify"
        )
    )
    assert m is not None, done.stdout
    commands = re.findall(r"^\s+(\S+(?: -m heso)? (?:verify|show) .*)$", done.stdout, re.M)
    commands += re.findall(r": (\S+(?: -m heso)? show \S+)$", done.stdout, re.M)
    assert len(commands) == 2 and all(
        c.startswith(script if how == "script" else sys.executable) for c in commands
    ), commands
    for command in commands:
        again = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True)
        assert again.returncode == 0, (command, again.stderr)
