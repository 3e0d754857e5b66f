"""Gate every request of a Stainless-generated SDK client (openai, anthropic, …) where it is
built, so no method, helper, copy or back-reference can send one ungated.

Every request such a client sends, whatever method, helper, response wrapper or page made it,
is built by ``client._build_request(options)`` inside ``client.request(...)``. Wrapping swaps
the client's class for a subclass of it that gates each built request before it is returned
(so before any byte is sent) and raises the refusal instead. The subclass is the client's
class for good: ``copy()``/``with_options()`` build their copies from ``self.__class__``, and
resources keep a reference to the client itself, so everything reachable from a wrapped client
is gated too. One ``request(...)`` mints one receipt: the SDK's retries resend the bytes that
were gated without a second receipt, and an attempt whose bytes differ is gated again.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from heso import config as _config
from heso.capture import action_hash_scope, gate
from heso.errors import BlockedError
from heso.redaction import RedactStrategy, merge_redact_specs
from heso.wrap.http_action import GENERATION_ENDPOINTS, describe, relative_endpoint

log = logging.getLogger("heso.wrap")


class _Call:
    """One ``client.request(...)``: the bytes its last attempt was gated on."""

    __slots__ = ("scope", "sent")

    def __init__(self) -> None:
        self.sent: tuple[str, str, bytes] | None = None
        self.scope: action_hash_scope | None = None

    def enter(self, action_hash: str | None) -> None:
        """Expose ``action_hash`` as :func:`heso.current_action_hash` until the call ends."""
        self.leave()
        self.scope = action_hash_scope(action_hash)
        self.scope.__enter__()

    def leave(self) -> None:
        scope, self.scope = self.scope, None
        if scope is not None:
            try:
                scope.__exit__(None, None, None)
            except ValueError:  # entered in another context (a middleware's): already gone
                pass


_current: ContextVar[_Call | None] = ContextVar("heso_wrap_call", default=None)

_classes: dict[tuple[type, tuple[tuple[str, RedactStrategy], ...]], type] = {}


def is_stainless_client(client: Any) -> bool:
    """Whether ``client`` is a Stainless-generated API client (``SyncAPIClient`` or
    ``AsyncAPIClient`` of some SDK's ``_base_client``)."""
    for cls in type(client).__mro__:
        if cls.__name__ in ("SyncAPIClient", "AsyncAPIClient") and cls.__module__.endswith(
            "._base_client"
        ):
            return callable(getattr(client, "_build_request", None)) and callable(
                getattr(client, "request", None)
            )
    return False


def gate_client(client: Any, redact: Mapping[str, RedactStrategy]) -> Any:
    """Install the gate on ``client`` (in place) and return it. Wrapping it again adds
    ``redact`` to what it already redacts."""
    cls = type(client)
    base: type = cls.__dict__.get("_heso_base", cls)
    if base is not cls:
        redact = merge_redact_specs(cls._heso_redact, redact)
    gated = _gated_class(base, redact)
    if gated is not cls:
        client.__class__ = gated
    return client


def original_class(client: Any) -> type:
    """The SDK's own class of a gated client."""
    cls = type(client)
    return cls.__dict__.get("_heso_base", cls)  # type: ignore[no-any-return]


def _gated_class(base: type, redact: Mapping[str, RedactStrategy]) -> type:
    key = (base, tuple(sorted(redact.items())))
    cls = _classes.get(key)
    if cls is None:
        cls = _classes[key] = _make_class(base, dict(redact))
    return cls


def _make_class(base: type, redact: dict[str, RedactStrategy]) -> type:
    package = base.__module__.partition(".")[0]
    generation = GENERATION_ENDPOINTS.get(package, {})
    build: Callable[..., Any] = base._build_request  # type: ignore[attr-defined]
    send: Callable[..., Any] = base.request  # type: ignore[attr-defined]
    redact_fields = redact or None

    def _build_request(self: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = str(options.url)  # read first: a subclass (Azure) may rewrite it when building
        request = build(self, options, *args, **kwargs)
        _gate_request(self, request, endpoint, generation, redact_fields)
        return request

    request: Callable[..., Any]
    if inspect.iscoroutinefunction(send):

        async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = _Call()
            token = _current.set(call)
            try:
                return await send(self, *args, **kwargs)
            finally:
                call.leave()
                _current.reset(token)

    else:

        def request(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = _Call()
            token = _current.set(call)
            try:
                return send(self, *args, **kwargs)
            finally:
                call.leave()
                _current.reset(token)

    namespace: dict[str, Any] = {
        "__module__": __name__.rpartition(".")[0],
        "__qualname__": base.__qualname__,
        "__doc__": base.__doc__,
        "_heso_base": base,
        "_heso_redact": redact,
        "_build_request": _build_request,
        "request": request,
    }
    auth = inspect.getattr_static(base, "auth_headers", None)
    if package == "openai" and isinstance(auth, property) and auth.fget is not None:
        namespace["auth_headers"] = property(_only_inside_requests(auth.fget))
    return type(base.__name__, (base,), namespace)


def _only_inside_requests(fget: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """openai reads ``auth_headers`` only to open a websocket (``client.realtime.connect()``,
    ``client.responses.connect()``), whose messages heso cannot gate: refuse it there."""

    def auth_headers(self: Any) -> Any:
        if _current.get() is None:
            _refuse("a websocket session", "its messages are not requests heso can check")
        return fget(self)

    return auth_headers


def _refuse(what: str, why: str) -> None:
    """Refuse something heso cannot gate (observe-only mode logs it and lets it run)."""
    text = f"heso.wrap cannot gate {what}: {why}"
    if not _config.current().config.blocking:
        log.error("%s; observe-only mode lets it run unrecorded", text)
        return
    raise BlockedError(f"{text}; nothing was sent", reason=text)


def _gate_request(
    client: Any,
    request: Any,
    endpoint: str,
    generation: Mapping[str, str],
    redact: Mapping[str, RedactStrategy] | None,
) -> None:
    content = _content(request)
    if content is None:
        _refuse(f"{request.method} {request.url}", "its body is a stream heso cannot read first")
        return
    url = str(request.url)
    call = _current.get()
    sent = (request.method, url, content)
    if call is not None and call.sent == sent:
        return  # the SDK retrying the request that was gated: same bytes, same receipt
    verb, tool_name, fields = describe(
        request.method,
        url,
        request.headers.get("content-type"),
        content,
        relative_endpoint(endpoint, str(client.base_url)),
        generation,
    )
    outcome = gate(verb, tool_name, fields, redact_fields=redact)
    if call is not None:
        call.sent = sent
        call.enter(outcome.action_hash)


def _content(request: Any) -> bytes | None:
    """The request's body bytes, reading a streamed body (a multipart upload) into the request
    so that exactly these bytes are sent; ``None`` when only an async stream could read it."""
    try:
        return request.content  # type: ignore[no-any-return]
    except Exception:  # RequestNotRead: httpx and httpx2 each have their own
        pass
    try:
        return request.read()  # type: ignore[no-any-return]
    except Exception:
        return None


__all__ = ["gate_client", "is_stainless_client", "original_class"]
