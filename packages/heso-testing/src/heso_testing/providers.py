"""A fake OpenAI and Anthropic HTTP server on 127.0.0.1 that records and counts every request.

Point the real clients at it (``OpenAI(base_url=server.openai_base_url)``,
``Anthropic(base_url=server.anthropic_base_url)``) to test code that wraps them without mocks:
a request that never reached ``server.count()`` never left the process.

Replies echo the last user message (``"echo: <text>"``), so a test can tell a real round trip
happened. Streaming endpoints answer with server-sent events in the shapes the clients parse.
Beside generation, it answers the file, model, vector store, batch and stored-response endpoints
the clients can reach (any id exists; a file's content is ``b"contents of <id>"``), so a test
can drive every kind of request a wrapped client sends.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from heso_testing.loopback import LoopbackServer

__all__ = ["FakeProviderServer", "RecordedRequest"]

OPENAI_MODELS = ("gpt-4o-mini", "gpt-4.1", "text-embedding-3-small")
DEFAULT_EMBEDDING_DIMENSIONS = 8

_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body, or ``None`` when there was none (or it was not JSON)."""
    raw_body: bytes
    request_id: str
    """The id the server sent back (``x-request-id`` for OpenAI, ``request-id`` for Anthropic)."""
    provider: str
    """``"openai"`` or ``"anthropic"``, as the server judged from headers and path."""


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]
    path: str | None
    remaining: int


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Reply:
    status: int = 200
    body: Any = None
    events: Iterable[tuple[str | None, Any]] | None = None
    """SSE events as ``(event name or None, data)``; data ``"[DONE]"`` is sent verbatim."""
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    """Sent verbatim as ``application/octet-stream`` instead of a JSON ``body``."""


class FakeProviderServer(LoopbackServer):
    """A threaded HTTP server speaking enough of the OpenAI and Anthropic APIs for client tests.

    Use as a context manager (``with FakeProviderServer() as server:``) or call
    :meth:`start` and :meth:`stop`. It binds 127.0.0.1 on an ephemeral port.
    """

    thread_name = "heso-fake-provider"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self._address = (host, port)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._errors: list[BaseException] = []
        self._ids = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        return _HTTPServer(self._address, _Handler, self)

    def _drop_connections(self, httpd: ThreadingHTTPServer) -> None:
        assert isinstance(httpd, _HTTPServer)
        httpd.drop_connections()

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._address[0]}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` for ``openai.OpenAI`` (``http://127.0.0.1:PORT/v1``)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The ``base_url`` for ``anthropic.Anthropic`` (``http://127.0.0.1:PORT``)."""
        return self.url

    # -- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request; ``LookupError`` when there was none."""
        with self._lock:
            if not self._requests:
                raise LookupError("the fake provider has received no request")
            return self._requests[-1]

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the server while handling requests (a bug if non-empty)."""
        with self._lock:
            return list(self._errors)

    def count(self, path: str | None = None, *, method: str | None = None) -> int:
        """How many requests arrived, optionally only those for ``path`` (and ``method``)."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (path is None or r.path == path) and (method is None or r.method == method)
            )

    def reset(self) -> None:
        """Forget recorded requests, server errors and pending failures."""
        with self._lock:
            self._requests.clear()
            self._errors.clear()
            self._failures.clear()

    def fail_next(
        self,
        status: int = 429,
        body: Any = None,
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests (for ``path``, if given) with an error.

        ``body`` is sent as JSON; by default it is the provider's own error envelope for
        ``status``. Failed requests are still recorded and counted.
        """
        if status < 400:
            raise ValueError("fail_next needs an error status (>= 400)")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.append(_Failure(status, body, dict(headers or {}), path, times))

    # -- internals -------------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> _Failure | None:
        with self._lock:
            self._requests.append(request)
            for failure in self._failures:
                if failure.path is None or failure.path == request.path:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure
            return None

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: FakeProviderServer,
    ) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def drop_connections(self) -> None:
        with self.connections_lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "heso-fake-provider/1"
    timeout = 30
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        provider = (
            "anthropic"
            if "anthropic-version" in headers or split.path.startswith("/v1/messages")
            else "openai"
        )
        n = owner._next_id()
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=split.query,
            headers=headers,
            body=body,
            raw_body=raw,
            request_id=f"req_fake_{n:06d}",
            provider=provider,
        )
        failure = owner._record(request)
        try:
            if failure is not None:
                reply = _Reply(
                    status=failure.status,
                    body=failure.body
                    if failure.body is not None
                    else _error_body(provider, failure.status, "injected failure", request),
                    headers=failure.headers,
                )
            else:
                reply = _route(request, n)
        except _HTTPError as err:
            reply = _Reply(err.status, _error_body(provider, err.status, err.message, request))
        except Exception as err:
            owner._record_error(err)
            reply = _Reply(500, _error_body(provider, 500, f"fake provider bug: {err!r}", request))
        self._send(reply, request)

    def _send(self, reply: _Reply, request: RecordedRequest) -> None:
        self.send_response(reply.status)
        id_header = "request-id" if request.provider == "anthropic" else "x-request-id"
        self.send_header(id_header, request.request_id)
        if reply.events is None:
            binary = reply.raw is not None
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_header(
                "content-type", "application/octet-stream" if binary else "application/json"
            )
            self.send_header("content-length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for event, data in reply.events:
            text = data if isinstance(data, str) else json.dumps(data)
            frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
            self._chunk(frame.encode())
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


# -- routing -------------------------------------------------------------------------------


def _route(request: RecordedRequest, n: int) -> _Reply:
    key = (request.method, request.path)
    if key == ("POST", "/v1/chat/completions"):
        return _chat_completions(_object_body(request), n)
    if key == ("POST", "/v1/responses"):
        return _responses(_object_body(request), n)
    if key == ("POST", "/v1/embeddings"):
        return _embeddings(_object_body(request))
    if key == ("GET", "/v1/models"):
        return _Reply(body={"object": "list", "data": [_openai_model(m) for m in OPENAI_MODELS]})
    if request.method == "GET" and request.path.startswith("/v1/models/"):
        model = request.path.removeprefix("/v1/models/")
        if model not in OPENAI_MODELS:
            raise _HTTPError(404, f"The model '{model}' does not exist")
        return _Reply(body=_openai_model(model))
    if key == ("POST", "/v1/messages"):
        return _messages(_object_body(request), n)
    if key == ("POST", "/v1/messages/count_tokens"):
        body = _object_body(request)
        _require(body, "model", "messages")
        return _Reply(body={"input_tokens": _anthropic_input_tokens(body)})
    if request.path == "/v1/files" or request.path.startswith("/v1/files/"):
        if request.provider == "anthropic":
            return _anthropic_files(request, n)
        return _openai_files(request, n)
    if request.method == "DELETE" and request.path.startswith("/v1/models/"):
        model = request.path.removeprefix("/v1/models/")
        return _Reply(body={"id": model, "object": "model", "deleted": True})
    if request.method == "DELETE" and _one_id(request.path, "/v1/vector_stores/"):
        store = request.path.removeprefix("/v1/vector_stores/")
        return _Reply(body={"id": store, "object": "vector_store.deleted", "deleted": True})
    if request.method == "POST" and _one_id(request.path, "/v1/batches/", "/cancel"):
        batch = request.path.removeprefix("/v1/batches/").removesuffix("/cancel")
        return _Reply(body=_openai_batch(batch, "cancelling"))
    if request.method == "GET" and _one_id(request.path, "/v1/responses/"):
        return _Reply(body=_stored_response(request.path.removeprefix("/v1/responses/")))
    raise _HTTPError(404, f"no fake route for {request.method} {request.path}")


def _one_id(path: str, prefix: str, suffix: str = "") -> bool:
    """Whether ``path`` is ``prefix + <one path segment> + suffix``."""
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return False
    middle = path[len(prefix) : len(path) - len(suffix)]
    return bool(middle) and "/" not in middle


def _multipart_fields(request: RecordedRequest) -> dict[str, Any]:
    """A multipart/form-data body's parts by name: text for a plain part, ``(filename,
    content)`` for a file."""
    match = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
    if match is None:
        raise _HTTPError(400, "expected a multipart/form-data body")
    fields: dict[str, Any] = {}
    for part in request.raw_body.split(b"--" + match.group(1).encode())[1:-1]:
        part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'(?<![a-z])name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if name is None:
            continue
        if filename is not None:
            fields[name.group(1)] = (filename.group(1), content)
        else:
            fields[name.group(1)] = content.decode("utf-8", "replace")
    return fields


def _object_body(request: RecordedRequest) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise _HTTPError(400, "request body must be a JSON object")
    return request.body


def _require(body: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if name not in body]
    if missing:
        raise _HTTPError(400, f"missing required parameter(s): {', '.join(missing)}")


def _error_body(provider: str, status: int, message: str, request: RecordedRequest) -> Any:
    if provider == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": request.request_id,
        }
    kind, code = _OPENAI_ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _last_user_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _pieces(text: str) -> list[str]:
    """Word-sized stream deltas that join back to ``text``."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _now() -> int:
    return int(time.time())


# -- OpenAI --------------------------------------------------------------------------------


def _openai_model(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "heso-fake"}


def _chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_completions(body: dict[str, Any], n: int) -> _Reply:
    _require(body, "model", "messages")
    prompt = _last_user_text(body["messages"])
    reply = f"echo: {prompt}"
    pieces = _pieces(reply)
    usage = _chat_usage(_tokens(prompt), len(pieces))
    base = {
        "id": f"chatcmpl-fake{n:06d}",
        "created": _now(),
        "model": body["model"],
        "system_fingerprint": "fp_heso_fake",
        "service_tier": "default",
    }
    if not body.get("stream"):
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
        return _Reply(
            body={**base, "object": "chat.completion", "choices": [choice], "usage": usage}
        )

    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        extra = {"usage": None} if include_usage else {}
        return {**base, "object": "chat.completion.chunk", "choices": [choice], **extra}

    def events() -> Iterator[tuple[str | None, Any]]:
        yield None, chunk({"role": "assistant", "content": "", "refusal": None}, None)
        for piece in pieces:
            yield None, chunk({"content": piece}, None)
        yield None, chunk({}, "stop")
        if include_usage:
            yield None, {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        yield None, "[DONE]"

    return _Reply(events=events())


def _responses_input_text(value: Any) -> str:
    if isinstance(value, list):
        for item in reversed(value):
            if (
                isinstance(item, dict)
                and item.get("role") == "user"
                and item.get("type", "message") == "message"
            ):
                return _text_of(item.get("content"))
        return ""
    return _text_of(value)


def _responses(body: dict[str, Any], n: int) -> _Reply:
    _require(body, "model")
    prompt = _responses_input_text(body.get("input"))
    reply = f"echo: {prompt}"
    pieces = _pieces(reply)
    response_id = f"resp_fake{n:06d}"
    item_id = f"msg_fake{n:06d}"
    created = _now()
    input_tokens, output_tokens = _tokens(prompt), len(pieces)

    def response(status: str, output: list[Any], usage: bool) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "response",
            "created_at": created,
            "status": status,
            "completed_at": created if status == "completed" else None,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": body["model"],
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            }
            if usage
            else None,
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    def part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def message(status: str, content: list[Any]) -> dict[str, Any]:
        return {
            "id": item_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    done_message = message("completed", [part(reply)])
    if not body.get("stream"):
        return _Reply(body=response("completed", [done_message], usage=True))

    at = {"item_id": item_id, "output_index": 0, "content_index": 0}
    steps: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response("in_progress", [], usage=False)}),
        ("response.in_progress", {"response": response("in_progress", [], usage=False)}),
        ("response.output_item.added", {"output_index": 0, "item": message("in_progress", [])}),
        ("response.content_part.added", {**at, "part": part("")}),
        *(("response.output_text.delta", {**at, "delta": p, "logprobs": []}) for p in pieces),
        ("response.output_text.done", {**at, "text": reply, "logprobs": []}),
        ("response.content_part.done", {**at, "part": part(reply)}),
        ("response.output_item.done", {"output_index": 0, "item": done_message}),
        ("response.completed", {"response": response("completed", [done_message], usage=True)}),
    ]
    return _Reply(
        events=[
            (kind, {"type": kind, "sequence_number": seq, **data})
            for seq, (kind, data) in enumerate(steps)
        ]
    )


def _embedding_vector(value: Any, dimensions: int) -> list[float]:
    digest = hashlib.sha256(json.dumps(value).encode()).digest()
    # Multiples of 1/128 survive the float32 round trip of base64 encoding exactly.
    return [(digest[i % len(digest)] - 128) / 128 for i in range(dimensions)]


def _embeddings(body: dict[str, Any]) -> _Reply:
    _require(body, "model", "input")
    raw = body["input"]
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw:
        inputs = raw
    else:
        raise _HTTPError(400, "'input' must be a non-empty string or array")
    dimensions = body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, value in enumerate(inputs):
        vector = _embedding_vector(value, dimensions)
        encoded: Any = (
            base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            if as_base64
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(v) if isinstance(v, list) else _tokens(str(v)) for v in inputs)
    return _Reply(
        body={
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _openai_file(file_id: str, filename: str, size: int, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": 1_700_000_000,
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }


def _openai_files(request: RecordedRequest, n: int) -> _Reply:
    rest = request.path.removeprefix("/v1/files").strip("/")
    file_id, _, tail = rest.partition("/")
    if request.method == "POST" and not rest:
        fields = _multipart_fields(request)
        upload = fields.get("file")
        if not isinstance(upload, tuple) or "purpose" not in fields:
            raise _HTTPError(400, "missing required parameter(s): file, purpose")
        filename, content = upload
        return _Reply(
            body=_openai_file(f"file-fake{n:06d}", filename, len(content), fields["purpose"])
        )
    if request.method == "GET" and not rest:
        return _Reply(body={"object": "list", "data": [], "has_more": False})
    if request.method == "GET" and not tail:
        return _Reply(body=_openai_file(file_id, "upload.txt", 0, "assistants"))
    if request.method == "GET" and tail == "content":
        return _Reply(raw=f"contents of {file_id}".encode())
    if request.method == "DELETE" and not tail:
        return _Reply(body={"id": file_id, "object": "file", "deleted": True})
    raise _HTTPError(404, f"no fake route for {request.method} {request.path}")


def _openai_batch(batch_id: str, status: str) -> dict[str, Any]:
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-fake-batch",
        "completion_window": "24h",
        "status": status,
        "created_at": 1_700_000_000,
    }


def _stored_response(response_id: str) -> dict[str, Any]:
    text = f"stored {response_id}"
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "model": OPENAI_MODELS[0],
        "output": [
            {
                "id": f"msg_{response_id}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


# -- Anthropic -----------------------------------------------------------------------------


def _anthropic_file(file_id: str, filename: str, size: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "type": "file",
        "filename": filename,
        "mime_type": "text/plain",
        "size_bytes": size,
        "created_at": "2025-01-01T00:00:00Z",
        "downloadable": True,
    }


def _anthropic_files(request: RecordedRequest, n: int) -> _Reply:
    rest = request.path.removeprefix("/v1/files").strip("/")
    file_id, _, tail = rest.partition("/")
    if request.method == "POST" and not rest:
        upload = _multipart_fields(request).get("file")
        if not isinstance(upload, tuple):
            raise _HTTPError(400, "missing required parameter(s): file")
        return _Reply(body=_anthropic_file(f"file_fake{n:06d}", upload[0], len(upload[1])))
    if request.method == "GET" and not rest:
        return _Reply(body={"data": [], "has_more": False, "first_id": None, "last_id": None})
    if request.method == "GET" and not tail:
        return _Reply(body=_anthropic_file(file_id, "upload.txt", 0))
    if request.method == "GET" and tail == "content":
        return _Reply(raw=f"contents of {file_id}".encode())
    if request.method == "DELETE" and not tail:
        return _Reply(body={"id": file_id, "type": "file_deleted"})
    raise _HTTPError(404, f"no fake route for {request.method} {request.path}")


def _anthropic_input_tokens(body: Mapping[str, Any]) -> int:
    texts = [_text_of(body.get("system"))]
    messages = body.get("messages")
    if isinstance(messages, list):
        texts += [_text_of(m.get("content")) for m in messages if isinstance(m, dict)]
    return _tokens(" ".join(texts))


def _messages(body: dict[str, Any], n: int) -> _Reply:
    _require(body, "model", "messages", "max_tokens")
    prompt = _last_user_text(body["messages"])
    reply = f"echo: {prompt}"
    pieces = _pieces(reply)
    input_tokens, output_tokens = _anthropic_input_tokens(body), len(pieces)

    def message(content: list[Any], stop_reason: str | None, output: int) -> dict[str, Any]:
        return {
            "id": f"msg_fake{n:06d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
            },
        }

    if not body.get("stream"):
        text_block = {"type": "text", "text": reply}
        return _Reply(body=message([text_block], "end_turn", output_tokens))

    def events() -> Iterator[tuple[str | None, Any]]:
        yield "message_start", {"type": "message_start", "message": message([], None, 1)}
        yield "ping", {"type": "ping"}
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        for piece in pieces:
            delta = {"type": "text_delta", "text": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        yield "message_stop", {"type": "message_stop"}

    return _Reply(events=events())
