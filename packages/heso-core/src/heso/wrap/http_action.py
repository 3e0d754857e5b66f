"""The action an outgoing provider request is: its verb, tool name and fields, read off the
bytes about to be sent.

* ``POST`` to a generation endpoint (``/chat/completions``, ``/v1/messages`` …) is an
  ``llm_call`` named like the SDK method (``chat.completions.create``); its fields are the JSON
  body, keyed as the call's keyword arguments.
* ``DELETE`` is a ``delete``; every other request an ``http_request``. Both are named by the URL
  (without its query) and carry ``method``, ``url`` (as sent, query included) and ``path``,
  plus ``body`` when the request has one.

A body is recorded as sent: JSON as its value, ``multipart/form-data`` as its parts (a file as
``{"filename", "content_type", "bytes", "blake3"}``), anything else (or JSON heso cannot
represent exactly, such as duplicate keys) as ``{"bytes", "blake3"}`` of its bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import blake3

from heso.action import Verb
from heso.canonical import loads_strict
from heso.errors import CanonicalizationError

_OPENAI_GENERATION = {
    "/chat/completions": "chat.completions.create",
    "/completions": "completions.create",
    "/responses": "responses.create",
    "/embeddings": "embeddings.create",
    "/moderations": "moderations.create",
    "/images/generations": "images.generate",
    "/images/edits": "images.edit",
    "/images/variations": "images.create_variation",
    "/audio/speech": "audio.speech.create",
    "/audio/transcriptions": "audio.transcriptions.create",
    "/audio/translations": "audio.translations.create",
}
_ANTHROPIC_GENERATION = {
    "/v1/messages": "messages.create",
    "/v1/complete": "completions.create",
}

GENERATION_ENDPOINTS: Mapping[str, Mapping[str, str]] = {
    "openai": _OPENAI_GENERATION,
    "anthropic": _ANTHROPIC_GENERATION,
}
"""Per SDK package, the ``POST`` endpoints that are model calls, and the tool name of each."""

_BETA_QUERY = re.compile(r"(?:^|&)beta=true(?:&|$)")
_PARAM = re.compile(r';\s*([A-Za-z0-9_-]+)="((?:[^"\\]|\\.)*)"|;\s*([A-Za-z0-9_-]+)=([^;\s]*)')


def describe(
    method: str,
    url: str,
    content_type: str | None,
    content: bytes,
    endpoint: str | None,
    generation: Mapping[str, str],
) -> tuple[Verb, str, dict[str, Any]]:
    """(verb, tool name, fields) of a request. ``endpoint`` is the path the SDK addressed,
    relative to its base URL (``None`` when the request went elsewhere)."""
    method = method.upper()
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:  # never record credentials
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        url = urlunsplit(parts)
    body = read_body(content_type, content) if content else None
    if method == "POST" and endpoint is not None:
        name = generation.get(endpoint)
        if name is not None:
            if generation is _ANTHROPIC_GENERATION and _BETA_QUERY.search(parts.query):
                name = "beta." + name
            if body is None:
                return Verb.LLM_CALL, name, {}
            return Verb.LLM_CALL, name, body if type(body) is dict else {"body": body}
    fields: dict[str, Any] = {"method": method, "url": url, "path": parts.path}
    if body is not None:
        fields["body"] = body
    target = urlunsplit(parts._replace(query="", fragment=""))
    return (Verb.DELETE if method == "DELETE" else Verb.HTTP_REQUEST), target, fields


def relative_endpoint(url: str, base_url: str) -> str | None:
    """The path of ``url`` relative to ``base_url`` (``"/chat/completions"``), or ``None``
    when it is an absolute URL elsewhere."""
    if "://" in url:
        base = base_url.rstrip("/")
        if not url.startswith(base + "/"):
            return None
        url = url[len(base) :]
    path = url.partition("?")[0].partition("#")[0]
    return path if path.startswith("/") else "/" + path


def read_body(content_type: str | None, content: bytes) -> Any:
    """A request body as recorded (see the module docstring)."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return loads_strict(content)
        except CanonicalizationError:
            pass
    elif kind == "multipart/form-data":
        parts = _multipart(content, _param(content_type or "", "boundary"))
        if parts is not None:
            return parts
    return digest(content)


def digest(data: bytes) -> dict[str, Any]:
    """How bytes are recorded: ``{"bytes": length, "blake3": hex digest}``."""
    return {"bytes": len(data), "blake3": blake3.blake3(data).hexdigest()}


def _param(header: str, name: str) -> str | None:
    """A parameter of a header value (``boundary`` of a Content-Type, ``filename`` of a
    Content-Disposition), unquoted."""
    for match in _PARAM.finditer(header):
        key = match.group(1) or match.group(3)
        if key.lower() == name:
            quoted = match.group(2)
            if quoted is not None:
                return re.sub(r"\\(.)", r"\1", quoted)
            return match.group(4)
    return None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _multipart(content: bytes, boundary: str | None) -> dict[str, Any] | None:
    """The parts of a ``multipart/form-data`` body by name (a repeated name gathers a list),
    or ``None`` when the body is not well formed."""
    if not boundary:
        return None
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = content.split(delimiter)
    if chunks[0] or chunks[-1] not in (b"--", b"--\r\n"):
        return None
    parts: dict[str, Any] = {}
    for chunk in chunks[1:-1]:
        if not (chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")):
            return None
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            return None
        headers: dict[str, str] = {}
        for line in _text(head).split("\r\n"):
            key, colon, header = line.partition(":")
            if not colon:
                return None
            headers[key.strip().lower()] = header.strip()
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "name")
        if name is None or not disposition.lower().startswith("form-data"):
            return None
        filename = _param(disposition, "filename")
        value: Any
        if filename is not None:
            value = {
                "filename": filename,
                "content_type": headers.get("content-type"),
                **digest(data),
            }
        else:
            try:
                value = data.decode("utf-8")
            except UnicodeDecodeError:
                value = digest(data)
        if name in parts:
            previous = parts[name]
            parts[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            parts[name] = value
    return parts


__all__ = ["GENERATION_ENDPOINTS", "describe", "digest", "read_body", "relative_endpoint"]
