"""heso for the Claude Agent SDK: gate, sign and prove every tool call Claude Code makes.

``heso.claude_agent.query(prompt=..., options=...)`` is ``claude_agent_sdk.query`` with every
tool call gated; :class:`HesoGate` gives the ``PreToolUse`` hook and the ``can_use_tool``
callback to wire yourself (``ClaudeSDKClient(gate.apply(options))``).

Importing this package imports no framework; each attribute loads it on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heso_claude_agent.gate import HesoGate, Mode, ToolNames, query, split_tool_name

__version__ = "0.1.0"

_LAZY = {
    "HesoGate": "heso_claude_agent.gate",
    "Mode": "heso_claude_agent.gate",
    "ToolNames": "heso_claude_agent.gate",
    "query": "heso_claude_agent.gate",
    "split_tool_name": "heso_claude_agent.gate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'heso_claude_agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["HesoGate", "Mode", "ToolNames", "query", "split_tool_name"]
