"""The gating proxy ``heso.wrap`` puts around a client that is not a Stainless-generated SDK
client (an HTTP client, a hand-written SDK): it gates by method name.

=========================================================  ================  ===============
method                                                     verb              tool name
=========================================================  ================  ===============
``.create(...)`` / ``.create_*(...)`` at any depth         ``llm_call``      dotted path
``.stream(...)`` / ``.parse(...)`` on a resource           ``llm_call``      dotted path
``.request(...)`` at any depth                             ``http_request``  dotted path
``.get/.post/.put/.patch/.delete(...)`` on the client      ``http_request``  ``get`` … with
                                                                             ``method`` field
=========================================================  ================  ===============

A call whose HTTP method is ``DELETE`` (``.delete(...)``, ``.request("DELETE", ...)``) is a
``delete`` action instead. The tool name is the resource path without the response modifiers
(``with_raw_response``, ``with_streaming_response``). The call's keyword arguments (positional
ones bound to their parameter names) become the fields, made JSON-safe: omitted-argument
sentinels are dropped, classes become their qualified name, file objects become
``{"file": name}``, bytes become ``{"bytes": length, "blake3": hex digest}``, numeric mapping
keys become strings, one-shot iterators are materialized into lists (and the list is what the
client receives), and values with no JSON form become ``"<unrepresentable TYPE>"``.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from heso.action import Verb
from heso.canonical import to_json_value
from heso.capture import gate
from heso.errors import CanonicalizationError
from heso.redaction import RedactStrategy
from heso.wrap.http_action import digest

T = TypeVar("T")

_MODIFIERS = frozenset({"with_raw_response", "with_streaming_response"})
_CLIENT_FACTORIES = frozenset({"copy", "with_options", "with_middleware"})
_HTTP_METHODS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE"}
_DELETE = "DELETE"
_OMITTED = frozenset({"NotGiven", "Omit"})


def proxy(client: T, redact: Mapping[str, RedactStrategy]) -> T:
    """A transparent proxy of ``client`` that gates its request-sending methods by name."""
    root = _Root(redact, type(client).__module__.partition(".")[0])
    return _Proxy(client, (), root)  # type: ignore[return-value]


def is_proxy(obj: Any) -> bool:
    return type(obj) is _Proxy


def target(obj: Any) -> Any:
    """The object behind a proxy."""
    return object.__getattribute__(obj, "_heso_target")


class _Root:
    __slots__ = ("package", "redact")

    def __init__(self, redact: Mapping[str, RedactStrategy], package: str) -> None:
        self.redact = redact or None
        self.package = package


class _Proxy:
    __slots__ = (
        "__weakref__",
        "_heso_cache",
        "_heso_managed",
        "_heso_path",
        "_heso_root",
        "_heso_target",
    )

    def __init__(
        self, target: Any, path: tuple[str, ...], root: _Root, managed: bool = False
    ) -> None:
        object.__setattr__(self, "_heso_target", target)
        object.__setattr__(self, "_heso_path", path)
        object.__setattr__(self, "_heso_root", root)
        object.__setattr__(self, "_heso_managed", managed)  # under with_streaming_response
        object.__setattr__(self, "_heso_cache", {})

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(proxy, OpenAI) holds
        return type(object.__getattribute__(self, "_heso_target"))

    def __getattr__(self, name: str) -> Any:
        target = object.__getattribute__(self, "_heso_target")
        value = getattr(target, name)
        if name[:1] == "_":
            return value
        cache: dict[str, tuple[Any, Any]] = object.__getattribute__(self, "_heso_cache")
        key = _identity(value)
        hit = cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        result = self._heso_resolve(name, value)
        if result is not value:
            cache[name] = (key, result)
        return result

    def _heso_resolve(self, name: str, value: Any) -> Any:
        path: tuple[str, ...] = object.__getattribute__(self, "_heso_path")
        root: _Root = object.__getattribute__(self, "_heso_root")
        managed: bool = object.__getattribute__(self, "_heso_managed")
        if callable(value) and not isinstance(value, type):
            gate_as = _gate_kind(name, len(path))
            if gate_as is not None:
                tool_name = ".".join((*path, name))
                return _gated_method(value, gate_as[0], tool_name, gate_as[1], root, managed)
            if not path and name in _CLIENT_FACTORIES:
                return _rewrapping(value, type(object.__getattribute__(self, "_heso_target")), root)
            return value
        if name in _MODIFIERS:
            return _Proxy(value, path, root, managed or name == "with_streaming_response")
        if _is_resource(value, root.package):
            return _Proxy(value, (*path, name), root, managed)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_heso_target"), name, value)
        object.__getattribute__(self, "_heso_cache").pop(name, None)

    def __delattr__(self, name: str) -> None:
        delattr(object.__getattribute__(self, "_heso_target"), name)
        object.__getattribute__(self, "_heso_cache").pop(name, None)

    def __dir__(self) -> list[str]:
        return dir(object.__getattribute__(self, "_heso_target"))

    def __repr__(self) -> str:
        return f"heso.wrap({object.__getattribute__(self, '_heso_target')!r})"

    def __enter__(self) -> Any:
        target = object.__getattribute__(self, "_heso_target")
        entered = target.__enter__()
        return self if entered is target else entered

    def __exit__(self, *exc: Any) -> Any:
        return object.__getattribute__(self, "_heso_target").__exit__(*exc)

    async def __aenter__(self) -> Any:
        target = object.__getattribute__(self, "_heso_target")
        entered = await target.__aenter__()
        return self if entered is target else entered

    async def __aexit__(self, *exc: Any) -> Any:
        return await object.__getattribute__(self, "_heso_target").__aexit__(*exc)


def _identity(value: Any) -> Any:
    """What must stay the same for a cached proxy or gated method to stay valid."""
    func = getattr(value, "__func__", None)
    if func is not None and isinstance(value, types.MethodType):
        return (func, id(value.__self__))
    return id(value)


def _gate_kind(name: str, depth: int) -> tuple[Verb, str | None] | None:
    if name == "create" or name.startswith("create_"):
        return Verb.LLM_CALL, None
    if name == "request":
        return Verb.HTTP_REQUEST, None
    if depth and name in ("stream", "parse"):
        return Verb.LLM_CALL, None
    if not depth and name in _HTTP_METHODS:
        method = _HTTP_METHODS[name]
        return (Verb.DELETE if method == _DELETE else Verb.HTTP_REQUEST), method
    return None


def _is_resource(value: Any, package: str) -> bool:
    """An SDK object to keep proxying (``client.chat``), as opposed to plain data."""
    if value is None or isinstance(value, (str, bytes, int, float, type, types.ModuleType)):
        return False
    return type(value).__module__.partition(".")[0] == package


def _rewrapping(method: Callable[..., Any], client_type: type, root: _Root) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        return _Proxy(result, (), root) if isinstance(result, client_type) else result

    return call


def _gated_method(
    method: Callable[..., Any],
    verb: Verb,
    tool_name: str,
    http_method: str | None,
    root: _Root,
    managed: bool,
) -> Callable[..., Any]:
    signature: list[inspect.Signature | None] = []

    def prepare(
        args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, Any, Verb, dict[str, Any]]:
        args = tuple(_materialize(a) for a in args)
        for key, item in kwargs.items():
            if _one_shot(item):
                kwargs[key] = list(item)
        if args:
            if not signature:
                signature.append(_signature_of(method))
            named = _bind(signature[0], args, kwargs)
        else:
            named = kwargs
        fields = {k: _json_safe(v) for k, v in named.items() if not _omitted(v)}
        if http_method is not None:
            fields = {"method": http_method, **fields}
        return args, kwargs, _verb_of(verb, fields), fields

    redact = root.redact
    call: Callable[..., Any]
    if _returns_coroutine(method, managed):
        # Gate when awaited, as the client itself only acts when awaited: a refused call
        # never leaves an un-awaited coroutine behind (asyncio.gather, create_task).

        async def call(*args: Any, **kwargs: Any) -> Any:
            args, kwargs, kind, fields = prepare(args, kwargs)
            with gate(kind, tool_name, fields, redact_fields=redact):
                return await method(*args, **kwargs)

    else:

        def call(*args: Any, **kwargs: Any) -> Any:
            args, kwargs, kind, fields = prepare(args, kwargs)
            with gate(kind, tool_name, fields, redact_fields=redact):
                return method(*args, **kwargs)

    functools.update_wrapper(call, method)
    return call


def _verb_of(verb: Verb, fields: Mapping[str, Any]) -> Verb:
    """``delete`` for an HTTP request whose method is ``DELETE`` (``.request("DELETE", url)``)."""
    if verb is Verb.HTTP_REQUEST:
        method = fields.get("method")
        if isinstance(method, str) and method.strip().upper() == _DELETE:
            return Verb.DELETE
    return verb


def _returns_coroutine(method: Callable[..., Any], managed: bool) -> bool:
    """``async def``, or a sync wrapper of one (openai's ``required_args``); not the
    ``with_streaming_response`` wrappers, which return an async context manager."""
    if inspect.iscoroutinefunction(method):
        return True
    return not managed and inspect.iscoroutinefunction(inspect.unwrap(method))


def _signature_of(method: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(method)
    except (TypeError, ValueError):
        return None


def _bind(sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Name positional arguments after their parameters; ``**kwargs`` are flattened."""
    if sig is None:
        return {"args": list(args), **kwargs}
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return {"args": list(args), **kwargs}
    named: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[name] = value
    return named


def _omitted(value: Any) -> bool:
    return type(value).__name__ in _OMITTED


def _one_shot(value: Any) -> bool:
    """An iterator that reading would consume (a generator, ``map``, ...), but not a file."""
    return isinstance(value, Iterator) and not (
        isinstance(value, io.IOBase) or hasattr(value, "read")
    )


def _materialize(value: Any) -> Any:
    return list(value) if _one_shot(value) else value


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _json_key(key: Any) -> Any:
    """A mapping key as the client's JSON encoder writes it (``{50256: -100}`` → ``"50256"``)."""
    if isinstance(key, str) or not isinstance(key, (int, float)) or key != key:
        return key
    return json.dumps(key)


def _json_safe(value: Any) -> Any:
    """A JSON-representable stand-in for a provider argument (see the module docstring)."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {_json_key(k): _json_safe(v) for k, v in value.items() if not _omitted(v)}
    if t is list or t is tuple:
        return [_json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return digest(bytes(value))
    if isinstance(value, type):
        return _qualname(value)
    if isinstance(value, io.IOBase) or hasattr(value, "read"):
        name = getattr(value, "name", None)
        return {"file": name if isinstance(name, str) else _qualname(t)}
    if _one_shot(value):
        return f"<unrepresentable {_qualname(t)}>"
    try:
        return to_json_value(value)
    except CanonicalizationError:
        return f"<unrepresentable {_qualname(t)}>"


__all__ = ["is_proxy", "proxy", "target"]
