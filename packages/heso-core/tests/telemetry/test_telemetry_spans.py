"""Every gate decision is one span of the real OpenTelemetry SDK, named and attributed by the
GenAI semantic conventions plus ``heso.*``; nothing is traced unless telemetry is configured."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

import heso
from heso import telemetry
from heso.approvals.admission import admit
from heso.errors import HesoConfigError

POLICY = """
[policy]
default = "allow"

[heso]
redact = { api_key = "commit", pin = "destroy" }

[[rule]]
id = "no-deletes"
verb = "delete"
scope = "*"
decision = "block"

[[rule]]
id = "wires-need-review"
verb = "tool_call"
scope = "wire"
decision = "require_approval"
approvers = ["finance"]
"""


@pytest.fixture
def project(heso_project):
    heso_project.write_policy(POLICY)
    return heso_project


def _tool():
    @heso.tool
    def send_email(to: str, api_key: str, pin: int) -> str:
        return "sent"

    return send_email


def test_each_decision_is_a_span_under_the_current_span(project, otel_traces):
    project.init(telemetry=otel_traces.provider)
    tracer = otel_traces.provider.get_tracer("the-agent")
    send_email = _tool()
    with tracer.start_as_current_span("invoke_agent") as parent:
        assert send_email("a@example.com", "sk-1", 1234) == "sent"
        with pytest.raises(heso.BlockedError):
            heso.capture.gate("delete", "/users/7", {})
        with pytest.raises(heso.SuspendedError) as suspended:
            admit("tool_call", "wire", {"amount": 5})
    receipts = project.receipts()
    spans = [s for s in otel_traces.spans() if s.name != "invoke_agent"]
    names = ["execute_tool send_email", "execute_tool /users/7", "execute_tool wire"]
    assert [s.name for s in spans] == names
    for span, receipt in zip(spans, receipts, strict=True):
        assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
        assert span.context.trace_id == parent.get_span_context().trace_id
        assert span.kind.name == "INTERNAL"
        assert span.attributes["heso.action_hash"] == receipt["content"]["action_hash"]
        assert span.instrumentation_scope.name == "heso"
        assert span.instrumentation_scope.version == heso.__version__
    allowed, blocked, wire = (dict(s.attributes) for s in spans)
    assert allowed == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "send_email",
        "heso.action_hash": receipts[0]["content"]["action_hash"],
        "heso.verb": "tool_call",
        "heso.tool_name": "send_email",
        "heso.decision": "allow",
        "heso.rule_id": "heso:default",
        "heso.trust_level": "L0",
        "heso.workflow": "default",
        "heso.account": "default",
        "heso.outcome": "allowed",
        "heso.chain.seq": 0,
        "heso.blocking": True,
    }
    assert spans[0].status.status_code.name == "UNSET"
    assert (blocked["heso.outcome"], blocked["heso.rule_id"]) == ("blocked", "no-deletes")
    assert blocked["error.type"] == "heso.BlockedError" and blocked["heso.chain.seq"] == 1
    assert spans[1].status.status_code.name == "ERROR"
    assert (wire["heso.outcome"], wire["heso.decision"]) == ("suspended", "require_approval")
    assert wire["heso.approval.session"] == f"action-{suspended.value.action_hash}"
    assert "error.type" not in wire and spans[2].status.status_code.name == "UNSET"


def test_a_span_starts_when_the_gate_does_and_the_receipt_shares_its_time(project, otel_traces):
    project.init(telemetry=otel_traces.provider)
    _tool()("a@example.com", "sk-1", 1)
    (span,) = otel_traces.spans()
    captured = project.receipts()[0]["content"]["captured_at"]
    seconds, ns = divmod(span.start_time, 1_000_000_000)
    start = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{ns // 1000:06d}" if ns // 1000 else ""  # heso writes µs only when non-zero
    assert f"{start}{fraction}Z" == captured
    assert span.start_time <= span.end_time


@pytest.mark.parametrize(
    ("tool_name", "name", "operation", "provider"),
    [
        ("chat.completions.create", "chat", "chat", "openai"),
        ("responses.create", "chat", "chat", "openai"),
        ("messages.create", "chat", "chat", "anthropic"),
        ("beta.messages.create", "chat", "chat", "anthropic"),
        ("embeddings.create", "embeddings", "embeddings", "openai"),
        ("completions.create", "text_completion", "text_completion", None),
        ("models.generate_content", "generate_content", "generate_content", None),
        ("my_llm.invoke", "chat", "chat", None),
    ],
)
def test_llm_calls_are_inference_spans(project, otel_traces, tool_name, name, operation, provider):
    project.init(telemetry=otel_traces.provider)
    heso.capture.capture("llm_call", tool_name, {"model": "m-1", "messages": ["hi"]})
    (span,) = otel_traces.spans()
    assert span.name == name and span.kind.name == "CLIENT"
    assert span.attributes["gen_ai.operation.name"] == operation
    assert span.attributes.get("gen_ai.provider.name") == provider
    assert "gen_ai.tool.name" not in span.attributes
    assert span.attributes["heso.tool_name"] == tool_name
    # The model is a field value: it leaves the process only with fields on.
    assert "gen_ai.request.model" not in span.attributes


def test_fields_are_opt_in_and_only_as_the_receipt_shows_them(project, otel_traces):
    project.init(telemetry=otel_traces.provider)
    send_email = _tool()
    send_email("a@example.com", "sk-live-123", 4321)
    (quiet,) = otel_traces.spans()
    assert not any("arguments" in k or k == "heso.fields" for k in quiet.attributes)

    otel_traces.clear()
    project.init(telemetry={"tracer_provider": otel_traces.provider, "fields": True})
    send_email("a@example.com", "sk-live-123", 4321)
    heso.capture.capture("llm_call", "chat.completions.create", {"model": "gpt-x", "api_key": "k"})
    tool_span, llm_span = otel_traces.spans()
    receipts = project.receipts()
    shown = receipts[1]["content"]["action"]["fields"]
    arguments = json.loads(tool_span.attributes["gen_ai.tool.call.arguments"])
    assert arguments == shown and arguments["to"] == "a@example.com"
    assert arguments["api_key"]["heso_redacted"] == "commit" and arguments["pin"] == {
        "heso_redacted": "destroy"
    }
    assert "sk-live-123" not in tool_span.attributes["gen_ai.tool.call.arguments"]
    assert "4321" not in tool_span.attributes["gen_ai.tool.call.arguments"]
    assert llm_span.name == "chat gpt-x"
    assert llm_span.attributes["gen_ai.request.model"] == "gpt-x"
    assert (
        json.loads(llm_span.attributes["heso.fields"]) == receipts[2]["content"]["action"]["fields"]
    )


def test_a_redacted_model_is_never_the_span_name(project, otel_traces):
    project.init(telemetry={"tracer_provider": otel_traces.provider, "fields": True})
    heso.capture.capture(
        "llm_call", "chat.completions.create", {"model": "secret-model"}, redact_fields=["model"]
    )
    (span,) = otel_traces.spans()
    assert span.name == "chat" and "gen_ai.request.model" not in span.attributes
    assert "secret-model" not in json.dumps(dict(span.attributes))


def test_observe_only_refusals_are_not_errors(project, otel_traces):
    project.init(telemetry=otel_traces.provider, blocking=False)
    outcome = heso.capture.gate("delete", "/users/7", {})
    assert outcome.runs
    (span,) = otel_traces.spans()
    assert (
        span.attributes["heso.outcome"] == "blocked" and span.attributes["heso.blocking"] is False
    )
    assert "error.type" not in span.attributes and span.status.status_code.name == "UNSET"


def test_a_failing_tracer_never_changes_a_decision(project, caplog):
    class Broken:
        def get_tracer(self, *args, **kwargs):
            return self

        def start_span(self, *args, **kwargs):
            raise RuntimeError("exporter exploded: sk-should-not-appear")

    project.init(telemetry=Broken())
    caplog.set_level(logging.WARNING, logger="heso")
    assert _tool()("a@example.com", "sk-1", 1) == "sent"
    with pytest.raises(heso.BlockedError):
        heso.capture.gate("delete", "/users/7", {})
    assert len(project.receipts()) == 2
    failures = [r for r in caplog.records if r.name == "heso.telemetry"]
    assert [r.getMessage() for r in failures] == [
        "heso telemetry failed (RuntimeError); the decision stands"
    ] * 2


def test_shutdown_and_reinit_without_telemetry_stop_tracing(project, otel_traces):
    project.init(telemetry=otel_traces.provider)
    assert telemetry.tracer is not None
    project.init()
    assert telemetry.tracer is None
    _tool()("a@example.com", "sk-1", 1)
    project.init(telemetry=otel_traces.provider)
    heso.shutdown()
    assert telemetry.tracer is None and otel_traces.spans() == []


# -- configuration ------------------------------------------------------------------------------


def test_the_heso_toml_table_turns_it_on_and_init_or_the_env_turns_it_off(project, monkeypatch):
    project.write_policy(POLICY + "\n[heso.telemetry]\nfields = true\n")
    config = project.init()
    assert config.telemetry == telemetry.Telemetry(enabled=True, fields=True)
    assert telemetry.tracer is not None  # the global provider (nothing set up: no-op)
    assert project.init(telemetry=False).telemetry.enabled is False
    assert telemetry.tracer is None
    monkeypatch.setenv("HESO_TELEMETRY", "off")
    assert project.init().telemetry == telemetry.Telemetry(enabled=False, fields=True)
    monkeypatch.setenv("HESO_TELEMETRY", "maybe")
    with pytest.raises(HesoConfigError, match="HESO_TELEMETRY must be true or false"):
        project.init()


@pytest.mark.parametrize(
    ("table", "message", "line"),
    [
        ('exporter = "otlp"\nendpont = "http://x"', "unknown setting 'endpont'", 3),
        ('exporter = "zipkin"', "exporter must be one of global, otlp", 2),
        ('endpoint = "http://127.0.0.1:4318"', 'endpoint needs exporter = "otlp"', 2),
        ('exporter = "otlp"\nendpoint = "ftp://x"', "endpoint must be an http:// or https://", 3),
        ("fields = 1", "fields must be true or false", 2),
    ],
)
def test_a_bad_table_names_the_file_line_and_key(project, table, message, line):
    text = POLICY + "\n[heso.telemetry]\n" + table + "\n"
    project.write_policy(text)
    with pytest.raises(HesoConfigError) as caught:
        project.init()
    error = caught.value
    assert message in error.message and error.path == str(project.policy_path)
    assert error.line == POLICY.count("\n") + 1 + line
    assert error.key is not None and error.key.startswith("heso.telemetry")
    assert telemetry.tracer is None


def test_init_rejects_what_is_not_a_setting(project):
    with pytest.raises(HesoConfigError, match="telemetry must be true/false"):
        project.init(telemetry="yes")
    with pytest.raises(HesoConfigError, match="unknown setting 'feilds' in telemetry"):
        project.init(telemetry={"feilds": True})


def test_otlp_exports_nothing_when_the_sdk_is_disabled(project, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    caplog.set_level(logging.INFO, logger="heso.telemetry")
    project.init(telemetry={"exporter": "otlp", "endpoint": "http://127.0.0.1:9"})
    assert telemetry.tracer is None
    assert "OTEL_SDK_DISABLED is set" in caplog.text


def test_endpoints_get_the_traces_path_and_are_logged_without_credentials():
    assert telemetry.traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert telemetry.traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert telemetry.traces_url("https://c/otlp/v1/traces") == "https://c/otlp/v1/traces"
    assert telemetry.scrub_url("https://u:pw@c:4318/v1/traces?token=t") == (
        "https://c:4318/v1/traces"
    )


# -- the global provider, and nothing imported when off -----------------------------------------

_GLOBAL = """
import json, sys
import heso
from heso.approvals.admission import admit
heso.init(project_root={root!r})

@heso.tool
def lookup(q: str) -> str:
    return q

lookup("x")
try:
    admit("tool_call", "wire", {{"amount": 1}})
except heso.SuspendedError:
    pass
try:
    heso.capture.gate("delete", "/a", {{}})
except heso.BlockedError:
    pass
imported = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
lookup("y")  # the app's provider, but heso's telemetry is not on: no span
silent = len(exporter.get_finished_spans())
heso.init(project_root={root!r}, telemetry=True)
lookup("z")
print(json.dumps({{"imported": imported, "silent": silent,
                  "spans": [s.name for s in exporter.get_finished_spans()]}}))
"""


def test_off_imports_no_opentelemetry_and_on_uses_the_global_provider(project):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HESO_", "OTEL_"))}
    env["HESO_KDF_PROFILE"] = "interactive"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_GLOBAL.format(root=str(project.root)))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"imported": [], "silent": 0, "spans": ["execute_tool lookup"]}


def test_a_url_is_named_by_its_origin_unless_fields_are_on(project, otel_traces, caplog):
    """A URL's path can hold a secret (a webhook token): spans and records name the origin."""
    token = "T00000000/B00000000/" + "x" * 24
    url = f"https://hooks.example.com/services/{token}"
    project.init(telemetry=otel_traces.provider)
    caplog.set_level(logging.INFO, logger="heso")
    heso.capture.capture("http_request", url, {"method": "POST", "url": url})
    with pytest.raises(heso.BlockedError):
        heso.capture.gate("delete", f"https://user:pw@api.example.com/v1/items/{token}", {})
    post, delete = otel_traces.spans()
    assert post.name == "execute_tool https://hooks.example.com"
    assert post.attributes["gen_ai.tool.name"] == "https://hooks.example.com"
    assert delete.attributes["heso.tool_name"] == "https://api.example.com"
    for span in (post, delete):
        assert token not in json.dumps(dict(span.attributes)) and token not in span.name
    for record in caplog.records:
        assert token not in record.getMessage() and token not in str(record.__dict__)
    assert project.receipts()[0]["content"]["action"]["tool_name"] == url  # the proof keeps it
    # Field export shows what the receipt shows: the url field, unless it is redacted.
    otel_traces.clear()
    project.init(telemetry={"tracer_provider": otel_traces.provider, "fields": True})
    heso.capture.capture("http_request", url, {"url": url}, redact_fields=["url"])
    (redacted,) = otel_traces.spans()
    assert token not in json.dumps(dict(redacted.attributes))


def test_without_the_otel_extra_init_names_the_pip_command(project, monkeypatch):
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(
        HesoConfigError, match=r'OTLP/HTTP exporter \(pip install "heso-core\[otel\]"\)'
    ):
        project.init(telemetry={"exporter": "otlp"})
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(
        HesoConfigError, match=r'OpenTelemetry API \(pip install "heso-core\[otel\]"\)'
    ):
        project.init(telemetry=True)
    assert telemetry.tracer is None
