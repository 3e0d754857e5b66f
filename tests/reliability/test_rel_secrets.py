"""Secrets never leak: redacted values, passphrases and private keys.

A project with a real passphrase runs actions that redact fields (``commit`` and ``destroy``,
from ``[heso] redact``, the decorator and the call), that are allowed, blocked, suspended for
approval and co-signed by an approver (L1), and that fail (a wrong passphrase, a value with
no canonical form). Then every file heso wrote (the data directory, the approvals store, the
approver's key directory), every log record, every CLI output and every exception message,
``repr`` and traceback (frames' local variables included) is searched for the cleartext
values, the passphrases and the private key seeds in hex, base64 and base58. Key files and
the other private files must be mode 0600 (directories 0700).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heso.keys.primitives import base58btc

PASSPHRASE = "operator-passphrase-" + secrets.token_hex(8)
APPROVER_PASSPHRASE = "approver-passphrase-" + secrets.token_hex(8)
SECRETS = {
    "api_key": "sk-live-" + secrets.token_hex(12),
    "password": "hunter2-" + secrets.token_hex(12),
    "authorization": "Bearer " + secrets.token_hex(12),
    "card": "4111-" + secrets.token_hex(6),
    "pin": 900_000_000 + secrets.randbelow(99_999_999),
}
FIELDS = {
    "api_key": SECRETS["api_key"],
    "password": SECRETS["password"],
    "headers": {"authorization": SECRETS["authorization"], "x": "y"},
    "card": SECRETS["card"],
    "pin": SECRETS["pin"],
}
"""Arguments holding every secret, each redacted somewhere (``[heso] redact``, a decorator, a
call or a step)."""
POLICY = """
[policy]
default = "allow"

[heso]
redact = {{ api_key = "commit", password = "destroy", "headers.authorization" = "commit" }}

[[rule]]
id = "no-deletes"
verb = "delete"
scope = "*"
decision = "block"

[[rule]]
id = "wires-need-finance"
verb = "tool_call"
scope = "wire_transfer"
decision = "require_approval"
approvers = ["finance"]

[approvers.finance]
members = {{ alice = "{alice}" }}
"""


def _forms(value: bytes) -> set[bytes]:
    """The encodings a leaked secret could take."""
    out = {
        value,
        value.hex().encode(),
        value.hex().upper().encode(),
        base64.b64encode(value),
        base64.b64encode(value).rstrip(b"="),
        base64.urlsafe_b64encode(value).rstrip(b"="),
        base58btc(value).encode(),
    }
    return {f for f in out if len(f) >= 8}


def _seed_forms(seed: bytes, public: bytes) -> set[bytes]:
    """A private key: its 32-byte seed and libsodium's 64-byte secret key (seed || public)."""
    return _forms(seed) | _forms(seed + public)


def secret_needles(operator: Any, approver: Any) -> dict[str, set[bytes]]:
    """Every form of every secret: the values, both passphrases and both private keys."""
    needles = {name: _forms(str(value).encode()) for name, value in SECRETS.items()}
    needles["operator passphrase"] = _forms(PASSPHRASE.encode())
    needles["approver passphrase"] = _forms(APPROVER_PASSPHRASE.encode())
    needles["operator private key"] = _seed_forms(
        operator.private_bytes_unsafe(), operator.public_key().raw
    )
    needles["approver private key"] = _seed_forms(
        approver.private_bytes_unsafe(), approver.public_key().raw
    )
    return needles


def _files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path


def _expand(data: bytes) -> bytes:
    """Also search what heso stores base64-encoded (the bytes of torn tails)."""
    extra = b""
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("bytes_b64"), str):
            extra += b"\n" + base64.b64decode(record["bytes_b64"])
    return data + extra


def _leaks(blob: bytes, needles: dict[str, set[bytes]]) -> list[str]:
    return [name for name, forms in needles.items() if any(f in blob for f in forms)]


def _frames_hold(exc: BaseException, values: list[str]) -> list[str]:
    """Local variables of the traceback's frames that hold one of ``values``."""
    found = []
    tb = exc.__traceback__
    while tb is not None:
        for name, local in tb.tb_frame.f_locals.items():
            text = local if isinstance(local, (str, bytes)) else None
            if text is None:
                continue
            raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
            if any(val.encode() in raw for val in values):
                found.append(f"{tb.tb_frame.f_code.co_name}:{name}")
        tb = tb.tb_next
    return found


@pytest.fixture
def approver_home(tmp_path: Path, clean_heso_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "approver-home"
    monkeypatch.setenv("HESO_APPROVER_HOME", str(home))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", APPROVER_PASSPHRASE)
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", PASSPHRASE)
    return home


def test_no_file_log_output_or_exception_holds_a_secret(
    tmp_path: Path,
    approver_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    figures: Any,
) -> None:
    import heso
    from heso.approvals.identity import new_approver
    from heso.cli import main
    from heso.errors import HesoError
    from heso.keys import load_operator_key, read_key_file
    from heso.ledger import FileLedger, verify_chain
    from heso.project import init_project

    caplog.set_level(logging.DEBUG)
    _, alice = new_approver("alice")
    root = tmp_path / "project"
    init_project(root)
    (root / "heso.toml").write_text(POLICY.format(alice=alice))
    data_dir = root / "heso-local-data"
    assert not (data_dir / "DEV-ONLY.passphrase").exists()  # a real passphrase was used
    heso.init(project_root=root)
    outputs: list[str] = []
    errors: list[BaseException] = []

    @heso.tool(redact={"card": "commit", "pin": "destroy"})
    def save_settings(
        api_key: str, password: str, headers: dict[str, str], card: str, pin: int
    ) -> str:
        return "saved"

    @heso.gated
    @heso.tool(redact=["card"])
    def wire_transfer(to: str, api_key: str, card: str) -> str:
        return "sent"

    @heso.destructive
    def delete_account(user: str, api_key: str, password: str) -> None: ...

    fields = FIELDS
    assert save_settings(**fields) == "saved"
    with heso.step(redact=["api_key"]):
        action = heso.Action(verb=heso.Verb.TOOL_CALL, tool_name="lookup", fields=fields)
        heso.process(action, redact_fields={"card": "commit", "pin": "destroy"})
    with pytest.raises(heso.BlockedError) as blocked:
        delete_account("bob", SECRETS["api_key"], SECRETS["password"])
    errors.append(blocked.value)
    # A redacted value with no canonical form: refused without echoing it.
    with pytest.raises(heso.CanonicalizationError) as bad:
        save_settings(**{**fields, "pin": 10**30 + SECRETS["pin"]})
    errors.append(bad.value)
    # Suspended for approval, approved by alice (her key, her passphrase), resumed: L1.
    assert wire_transfer("ACME", SECRETS["api_key"], SECRETS["card"], _heso_session="w1") is (
        heso.SUSPENDED
    )
    _run(main, capsys, outputs, "approvals", "list", "--project", str(root))
    pending = json.loads(
        _run(main, capsys, outputs, "approvals", "list", "--json", "--project", str(root))
    )
    h = pending[0]["action_hash"]
    _run(main, capsys, outputs, "approvals", "show", h[:16], "--json", "--project", str(root))
    _run(main, capsys, outputs, "approve", h[:16], "--as", "alice", "--project", str(root))
    assert wire_transfer("ACME", SECRETS["api_key"], SECRETS["card"], _heso_session="w1") == "sent"
    # Observe-only mode logs the failure instead of raising: the log must not hold the value.
    heso.init(project_root=root, blocking=False)
    assert save_settings(**{**fields, "pin": 10**30 + SECRETS["pin"]}) == "saved"
    assert any(r.name.startswith("heso") for r in caplog.records)
    heso.shutdown()
    # The CLI's views of it all.
    for receipt in FileLedger(data_dir).entries():
        prefix = json.loads(receipt[1])["receipt"]["content"]["action_hash"][:16]
        _run(main, capsys, outputs, "show", prefix, "--project", str(root))
        _run(main, capsys, outputs, "verify", prefix, "--json", "--project", str(root))
    _run(main, capsys, outputs, "verify", "--chain", "--project", str(root))
    done = subprocess.run(
        [sys.executable, "-m", "heso", "verify", "--chain", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    outputs += [done.stdout, done.stderr]
    # Wrong passphrases: the error names the file, never the passphrase.
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "wrong-" + PASSPHRASE)
    with pytest.raises(HesoError) as wrong:
        heso.init(project_root=root)
    errors.append(wrong.value)
    with pytest.raises(HesoError) as wrong_approver:
        read_key_file(approver_home / "alice.key", b"wrong-" + APPROVER_PASSPHRASE.encode())
    errors.append(wrong_approver.value)
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", PASSPHRASE)

    # What there is to find.
    operator = load_operator_key(data_dir)
    approver = read_key_file(approver_home / "alice.key", APPROVER_PASSPHRASE.encode())
    needles = secret_needles(operator, approver)

    scanned = 0
    for path in _files(root, approver_home):
        leaked = _leaks(_expand(path.read_bytes()), needles)
        assert leaked == [], f"{path.relative_to(tmp_path)} holds {leaked}"
        scanned += 1
    logs = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    assert _leaks(logs.encode(), needles) == []
    assert _leaks("\n".join(outputs).encode(), needles) == []
    for exc in errors:
        text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
        assert _leaks(text.encode(), needles) == [], text
        held = _frames_hold(exc, [PASSPHRASE, APPROVER_PASSPHRASE, "wrong-" + PASSPHRASE])
        assert held == [], held
    # The signed receipts prove the redacted values without holding them.
    l1 = [json.loads(line)["receipt"] for _, line in FileLedger(data_dir).entries()]
    assert any("multi_approval" in r for r in l1)
    from heso.approvals.registry import load_project_registry

    keys = load_project_registry(root).approver_keys()
    assert verify_chain(data_dir, approver_keys=keys).details["l1_receipts"] == 1
    figures.add("secrets.files_scanned", scanned)
    figures.add("secrets.log_records_scanned", len(caplog.records))
    figures.add("secrets.exceptions_scanned", len(errors))
    figures.add("secrets.needles", sum(len(f) for f in needles.values()))


def _run(main: Any, capsys: pytest.CaptureFixture[str], outputs: list[str], *argv: str) -> str:
    capsys.readouterr()
    main(list(argv))
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err]
    return captured.out


def test_private_files_are_created_0600_in_0700_directories(
    tmp_path: Path, clean_heso_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a permissive umask too: modes are set at creation, not left to the umask."""
    import heso
    from heso.approvals.identity import new_approver
    from heso.project import init_project

    old = os.umask(0o000)
    try:
        monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", APPROVER_PASSPHRASE)
        new_approver("alice")
        root = tmp_path / "project"
        init_project(root)  # dev passphrase file
        heso.init(project_root=root)

        @heso.tool(redact=["api_key"])
        def call(api_key: str) -> None: ...

        call("sk-1")
        heso.shutdown()
    finally:
        os.umask(old)
    data_dir = root / "heso-local-data"
    private = [
        data_dir / "operator.key",
        data_dir / "DEV-ONLY.passphrase",
        tmp_path / "approver-home" / "alice.key",
        data_dir / "reveal" / "salts.jsonl",
        data_dir / "receipts.jsonl",
        data_dir / "chain.head.json",
        data_dir / "receipts.idx",
    ]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (data_dir, data_dir / "reveal", tmp_path / "approver-home"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in _files(data_dir):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
