"""What telemetry costs the gate: one ``@heso.tool`` call (100-rule policy, buffered) with
telemetry off, with a span per decision on the real OpenTelemetry SDK, and with the decision
log record on.

* **off**: nothing configured (the default): the gate's only cost is one check.
* **check**: that check alone (the hook's condition, evaluated as the gate evaluates it), per
  call, in ns.
* **span**: the SDK's ``TracerProvider`` with a ``BatchSpanProcessor`` whose exporter drops the
  batch: what the gate's thread pays per span (the export runs on the processor's thread).
* **span + fields**: the same with ``fields = true`` (the receipt's fields as JSON on the span).
* **span + OTLP**: the real OTLP/HTTP exporter sending to a receiver on loopback (protobuf
  encoding and HTTP on the processor's thread, sharing the machine's cores with the gate).
* **log**: INFO records on ``logging.getLogger("heso")`` to a stream handler (no tracing).

All run interleaved (a block of each in turn), every call timed on its own; the figures are
medians, and the added cost is the difference of the p50s.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import call_args, gated_tool, interleaved, machine, make_project, section_main


def run(quick: bool) -> dict[str, Any]:
    os.environ.pop("OTEL_SDK_DISABLED", None)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    import heso
    from heso import capture, telemetry
    from heso_testing.otlp import OtlpReceiver

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    rounds, block = (4, 50) if quick else (40, 200)
    root = make_project(rules=100)
    os.environ["HESO_DURABILITY"] = "buffered"
    heso.init(project_root=root)
    send_email = gated_tool()
    arguments = [call_args(i) for i in range(1024)]

    dropping = TracerProvider(shutdown_on_exit=False)
    dropping.add_span_processor(BatchSpanProcessor(Drop()))
    receiver = OtlpReceiver().start()
    otlp = TracerProvider(shutdown_on_exit=False)
    otlp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.traces_url)))
    heso_log = logging.getLogger("heso")
    handler = logging.StreamHandler(io.StringIO())
    modes: dict[str, Any] = {
        "off": None,
        "span": telemetry.Telemetry(enabled=True, tracer_provider=dropping),
        "span_fields": telemetry.Telemetry(enabled=True, tracer_provider=dropping, fields=True),
        "span_otlp": telemetry.Telemetry(enabled=True, tracer_provider=otlp),
        "log": "log",
    }
    current: list[str] = [""]

    def switch(mode: str) -> None:
        conf = modes[mode]
        if conf == "log":
            telemetry.configure(None)
            heso_log.addHandler(handler)
            heso_log.setLevel(logging.INFO)
        else:
            heso_log.removeHandler(handler)
            heso_log.setLevel(logging.NOTSET)
            telemetry.configure(conf)
        current[0] = mode

    def call_in(mode: str) -> Any:
        def call(i: int) -> str:
            if current[0] != mode:
                switch(mode)
            return send_email(*arguments[i & 1023])

        return call

    res = interleaved({mode: call_in(mode) for mode in modes}, rounds, block)
    switch("off")
    out: dict[str, Any] = {"machine": machine(), **res}
    off = res["off"]["per_call_us"]["p50"]
    out["added_us_p50"] = {m: res[m]["per_call_us"]["p50"] - off for m in modes if m != "off"}
    out["ratio_to_off_p50"] = {m: res[m]["per_call_us"]["p50"] / off for m in modes if m != "off"}

    # The check the gate makes when nothing is configured, as capture() evaluates it.
    env = {
        "telemetry": telemetry,
        "kind": capture.OutcomeKind.ALLOWED,
        "allowed": capture.OutcomeKind.ALLOWED,
        "log": telemetry.log,
        "INFO": logging.INFO,
    }
    check = "telemetry.tracer is not None or kind is not allowed or log.isEnabledFor(INFO)"
    n = 20_000 if quick else 500_000
    runs = [t / n * 1e9 for t in timeit.repeat(check, globals=env, number=n, repeat=7)]
    empty = [t / n * 1e9 for t in timeit.repeat("pass", globals=env, number=n, repeat=7)]
    out["off_check_ns"] = min(runs) - min(empty)
    out["off_check_pct_of_gate"] = 100.0 * out["off_check_ns"] / 1000.0 / off

    dropping.shutdown()
    otlp.shutdown()
    receiver.stop()
    out["otlp_spans_received"] = len(receiver.spans())
    heso.shutdown()
    return out


if __name__ == "__main__":
    section_main(run)
