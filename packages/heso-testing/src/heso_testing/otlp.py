"""OpenTelemetry for tests: an OTLP/HTTP trace receiver on 127.0.0.1 that decodes every export
with ``opentelemetry-proto``, and the SDK with an in-memory exporter.

Point a real OTLP/HTTP exporter at ``receiver.traces_url`` (heso's ``[heso.telemetry] exporter =
"otlp"``, or ``OTLPSpanExporter(endpoint=...)``) and read what arrived, as the collector would
see it: ``receiver.spans()`` flattens each span with its resource and scope, attributes decoded
to Python values. ``receiver.bodies`` keeps the raw request bodies, for byte-level searches.
:class:`InMemoryTraces` is a real SDK tracer provider whose finished spans stay in memory. They
need ``opentelemetry-proto`` and ``opentelemetry-sdk`` (``heso-core[otel]``), imported on use.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from heso_testing.loopback import LoopbackServer

__all__ = ["InMemoryTraces", "OtlpReceiver", "any_value"]

TRACES_PATH = "/v1/traces"


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value (lists and dicts for arrays and key-value lists)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


class OtlpReceiver(LoopbackServer):
    """Receives ``POST /v1/traces`` (``application/x-protobuf``, optionally gzip or deflate)."""

    thread_name = "heso-otlp-receiver"

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []
        self.requests: list[Any] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    @property
    def traces_url(self) -> str:
        """The full OTLP/HTTP traces URL."""
        return f"http://127.0.0.1:{self.port}{TRACES_PATH}"

    def _make_server(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                status, reply = receiver._receive(
                    self.path,
                    self.headers.get("Content-Type", ""),
                    self.headers.get("Content-Encoding", ""),
                    self.rfile.read(int(self.headers.get("Content-Length") or 0)),
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def _receive(self, path: str, ctype: str, encoding: str, body: bytes) -> tuple[int, bytes]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        if path != TRACES_PATH or "protobuf" not in ctype:
            self.errors.append(f"unexpected request {path} ({ctype})")
            return 404, b""
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
        except Exception as exc:
            self.errors.append(f"undecodable export: {type(exc).__name__}: {exc}")
            return 400, b""
        with self._arrived:
            self.bodies.append(body)
            self.requests.append(request)
            self._arrived.notify_all()
        return 200, ExportTraceServiceResponse().SerializeToString()

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far, flattened: ``name``, ``kind`` (the proto enum name),
        ``trace_id``/``span_id``/``parent_span_id`` (hex), ``attributes``, ``links``,
        ``status`` (``code`` name, ``message``), ``events``, ``resource``, ``scope``."""
        from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

        out = []
        with self._lock:
            requests = list(self.requests)
        for request in requests:
            for rs in request.resource_spans:
                resource = _attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append(
                            {
                                "name": span.name,
                                "kind": Span.SpanKind.Name(span.kind),
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "start_ns": span.start_time_unix_nano,
                                "end_ns": span.end_time_unix_nano,
                                "attributes": _attributes(span.attributes),
                                "links": [
                                    {
                                        "trace_id": link.trace_id.hex(),
                                        "span_id": link.span_id.hex(),
                                        "attributes": _attributes(link.attributes),
                                    }
                                    for link in span.links
                                ],
                                "events": [e.name for e in span.events],
                                "status": {
                                    "code": Status.StatusCode.Name(span.status.code),
                                    "message": span.status.message,
                                },
                                "resource": resource,
                                "scope": ss.scope.name,
                            }
                        )
        return out

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` spans arrived (``TimeoutError`` otherwise)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while sum(self._count(r) for r in self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fewer than {count} spans arrived in {timeout} s")
                self._arrived.wait(left)
        return self.spans()

    @staticmethod
    def _count(request: Any) -> int:
        return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


class InMemoryTraces:
    """A real SDK tracer provider (``.provider``) exporting synchronously to memory."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(shutdown_on_exit=False)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> list[Any]:
        """The finished spans, oldest first."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[Any]:
        return [s for s in self.spans() if s.name == name]

    def clear(self) -> None:
        self.exporter.clear()

    def shutdown(self) -> None:
        self.provider.shutdown()
