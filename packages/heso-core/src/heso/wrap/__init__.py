"""``heso.wrap(client)``: gate every request a provider SDK client sends.

For the openai and anthropic clients (and any other Stainless-generated SDK client, sync or
async) the gate sits where every request is built (:mod:`heso.wrap.stainless`): each request
the client sends, by any method, helper, page, retry, ``with_raw_response`` /
``with_streaming_response`` wrapper or ``copy()``/``with_options()`` copy, is checked against
the policy and signed before any byte of it leaves the process, and a refusal raises instead of
sending. What policy sees and the receipt records is the request itself
(:mod:`heso.wrap.http_action`):

==========================================  ================  ==============================
request                                     verb              tool name, fields
==========================================  ================  ==============================
``POST`` to a generation endpoint           ``llm_call``      ``chat.completions.create``,
(chat, responses, embeddings, messages …)                     ``messages.create`` …; the JSON
                                                              body (``model``, ``messages``…)
``DELETE``                                  ``delete``        the URL; ``method``, ``url``,
                                                              ``path`` (and ``body``)
anything else                               ``http_request``  the URL; ``method``, ``url``,
                                                              ``path`` (and ``body``)
==========================================  ================  ==============================

The client keeps its class, methods, return values, streams and exceptions (its class becomes
a subclass of the SDK's, so ``isinstance`` holds); wrapping gates the client object itself, so
the wrapped client is the one passed in, and no reference to it stays ungated. A websocket
session (openai's ``realtime.connect()``, ``responses.connect()``) is refused: heso cannot gate
its messages.

Any other client gets a proxy that gates by method name (:mod:`heso.wrap.proxy`).
"""

from __future__ import annotations

import sys
import types
from typing import Any, TypeVar

from heso.redaction import normalize_redact_spec
from heso.wrap import proxy as _proxy
from heso.wrap import stainless as _stainless

T = TypeVar("T")


def wrap(client: T, *, redact: Any = None) -> T:
    """Gate every request ``client`` sends; returns the client to use.

    ``redact`` adds redaction for every request of this client (e.g. ``["messages"]``), on
    top of ``[heso] redact`` and any enclosing :func:`heso.step`. Wrapping a wrapped client
    again returns it (a Stainless client then redacts the union of both specs).
    """
    spec = normalize_redact_spec(redact)
    if _proxy.is_proxy(client):
        return client
    if _stainless.is_stainless_client(client):
        return _stainless.gate_client(client, spec)  # type: ignore[no-any-return]
    return _proxy.proxy(client, spec)


def unwrap(obj: Any) -> Any:
    """The object behind a :func:`wrap` proxy (``obj`` itself when it is not one). A wrapped
    Stainless client is gated in place, so it is returned as it is, still gated."""
    while _proxy.is_proxy(obj):
        obj = _proxy.target(obj)
    return obj


class _CallableModule(types.ModuleType):
    """``heso.wrap`` may resolve to this module (once ``import heso.wrap`` ran); calling it
    still wraps."""

    def __call__(self, client: T, *, redact: Any = None) -> T:
        return wrap(client, redact=redact)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["unwrap", "wrap"]
