"""The transparency verbs end to end on a real project: checkpoints (issued, cosigned by a
heso witness over loopback, verified), inclusion proofs (offline from a receipt file and a
tlog-proof), consistency proofs, and the done-when: a verifier holding an older checkpoint
detects a rewrite or a rollback of the whole store and head, and the witness refuses both. The
witnessed flows run on both stores: files, and a PostgreSQL database (rewritten by a DBA)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import heso
from heso.capture import capture
from heso.cli import main
from heso.keys import SigningKey, load_operator_key
from heso.ledger import FileLedger
from heso.ledger.postgres_store import PostgresLedger
from heso.ledger.store import LedgerReader, LedgerStore
from heso.transparency.checkpoint import default_origin
from heso.transparency.cosignature import CosignatureSigner
from heso.transparency.note import Ed25519Verifier
from heso.transparency.witness import Witness
from heso.transparency.witness_server import make_server

SECRET = "sk-live-do-not-leak-7f3a"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def operator_key(project: Any) -> SigningKey:
    return load_operator_key(project.data_dir)


def ledger(project: Any) -> LedgerReader:
    """The project's ledger, to read: the database when ``HESO_STORE`` names one."""
    url = os.environ.get("HESO_STORE")
    return PostgresLedger(url) if url else FileLedger(project.data_dir)


@pytest.fixture(params=["file", "postgres"])
def witnessed(
    heso_project: Any, tmp_path: Path, request: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Witness, str]]:
    """A project whose log (on each store) is witnessed by a heso witness on loopback
    (threshold 1)."""
    project = heso_project
    if request.param == "postgres":
        monkeypatch.setenv("HESO_STORE", request.getfixturevalue("postgres_store_url"))
    project.write_policy('[policy]\ndefault = "allow"\n')
    heso.init(project_root=project.root)
    heso.shutdown()
    key = operator_key(project)
    origin = default_origin(key.public_key())
    signer = CosignatureSigner("auditor.example/witness", SigningKey.generate())
    witness = Witness(
        signer, {origin: [Ed25519Verifier(origin, key.public_key())]}, tmp_path / "wstate"
    )
    server = make_server(witness, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    policy = project.policy_path.read_text()
    project.write_policy(
        policy.replace(
            "[policy]",
            "[heso.transparency]\ncheckpoint_every = 8\nthreshold = 1\n\n"
            "[[heso.transparency.witness]]\n"
            f'name = "auditor"\nvkey = "{signer.verifier().vkey()}"\n'
            f'url = "http://127.0.0.1:{port}"\n\n[policy]',
        )
    )
    try:
        yield project, witness, signer.verifier().vkey()
    finally:
        server.shutdown()
        server.server_close()
        witness.close()


def mint(project: Any, n: int, start: int = 0, **fields: Any) -> list[str]:
    heso.init(project_root=project.root)
    try:
        return [
            capture("tool_call", "lookup", {"i": start + i, **fields}).action_hash for i in range(n)
        ]
    finally:
        heso.shutdown()


def test_checkpoint_proof_and_verify_round_trip(witnessed, tmp_path, capsys) -> None:
    project, _witness, _wkey = witnessed
    hashes = mint(project, 13)
    os.chdir(project.root)
    code, out, err = run(capsys, "checkpoint", "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["size"] == 13 and issued["cosigned_by"] == ["auditor"]
    note = tmp_path / "cp.note"
    note.write_text(issued["note"])
    vkey = issued["vkey"]
    # The checkpoint verifies with the log's vkey and the configured witness threshold …
    code, out, _ = run(capsys, "checkpoint", "verify", str(note), "--key", vkey)
    assert code == 0 and "size 13" in out and "cosigned by auditor" in out
    # … and not when altered, or under another key, or without the witness's cosignature.
    altered = tmp_path / "altered.note"
    altered.write_text(issued["note"].replace("\n13\n", "\n14\n"))
    assert run(capsys, "checkpoint", "verify", str(altered), "--key", vkey)[0] == 1
    other = Ed25519Verifier(issued["origin"], SigningKey.generate().public_key()).vkey()
    assert run(capsys, "checkpoint", "verify", str(note), "--key", other)[0] == 1
    bare = tmp_path / "bare.note"
    bare.write_text("".join(x for x in issued["note"].splitlines(True) if "auditor" not in x))
    code, out, _ = run(capsys, "checkpoint", "verify", str(bare), "--key", vkey)
    assert code == 1 and "1 required" in out
    # Inclusion: `heso proof` writes a tlog-proof; a receipt file plus it verify offline.
    proof = tmp_path / "entry.tlog-proof"
    assert run(capsys, "proof", hashes[5][:12], "--out", str(proof))[0] == 0
    assert proof.read_text().startswith("c2sp.org/tlog-proof@v1\nextra ")
    receipt = ledger(project).receipt(hashes[5])
    rfile = tmp_path / "r.json"
    rfile.write_text(json.dumps(receipt))
    code, out, _ = run(capsys, "verify", str(rfile), "--checkpoint", str(proof), "--json")
    verdict = json.loads(out)
    assert code == 0 and verdict["inclusion"]["ok"] is True, verdict
    assert verdict["inclusion"]["index"] == 5
    # The same receipt with a changed field is neither valid nor in the log.
    receipt["content"]["action"]["fields"]["i"] = 99
    rfile.write_text(json.dumps(receipt))
    assert run(capsys, "verify", str(rfile), "--checkpoint", str(proof))[0] == 1
    # Another receipt under this proof fails inclusion even though its signature is valid.
    other_receipt = ledger(project).receipt(hashes[6])
    rfile.write_text(json.dumps(other_receipt))
    code, out, _ = run(capsys, "verify", str(rfile), "--checkpoint", str(proof), "--json")
    assert code == 1 and json.loads(out)["verdict"] == "NotInLog"
    # By prefix against a checkpoint note: the path comes from the local tree.
    code, _, err = run(capsys, "verify", hashes[12][:12], "--checkpoint", str(note))
    assert code == 0 and "integrity, not origin" in err
    # Consistency: later entries, a new checkpoint, and a proof that it extends the old one.
    mint(project, 9, start=13)
    code, out, _ = run(capsys, "checkpoint", "--json")
    assert code == 0
    new = tmp_path / "new.note"
    new.write_text(json.loads(out)["note"])
    cproof = tmp_path / "c.proof"
    assert run(capsys, "proof", "--consistency", str(note), "--out", str(cproof))[0] == 0
    assert cproof.read_text().startswith("old 13\n")
    code, out, _ = run(capsys, "verify", "--consistency", str(note), str(cproof))
    assert code == 0 and "extends the checkpoint at size 13" in out
    assert run(capsys, "verify", "--consistency", str(note), str(new))[0] == 0


def _replace_store(project: Any, build: Any) -> None:
    """Rewrite the project's whole store with the operator's own key: chain, signed head,
    index, tree and checkpoints, as an operator (or anyone holding the key) could; in a
    database, as its DBA: every ledger table emptied (triggers off), then refilled."""
    key = operator_key(project)
    url = os.environ.get("HESO_STORE")
    if url:
        with psycopg.connect(url) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("DELETE FROM heso_entries; DELETE FROM heso_heads")
            conn.execute("DELETE FROM heso_tree; DELETE FROM heso_checkpoints")
            conn.execute("UPDATE heso_tip SET length = 0, prev = repeat('0', 64), size = 0")
        forger = PostgresLedger(url, key=key)
        build(forger, key)
        forger.close()
        return
    fresh = project.root / "rewritten"
    led = FileLedger(fresh, key=key)
    build(led, key)
    led.close()
    data = project.data_dir
    for name in ("receipts.jsonl", "chain.head.json", "receipts.idx", "receipts.tree"):
        os.replace(fresh / name, data / name)
    shutil.rmtree(data / "checkpoints")
    os.replace(fresh / "checkpoints", data / "checkpoints")


@pytest.mark.parametrize("attack", ["rewrite", "rollback"])
def test_an_older_checkpoint_catches_a_rewritten_or_rolled_back_store(
    witnessed, tmp_path, capsys, attack: str
) -> None:
    project, _witness, _wkey = witnessed
    mint(project, 10)
    os.chdir(project.root)
    code, out, _ = run(capsys, "checkpoint", "--json")
    assert code == 0 and json.loads(out)["cosigned_by"] == ["auditor"]
    old = tmp_path / "old.note"
    old.write_text(json.loads(out)["note"])
    from heso.canonical import loads_strict

    receipts = [loads_strict(line)["receipt"] for _, line in ledger(project).entries()]
    if attack == "rewrite":
        # Same length and more: entry 4 dropped, everything re-linked and re-signed.
        def build(led: LedgerStore, key: SigningKey) -> None:
            for r in receipts[:4] + receipts[5:] + receipts[:3]:
                led.append(r)
    else:

        def build(led: LedgerStore, key: SigningKey) -> None:
            for r in receipts[:6]:
                led.append(r)

    _replace_store(project, build)
    # The rewritten store verifies on its own: chain, head and a fresh checkpoint.
    assert run(capsys, "verify", "--chain")[0] == 0
    code, out, err = run(capsys, "checkpoint", "--json")
    result = json.loads(out)
    # The witness, holding the older checkpoint, refuses to cosign it.
    assert code == 1 and result["cosigned_by"] == [] and "auditor" in result["refused"]
    assert "did not cosign" in err
    new = tmp_path / "new.note"
    new.write_text(result["note"])
    # The verifier holding the older checkpoint detects it.
    code, out, _ = run(capsys, "verify", "--consistency", str(old), str(new), "--threshold", "0")
    assert code == 1
    assert ("rolled back" if attack == "rollback" else "rewritten") in out, out


def test_proofs_and_checkpoints_reveal_no_redacted_value(heso_project, tmp_path, capsys) -> None:
    project = heso_project
    project.write_policy('[policy]\ndefault = "allow"\n')
    heso.init(project_root=project.root)
    try:
        fields = {"user": "ann", "api_key": SECRET}
        h = capture("tool_call", "login", fields, redact_fields=["api_key"])
        action_hash = h.action_hash
    finally:
        heso.shutdown()
    os.chdir(project.root)
    code, out, _ = run(capsys, "checkpoint", "--json")
    assert code == 0
    proof = tmp_path / "p"
    assert run(capsys, "proof", action_hash[:12], "--out", str(proof))[0] == 0
    published = [proof.read_bytes(), out.encode()]
    published += [p.read_bytes() for p in (project.data_dir / "checkpoints").iterdir()]
    published.append((project.data_dir / "receipts.tree").read_bytes())
    for blob in published:
        assert SECRET.encode() not in blob
    # The redacted receipt still proves inclusion (its leaf is the line with the commitment).
    receipt = FileLedger(project.data_dir).receipt(action_hash)
    assert SECRET not in json.dumps(receipt)
    rfile = tmp_path / "r.json"
    rfile.write_text(json.dumps(receipt))
    assert run(capsys, "verify", str(rfile), "--checkpoint", str(proof))[0] == 0


def test_heso_witness_serve_cosigns_over_loopback(heso_project, tmp_path) -> None:
    """The CLI's witness server (a real process) cosigns the project's checkpoints through
    the client, keeps its state on disk, and refuses a checkpoint that does not extend it."""
    project = heso_project
    project.write_policy('[policy]\ndefault = "allow"\n')
    mint(project, 3)
    key = operator_key(project)
    origin = default_origin(key.public_key())
    vkey = Ed25519Verifier(origin, key.public_key()).vkey()
    cfg = tmp_path / "witness.toml"
    cfg.write_text(
        'name = "auditor.example/w"\nkey_file = "w.key"\nstate_dir = "wstate"\n'
        f'listen = "127.0.0.1:0"\n\n[[log]]\norigin = "{origin}"\nkeys = ["{vkey}"]\n'
    )
    env = {**os.environ, "HESO_KEY_PASSPHRASE": "correct horse"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "heso", "witness", "serve", "--config", str(cfg), "--init-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        wline = proc.stdout.readline().split()  # type: ignore[union-attr]
        listen = proc.stdout.readline().split()  # type: ignore[union-attr]
        assert wline[0] == "witness", proc.stderr.read()  # type: ignore[union-attr]
        url = listen[2]
        policy = project.policy_path.read_text()
        project.write_policy(
            policy.replace(
                "[policy]",
                "[heso.transparency]\n[[heso.transparency.witness]]\n"
                f'name = "w"\nvkey = "{wline[1]}"\nurl = "{url}"\n\n[policy]',
            )
        )
        os.chdir(project.root)
        assert main(["checkpoint"]) == 0
        mint(project, 2, start=3)
        assert main(["checkpoint"]) == 0  # a second checkpoint, with a consistency proof
        note = FileLedger(project.data_dir).checkpoint_store().latest()
        assert note is not None and "\u2014 auditor.example/w " in note.decode()
        state = list((tmp_path / "wstate" / "logs").iterdir())
        assert len(state) == 1 and b"\n5\n" in state[0].read_bytes()

        # A rolled-back store: the witness answers 409 and the client reports a rollback.
        def build(fresh: FileLedger, key: SigningKey) -> None:
            from heso.canonical import loads_strict

            for line in (project.data_dir / "receipts.jsonl").read_bytes().split(b"\n")[:4]:
                fresh.append(loads_strict(line)["receipt"])

        _replace_store(project, build)
        assert main(["checkpoint"]) == 1
        assert b"\n5\n" in state[0].read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


DATA = Path(__file__).resolve().parent / "data" / "signed-notes.json"


def test_a_real_go_checksum_database_checkpoint_verifies_from_the_cli(
    heso_env, tmp_path, capsys, monkeypatch
) -> None:
    """``heso checkpoint verify`` accepts a checkpoint sum.golang.org published, under its
    published verifier key, and rejects it altered or under a mistyped key."""
    monkeypatch.chdir(tmp_path)
    sumdb = json.loads(DATA.read_text("utf-8"))["sumdb"]
    vkey = sumdb["vkey"]
    for i, cp in enumerate(sumdb["checkpoints"]):
        note = tmp_path / f"sumdb-{i}.note"
        note.write_text(cp["note"])
        code, out, _ = run(capsys, "checkpoint", "verify", str(note), "--key", vkey, "--json")
        result = json.loads(out)
        assert code == 0 and result["size"] == cp["size"]
        assert result["origin"] == "go.sum database tree"
        altered = tmp_path / f"sumdb-{i}-altered.note"
        altered.write_text(cp["note"].replace(f"\n{cp['size']}\n", f"\n{cp['size'] + 1}\n"))
        assert run(capsys, "checkpoint", "verify", str(altered), "--key", vkey)[0] == 1
    # A vkey with the right name and ID but another key is refused as mistyped.
    wrong = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ltl+T/pF0xgdhlMG"
    code, _, err = run(
        capsys, "checkpoint", "verify", str(tmp_path / "sumdb-0.note"), "--key", wrong
    )
    assert code == 2 and "does not match the name and key" in err
