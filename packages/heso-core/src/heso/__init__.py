"""heso: gate, sign and prove every action an AI agent takes.

``import heso`` is cheap: it imports no agent framework and no provider SDK, and loads the
engine on first use. Adapter attributes (``heso.mcp``, ``heso.crewai``, ...) resolve lazily
to the separately installed adapter packages that declare them as entry points in the group
``heso.adapters`` (:mod:`heso.adapters` is the core's side of that door).
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
    "Paused": ("heso.errors", "Paused"),
    "finalize_l1": ("heso.approvals.finalize", "finalize_l1"),
    "finalize_quorum": ("heso.approvals.finalize", "finalize_quorum"),
}

_SUBMODULES = frozenset(
    {
        "adapters",
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
        "telemetry",
        "verdict",
    }
)

_ENTRY_POINT_GROUP = "heso.adapters"
_entry_points: dict[str, Any] | None = None


def _adapter_entry_points() -> dict[str, Any]:
    """The installed adapters' attributes of ``heso``, by name (read once)."""
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        _entry_points = {ep.name: ep for ep in entry_points(group=_ENTRY_POINT_GROUP)}
    return _entry_points


def _is_submodule(name: str) -> bool:
    """``heso.<name>`` is a module of this package (``from heso import index`` while the
    package is still importing)."""
    import importlib.util

    return not name.startswith("_") and importlib.util.find_spec(f"heso.{name}") is not None


def _load_adapter(name: str) -> Any:
    """``heso.<name>`` from the adapter that declares it; ``ImportError`` naming the package
    to install when none does (and the name is one of heso's adapters)."""
    if name.startswith("_"):
        raise AttributeError(f"module 'heso' has no attribute {name!r}")
    entry = _adapter_entry_points().get(name)
    if entry is None:
        from heso.adapter_packages import INSTALL_HINTS

        dist = INSTALL_HINTS.get(name)
        if dist is None:
            raise AttributeError(f"module 'heso' has no attribute {name!r}")
        raise ImportError(_install_hint(name, dist))
    try:
        return entry.load()
    except ModuleNotFoundError as exc:
        dist = getattr(entry.dist, "name", None) or "its adapter package"
        module = entry.module
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise ImportError(_install_hint(name, dist)) from exc
        raise


def _install_hint(name: str, dist: str) -> str:
    return (
        f"heso.{name} needs the {dist} package, not on PyPI yet: from a clone of the heso "
        f"repository, pip install ./packages/heso-core ./packages/{dist}"
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES or _is_submodule(name):
        return importlib.import_module(f"heso.{name}")
    value = _load_adapter(name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_adapter_entry_points()})


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
