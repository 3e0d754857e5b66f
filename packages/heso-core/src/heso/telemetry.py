"""Gate decisions as OpenTelemetry spans and ``heso`` log records (``docs/telemetry.md``).

Every gate decision, and every later event of a suspended action (an operator's or a timeout's
decision, its firing, its completion), becomes one span, following the OpenTelemetry GenAI
semantic conventions (``execute_tool <tool>``, or ``chat``/``embeddings``/… for an
``llm_call``) plus ``heso.*`` attributes, and one record on the ``heso.decisions`` logger.

Nothing is traced until telemetry is configured (``heso.init(telemetry=…)`` or
``[heso.telemetry]``): until then :data:`tracer` is ``None``, the gate's one check, and
OpenTelemetry is never imported. Configured, heso uses the OpenTelemetry API's global tracer
provider, or a provider it was handed, or (``exporter = "otlp"``) a private SDK provider of its
own that exports over OTLP/HTTP and leaves the application's global provider alone.

What leaves the process: names, hashes and the decision, never a field value, unless
``fields`` is on; then the receipt's shown fields, as signed (a redacted field is its marker,
never its cleartext). A telemetry failure is logged by type and never changes a decision.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from heso.errors import HesoConfigError

if TYPE_CHECKING:
    from heso.config import Runtime

log = logging.getLogger("heso.decisions")
"""One record per decision (INFO; WARNING for a suspension that awaits a person), with
``extra``: ``action_hash``, ``decision``, ``outcome``, ``rule``, ``verb``, ``tool``, …"""
_log = logging.getLogger("heso.telemetry")

tracer: Any = None
"""The tracer every hook uses; ``None`` (the gate's one check) unless telemetry is configured."""

SCOPE = "heso"
EXPORTERS = ("global", "otlp")
KEYS = ("enabled", "exporter", "endpoint", "service_name", "fields")
EXECUTE_TOOL = "execute_tool"
LINK_KIND = "heso.link.kind"
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})\Z")
_INFO, _WARNING = logging.INFO, logging.WARNING

# llm_call tool names (heso.wrap names them like the SDK method): the GenAI operation, and the
# provider when the name says it unambiguously.
_OPERATIONS = (
    ("embeddings.", "embeddings", "openai"),
    ("chat.completions.", "chat", "openai"),
    ("responses.", "chat", "openai"),
    ("messages.", "chat", "anthropic"),
    ("completions.", "text_completion", None),
)


@dataclass(frozen=True)
class Telemetry:
    """Resolved telemetry settings (``[heso.telemetry]``, or ``heso.init(telemetry=…)``)."""

    enabled: bool = False
    exporter: str = "global"
    """``global``: the OpenTelemetry API's global tracer provider (whatever the application
    set up; nothing is exported if it set none). ``otlp``: a private SDK provider exporting over
    OTLP/HTTP (``endpoint``, else the ``OTEL_EXPORTER_OTLP_*`` variables)."""
    endpoint: str | None = None
    service_name: str | None = None
    fields: bool = False
    """Export the receipt's shown fields (a redacted field as its marker)."""
    tracer_provider: Any = field(default=None, compare=False, repr=False)
    """A tracer provider to use instead (Python only)."""


OFF = Telemetry()


def settings(value: Any, what: str = "telemetry") -> Telemetry:
    """:class:`Telemetry` from ``heso.init(telemetry=…)``: a bool, a mapping of the
    ``[heso.telemetry]`` keys (plus ``tracer_provider``), a tracer provider, or settings."""
    if isinstance(value, Telemetry):
        return value
    if isinstance(value, bool):
        return Telemetry(enabled=value)
    if isinstance(value, Mapping):
        table = {k: v for k, v in value.items() if k != "tracer_provider"}
        return replace(_check(table, what), tracer_provider=value.get("tracer_provider"))
    if callable(getattr(value, "get_tracer", None)):
        return Telemetry(enabled=True, tracer_provider=value)
    raise HesoConfigError(
        f"{what} must be true/false, a table of {', '.join(KEYS)}, or a tracer provider, "
        f"not {type(value).__name__}"
    )


def from_table(source: Any, table: Any, key_path: tuple[str, ...]) -> Telemetry:
    """:class:`Telemetry` from the ``[heso.telemetry]`` table of ``source`` (errors name the
    file, line and key); a table that is present is enabled unless it says otherwise."""
    if not isinstance(table, Mapping):
        raise source.error("[heso.telemetry] must be a table", key_path)
    try:
        return _check(table, "[heso.telemetry]")
    except _BadKey as exc:
        raise source.error(
            exc.message, (*key_path, str(exc.key)), hint=exc.hint, value=exc.on_value
        ) from None


class _BadKey(HesoConfigError):
    """A bad ``[heso.telemetry]`` key (``on_value``: the value is what is wrong)."""

    def __init__(self, message: str, key: str, *, hint: str | None = None, on_value: bool) -> None:
        super().__init__(message, hint=hint, key=key)
        self.on_value = on_value


def _check(table: Mapping[str, Any], what: str) -> Telemetry:
    from heso.toml_source import did_you_mean

    for key in table:
        if key not in KEYS:
            guess = did_you_mean(str(key), KEYS)
            hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(KEYS)}"
            raise _BadKey(f"unknown setting {key!r} in {what}", str(key), hint=hint, on_value=False)
    for key, kinds in (("enabled", bool), ("fields", bool)):
        if key in table and not isinstance(table[key], kinds):
            raise _BadKey(f"{what}.{key} must be true or false", key, on_value=True)
    for key in ("exporter", "endpoint", "service_name"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise _BadKey(f"{what}.{key} must be a non-empty string", key, on_value=True)
    exporter = table.get("exporter", "global")
    if exporter not in EXPORTERS:
        choices = ", ".join(EXPORTERS)
        raise _BadKey(f"{what}.exporter must be one of {choices}", "exporter", on_value=True)
    endpoint = table.get("endpoint")
    if endpoint is not None:
        if exporter != "otlp":
            raise _BadKey(f'{what}.endpoint needs exporter = "otlp"', "endpoint", on_value=False)
        if not re.match(r"https?://[^/\s]+", endpoint):
            message = f"{what}.endpoint must be an http:// or https:// URL"
            raise _BadKey(message, "endpoint", on_value=True)
    return Telemetry(
        enabled=table.get("enabled", True),
        exporter=exporter,
        endpoint=endpoint,
        service_name=table.get("service_name"),
        fields=table.get("fields", False),
    )


# -- set-up -------------------------------------------------------------------------------------

_fields = False
_owned: tuple[Telemetry, Any] | None = None
"""The settings and SDK provider heso set up itself (``exporter = "otlp"``)."""


def configure(conf: Telemetry | None) -> None:
    """Start (or stop, with ``None`` or disabled settings) tracing; called by ``heso.init``
    and ``heso.shutdown``. A provider heso set up earlier is flushed and shut down unless the
    same settings keep it."""
    global tracer, _fields, _owned
    new_tracer, owned = None, None
    if conf is not None and conf.enabled:
        new_tracer, owned = _tracer_for(conf)
    old, _owned = _owned, owned
    tracer, _fields = new_tracer, bool(new_tracer is not None and conf is not None and conf.fields)
    if old is not None and (owned is None or old[1] is not owned[1]):
        old[1].shutdown()


def _tracer_for(conf: Telemetry) -> tuple[Any, tuple[Telemetry, Any] | None]:
    from heso import __version__

    try:
        from opentelemetry import trace
    except ImportError:
        raise HesoConfigError(
            "heso telemetry needs the OpenTelemetry API",
            hint='pip install "heso-core[otel]"',
        ) from None
    if conf.tracer_provider is not None:
        return conf.tracer_provider.get_tracer(SCOPE, __version__), None
    if conf.exporter == "global":
        return trace.get_tracer(SCOPE, __version__), None
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        _log.info("heso telemetry: OTEL_SDK_DISABLED is set, so heso exports nothing")
        return None, None
    if _owned is not None and _owned[0] == conf:
        return _owned[1].get_tracer(SCOPE, __version__), _owned
    provider = _otlp_provider(conf)
    return provider.get_tracer(SCOPE, __version__), (conf, provider)


def _otlp_provider(conf: Telemetry) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise HesoConfigError(
            'heso telemetry with exporter = "otlp" needs the OpenTelemetry SDK and its '
            "OTLP/HTTP exporter",
            hint='pip install "heso-core[otel]"',
        ) from None
    endpoint = traces_url(conf.endpoint) if conf.endpoint else None
    resource = Resource.create({SERVICE_NAME: conf.service_name} if conf.service_name else {})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    where = scrub_url(endpoint) if endpoint else "the OTEL_EXPORTER_OTLP_* endpoint"
    _log.info("heso telemetry: exporting spans over OTLP/HTTP to %s", where)
    return provider


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of ``endpoint``: ``/v1/traces`` is added to a bare base URL."""
    head, sep, rest = endpoint.partition("://")
    host, _, path = rest.partition("/")
    return endpoint if path else f"{head}{sep}{host}/v1/traces"


def scrub_url(url: str) -> str:
    """``url`` without credentials or query: what heso may write in a log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def flush(timeout_millis: int = 30_000) -> bool:
    """Export what heso's own provider still holds (``exporter = "otlp"``); ``True`` when
    there was nothing to flush or it all went out."""
    owned = _owned
    return True if owned is None else bool(owned[1].force_flush(timeout_millis))


# -- the gate's decisions -----------------------------------------------------------------------

_suspension: ContextVar[tuple[str, str] | None] = ContextVar("heso_suspension_span", default=None)


def suspension_traceparent(action_hash: str) -> str | None:
    """The W3C ``traceparent`` of the span that suspended ``action_hash`` in this context, for
    the lifecycle's signed ``suspended`` record (the later decision, firing and completion
    link to it); ``None`` when it was not traced."""
    held = _suspension.get()
    return held[1] if held is not None and held[0] == action_hash else None


def gate_decided(
    kind: Any,
    blocking: bool,
    receipt: Mapping[str, Any],
    entry: Any,
    start_ns: int,
    session: str | None = None,
) -> None:
    """The gate decided ``receipt`` (``kind``: the outcome, ``allowed``/``blocked``/
    ``suspended``) and chained it as ``entry``: one span and one log record. ``session`` is
    the ``@heso.gated`` session the action was captured for, if any."""
    outcome = str(kind)
    level = _WARNING if outcome == "suspended" and blocking else _INFO
    logged = log.isEnabledFor(level)
    if tracer is None and not logged:
        return
    try:
        content = receipt["content"]
        if session is None and outcome == "suspended":
            session = "action-" + content["action_hash"]
        seq = entry.seq if entry is not None else None
        if tracer is not None:
            attrs = _attributes(content, outcome, seq, session)
            attrs["heso.blocking"] = blocking
            error = "heso.BlockedError" if outcome == "blocked" and blocking else None
            suspends = outcome == "suspended"
            context = _span(content, attrs, start_ns, error=error, context=suspends)
            if context is not None:
                _suspension.set((content["action_hash"], context))
        if logged:
            _log_decision(content, outcome, blocking, seq, session, level)
    except Exception as exc:  # telemetry never changes a decision
        _failed(exc)


def _log_decision(
    content: Mapping[str, Any],
    outcome: str,
    blocking: bool,
    seq: Any,
    session: str | None,
    level: int,
) -> None:
    action, policy = content["action"], content["policy"]
    short = content["action_hash"][:12]
    waits = level == _WARNING
    if not blocking and outcome != "allowed":
        what = f"would have {outcome} (observe-only: it runs)"
    else:
        what = outcome
    message = "heso %s %s %r (rule %s, receipt %s)"
    tool = tool_label(action["tool_name"])
    args: tuple[Any, ...] = (what, action["verb"], tool, policy["rule_id"], short)
    if waits:
        message += ": it waits for an approver to run `heso approve %s --as <name>`"
        args += (short,)
    extra = {
        "action_hash": content["action_hash"],
        "decision": policy["decision"],
        "outcome": outcome,
        "rule": policy["rule_id"],
        "verb": action["verb"],
        "tool": tool,
        "workflow": action["workflow"],
        "account": action["account"],
        "seq": seq,
        "blocking": blocking,
        "session": session,
    }
    log.log(level, message, *args, extra=extra)


# -- a suspended action's later events ----------------------------------------------------------


def approval_event(
    runtime: Runtime,
    session: str,
    record: Mapping[str, Any],
    *,
    state: Any = None,
    entry: Any = None,
) -> None:
    """The operator's runtime recorded ``record`` in the lifecycle of ``session``: a decision
    (the operator's or a timeout's), the firing, or the completion of a suspended action. One
    span linked to the suspension's, and one log record; nothing for a session that never
    suspended (a ``@heso.gated`` call policy allowed)."""
    if tracer is None and not log.isEnabledFor(_INFO):
        return
    try:
        opening = state.opening if state is not None else _opening(runtime, session)
        if opening is None or opening.get("kind") != "suspended":
            return
        if opening.get("action_hash") != record.get("action_hash"):
            return
        content = opening["receipt"]["content"]
        kind = record["kind"]
        if kind == "fired":
            from heso.approvals.status import TRACKED

            if record.get("approved_by") not in TRACKED:
                return
        if tracer is not None:
            _lifecycle_span(content, kind, record, opening, session, state, entry)
        _log_event(content, kind, record, session)
    except Exception as exc:
        _failed(exc)


def _opening(runtime: Runtime, session: str) -> Mapping[str, Any] | None:
    """The session's latest opening record that the current operator key signed (a line
    anyone could have written into the store describes nothing)."""
    from heso.approvals.decisions import signer_of
    from heso.approvals.store import OPENING_KINDS

    for line in reversed(runtime.approvals.lines(session)):
        if line.record.get("kind") not in OPENING_KINDS:
            continue
        signed = signer_of(line.part)
        if isinstance(signed, tuple) and signed[0] == "operator":
            if signed[1].to_str() == runtime.identity:
                return line.record
    return None


def _lifecycle_span(
    content: Mapping[str, Any],
    kind: str,
    record: Mapping[str, Any],
    opening: Mapping[str, Any],
    session: str,
    state: Any,
    entry: Any,
) -> None:
    seq = entry.seq if entry is not None else None
    links = _links(opening.get("traceparent"))
    if kind == "fired":
        attrs = _attributes(content, "approved", seq, session)
        attrs["heso.trust_level"] = record.get("trust_level", content["trust_level"])
        attrs["heso.approval.approved_by"] = record["approved_by"]
        names = sorted(leg.approver for leg in state.quorum_legs()) if state is not None else []
        if names:
            attrs["heso.approval.approvers"] = names
        _span(content, attrs, None, links=links)
        return
    attrs = _attributes(content, None, None, session, gen_ai=False)
    error = None
    if kind == "completed":
        attrs["heso.approval.status"] = record.get("status", "ok")
        if record.get("status") == "error":
            error = str(record.get("error") or "_OTHER")
    else:
        attrs["heso.approval.decision"] = record.get("decision", "")
        attrs["heso.approval.by"] = record.get("by", "")
    _span(content, attrs, None, links=links, name=f"heso.approval.{kind}", error=error)


def _log_event(
    content: Mapping[str, Any], kind: str, record: Mapping[str, Any], session: str
) -> None:
    action = content["action"]
    short = content["action_hash"][:12]
    level = _INFO
    if kind == "fired":
        message = "heso fired approved %s %r (%s, approved by %s, receipt %s)"
        args: tuple[Any, ...] = (record.get("trust_level"), record.get("approved_by"))
    elif kind == "completed":
        message = "heso completed approved %s %r (%s, receipt %s)"
        args = (" ".join(str(p) for p in (record.get("status"), record.get("error")) if p),)
    else:
        message = "heso recorded %s %r: %s by %s (receipt %s)"
        args = (record.get("decision"), record.get("by"))
        level = _WARNING if record.get("decision") == "escalated" else _INFO
    if not log.isEnabledFor(level):
        return
    extra = {
        "action_hash": content["action_hash"],
        "decision": content["policy"]["decision"],
        "outcome": kind,
        "rule": content["policy"]["rule_id"],
        "verb": action["verb"],
        "tool": tool_label(action["tool_name"]),
        "session": session,
        "approval": record.get("decision") or record.get("status"),
        "trust_level": record.get("trust_level"),
    }
    log.log(level, message, action["verb"], extra["tool"], *args, short, extra=extra)


# -- spans --------------------------------------------------------------------------------------

_api: Any = None
"""``opentelemetry.trace``, once the first span is made."""


def operation(verb: str, tool_name: str) -> tuple[str, str | None]:
    """The GenAI ``gen_ai.operation.name`` of an action, and its ``gen_ai.provider.name``
    when the tool name says it (``None`` otherwise)."""
    if verb != "llm_call":
        return EXECUTE_TOOL, None
    name = tool_name.removeprefix("beta.")
    for prefix, op, provider in _OPERATIONS:
        if name.startswith(prefix):
            return op, provider
    if "generate_content" in name:
        return "generate_content", None
    return "chat", None


def tool_label(tool_name: str) -> str:
    """The tool name as telemetry shows it: a URL (an ``http_request`` or ``delete`` through
    ``heso.wrap``) by its origin only, since a path can hold a secret (a webhook's token) and
    is a value, exported only with the fields."""
    if "://" not in tool_name:
        return tool_name
    scheme, _, rest = tool_name.partition("://")
    host = rest.split("/", 1)[0].rpartition("@")[2]
    return f"{scheme}://{host}"


def _attributes(
    content: Mapping[str, Any],
    outcome: str | None,
    seq: Any,
    session: str | None,
    *,
    gen_ai: bool = True,
) -> dict[str, Any]:
    action, policy = content["action"], content["policy"]
    verb, tool = action["verb"], tool_label(action["tool_name"])
    attrs: dict[str, Any] = {}
    if gen_ai:
        op, provider = operation(verb, tool)
        attrs["gen_ai.operation.name"] = op
        if op == EXECUTE_TOOL:
            attrs["gen_ai.tool.name"] = tool
        elif provider is not None:
            attrs["gen_ai.provider.name"] = provider
        if action.get("agent"):
            attrs["gen_ai.agent.name"] = action["agent"]
        if _fields:
            _field_attributes(attrs, op, action.get("fields", {}))
    attrs["heso.action_hash"] = content["action_hash"]
    attrs["heso.verb"] = verb
    attrs["heso.tool_name"] = tool
    attrs["heso.decision"] = policy["decision"]
    attrs["heso.rule_id"] = policy["rule_id"]
    attrs["heso.trust_level"] = content["trust_level"]
    attrs["heso.workflow"] = action["workflow"]
    attrs["heso.account"] = action["account"]
    if outcome is not None:
        attrs["heso.outcome"] = outcome
    if seq is not None:
        attrs["heso.chain.seq"] = seq
    if session is not None:
        attrs["heso.approval.session"] = session
    return attrs


def _field_attributes(attrs: dict[str, Any], op: str, shown: Mapping[str, Any]) -> None:
    """The receipt's shown fields (opt-in): a redacted field is its signed marker."""
    from heso.canonical import canonical_bytes

    text = canonical_bytes(shown).decode("utf-8")
    if op == EXECUTE_TOOL:
        attrs["gen_ai.tool.call.arguments"] = text
        return
    model = shown.get("model")
    if isinstance(model, str):
        attrs["gen_ai.request.model"] = model
    attrs["heso.fields"] = text


def _span(
    content: Mapping[str, Any],
    attrs: dict[str, Any],
    start_ns: int | None,
    *,
    links: list[Any] | None = None,
    name: str | None = None,
    error: str | None = None,
    context: bool = False,
) -> str | None:
    """Start and end one span; with ``context``, its ``traceparent`` when it is sampled."""
    global _api
    if _api is None:
        from opentelemetry import trace

        _api = trace
    op = attrs.get("gen_ai.operation.name")
    if name is None:
        if op == EXECUTE_TOOL:
            name = f"{op} {attrs['gen_ai.tool.name']}"
        else:
            model = attrs.get("gen_ai.request.model")
            name = f"{op} {model}" if model else str(op)
    kinds = _api.SpanKind
    kind = kinds.INTERNAL if op in (None, EXECUTE_TOOL) else kinds.CLIENT
    if error is not None:
        attrs["error.type"] = error
    span = tracer.start_span(name, kind=kind, attributes=attrs, links=links, start_time=start_ns)
    if error is not None:
        span.set_status(_api.StatusCode.ERROR, error)
    span.end()
    if not context:
        return None
    ctx = span.get_span_context()
    if not ctx.is_valid or not ctx.trace_flags.sampled:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def _links(traceparent: Any) -> list[Any]:
    """A link to the suspension's span, from the ``traceparent`` its record carries."""
    match = _TRACEPARENT.match(traceparent) if isinstance(traceparent, str) else None
    if match is None:
        return []
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    trace_id, span_id, flags = (int(g, 16) for g in match.groups())
    if not trace_id or not span_id:
        return []
    context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))
    return [Link(context, {LINK_KIND: "suspended"})]


def _failed(exc: BaseException) -> None:
    # The type only: a message could quote a value.
    _log.warning("heso telemetry failed (%s); the decision stands", type(exc).__name__)


__all__ = [
    "EXPORTERS",
    "KEYS",
    "OFF",
    "Telemetry",
    "approval_event",
    "configure",
    "flush",
    "from_table",
    "gate_decided",
    "log",
    "operation",
    "scrub_url",
    "settings",
    "suspension_traceparent",
    "tool_label",
    "tracer",
    "traces_url",
]
