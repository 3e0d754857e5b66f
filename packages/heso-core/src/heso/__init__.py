"""heso: gate, sign and prove every action an AI agent takes.

``import heso`` is cheap: it imports no agent framework and no provider SDK, and loads the
engine on first use. Adapter attributes (``heso.mcp``, ``heso.crewai``, ...) resolve lazily
to their separately installed packages.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from heso.action import Action, Verb
from heso.errors import (
    BlockedError,
    BridgeError,
    CanonicalizationError,
    GateRefusal,
    HesoConfigError,
    HesoError,
    OperatorKeyMismatchError,
    SuspendedError,
)

# ``from heso.action import ...`` bound the submodule as ``heso.action``; that name is the
# decorator, resolved lazily below.
del globals()["action"]

if TYPE_CHECKING:
    from heso.capture import Outcome, OutcomeKind, current_action_hash, process
    from heso.config import Config, init, shutdown
    from heso.decorators import action, destructive, tool
    from heso.redaction import RedactStrategy
    from heso.steps import step
    from heso.wrap import wrap

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str]] = {
    "init": ("heso.config", "init"),
    "shutdown": ("heso.config", "shutdown"),
    "Config": ("heso.config", "Config"),
    "Outcome": ("heso.capture", "Outcome"),
    "OutcomeKind": ("heso.capture", "OutcomeKind"),
    "process": ("heso.capture", "process"),
    "current_action_hash": ("heso.capture", "current_action_hash"),
    "RedactStrategy": ("heso.redaction", "RedactStrategy"),
    "step": ("heso.steps", "step"),
    "tool": ("heso.decorators", "tool"),
    "destructive": ("heso.decorators", "destructive"),
    "action": ("heso.decorators", "action"),
    "wrap": ("heso.wrap", "wrap"),
    "gated": ("heso.approvals.gated", "gated"),
    "resume": ("heso.approvals.gated", "resume"),
    "ResumeOutcome": ("heso.approvals.gated", "ResumeOutcome"),
    "decision": ("heso.approvals.gated", "decision"),
    "wait": ("heso.approvals.gated", "wait"),
    "append_decision": ("heso.approvals.gated", "append_decision"),
    "SUSPENDED": ("heso.approvals.gated", "SUSPENDED"),
    "DENIED": ("heso.approvals.gated", "DENIED"),
    "Paused": ("heso.approvals.gated", "Paused"),
    "finalize_l1": ("heso.approvals.finalize", "finalize_l1"),
    "finalize_quorum": ("heso.approvals.finalize", "finalize_quorum"),
}

_SUBMODULES = frozenset(
    {
        "approvals",
        "canonical",
        "capture",
        "config",
        "decorators",
        "errors",
        "fieldpath",
        "keys",
        "ledger",
        "policy",
        "project",
        "receipt",
        "redaction",
        "steps",
        "verdict",
    }
)

_ADAPTERS: dict[str, tuple[str, str | None, str]] = {
    "HesoCallbackHandler": ("heso_langchain", "HesoCallbackHandler", "heso-langchain"),
    "langgraph": ("heso_langchain.langgraph", None, "heso-langchain"),
    "crewai": ("heso_crewai", None, "heso-crewai"),
    "openai_agents": ("heso_openai_agents", None, "heso-openai-agents"),
    "claude_agent": ("heso_claude_agent", None, "heso-claude-agent"),
    "pydantic_ai": ("heso_pydantic_ai", None, "heso-pydantic-ai"),
    "mcp": ("heso_mcp", None, "heso-mcp"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"heso.{name}")
    if name in _ADAPTERS:
        module, attr, dist = _ADAPTERS[name]
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
                raise ImportError(
                    f"heso.{name} needs the {dist} package, not on PyPI yet: from a clone "
                    f"of the heso repository, pip install ./packages/heso-core ./packages/{dist}"
                ) from exc
            raise
        value = getattr(mod, attr) if attr else mod
        globals()[name] = value
        return value
    raise AttributeError(f"module 'heso' has no attribute {name!r}")


def __dir__() -> list[str]:
    import importlib.util  # here, not at import: `import heso` stays cheap

    installed = [
        name
        for name, (module, _, _) in _ADAPTERS.items()
        if importlib.util.find_spec(module.partition(".")[0]) is not None
    ]
    return sorted({*globals(), *_LAZY, *installed})


__all__ = [
    "Action",
    "BlockedError",
    "BridgeError",
    "CanonicalizationError",
    "Config",
    "GateRefusal",
    "HesoConfigError",
    "HesoError",
    "OperatorKeyMismatchError",
    "Outcome",
    "OutcomeKind",
    "RedactStrategy",
    "SuspendedError",
    "Verb",
    "__version__",
    "action",
    "current_action_hash",
    "destructive",
    "init",
    "process",
    "shutdown",
    "step",
    "tool",
    "wrap",
]
