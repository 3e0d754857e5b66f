"""``exporter = "otlp"``: the real OTLP/HTTP exporter sends heso's spans to a receiver on
loopback, which decodes them with ``opentelemetry-proto`` as a collector would."""

from __future__ import annotations

import json
import logging

import pytest

import heso
from heso import telemetry
from heso.approvals.admission import admit

POLICY = """
[policy]
default = "allow"

[heso]
redact = {{ api_key = "commit" }}

[heso.telemetry]
exporter = "otlp"
endpoint = "{endpoint}"
service_name = "billing-agent"
fields = true

[[rule]]
id = "refunds-need-review"
verb = "tool_call"
scope = "refund"
decision = "require_approval"
approvers = ["oncall"]
"""


@pytest.fixture
def otlp_project(heso_project, otlp_receiver, monkeypatch):
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    base = f"http://127.0.0.1:{otlp_receiver.port}"
    heso_project.write_policy(POLICY.format(endpoint=base))
    return heso_project


def test_spans_reach_an_otlp_receiver_with_links_and_resource(otlp_project, otlp_receiver):
    otlp_project.init()

    @heso.tool
    def lookup(customer: str, api_key: str) -> str:
        return customer

    lookup("c-1", "sk-live-otlp")
    heso.capture.capture("llm_call", "messages.create", {"model": "claude-x", "max_tokens": 5})
    with pytest.raises(heso.SuspendedError) as suspended:
        admit("tool_call", "refund", {"order": "o-1"})
    action_hash = suspended.value.action_hash
    heso.append_decision(f"action-{action_hash}", "approved")
    with admit("tool_call", "refund", {"order": "o-1"}):
        pass
    assert telemetry.flush()
    spans = otlp_receiver.wait_for(6)
    assert [s["name"] for s in spans] == [
        "execute_tool lookup",
        "chat claude-x",
        "execute_tool refund",
        "heso.approval.decision",
        "execute_tool refund",
        "heso.approval.completed",
    ]
    for span in spans:
        assert span["resource"]["service.name"] == "billing-agent"
        assert span["scope"] == "heso"
    tool, chat, suspension, decision, fired, completed = spans
    assert tool["kind"] == "SPAN_KIND_INTERNAL" and chat["kind"] == "SPAN_KIND_CLIENT"
    receipts = otlp_project.receipts()
    assert tool["attributes"]["heso.action_hash"] == receipts[0]["content"]["action_hash"]
    assert (
        json.loads(tool["attributes"]["gen_ai.tool.call.arguments"])
        == (receipts[0]["content"]["action"]["fields"])
    )
    assert chat["attributes"]["gen_ai.provider.name"] == "anthropic"
    assert chat["attributes"]["gen_ai.request.model"] == "claude-x"
    assert suspension["attributes"]["heso.outcome"] == "suspended"
    for later in (decision, fired, completed):
        assert later["links"] == [
            {
                "trace_id": suspension["trace_id"],
                "span_id": suspension["span_id"],
                "attributes": {"heso.link.kind": "suspended"},
            }
        ]
    assert fired["attributes"]["heso.outcome"] == "approved"
    assert not any(b"sk-live-otlp" in body for body in otlp_receiver.bodies)


def test_shutdown_flushes_what_is_pending(otlp_project, otlp_receiver):
    otlp_project.init()
    heso.capture.capture("tool_call", "lookup", {"customer": "c-2"})
    heso.shutdown()
    (span,) = otlp_receiver.wait_for(1)
    assert span["attributes"]["heso.tool_name"] == "lookup"


def test_the_sdk_opt_out_is_honoured(otlp_project, otlp_receiver, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    otlp_project.init()
    heso.capture.capture("tool_call", "lookup", {"customer": "c-3"})
    heso.shutdown()
    assert otlp_receiver.requests == [] and telemetry.tracer is None


def test_the_endpoint_is_logged_without_its_credentials(
    heso_project, otlp_receiver, monkeypatch, caplog
):
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    secret = "pw-" + "7f3a9c"
    url = f"http://otel-user:{secret}@127.0.0.1:{otlp_receiver.port}"
    heso_project.write_policy(POLICY.format(endpoint=url))
    caplog.set_level(logging.DEBUG)
    heso_project.init()
    heso.capture.capture("tool_call", "lookup", {"customer": "c-4"})
    assert telemetry.flush()
    otlp_receiver.wait_for(1)
    expected = f"exporting spans over OTLP/HTTP to http://127.0.0.1:{otlp_receiver.port}/v1/traces"
    assert expected in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in str(record.__dict__)
