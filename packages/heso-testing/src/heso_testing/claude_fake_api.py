"""A scripted Anthropic Messages API on 127.0.0.1 for driving the real Claude Code CLI offline.

The Claude Agent SDK runs the Claude Code CLI as a subprocess; pointed at this server
(``ClaudeAgentOptions(env=api.env(home))``) the CLI's model is a script: each turn of the main
conversation streams the next scripted reply (a tool call, or text), in the Messages API's SSE
shapes (``message_start``, ``content_block_start`` / ``input_json_delta`` /
``content_block_stop``, ``message_delta``, ``message_stop``). When the script runs out the model
says :attr:`FakeClaudeAPI.final_text` and stops. Every ``tool_result`` the CLI sends back is
recorded, so a test can assert what the model was told (a refusal's text).

``env()`` also sets the CLI's own traffic opt-outs and a temporary ``HOME``: the socket guard
only covers the test process, so the CLI subprocess must not want to talk to anyone else.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from heso_testing.loopback import LoopbackServer

__all__ = ["CLI_OPT_OUTS", "FakeClaudeAPI", "Text", "ToolUse"]

CLI_OPT_OUTS: Mapping[str, str] = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "DISABLE_COST_WARNINGS": "1",
}
"""The Claude Code CLI's switches for everything but the model API."""

_ids = itertools.count(1)


@dataclass(frozen=True)
class ToolUse:
    """A scripted model turn that calls one tool (``name`` as the CLI lists it)."""

    name: str
    input: Mapping[str, Any]
    id: str = field(default_factory=lambda: f"toolu_fake{next(_ids):04d}")


@dataclass(frozen=True)
class Text:
    """A scripted model turn that answers with text and ends the turn."""

    text: str


Turn = ToolUse | Text


class FakeClaudeAPI(LoopbackServer):
    """A threaded fake Messages API; use as a context manager or :meth:`start`/:meth:`stop`.

    ``FakeClaudeAPI(ToolUse("mcp__shop__lookup_order", {"order_id": "A-1"}))`` makes the model
    call that tool once, then answer :attr:`final_text`. Requests that offer no tools (the
    CLI's side requests, e.g. a session title) are answered with plain text and do not consume
    the script.
    """

    thread_name = "heso-fake-claude-api"

    def __init__(self, *turns: Turn, final_text: str = "done", model: str = "claude-fake") -> None:
        super().__init__()
        self.final_text = final_text
        self.model = model
        self._lock = threading.Lock()
        self._script: list[Turn] = list(turns)
        self._requests: list[dict[str, Any]] = []
        self._tool_results: dict[str, dict[str, Any]] = {}
        self._errors: list[BaseException] = []

    # -- script ------------------------------------------------------------------------------

    def script(self, *turns: Turn) -> None:
        """Replace the remaining script with ``turns``."""
        with self._lock:
            self._script = list(turns)

    def _next_turn(self) -> Turn:
        with self._lock:
            return self._script.pop(0) if self._script else Text(self.final_text)

    # -- what the CLI sent -------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of every ``/v1/messages`` request, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """Every distinct ``tool_result`` block the CLI sent back, in order."""
        with self._lock:
            return list(self._tool_results.values())

    def tool_result_text(self, tool_use_id: str) -> str | None:
        """The text the model received for ``tool_use_id``, or ``None`` if none came back."""
        with self._lock:
            block = self._tool_results.get(tool_use_id)
        if block is None:
            return None
        content = block.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(
            part.get("text", "")
            for part in content or ()
            if isinstance(part, dict) and part.get("type") == "text"
        )

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while handling requests (a bug in the fake if non-empty)."""
        with self._lock:
            return list(self._errors)

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        return ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"api": self}))

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the CLI's ``ANTHROPIC_BASE_URL``)."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, home: str | Path) -> dict[str, str]:
        """``ClaudeAgentOptions.env`` for a CLI that talks to this server only: the base URL,
        a fake API key, ``home`` as ``HOME`` and ``CLAUDE_CONFIG_DIR`` parent, and the opt-outs
        of :data:`CLI_OPT_OUTS`."""
        home = Path(home)
        return {
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-offline",
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            **CLI_OPT_OUTS,
        }

    # -- serving -----------------------------------------------------------------------------

    def _reply(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The content blocks and stop reason of the reply to one ``/v1/messages`` request."""
        with self._lock:
            self._requests.append(body)
            for block in _last_tool_results(body):
                self._tool_results.setdefault(str(block.get("tool_use_id")), block)
        if not body.get("tools"):
            return [{"type": "text", "text": "ok"}], "end_turn"
        turn = self._next_turn()
        if isinstance(turn, ToolUse):
            block = {"type": "tool_use", "id": turn.id, "name": turn.name, "input": turn.input}
            return [block], "tool_use"
        return [{"type": "text", "text": turn.text}], "end_turn"


def _last_tool_results(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return []
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def _events(blocks: list[dict[str, Any]], stop_reason: str, model: str) -> Iterator[dict[str, Any]]:
    """A reply as the Messages API streams it."""
    yield {
        "type": "message_start",
        "message": {
            "id": f"msg_fake{next(_ids):04d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    }
    for index, block in enumerate(blocks):
        start: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield {"type": "content_block_start", "index": index, "content_block": start}
        yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": 5},
    }
    yield {"type": "message_stop"}


class _Handler(BaseHTTPRequestHandler):
    api: FakeClaudeAPI

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path.partition("?")[0]
        try:
            body = json.loads(raw or b"{}")
            if path == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": 10})
                return
            if path != "/v1/messages":
                self._json(404, {"type": "error", "error": {"type": "not_found_error"}})
                return
            blocks, stop = self.api._reply(body)
            model = str(body.get("model") or self.api.model)
        except Exception as exc:
            with self.api._lock:
                self.api._errors.append(exc)
            self._json(500, {"type": "error", "error": {"type": "api_error", "message": repr(exc)}})
            return
        if not body.get("stream"):
            message = next(_events([], stop, model))["message"]
            self._json(200, {**message, "content": blocks, "stop_reason": stop})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        for event in _events(blocks, stop, model):
            self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def _json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
