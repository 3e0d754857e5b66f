"""Secrets never leave the process through telemetry: not in a span, a link, an OTLP request body
or a log record.

With field export on (the most that can leave), a project redacting fields (``commit`` and
``destroy``, from ``[heso] redact``, the decorator, the call and a step) runs actions that are
allowed, blocked, suspended, approved by an approver (L1), fired and completed with an error
whose message quotes a secret, plus an LLM call whose body holds a redacted key and a gate
failure in observe-only mode. Every span the real SDK finished (attributes, links, status,
events, resource), every byte the real OTLP/HTTP exporter sent to a loopback receiver and every
log record (message and ``extra``) is searched for the cleartext values, the passphrases, the
private keys and the collector's credentials, in hex, base64 and base58.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from .test_rel_secrets import (
    APPROVER_PASSPHRASE,
    FIELDS,
    PASSPHRASE,
    POLICY,
    SECRETS,
    _forms,
    _leaks,
    secret_needles,
)

COLLECTOR_PASSWORD = "collector-pw-" + SECRETS["password"][-8:]


def test_no_span_export_or_log_record_holds_a_secret(
    tmp_path: Path,
    clean_heso_env: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    otlp_receiver: Any,
    otel_traces: Any,
    figures: Any,
) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import heso
    from heso.approvals.identity import new_approver
    from heso.cli import main
    from heso.keys import load_operator_key, read_key_file
    from heso.project import init_project

    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approver-home"))
    monkeypatch.setenv("HESO_APPROVER_PASSPHRASE", APPROVER_PASSPHRASE)
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", PASSPHRASE)
    caplog.set_level(logging.DEBUG)
    _, alice = new_approver("alice")
    root = tmp_path / "project"
    init_project(root)
    (root / "heso.toml").write_text(POLICY.format(alice=alice))
    # The real exporter, to a collector that wants a password, beside the in-memory one.
    endpoint = f"http://otel:{COLLECTOR_PASSWORD}@127.0.0.1:{otlp_receiver.port}/v1/traces"
    otel_traces.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint)))
    heso.init(
        project_root=root, telemetry={"tracer_provider": otel_traces.provider, "fields": True}
    )

    @heso.tool(redact={"card": "commit", "pin": "destroy"})
    def save_settings(
        api_key: str, password: str, headers: dict[str, str], card: str, pin: int
    ) -> str:
        return "saved"

    @heso.gated
    @heso.tool(redact=["card"])
    def wire_transfer(to: str, api_key: str, card: str) -> str:
        raise RuntimeError(f"bank rejected card {card} with key {api_key}")

    @heso.destructive
    def delete_account(user: str, api_key: str, password: str) -> None: ...

    fields = FIELDS
    assert save_settings(**fields) == "saved"
    with heso.step(redact=["api_key"]):
        action = heso.Action(verb=heso.Verb.TOOL_CALL, tool_name="lookup", fields=fields)
        heso.process(action, redact_fields={"card": "commit", "pin": "destroy"})
    heso.capture.capture(
        "llm_call",
        "chat.completions.create",
        {"model": "gpt-x", "api_key": SECRETS["api_key"], "messages": [SECRETS["card"]]},
        redact_fields=["messages"],
    )
    with pytest.raises(heso.BlockedError):
        delete_account("bob", SECRETS["api_key"], SECRETS["password"])
    assert wire_transfer("ACME", SECRETS["api_key"], SECRETS["card"], _heso_session="w1") is (
        heso.SUSPENDED
    )
    capsys.readouterr()
    main(["approvals", "list", "--json", "--project", str(root)])
    (pending,) = json.loads(capsys.readouterr().out)
    approve = ["approve", pending["action_hash"][:16], "--as", "alice", "--project", str(root)]
    assert main(approve) == 0
    with pytest.raises(RuntimeError):
        wire_transfer("ACME", SECRETS["api_key"], SECRETS["card"], _heso_session="w1")
    heso.init(
        project_root=root,
        blocking=False,
        telemetry={"tracer_provider": otel_traces.provider, "fields": True},
    )
    assert save_settings(**{**fields, "pin": 10**30 + SECRETS["pin"]}) == "saved"
    otel_traces.provider.force_flush()
    heso.shutdown()

    spans = otel_traces.spans()
    outcomes = [s.attributes.get("heso.outcome") for s in spans]
    assert outcomes.count("approved") == 1 and "suspended" in outcomes and "blocked" in outcomes
    assert any(s.name == "heso.approval.completed" for s in spans)
    # Fields were exported (as the receipts show them), and the body's error was recorded.
    arguments = [s.attributes.get("gen_ai.tool.call.arguments", "") for s in spans]
    assert sum('"heso_redacted":"destroy"' in a for a in arguments) == 3
    assert any('"headers":{"authorization":{"commitment"' in a for a in arguments)
    completed = [s for s in spans if s.name == "heso.approval.completed"]
    assert [s.attributes["error.type"] for s in completed] == ["RuntimeError"]
    received = otlp_receiver.wait_for(len(spans))
    assert len(received) == len(spans)

    operator = load_operator_key(root / "heso-local-data")
    approver = read_key_file(tmp_path / "approver-home" / "alice.key", APPROVER_PASSPHRASE.encode())
    needles = secret_needles(operator, approver)
    needles["collector password"] = _forms(COLLECTOR_PASSWORD.encode())

    for span in spans:
        assert _leaks(span.to_json().encode(), needles) == [], span.name
    for body in otlp_receiver.bodies:
        assert _leaks(body, needles) == []
    assert _leaks(json.dumps(received, default=str).encode(), needles) == []
    records = [r for r in caplog.records if r.name.startswith(("heso", "opentelemetry"))]
    assert any(r.name == "heso.decisions" for r in records)
    for record in records:
        text = f"{record.getMessage()} {record.exc_text or ''} {record.__dict__!r}"
        assert _leaks(text.encode(), needles) == [], record.getMessage()
    figures.add("telemetry_secrets.spans_scanned", len(spans))
    figures.add("telemetry_secrets.otlp_bytes_scanned", sum(len(b) for b in otlp_receiver.bodies))
    figures.add("telemetry_secrets.log_records_scanned", len(records))
