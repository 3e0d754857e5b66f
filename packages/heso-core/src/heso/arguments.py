"""A call's arguments as an action's fields: every parameter by name, defaults applied,
``self``/``cls`` left out, ``*args``/``**kwargs`` under their own names.

One binder for every surface: ``@heso.tool`` and its siblings, ``@heso.gated`` and adapters
(:func:`call_fields`, through :mod:`heso.adapters`) record the same fields for the same call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Binder = Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]
"""``(args, kwargs) -> fields``."""

_RECEIVERS = ("self", "cls")
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD)
_FAST_KINDS = (_POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def receiver_of(params: list[inspect.Parameter]) -> str | None:
    """The name of a ``self``/``cls`` first parameter, left out of the fields."""
    first = params[0] if params else None
    if first is not None and first.kind in _POSITIONAL and first.name in _RECEIVERS:
        return first.name
    return None


def call_binder(func: Callable[..., Any]) -> Binder:
    """``(args, kwargs) -> fields`` for calls of ``func``."""
    return signature_binder(inspect.signature(func))


def signature_binder(sig: inspect.Signature) -> Binder:
    """``(args, kwargs) -> fields`` for calls of a function with signature ``sig``, as
    ``sig.bind`` + ``apply_defaults`` would name them, ``self``/``cls`` left out.

    Signatures without ``*args``/``**kwargs``/positional-only parameters take a fast path
    that skips ``inspect`` (a third of the gate's own cost); anything unusual, including a
    call Python would refuse, falls back to ``sig.bind`` and its ``TypeError``.
    """
    receiver = receiver_of(list(sig.parameters.values()))
    bind = sig.bind

    def slow(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        if receiver is not None:
            arguments.pop(receiver, None)
        return arguments

    params = list(sig.parameters.values())
    if any(p.kind not in _FAST_KINDS for p in params):
        return slow
    positional = tuple(p.name for p in params if p.kind is _POSITIONAL_OR_KEYWORD)
    names = frozenset(p.name for p in params)
    defaults = tuple((p.name, p.default) for p in params if p.default is not p.empty)
    n_positional, n_names = len(positional), len(names)
    # A call with k positional arguments and no keywords: the parameters after the k-th get
    # their defaults, ``tails[k]``; ``None`` when one of them has none (Python refuses the call).
    tails = [
        tuple((p.name, p.default) for p in params[k:])
        if all(p.default is not p.empty for p in params[k:])
        else None
        for k in range(n_positional + 1)
    ]

    def fast(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if len(args) > n_positional:
            return slow(args, kwargs)
        if not kwargs:
            tail = tails[len(args)]
            if tail is not None:
                out = dict(zip(positional, args))  # noqa: B905 - args may be fewer
                if tail:
                    out.update(tail)
                if receiver is not None:
                    del out[receiver]
                return out
        out = dict(zip(positional, args))  # noqa: B905 - args may be fewer than positional
        if kwargs:
            for key, value in kwargs.items():
                if key in out or key not in names:
                    return slow(args, kwargs)
                out[key] = value
        if len(out) != n_names:
            for name, default in defaults:
                if name not in out:
                    out[name] = default
            if len(out) != n_names:
                return slow(args, kwargs)
        if receiver is not None:
            del out[receiver]
        return out

    return fast


@functools.lru_cache(maxsize=512)
def _cached_binder(fn: Callable[..., Any]) -> Binder:
    return call_binder(fn)


def call_fields(
    fn: Callable[..., Any],
    args: Iterable[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    exclude: Iterable[str] = (),
) -> dict[str, Any]:
    """The fields ``@heso.tool`` records for ``fn(*args, **kwargs)``; ``exclude`` drops
    parameters the framework injects (a context, a callback manager).

    A call Python would refuse raises ``TypeError``.
    """
    try:
        bind = _cached_binder(fn)
    except TypeError:  # unhashable callable
        bind = call_binder(fn)
    fields = bind(tuple(args), dict(kwargs or {}))
    for name in exclude:
        fields.pop(name, None)
    return fields


__all__ = ["Binder", "call_binder", "call_fields", "receiver_of", "signature_binder"]
