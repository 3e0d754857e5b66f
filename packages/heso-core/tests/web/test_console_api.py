"""The console's HTTP API in-process: login, CSRF, Host checks, receipts, chain, approvals, and
decisions signed outside this process recorded exactly like ``heso approve``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from heso.approvals.decisions import approver_decision
from heso.approvals.file_store import FileApprovalStore
from heso.canonical import loads_strict
from heso.cli import main
from heso.console.app import create_app
from heso.keys import SigningKey
from heso.ledger import verify_chain
from heso.receipt import verify_receipt

from .conftest import T0, Scene

BASE = "http://127.0.0.1:8714"
TOKEN = "test-token-0123456789"


@pytest.fixture
def app(scene: Scene) -> Any:
    return create_app(scene.root, token=TOKEN)


@pytest.fixture
def client(app: Any) -> TestClient:
    """A client logged in with the token (it holds the session cookie)."""
    c = TestClient(app, base_url=BASE)
    response = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    return c


def csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/session").json()["csrf"], "Origin": BASE}


def part_for(scene: Scene, name: str, action_hash: str, group: str, threshold: int, **kw: Any):
    return approver_decision(
        scene.keys[name],
        approver=name,
        action_hash=action_hash,
        decision=kw.pop("decision", "approved"),
        group=group,
        threshold=threshold,
        at=kw.pop("at", T0),
        reason=kw.pop("reason", None),
    )


def post_part(client: TestClient, action_hash: str, part: Any, headers: dict[str, str]) -> Any:
    return client.post(
        f"/api/approvals/{action_hash}/decision",
        content=json.dumps({"part": part}),
        headers=headers,
    )


# --------------------------------------------------------------------------- access


def test_the_token_is_traded_once_for_a_strict_http_only_cookie(app: Any) -> None:
    c = TestClient(app, base_url=BASE)
    assert c.get("/").status_code == 401
    assert c.get("/api/session").status_code == 401
    assert c.get("/?token=wrong").status_code == 403
    response = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert TOKEN.lower() not in cookie
    page = c.get("/")
    assert page.status_code == 200 and "/static/console.js" in page.text
    session = c.get("/api/session").json()
    assert len(session["csrf"]) >= 32 and session["project"] == str(app.state.view.root)
    assert set(session["approvers"]) == {"oncall", "finance"}
    assert session["operator"].startswith("ed25519:")

    logout = c.post("/api/logout", headers={"X-CSRF-Token": session["csrf"], "Origin": BASE})
    assert logout.json() == {"ok": True}
    assert c.get("/api/session").status_code == 401


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/api/receipts", "/static/console.js", "/nope"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"
    js = client.get("/static/heso-verify.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/secrets.txt").status_code == 404


def test_a_host_that_is_not_loopback_is_refused(app: Any, scene: Scene) -> None:
    c = TestClient(app, base_url="http://evil.example:8714")
    response = c.get(f"/?token={TOKEN}")
    assert response.status_code == 403 and response.json()["error"] == "HostNotAllowed"
    for host in ("localhost:8714", "127.0.0.1", "[::1]:8714"):
        ok = TestClient(app, base_url=BASE).get("/", headers={"host": host})
        assert ok.status_code == 401, host  # past the Host check, not logged in
    anywhere = create_app(scene.root, token=TOKEN, allowed_hosts=None)
    assert TestClient(anywhere, base_url="http://evil.example").get("/").status_code == 401


def test_state_changes_need_the_csrf_token_and_the_same_origin(client: TestClient) -> None:
    good = csrf(client)
    assert client.post("/api/logout").status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": "nope"}).status_code == 403
    evil = {**good, "Origin": "http://127.0.0.1:9999"}
    response = client.post("/api/logout", headers=evil)
    assert response.status_code == 403 and "cross-origin" in response.json()["message"]
    assert client.get("/api/logout").status_code == 405
    fresh = TestClient(client.app, base_url=BASE)
    assert fresh.post("/api/logout", headers=good).status_code == 401
    assert client.post("/api/logout", headers=good).status_code == 200


def test_scripts_can_use_the_token_as_a_bearer(app: Any) -> None:
    c = TestClient(app, base_url=BASE)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert c.get("/api/chain", headers=auth).json()["verdict"]["verdict"] == "Valid"
    assert c.get("/api/chain", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.post("/api/logout", headers=auth).status_code == 200


# --------------------------------------------------------------------------- receipts


def test_receipts_are_listed_newest_first_with_filters_facets_and_timeline(
    client: TestClient,
) -> None:
    everything = client.get("/api/receipts").json()
    assert everything["total"] == everything["matched"] == 8
    assert [r["seq"] for r in everything["rows"]] == list(range(7, -1, -1))
    assert everything["facets"]["decision"] == ["allow", "block", "require_approval"]
    assert everything["facets"]["verb"] == ["delete", "http_request", "tool_call"]
    assert everything["facets"]["workflow"] == ["billing"]

    def seqs(**params: str) -> list[int]:
        return [r["seq"] for r in client.get("/api/receipts", params=params).json()["rows"]]

    assert seqs(decision="block") == [7, 2]
    assert seqs(verb="tool_call", decision="allow") == [3, 1, 0]
    assert seqs(tool="wire_transfer") == [5]
    assert seqs(q="invoices") == [1]  # a field value
    assert seqs(q="refunds-need") == [6]  # the rule
    assert seqs(account="acme", workflow="billing", since="2026-03-02") == [7, 6, 5]
    assert seqs(until="2026-03-01T10:15:00Z") == [2, 1, 0]
    assert seqs(since="2026-03-01T08:15", until="2026-03-01T12:00") == [3, 2, 1]
    assert seqs(workflow="other") == []
    assert seqs(limit="2", offset="1") == [6, 5]
    assert client.get("/api/receipts", params={"since": "yesterday"}).status_code == 400

    timeline = client.get("/api/timeline").json()
    assert timeline["bucket_seconds"] == 3600
    counts: dict[str, int] = {}
    for bucket in timeline["buckets"]:
        for decision, n in bucket["counts"].items():
            counts[decision] = counts.get(decision, 0) + n
    assert counts == {"allow": 4, "block": 2, "require_approval": 2}
    assert timeline["buckets"][0]["start"] == "2026-03-01 08:00"
    assert timeline["buckets"][-1] == {
        "start": "2026-03-02 08:00",
        "counts": {"require_approval": 2, "block": 1},
    }


def test_an_entry_comes_with_the_verdict_heso_verify_gives(
    client: TestClient, scene: Scene, capsys
) -> None:
    data = client.get("/api/entries/5").json()
    receipt = data["receipt"]
    assert data["row"]["tool"] == "wire_transfer"
    assert data["verdict"]["summary"] == "Valid (L0)"
    assert data["chain"]["status"] == "ok" and data["approval"] is True
    assert (
        main(
            [
                "verify",
                receipt["content"]["action_hash"][:16],
                "--project",
                str(scene.root),
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["summary"] == data["verdict"]["summary"]
    assert client.get("/api/entries/8").status_code == 404
    assert client.get("/api/entries/0").json()["approval"] is False


def test_the_chain_status_names_the_first_broken_entry(client: TestClient, scene: Scene) -> None:
    status = client.get("/api/chain").json()
    assert status["verdict"]["summary"] == "Valid (L0)"
    assert [e["status"] for e in status["entries"]] == ["ok"] * 8
    assert (status["total"], status["offset"]) == (8, 0)
    assert status["head"]["length"] == 8

    path = scene.data_dir / "receipts.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"b@example.com", b"x@example.com")
    path.write_bytes(b"".join(lines))
    status = client.get("/api/chain").json()
    expected = verify_chain(scene.data_dir)
    assert (
        (status["verdict"]["verdict"], status["verdict"]["entry"])
        == (
            expected.code,
            expected.entry,
        )
        == ("HashMismatch", 3)
    )
    assert [e["status"] for e in status["entries"]] == ["ok"] * 3 + ["broken"] + ["unchecked"] * 4
    assert status["entries"][3]["code"] == "HashMismatch"
    detail = client.get("/api/entries/3").json()
    assert detail["verdict"]["verdict"] == "HashMismatch"
    assert detail["chain"]["status"] == "broken"


def test_the_console_verifies_with_the_operator_keys_pinned_in_heso_toml(
    client: TestClient, scene: Scene, capsys
) -> None:
    """A store re-signed wholesale under another key is self-consistent: only the key pinned by
    ``[heso] operator_keys`` rejects it, in the console exactly as in ``heso verify``."""
    original = scene.resign()
    root = str(scene.root)
    assert main(["verify", "--chain", "--project", root, "--json"]) == 1
    cli_chain = json.loads(capsys.readouterr().out)
    status = client.get("/api/chain").json()
    assert status["verdict"]["verdict"] == cli_chain["verdict"] == "HeadInvalid"
    assert status["verdict"]["summary"] == cli_chain["summary"]
    assert status["verdict"]["operator_pinned_by"] == "heso.toml"
    detail = client.get("/api/entries/0").json()
    prefix = detail["receipt"]["content"]["action_hash"][:16]
    assert main(["verify", prefix, "--project", root, "--json"]) == 1
    cli_entry = json.loads(capsys.readouterr().out)
    assert detail["verdict"]["verdict"] == cli_entry["verdict"] == "UntrustedKey"
    assert detail["verdict"]["summary"] == cli_entry["summary"]
    trust = client.get("/api/session").json()["trust"]
    assert trust["operator_keys"] == [original] and trust["pinned_by"] == "heso.toml"


# --------------------------------------------------------------------------- approvals


def test_pending_approvals_show_action_rule_approvers_and_sla(
    client: TestClient, scene: Scene, capsys
) -> None:
    rows = client.get("/api/approvals").json()
    assert [r["tool_name"] for r in rows] == ["wire_transfer", "refund"]
    wire = rows[0]
    assert wire["rule_id"] == "wires-need-finance" and wire["status"] == "suspended"
    assert wire["groups"] == [
        {
            "group": "finance",
            "approvals": 0,
            "threshold": 2,
            "defined": True,
            "members": ["alice", "bob", "carol"],
        }
    ]
    assert wire["fields"] == {"to": "ACME", "amount": 25000}
    assert wire["deadline"] == "2026-03-03T08:10:00Z"
    assert wire["sla_left_seconds"] == 23 * 3600 + 10 * 60 and wire["sla_left"] == "23h10m left"
    assert wire["on_timeout"] == "deny"
    # `heso approvals list --json` lists the same sessions in the same shape.
    assert main(["approvals", "list", "--json", "--project", str(scene.root)]) == 0
    cli_rows = json.loads(capsys.readouterr().out)
    assert sorted(cli_rows, key=lambda r: r["action_hash"]) == sorted(
        rows, key=lambda r: r["action_hash"]
    )


def test_a_decision_signed_elsewhere_is_recorded_like_heso_approve(
    client: TestClient, scene: Scene, capsys
) -> None:
    refund = scene.pending["refund"]
    ctx = client.get(
        f"/api/approvals/{refund}",
        params={"public_key": scene.keys["alice"].public_key().to_str()},
    ).json()
    assert ctx["at"] == T0
    assert ctx["signer"] == {
        "public_key": scene.keys["alice"].public_key().to_str(),
        "approver": "alice",
        "groups": [{"group": "oncall", "threshold": 1, "decided": False}],
    }
    part = part_for(scene, "alice", refund, "oncall", 1, reason="customer called")
    response = post_part(client, refund, part, csrf(client))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out == {
        "action_hash": refund,
        "session": scene.session_of(refund),
        "approver": "alice",
        "group": "oncall",
        "decision": "approved",
        "approvals": 1,
        "threshold": 1,
        "status": "approved",
        "record": part,
    }
    lines = FileApprovalStore(scene.data_dir).lines(out["session"])
    assert lines[-1].part == part
    assert client.get("/api/approvals").json()[0]["tool_name"] == "wire_transfer"

    # The call made again fires it exactly as after `heso approve`: with an L1 receipt.
    assert scene.call_again(refund).kind == "approved"
    assert main(["verify", refund[:16], "--project", str(scene.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == "Valid (L1)"
    chain_tail = loads_strict((scene.data_dir / "receipts.jsonl").read_bytes().splitlines()[-1])
    l1 = chain_tail["receipt"]
    assert [s["key_id"] for s in l1["signatures"]] == ["operator", "approver:alice"]
    assert l1["signatures"][1]["signature"] == part["record"]["approval_signature"]
    assert client.get("/api/chain").json()["verdict"]["l1_receipts"] == 1


def test_a_quorum_mixes_signatures_from_anywhere(client: TestClient, scene: Scene) -> None:
    wire = scene.pending["wire_transfer"]
    headers = csrf(client)
    first = post_part(client, wire, part_for(scene, "bob", wire, "finance", 2), headers).json()
    assert (first["approvals"], first["status"]) == (1, "suspended")
    second = post_part(client, wire, part_for(scene, "carol", wire, "finance", 2), headers).json()
    assert (second["approvals"], second["threshold"], second["status"]) == (2, 2, "approved")
    assert scene.call_again(wire).kind == "approved"
    l1 = loads_strict((scene.data_dir / "receipts.jsonl").read_bytes().splitlines()[-1])["receipt"]
    registry = client.app.state.view.registry()
    verdict = verify_receipt(
        l1, approver_keys=registry.approver_keys(), approver_groups=registry.groups
    )
    assert str(verdict) == "Valid (L1)"
    assert l1["multi_approval"] == {"group": "finance", "threshold": 2}


def test_a_denial_from_the_browser_ends_the_action(client: TestClient, scene: Scene) -> None:
    wire = scene.pending["wire_transfer"]
    part = part_for(scene, "bob", wire, "finance", 2, decision="denied", reason="no invoice")
    out = post_part(client, wire, part, csrf(client)).json()
    assert (out["decision"], out["status"]) == ("denied", "denied")
    again = post_part(client, wire, part_for(scene, "carol", wire, "finance", 2), csrf(client))
    assert again.status_code == 409 and "already denied" in again.json()["message"]


def test_forged_edited_stale_or_repeated_decisions_are_refused(
    client: TestClient, scene: Scene
) -> None:
    refund = scene.pending["refund"]
    headers = csrf(client)

    def refused(part: Any, status: int = 409) -> str:
        response = post_part(client, refund, part, headers)
        assert response.status_code == status, response.text
        return str(response.json()["message"])

    mallory = SigningKey.from_private_bytes(b"\x09" * 32)
    forged = approver_decision(
        mallory,
        approver="alice",
        action_hash=refund,
        decision="approved",
        group="oncall",
        threshold=1,
        at=T0,
    )
    assert "UnknownApprover" in refused(forged)
    edited = part_for(scene, "alice", refund, "oncall", 1, reason="ok")
    edited["record"]["reason"] = "something else"
    assert "InvalidSignature" in refused(edited)
    assert "QuorumNotMet" in refused(part_for(scene, "alice", refund, "oncall", 2))
    assert "UnknownApprover" in refused(part_for(scene, "bob", refund, "oncall", 1))
    stale = part_for(scene, "alice", refund, "oncall", 1, at="2026-03-02T07:00:00Z")
    assert "from this machine's clock" in refused(stale)
    extra = part_for(scene, "alice", refund, "oncall", 1)
    extra["record"]["note"] = "x"
    assert "exactly" in refused(extra)
    other = post_part(
        client,
        scene.pending["wire_transfer"],
        part_for(scene, "alice", refund, "oncall", 1),
        headers,
    )
    assert other.status_code == 400 and "another action" in other.json()["message"]
    duplicate = '{"part": {"record": {}, "record": {}}}'
    response = client.post(f"/api/approvals/{refund}/decision", content=duplicate, headers=headers)
    assert response.status_code == 400 and "duplicate object key" in response.json()["message"]

    good = part_for(scene, "alice", refund, "oncall", 1)
    assert post_part(client, refund, good, headers).status_code == 200
    assert "already approved" in refused(part_for(scene, "alice", refund, "oncall", 1, reason="x"))
    assert len(FileApprovalStore(scene.data_dir).lines(scene.session_of(refund))) == 2
