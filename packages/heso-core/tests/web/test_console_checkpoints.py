"""The console's view of the transparency log: the latest checkpoints (size, root,
cosignatures against the threshold), each verified, and a receipt's inclusion proof against the
latest checkpoint, verified as ``heso verify --proof`` does; a store without a tree says so."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

import heso
from heso.capture import capture
from heso.cli import main
from heso.console.app import create_app
from heso.keys import SigningKey
from heso.ledger import FileLedger
from heso.transparency.cosignature import CosignatureSigner
from heso.transparency.note import parse_note, sign_note
from heso.transparency.proof import InclusionProof
from heso_testing.project import Project


def _mint(project: Project, n: int) -> None:
    project.init()
    for i in range(n):
        assert capture("tool_call", "lookup", {"i": i}).allowed
    heso.shutdown()


def _client(project: Project) -> TestClient:
    app = create_app(project.root, token="t0ken")
    return TestClient(
        app, base_url="http://127.0.0.1:8714", headers={"authorization": "Bearer t0ken"}
    )


@pytest.fixture
def witnessed(heso_project: Project) -> tuple[Project, CosignatureSigner]:
    """A project with 6 entries, checkpointed at 5 and 6 (as each run ends), each checkpoint
    cosigned by its witness (threshold 1)."""
    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    _mint(heso_project, 5)
    _mint(heso_project, 1)
    signer = CosignatureSigner("auditor.example/witness", SigningKey.from_private_bytes(b"w" * 32))
    store = FileLedger(heso_project.data_dir).checkpoint_store()
    assert store.sizes()[-2:] == [5, 6]
    for size in store.sizes():
        note = store.get(size)
        assert note is not None
        opened = parse_note(note)
        store.put(size, sign_note(opened.text, [signer], keep=opened.signatures))
    heso_project.write_policy(
        "[heso.transparency]\nthreshold = 1\n\n[[heso.transparency.witness]]\n"
        f'name = "auditor"\nvkey = "{signer.verifier().vkey()}"\nurl = "http://127.0.0.1:9"\n\n'
        '[policy]\ndefault = "allow"\n'
    )
    return heso_project, signer


def _forget_newest(project: Project) -> None:
    """Drop the checkpoint at 6: the latest is then at 5 (entry 5 is not covered)."""
    (project.data_dir / "checkpoints" / f"{6:020d}.note").unlink()


def test_the_checkpoints_are_listed_and_verified_with_the_witness_threshold(
    witnessed: tuple[Project, CosignatureSigner],
) -> None:
    project, _ = witnessed
    data = _client(project).get("/api/checkpoints").json()
    assert data["available"] is True and data["threshold"] == 1 and data["witnesses"] == 1
    newest = data["checkpoints"][0]
    assert newest["size"] == 6 and newest["ok"] is True
    assert [c["size"] for c in data["checkpoints"]][:2] == [6, 5]
    assert newest["cosignatures"] == 1 and newest["cosigned_by"] == ["auditor.example/witness"]
    assert len(newest["root"]) == 44  # base64 of 32 bytes, as the note carries it


def test_a_checkpoint_without_its_cosignature_or_altered_fails(
    witnessed: tuple[Project, CosignatureSigner],
) -> None:
    project, _ = witnessed
    _forget_newest(project)
    store = FileLedger(project.data_dir).checkpoint_store()
    note = store.get(5)
    assert note is not None
    opened = parse_note(note)
    operator_only = [s for s in opened.signatures if s.name != "auditor.example/witness"]
    store.put(5, sign_note_keep(opened.text, operator_only))
    cp = _client(project).get("/api/checkpoints").json()["checkpoints"][0]
    assert cp["ok"] is False and "1 required" in cp["error"]
    proof = _client(project).get("/api/entries/2/proof").json()
    assert proof["status"] == "failed" and "1 required" in proof["message"]
    lines = note.decode().split("\n")
    lines[1] = "4"  # a smaller tree under the same signature
    store.put(5, "\n".join(lines).encode())
    cp = _client(project).get("/api/checkpoints").json()["checkpoints"][0]
    assert cp["ok"] is False


def sign_note_keep(text: str, signatures: list[Any]) -> bytes:
    """The note ``text`` with exactly ``signatures`` (none added)."""
    from heso.transparency.note import Note

    return Note(text, tuple(signatures)).to_bytes()


def test_an_entry_card_proves_inclusion_in_the_latest_checkpoint(
    witnessed: tuple[Project, CosignatureSigner], capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = witnessed
    _forget_newest(project)
    client = _client(project)
    proof = client.get("/api/entries/2/proof").json()
    assert proof["status"] == "verified", proof
    assert proof["checkpoint_size"] == 5 and proof["cosignatures"] == 1
    assert proof["threshold"] == 1 and proof["path_length"] == 3
    parsed = InclusionProof.from_text(proof["proof"])
    assert parsed.index == 2
    # the proof the card offers verifies with the CLI too
    receipt = project.receipts()[2]
    (project.root / "r.json").write_text(json.dumps(receipt))
    (project.root / "p.tlog-proof").write_text(proof["proof"])
    code = main(
        [
            "verify",
            str(project.root / "r.json"),
            "--checkpoint",
            str(project.root / "p.tlog-proof"),
            "--project",
            str(project.root),
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out)["inclusion"]["ok"] is True, out
    later = client.get("/api/entries/5/proof").json()
    assert later["status"] == "not_covered" and "heso checkpoint" in later["message"]
    assert client.get("/api/entries/99/proof").status_code == 404


def test_a_tampered_entry_fails_its_inclusion_proof(
    witnessed: tuple[Project, CosignatureSigner],
) -> None:
    project, _ = witnessed
    path = project.data_dir / "receipts.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"i":1', b'"i":7')
    path.write_bytes(b"\n".join(lines))
    proof = _client(project).get("/api/entries/1/proof").json()
    assert proof["status"] == "failed"


def test_a_store_without_checkpoints_says_so(heso_project: Project) -> None:
    import shutil

    heso_project.write_policy('[policy]\ndefault = "allow"\n')
    _mint(heso_project, 2)
    shutil.rmtree(heso_project.data_dir / "checkpoints")  # a store from before checkpoints
    client = _client(heso_project)
    data = client.get("/api/checkpoints").json()
    assert data["available"] is False and "no Merkle tree or checkpoints" in data["message"]
    assert client.get("/api/entries/0/proof").json()["status"] == "unavailable"


def test_the_page_shows_checkpoints_and_the_entry_proof(
    page: Any, witnessed: tuple[Project, CosignatureSigner], start_console: Any
) -> None:
    project, _ = witnessed
    _forget_newest(project)
    console = start_console(project.root)
    page.goto(console.url)
    page.wait_for_selector("table.list tbody tr")
    page.click("#tabs button[data-tab=checkpoints]")
    row = page.locator(".checkpoints tbody tr[data-size='5']")
    row.wait_for()
    assert row.locator("[data-ok=true]").count() == 1
    assert "1 / 1" in row.locator("td.cosignatures").inner_text()
    page.goto(console.url.split("?")[0].rsplit("/", 1)[0] + "/#entry/2")
    page.wait_for_selector("[data-proof=verified]")
    box = page.locator("[data-proof=verified]").inner_text()
    assert "checkpoint of 5 entries" in box and "1 of 1 required" in box
    page.goto(console.url.split("?")[0].rsplit("/", 1)[0] + "/#entry/5")
    page.wait_for_selector("[data-proof=not_covered]")
