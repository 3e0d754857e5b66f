"""heso for LangChain and LangGraph: gate, sign and prove every tool call an agent makes.

Three seams, one capture path (``heso.capture``), byte-identical receipts:

* :class:`HesoCallbackHandler` — ``config={"callbacks": [HesoCallbackHandler()]}`` on any
  runnable, agent or graph (``heso.HesoCallbackHandler``);
* :class:`HesoMiddleware` — ``create_agent(..., middleware=[HesoMiddleware()])``;
* :mod:`heso_langchain.langgraph` — ``ToolNode(tools, wrap_tool_call=...,
  awrap_tool_call=...)`` (``heso.langgraph``).

Importing this package imports no framework; each attribute loads its seam on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heso_langchain import langgraph
    from heso_langchain._gate import refusal_text
    from heso_langchain.callbacks import HesoCallbackHandler
    from heso_langchain.langgraph import ToolCallGate
    from heso_langchain.middleware import HesoMiddleware

__version__ = "0.1.0"

_LAZY = {
    "refusal_text": "heso_langchain._gate",
    "HesoCallbackHandler": "heso_langchain.callbacks",
    "HesoMiddleware": "heso_langchain.middleware",
    "ToolCallGate": "heso_langchain.langgraph",
}


def __getattr__(name: str) -> Any:
    if name == "langgraph":
        return importlib.import_module("heso_langchain.langgraph")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'heso_langchain' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "HesoCallbackHandler",
    "HesoMiddleware",
    "ToolCallGate",
    "langgraph",
    "refusal_text",
]
