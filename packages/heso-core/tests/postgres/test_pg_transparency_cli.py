"""The transparency verbs on a project whose store is the database, exactly as on files:
`heso checkpoint` (cosigned by a heso witness over loopback), `heso proof`, `heso verify
--checkpoint`, `heso proof --consistency` and `heso verify --consistency`; and the done-when: a
DBA who rewrites or rolls back the whole store and head with the operator's key is caught by
an older checkpoint, and the witness refuses to cosign."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import heso
from heso.canonical import loads_strict
from heso.capture import capture
from heso.cli import main
from heso.keys import SigningKey, load_operator_key
from heso.ledger.postgres_store import PostgresLedger
from heso.transparency.checkpoint import default_origin
from heso.transparency.cosignature import CosignatureSigner
from heso.transparency.note import Ed25519Verifier
from heso.transparency.witness import Witness
from heso.transparency.witness_server import make_server
from heso_testing.project import Project


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def witnessed(pg_project: Project, tmp_path: Path) -> Iterator[Project]:
    """The database project, its log witnessed by a heso witness on loopback (threshold 1)."""
    heso.init(project_root=pg_project.root)
    heso.shutdown()
    key = load_operator_key(pg_project.data_dir)
    origin = default_origin(key.public_key())
    signer = CosignatureSigner("auditor.example/witness", SigningKey.generate())
    witness = Witness(
        signer, {origin: [Ed25519Verifier(origin, key.public_key())]}, tmp_path / "wstate"
    )
    server = make_server(witness, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pg_project.write_policy(
        "[heso.transparency]\ncheckpoint_every = 8\nthreshold = 1\n\n"
        "[[heso.transparency.witness]]\n"
        f'name = "auditor"\nvkey = "{signer.verifier().vkey()}"\n'
        f'url = "http://127.0.0.1:{server.server_address[1]}"\n\n'
        '[policy]\ndefault = "allow"\n'
    )
    try:
        yield pg_project
    finally:
        server.shutdown()
        server.server_close()
        witness.close()


def mint(project: Project, n: int, start: int = 0) -> list[str]:
    heso.init(project_root=project.root)
    try:
        return [capture("tool_call", "lookup", {"i": start + i}).action_hash for i in range(n)]
    finally:
        heso.shutdown()


def test_checkpoint_proof_and_verify_on_the_database(
    witnessed: Project, postgres_store_url: str, tmp_path: Path, capsys: Any
) -> None:
    project = witnessed
    hashes = mint(project, 13)
    assert not (project.data_dir / "receipts.tree").exists()  # the tree is in the database
    os.chdir(project.root)
    code, out, err = run(capsys, "checkpoint", "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert issued["size"] == 13 and issued["cosigned_by"] == ["auditor"]
    note = tmp_path / "cp.note"
    note.write_text(issued["note"])
    code, out, _ = run(capsys, "checkpoint", "verify", str(note), "--key", issued["vkey"])
    assert code == 0 and "cosigned by auditor" in out
    # The cosigned copy is what the database keeps now.
    kept = PostgresLedger(postgres_store_url).checkpoint_store().get(13)
    assert kept is not None and kept.decode() == issued["note"]
    proof = tmp_path / "entry.tlog-proof"
    assert run(capsys, "proof", hashes[5][:12], "--out", str(proof))[0] == 0
    receipt = PostgresLedger(postgres_store_url).receipt(hashes[5])
    rfile = tmp_path / "r.json"
    rfile.write_text(json.dumps(receipt))
    code, out, _ = run(capsys, "verify", str(rfile), "--checkpoint", str(proof), "--json")
    verdict = json.loads(out)
    assert code == 0 and verdict["inclusion"]["ok"] is True and verdict["inclusion"]["index"] == 5
    other = PostgresLedger(postgres_store_url).receipt(hashes[6])
    rfile.write_text(json.dumps(other))
    code, out, _ = run(capsys, "verify", str(rfile), "--checkpoint", str(proof), "--json")
    assert code == 1 and json.loads(out)["verdict"] == "NotInLog"
    code, _, err = run(capsys, "verify", hashes[12][:12], "--checkpoint", str(note))
    assert code == 0, err
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


@pytest.mark.parametrize("attack", ["rewrite", "rollback"])
def test_an_older_checkpoint_catches_a_dba_rewriting_the_whole_database(
    witnessed: Project, postgres_store_url: str, tmp_path: Path, capsys: Any, attack: str
) -> None:
    project = witnessed
    mint(project, 10)
    os.chdir(project.root)
    code, out, _ = run(capsys, "checkpoint", "--json")
    assert code == 0 and json.loads(out)["cosigned_by"] == ["auditor"]
    old = tmp_path / "old.note"
    old.write_text(json.loads(out)["note"])
    receipts = [
        loads_strict(line)["receipt"] for _, line in PostgresLedger(postgres_store_url).entries()
    ]
    kept = receipts[:4] + receipts[5:] + receipts[:3] if attack == "rewrite" else receipts[:6]
    # A DBA with the operator's key: every ledger table emptied (triggers off), then refilled
    # with a re-linked, re-signed chain, its head, tree and checkpoints.
    with psycopg.connect(postgres_store_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM heso_entries; DELETE FROM heso_heads")
        conn.execute("DELETE FROM heso_tree; DELETE FROM heso_checkpoints")
        conn.execute("UPDATE heso_tip SET length = 0, prev = repeat('0', 64), size = 0")
    forger = PostgresLedger(postgres_store_url, key=load_operator_key(project.data_dir))
    for r in kept:
        forger.append(r)
    forger.close()
    assert run(capsys, "verify", "--chain")[0] == 0  # it verifies on its own
    code, out, err = run(capsys, "checkpoint", "--json")
    result = json.loads(out)
    assert code == 1 and result["cosigned_by"] == [] and "auditor" in result["refused"]
    assert "did not cosign" in err
    new = tmp_path / "new.note"
    new.write_text(result["note"])
    code, out, _ = run(capsys, "verify", "--consistency", str(old), str(new), "--threshold", "0")
    assert code == 1
    assert ("rolled back" if attack == "rollback" else "rewritten") in out, out
