import json
import os
import subprocess
import sys

import pytest

import heso
from heso.capture import capture
from heso.cli import main


@pytest.fixture
def minted(heso_project):
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    heso.init(project_root=heso_project.root)
    hashes = [
        capture("tool_call", "lookup_order", {"order_id": f"A-{i}"}).action_hash for i in range(17)
    ]
    heso.shutdown()
    return heso_project, hashes


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_scaffolds_and_is_idempotent(tmp_path, heso_env, capsys):
    code, out, _ = run(capsys, "init", str(tmp_path))
    assert code == 0
    for name in ("heso.toml", "heso_bootstrap.py", ".gitignore", "heso-local-data/operator.key"):
        assert (tmp_path / name).exists(), name
    assert "heso-local-data/" in (tmp_path / ".gitignore").read_text()
    assert "did:key:z6Mk" in out and "ed25519:" in out and "next:" in out
    key_before = (tmp_path / "heso-local-data/operator.key").read_bytes()
    edited = '[policy]\ndefault = "block"\n'
    (tmp_path / "heso.toml").write_text(edited)
    code, out, _ = run(capsys, "init", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 0 and data["key_created"] is False and data["written"] == []
    assert (tmp_path / "heso-local-data/operator.key").read_bytes() == key_before
    # the edited policy is kept; only the pin of the (kept) key is added
    pin = f'operator_keys = ["{data["public_key"]}"]'
    assert (tmp_path / "heso.toml").read_text() == f"{edited}\n[heso]\n{pin}\n"
    assert data["pinned"] == "pinned"
    code, out, _ = run(capsys, "init", str(tmp_path), "--json")
    assert json.loads(out)["pinned"] == "already"
    assert (tmp_path / "heso.toml").read_text() == f"{edited}\n[heso]\n{pin}\n"


def test_init_require_passphrase_without_one_is_a_one_line_error(tmp_path, heso_env, capsys):
    code, _out, err = run(capsys, "init", str(tmp_path), "--require-passphrase")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "HESO_KEY_PASSPHRASE" in err


def test_verify_by_prefix(minted, capsys):
    project, hashes = minted
    code, out, _ = run(capsys, "verify", hashes[2][:10], "--project", str(project.root))
    assert (code, out.strip()) == (0, "Valid (L0)")
    code, out, _ = run(capsys, "verify", hashes[2][:10], "--project", str(project.root), "--json")
    data = json.loads(out)
    assert data["verdict"] == "Valid" and data["trust_level"] == "L0"
    assert data["action_hash"] == hashes[2]


def test_unknown_and_ambiguous_prefixes_are_clear_errors(minted, capsys):
    project, hashes = minted
    code, _, err = run(capsys, "verify", "ffffffffffffffff", "--project", str(project.root))
    assert code == 2 and "no receipt" in err and "Traceback" not in err
    # 17 hashes over 16 hex digits: two always share a first digit.
    shared = next(c for c in "0123456789abcdef" if sum(h[0] == c for h in hashes) > 1)
    code, _, err = run(capsys, "verify", shared, "--project", str(project.root))
    assert code == 2 and "matches" in err and "more hex digits" in err


def test_verify_a_receipt_file_and_its_tampered_copy(minted, tmp_path, capsys):
    project, hashes = minted
    code, out, _ = run(capsys, "show", hashes[0][:12], "--project", str(project.root))
    assert code == 0
    receipt = json.loads(out)
    assert receipt["content"]["action_hash"] == hashes[0]
    good = tmp_path / "good.json"
    good.write_text(out)
    assert run(capsys, "verify", str(good))[0] == 0
    receipt["content"]["action"]["fields"]["order_id"] = "A-999"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(receipt))
    code, out, _ = run(capsys, "verify", str(bad))
    assert code == 1 and out.startswith("HashMismatch")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    code, out, _ = run(capsys, "verify", str(junk))
    assert code == 1 and out.startswith("MalformedJson")


def test_verify_chain_names_the_first_broken_entry(minted, capsys):
    project, _ = minted
    code, out, _ = run(capsys, "verify", "--chain", "--project", str(project.root))
    assert code == 0 and out.startswith("Valid (L0)") and "17 entries" in out
    log = project.data_dir / "receipts.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"A-3", b"A-8")
    log.write_bytes(b"".join(lines))
    code, out, _ = run(capsys, "verify", "--chain", "--project", str(project.root), "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "HashMismatch" and data["entry"] == 3


def test_verify_without_a_project_is_a_clear_error(tmp_path, heso_env, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "verify", "abcd")
    assert code == 2 and "heso.toml" in err and "heso init" in err


def test_demo_mints_and_verifies_offline(tmp_path, heso_env):
    env = {**os.environ, "HESO_KDF_PROFILE": "interactive"}
    (tmp_path / "demo").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "heso", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path / "demo",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Valid (L0)") == 2
    assert "heso verify" in proc.stdout
    data = (tmp_path / "demo" / "heso-local-data" / "receipts.jsonl").read_text()
    assert "sk-demo-0451" not in data
    assert '"heso_redacted":"commit"' in data


def test_reveal_proves_a_redacted_value(heso_project, capsys):
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    heso.init(project_root=heso_project.root)
    h = capture(
        "tool_call",
        "send_email",
        {"to": "x@example.com", "api_key": "sk-live-123"},
        redact_fields=["api_key"],
    ).action_hash
    heso.shutdown()
    root = str(heso_project.root)
    code, out, _ = run(
        capsys, "reveal", h[:12], "--field", "api_key", "--value", "sk-live-123", "--project", root
    )
    assert code == 0 and out.startswith("Revealed")
    code, out, _ = run(
        capsys, "reveal", h[:12], "--field", "api_key", "--value", "sk-live-124", "--project", root
    )
    assert code == 1 and out.startswith("Mismatch")
    code, _, err = run(capsys, "reveal", h[:12], "--field", "to", "--value", "x", "--project", root)
    assert code == 2 and "not redacted" in err
    for path in heso_project.data_dir.rglob("*"):
        if path.is_file():
            assert b"sk-live-123" not in path.read_bytes(), path


def test_verify_uses_the_operator_keys_pinned_in_heso_toml(minted, capsys):
    project, hashes = minted
    root = str(project.root)
    operator = project.receipts()[0]["content"]["agent_identity"]
    other = "ed25519:" + "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
    code, out, err = run(capsys, "verify", "--chain", "--project", root)
    assert code == 0 and "not pinned" in out and "no operator key is pinned" in err
    project.write_policy(f'[policy]\ndefault = "allow"\n\n[heso]\noperator_keys = ["{other}"]\n')
    for argv in (["--chain"], [hashes[0][:12]]):
        code, out, _ = run(capsys, "verify", *argv, "--project", root, "--json")
        data = json.loads(out)
        assert code == 1 and data["operator_pinned_by"] == "heso.toml", data
        assert data["verdict"] in ("HeadInvalid", "UntrustedKey")
    code, out, _ = run(
        capsys, "verify", "--chain", "--project", root, "--trust", operator, "--json"
    )
    assert code == 0 and json.loads(out)["operator_pinned_by"] == "--trust"
    project.write_policy(f'[policy]\ndefault = "allow"\n\n[heso]\noperator_keys = ["{operator}"]\n')
    code, out, err = run(capsys, "verify", "--chain", "--project", root)
    assert code == 0 and "pinned by heso.toml" in out and err == ""
    project.write_policy('[heso]\noperator_keys = ["ed25519:nope"]\n')
    code, _, err = run(capsys, "verify", "--chain", "--project", root)
    assert code == 2 and "operator_keys[0]" in err and "heso.toml:2" in err


def test_verify_chain_sealed_requires_a_head_over_every_entry(minted, capsys):
    project, _ = minted
    root = str(project.root)
    from heso.ledger import FileLedger

    key = heso.keys.load_operator_key(project.data_dir)
    writer = FileLedger(project.data_dir, key=key, seal_every=10**9, seal_interval=10**9)
    assert writer.length == 17  # opens the chain; the next append is not sealed
    writer.append(capture_receipt(key))
    assert run(capsys, "verify", "--chain", "--project", root)[0] == 0
    code, out, _ = run(capsys, "verify", "--chain", "--sealed", "--project", root, "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "Unsealed" and data["entry"] == 17
    writer.close()
    assert run(capsys, "verify", "--chain", "--sealed", "--project", root)[0] == 0


def capture_receipt(key):
    from heso.receipt import build_content, mint

    return mint(
        build_content(
            captured_at="2026-01-02T03:04:05Z",
            agent_identity=key.public_key().to_str(),
            action={
                "verb": "tool_call",
                "tool_name": "t",
                "workflow": "default",
                "account": "default",
                "fields": {},
            },
            policy={
                "rule_id": "r",
                "rule_display": "r",
                "matched_conditions": [],
                "decision_path": "p",
                "decision": "allow",
            },
        ),
        key,
    )


def test_init_pins_the_key_it_mints_and_says_how_to_register_an_approver(
    tmp_path, heso_env, capsys
):
    code, out, _ = run(capsys, "init", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 0 and data["pin"] == f'operator_keys = ["{data["public_key"]}"]'
    assert (data["pinned"], data["approver_groups"]) == ("pinned", [])
    text = (tmp_path / "heso.toml").read_text()
    assert f"[heso]\n{data['pin']}\n" in text
    code, out, _ = run(capsys, "init", str(tmp_path))
    assert "pinned        already" in out
    assert "heso approver new alice" in out and "[approvers.oncall]" in out
    assert (tmp_path / "heso.toml").read_text() == text


def test_a_fresh_project_is_clean(tmp_path, heso_env, capsys, monkeypatch):
    """Right after `heso init`: the policy passes --strict and verify has nothing to warn."""
    assert run(capsys, "init", str(tmp_path))[0] == 0
    code, out, _ = run(capsys, "policy", "check", "--strict", str(tmp_path / "heso.toml"))
    assert code == 0, out
    assert "0 warning(s)" in out
    heso.init(project_root=tmp_path)
    capture("tool_call", "lookup_order", {"order_id": "A-1"})
    heso.shutdown()
    code, out, err = run(capsys, "verify", "--chain", "--project", str(tmp_path), "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["operator_pinned_by"] == "heso.toml"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            '# team\n[heso]  # settings\nworkflow = "etl"\n\n[policy]\ndefault = "block"\n',
            '# team\n[heso]  # settings\nPIN\nworkflow = "etl"\n\n[policy]\ndefault = "block"\n',
            id="under-the-heso-header",
        ),
        pytest.param(
            '[policy]\r\ndefault = "block"\r\n[heso]',
            '[policy]\r\ndefault = "block"\r\n[heso]\r\nPIN\r\n',
            id="crlf-header-at-the-end",
        ),
        pytest.param(
            '[policy]\ndefault = "block"  # no newline at the end',
            '[policy]\ndefault = "block"  # no newline at the end\n\n[heso]\nPIN\n',
            id="appended",
        ),
        pytest.param(
            '\ufeff[policy]\ndefault = "block"\n',
            '\ufeff[policy]\ndefault = "block"\n\n[heso]\nPIN\n',
            id="byte-order-mark-kept",
        ),
        pytest.param(
            'heso.workflow = "etl"\n', 'heso.workflow = "etl"\n', id="dotted-keys-left-alone"
        ),
        pytest.param(
            'note = """\n[heso]\n"""\n', 'note = """\n[heso]\n"""\n', id="header-in-a-string"
        ),
    ],
)
def test_init_pins_into_an_edited_policy_without_touching_the_rest(
    tmp_path, heso_env, capsys, before, after
):
    (tmp_path / "heso.toml").write_bytes(before.encode())
    code, out, _ = run(capsys, "init", str(tmp_path), "--json")
    data = json.loads(out)
    assert code == 0
    expected = after.replace("PIN", data["pin"])
    assert (tmp_path / "heso.toml").read_bytes() == expected.encode()
    assert data["pinned"] == ("by-hand" if before == after else "pinned")


def test_init_never_pins_a_key_next_to_other_pinned_keys(tmp_path, heso_env, capsys):
    """A swapped operator.key must not become trusted because someone ran `heso init` again."""
    from heso.keys import SigningKey

    other = SigningKey.generate().public_key().to_str()
    policy = f'[heso]\noperator_keys = ["{other}"]\n'
    (tmp_path / "heso.toml").write_text(policy)
    code, out, _ = run(capsys, "init", str(tmp_path))
    assert code == 0 and "NOT PINNED" in out
    assert (tmp_path / "heso.toml").read_text() == policy


def test_heso_init_refuses_an_operator_key_heso_toml_does_not_pin(tmp_path, heso_env, capsys):
    from heso.errors import HesoConfigError
    from heso.keys import ensure_operator_key

    assert run(capsys, "init", str(tmp_path))[0] == 0
    data = tmp_path / "heso-local-data"
    elsewhere = tmp_path / "elsewhere"
    swapped, _ = ensure_operator_key(elsewhere)
    for name in ("operator.key", "DEV-ONLY.passphrase"):
        (data / name).unlink()
        (data / name).write_bytes((elsewhere / name).read_bytes())
    with pytest.raises(HesoConfigError) as info:
        heso.init(project_root=tmp_path)
    error = info.value
    assert swapped.public_key().to_str() in error.message
    assert "operator_keys" in error.message and error.key == "heso.operator_keys"
    assert error.line is not None and str(error.path).endswith("heso.toml")
    assert "restore the original operator.key" in (error.hint or "")
    assert not (data / "chain.jsonl").exists() or (data / "chain.jsonl").stat().st_size == 0
