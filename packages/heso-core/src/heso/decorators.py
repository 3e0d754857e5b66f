"""``@heso.tool``, ``@heso.destructive`` and ``@heso.action``: gate a function on every call.

The call's bound arguments (by parameter name, defaults applied; ``self``/``cls`` left out,
``*args``/``**kwargs`` under their own names) become the action's fields. The body runs only
when policy allows it (or in observe-only mode), with :func:`heso.current_action_hash`
naming its receipt. A call that policy suspended
(``SuspendedError``) runs when it is made again after approval, once, as that action's firing.
Sync and async functions, generators, methods, ``classmethod``/``staticmethod`` objects all
work, and the wrapper keeps the function's name, docstring, signature and type hints.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

from heso import fieldpath
from heso.action import Verb
from heso.action_scope import action_hash_scope, action_hash_var
from heso.arguments import receiver_of, signature_binder
from heso.capture import gate, gate_call
from heso.errors import HesoConfigError
from heso.policy import lookup_catalog
from heso.redaction import RedactStrategy, normalize_redact_spec

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class GateInfo:
    """How a decorated function is gated; set as ``__heso_gate__`` on the wrapper so adapters
    can tell an already-gated callable and not gate it twice."""

    verb: Verb
    tool_name: str
    domain: str | None = None
    action_id: str | None = None
    redact: Mapping[str, RedactStrategy] | None = None


@overload
def tool(func: F, /) -> F: ...
@overload
def tool(*, redact: Any = None, name: str | None = None) -> Callable[[F], F]: ...
def tool(func: Any = None, /, *, redact: Any = None, name: str | None = None) -> Any:
    """Gate every call of the function as a ``tool_call`` named after it (or ``name``).

    ``@heso.tool`` or ``@heso.tool(redact=["api_key"], name="search")``.
    """
    return _decorator(func, Verb.TOOL_CALL, redact, name)


@overload
def destructive(func: F, /) -> F: ...
@overload
def destructive(*, redact: Any = None, name: str | None = None) -> Callable[[F], F]: ...
def destructive(func: Any = None, /, *, redact: Any = None, name: str | None = None) -> Any:
    """Gate every call as a ``delete``: the delete lane's floor requires human approval unless
    the policy is stricter."""
    return _decorator(func, Verb.DELETE, redact, name)


def action(catalog_id: str, /, *, redact: Any = None, name: str | None = None) -> Callable[[F], F]:
    """Gate every call as the catalog action ``"domain.action_id"``: its coarse verb and
    lane apply and the receipt carries ``action.domain``/``action.action``.

    An id the catalog does not know is a ``ValueError`` here, at decoration.
    """
    if not isinstance(catalog_id, str):
        raise TypeError('use @heso.action("domain.action_id"), e.g. "payment.authorize_payment"')
    entry = lookup_catalog(catalog_id)
    spec = normalize_redact_spec(redact)

    def decorate(func: F) -> F:
        return cast(F, _wrap(func, entry.verb, spec, name, entry.domain, entry.action_id))

    return decorate


def _decorator(func: Any, verb: Verb, redact: Any, name: str | None) -> Any:
    spec = normalize_redact_spec(redact)
    if func is None:
        return lambda f: _wrap(f, verb, spec, name, None, None)
    return _wrap(func, verb, spec, name, None, None)


def _wrap(
    func: Any,
    verb: Verb,
    spec: Mapping[str, RedactStrategy],
    name: str | None,
    domain: str | None,
    action_id: str | None,
) -> Any:
    if isinstance(func, (classmethod, staticmethod)):
        return type(func)(_wrap(func.__func__, verb, spec, name, domain, action_id))
    if not callable(func):
        raise TypeError(f"heso can only gate a function or method, not {type(func).__name__}")
    already = getattr(func, "__heso_gate__", None)
    if isinstance(already, GateInfo):
        raise TypeError(
            f"{already.tool_name}() is already gated as {already.verb.value}; gate it once"
        )
    tool_name = name or getattr(func, "__name__", None) or type(func).__name__
    if not isinstance(tool_name, str) or not tool_name:
        raise ValueError(f"a tool name must be a non-empty string, not {tool_name!r}")
    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    receiver = receiver_of(params)
    _check_redact(spec, params, receiver, tool_name)
    info = GateInfo(verb, tool_name, domain, action_id, spec or None)
    options: dict[str, Any] = {
        "redact_fields": spec or None,
        "domain": domain,
        "action_id": action_id,
    }
    fields_of = signature_binder(sig)

    redact_fields = options["redact_fields"]

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            # As ``with gate(...)``, without building a scope object per call.
            outcome = gate_call(
                verb, tool_name, fields_of(args, kwargs), redact_fields, domain, action_id
            )
            if outcome.ticket is not None:  # an approved earlier suspension: its one firing
                with outcome.ticket:
                    return await func(*args, **kwargs)
            token = action_hash_var.set(outcome.action_hash)
            try:
                return await func(*args, **kwargs)
            finally:
                action_hash_var.reset(token)

    elif inspect.isasyncgenfunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            outcome = gate(verb, tool_name, fields_of(args, kwargs), **options)
            agen = func(*args, **kwargs)
            scope = action_hash_scope(outcome.action_hash)
            sent: Any = None
            thrown: BaseException | None = None
            failed: BaseException | None = None
            try:
                while True:
                    with scope:
                        try:
                            value = await (
                                agen.asend(sent) if thrown is None else agen.athrow(thrown)
                            )
                        except StopAsyncIteration:
                            return
                    thrown = None
                    try:
                        sent = yield value
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # delivered into the body, like `yield from`
                        thrown = exc
            except Exception as exc:
                failed = exc
                raise
            finally:
                with scope:
                    await agen.aclose()
                _complete(outcome, failed)

    elif inspect.isgeneratorfunction(func):

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outcome = gate(verb, tool_name, fields_of(args, kwargs), **options)
            gen = func(*args, **kwargs)
            scope = action_hash_scope(outcome.action_hash)
            sent: Any = None
            thrown: BaseException | None = None
            failed: BaseException | None = None
            try:
                while True:
                    with scope:
                        try:
                            value = gen.send(sent) if thrown is None else gen.throw(thrown)
                        except StopIteration as stop:
                            return stop.value
                    thrown = None
                    try:
                        sent = yield value
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # delivered into the body, like `yield from`
                        thrown = exc
            except Exception as exc:
                failed = exc
                raise
            finally:
                with scope:
                    gen.close()
                _complete(outcome, failed)

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # As ``with gate(...)``, without building a scope object per call.
            outcome = gate_call(
                verb, tool_name, fields_of(args, kwargs), redact_fields, domain, action_id
            )
            if outcome.ticket is not None:  # an approved earlier suspension: its one firing
                with outcome.ticket:
                    return func(*args, **kwargs)
            token = action_hash_var.set(outcome.action_hash)
            try:
                return func(*args, **kwargs)
            finally:
                action_hash_var.reset(token)

    functools.update_wrapper(wrapper, func)
    wrapper.__signature__ = sig  # type: ignore[union-attr]  # functions take attributes
    wrapper.__heso_gate__ = info  # type: ignore[union-attr]
    return wrapper


def _complete(outcome: Any, failed: BaseException | None) -> None:
    """Record how a generator body that ran as an approval's firing ended."""
    if outcome.ticket is not None:
        outcome.ticket.complete(failed is None, error=failed)


def _check_redact(
    spec: Mapping[str, Any], params: list[inspect.Parameter], receiver: str | None, tool: str
) -> None:
    """A redacted path must start at a parameter (unless ``**kwargs`` may carry it)."""
    if not spec or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    names = {p.name for p in params if p.name != receiver}
    for path in spec:
        head = fieldpath.parse(path)[0]
        if head not in names:
            raise HesoConfigError(
                f"redact={path!r} names no parameter of {tool}()",
                key=path,
                hint=f"parameters: {', '.join(sorted(names)) or '(none)'}",
            )
